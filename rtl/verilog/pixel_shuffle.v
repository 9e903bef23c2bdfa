// pixel_shuffle: PyTorch PixelShuffle(R) (CRD) on an AXI4-Stream.
// In: one LR pixel per beat, C*R*R channels (channel k in bits k*BITS).
// Out: HR pixels in raster order, P HR pixels per beat (pixel p of a beat in
// bits p*C*BITS, its channel c at +c*BITS):
//   out[y*R+i, x*R+j, c] = in[y, x, c*R*R + i*R + j].
// A ping-pong pair of LR row buffers lets the input take one beat per clock
// while the other row is read out R times. P divides R, or R divides P (then
// one buffer word holds G = P/R LR pixels and cfg_width must be a multiple
// of G). Frame size cfg_width x cfg_height (LR) is read at run time.
module pixel_shuffle #(
    parameter C        = 3,
    parameter R        = 4,
    parameter BITS     = 8,
    parameter P        = 1,
    parameter MAX_W    = 64,
    parameter DIM_BITS = 12
) (
    input  wire                  aclk,
    input  wire                  aresetn,
    input  wire [DIM_BITS-1:0]   cfg_width,
    input  wire [DIM_BITS-1:0]   cfg_height,
    input  wire [C*R*R*BITS-1:0] s_axis_tdata,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire                  s_axis_tlast,
    input  wire                  s_axis_tuser,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [P*C*BITS-1:0]   m_axis_tdata,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire                  m_axis_tuser
);
    localparam G   = (P > R) ? P / R : 1;       // LR pixels per buffer word
    localparam JG  = (P >= R) ? 1 : R / P;      // beats per LR pixel per HR row
    localparam IW  = C * R * R * BITS;
    localparam WW  = G * IW;
    localparam DB  = (MAX_W + G - 1) / G;
    localparam AB  = (DB > 1) ? $clog2(DB) : 1;
    localparam RW  = (R > 1) ? $clog2(R) : 1;
    localparam JW  = (JG > 1) ? $clog2(JG) : 1;
    localparam GW  = (G > 1) ? $clog2(G) : 1;
    localparam integer R_M1 = R - 1;
    localparam integer JG_M1 = JG - 1;
    localparam integer G_M1 = G - 1;
    localparam integer G_I = G;
    localparam [RW-1:0] I_LAST = R_M1[RW-1:0];
    localparam [JW-1:0] J_LAST = JG_M1[JW-1:0];
    localparam [GW-1:0] S_LAST = G_M1[GW-1:0];
    localparam [DIM_BITS:0] G_STEP = G_I[DIM_BITS:0];

    wire en;                       // output FIFO has room
    reg  [1:0] full;               // row buffer bank holds a complete LR row
    reg  [1:0] top_row;            // ... and it is row 0 of a frame
    (* ram_style = "block" *) reg [WW-1:0] mem [0:2*(1<<AB)-1];

    // ------------------------------------------------------------ write
    reg               wbank;
    reg  [AB-1:0]     wword;
    reg  [GW-1:0]     wsub;
    reg  [DIM_BITS-1:0] wcol, wrow;
    reg  [WW-1:0]     pack;
    reg  [WW-1:0]     wdata;
    // frame-size bounds registered (no size-port subtractor before the write
    // enables); the size must be stable from one clock before a frame
    reg  [DIM_BITS-1:0] w_m1, h_m1;
    always @(posedge aclk) begin
        w_m1 <= cfg_width - 1'b1;
        h_m1 <= cfg_height - 1'b1;
    end
    wire accept  = s_axis_tvalid && !full[wbank];
    wire wlast   = (wcol == w_m1);
    wire wword_end = (wsub == S_LAST) || wlast;
    assign s_axis_tready = !full[wbank];

    always @* begin
        wdata = pack;
        wdata[wsub*IW +: IW] = s_axis_tdata;
    end
    always @(posedge aclk) begin
        if (accept) begin
            pack[wsub*IW +: IW] <= s_axis_tdata;
            if (wword_end) mem[{wbank, wword}] <= wdata;
        end
    end

    // ------------------------------------------------------------- read
    reg               rbank;
    reg  [AB-1:0]     rword;
    reg  [DIM_BITS:0] rcol;        // first LR column of the word
    reg  [RW-1:0]     ri;
    reg  [JW-1:0]     rj;
    wire issue = en && full[rbank];
    wire rword_end = (rcol + G_STEP >= {1'b0, cfg_width});
    wire rj_end    = (rj == J_LAST);
    reg  [WW-1:0] rd;
    always @(posedge aclk) begin
        if (issue) rd <= mem[{rbank, rword}];
    end

    always @(posedge aclk) begin
        if (!aresetn) begin
            full <= 2'b00;
            top_row <= 2'b00;
            wbank <= 1'b0; wword <= {AB{1'b0}}; wsub <= {GW{1'b0}};
            wcol <= {DIM_BITS{1'b0}}; wrow <= {DIM_BITS{1'b0}};
            rbank <= 1'b0; rword <= {AB{1'b0}}; rcol <= {(DIM_BITS+1){1'b0}};
            ri <= {RW{1'b0}}; rj <= {JW{1'b0}};
        end else begin
            if (accept) begin
                if (wlast) begin
                    full[wbank] <= 1'b1;
                    top_row[wbank] <= (wrow == {DIM_BITS{1'b0}});
                    wbank <= ~wbank;
                    wword <= {AB{1'b0}};
                    wsub <= {GW{1'b0}};
                    wcol <= {DIM_BITS{1'b0}};
                    wrow <= (wrow == h_m1) ? {DIM_BITS{1'b0}} : wrow + 1'b1;
                end else begin
                    wcol <= wcol + 1'b1;
                    if (wword_end) begin
                        wsub <= {GW{1'b0}};
                        wword <= wword + 1'b1;
                    end else begin
                        wsub <= wsub + 1'b1;
                    end
                end
            end
            if (issue) begin
                if (!rj_end) begin
                    rj <= rj + 1'b1;
                end else begin
                    rj <= {JW{1'b0}};
                    if (!rword_end) begin
                        rword <= rword + 1'b1;
                        rcol <= rcol + G_STEP;
                    end else begin
                        rword <= {AB{1'b0}};
                        rcol <= {(DIM_BITS+1){1'b0}};
                        if (ri == I_LAST) begin
                            ri <= {RW{1'b0}};
                            full[rbank] <= 1'b0;
                            rbank <= ~rbank;
                        end else begin
                            ri <= ri + 1'b1;
                        end
                    end
                end
            end
        end
    end

    // ------------------------------------------------ select + output
    reg          v1, u1, l1;
    reg [RW-1:0] i1;
    reg [JW-1:0] j1;
    always @(posedge aclk) begin
        if (!aresetn) v1 <= 1'b0;
        else if (en) v1 <= issue;
    end
    always @(posedge aclk) begin
        if (en) begin
            i1 <= ri;
            j1 <= rj;
            u1 <= top_row[rbank] && (ri == {RW{1'b0}}) && (rcol == {(DIM_BITS+1){1'b0}}) &&
                  (rj == {JW{1'b0}});
            l1 <= rj_end && rword_end;
        end
    end

    wire [P*C*BITS-1:0] odata;
    genvar gp, gc;
    generate
        for (gp = 0; gp < P; gp = gp + 1) begin : g_p
            for (gc = 0; gc < C; gc = gc + 1) begin : g_c
                assign odata[(gp*C + gc)*BITS +: BITS] =
                    rd[((gp / R)*C*R*R + gc*R*R + i1*R + j1*P + (gp % R))*BITS +: BITS];
            end
        end
    endgenerate

    axis_fifo #(.DATA_W(P*C*BITS), .DEPTH_LOG2(2)) u_out (
        .aclk(aclk), .aresetn(aresetn),
        .s_axis_tdata(odata), .s_axis_tvalid(en && v1), .s_axis_tready(en),
        .s_axis_tlast(l1), .s_axis_tuser(u1),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast),
        .m_axis_tuser(m_axis_tuser)
    );
endmodule
