// conv3x3: same-padding 3x3 convolution over an AXI4-Stream frame.
//
// One beat = one pixel with all CIN channels (channel c in
// s_axis_tdata[c*IN_BITS +: IN_BITS]). Output beats carry COUT channels.
// acc = b[o] + sum w[o,c,dy,dx] * in[y+dy-1, x+dx-1, c] (exact), then
// out = requant(act(acc)) with SHIFT = out_exp - (in_exp + w_exp):
//   ACT 0: none; 1: relu; 2: leaky (negative acc shifted by SHIFT+LEAKY_SHIFT).
//
// Parallelism: PI input and PO output channels per clock, so a pixel takes
// ceil(CIN/PI) * ceil(COUT/PO) clocks (1 when fully parallel).
// Weights: WEIGHT_FILE, one word per fold step (step = co_group*NI + ci_group)
// holding w[co_group*PO+po, ci_group*PI+pi, ky, kx] at bit
// ((po*PI + pi)*9 + ky*3 + kx) * W_BITS. Biases: BIAS_FILE, one word per
// output group, b[og*PO+po] at bit po*B_BITS (both $readmemh hex). The
// weight ROM is block RAM when F >= ROM_BLOCK_MIN, LUTs otherwise.
//
// Frame size (cfg_width x cfg_height, 1..MAX_W x 1..2**DIM_BITS-2) is read at
// run time and must be stable during a frame. The core walks the frame
// positions n = 0 .. W*H + W (W*H input pixels, then W+1 flush positions);
// position n produces the output centred on pixel n-W-1. Two line buffers
// (block RAM) hold the previous two rows; a 3x3 window of column vectors
// slides along. The input tlast/tuser are not used: the frame size counts.
module conv3x3 #(
    parameter CIN         = 4,
    parameter COUT        = 4,
    parameter IN_BITS     = 8,
    parameter IN_SIGNED   = 0,
    parameter W_BITS      = 8,
    parameter B_BITS      = 32,
    parameter OUT_BITS    = 8,
    parameter OUT_SIGNED  = 1,
    parameter SHIFT       = 8,
    parameter ACT         = 0,
    parameter LEAKY_SHIFT = 0,
    parameter PI          = CIN,
    parameter PO          = COUT,
    parameter MAX_W       = 64,
    parameter DIM_BITS    = 12,
    parameter ROM_BLOCK_MIN = 64,
    parameter WEIGHT_FILE = "conv_w.mem",
    parameter BIAS_FILE   = "conv_b.mem"
) (
    input  wire                     aclk,
    input  wire                     aresetn,
    input  wire [DIM_BITS-1:0]      cfg_width,
    input  wire [DIM_BITS-1:0]      cfg_height,
    input  wire [CIN*IN_BITS-1:0]   s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire                     s_axis_tlast,
    input  wire                     s_axis_tuser,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [COUT*OUT_BITS-1:0] m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready,
    output wire                     m_axis_tlast,
    output wire                     m_axis_tuser
);
    // ---------------------------------------------------------------- sizes
    localparam NI    = (CIN + PI - 1) / PI;      // input channel groups
    localparam NO    = (COUT + PO - 1) / PO;     // output channel groups
    localparam CINP  = NI * PI;
    localparam COUTP = NO * PO;
    localparam F     = NI * NO;                  // clocks per pixel
    localparam SW    = (F > 1) ? $clog2(F) : 1;
    localparam NIW   = (NI > 1) ? $clog2(NI) : 1;
    localparam NOW   = (NO > 1) ? $clog2(NO) : 1;
    localparam AW    = (MAX_W > 1) ? $clog2(MAX_W) : 1;
    localparam XB    = IN_BITS * CIN;            // one pixel
    localparam NP    = PO * PI * 9;              // multipliers
    localparam PW    = IN_BITS + 1 + W_BITS;     // product width
    localparam SUMW  = PW + $clog2(9 * CINP) + 1;
    localparam ACC_W = ((SUMW > B_BITS) ? SUMW : B_BITS) + 1;
    localparam integer   F_M1  = F - 1;
    localparam integer   NI_M1 = NI - 1;
    localparam integer   NO_M1 = NO - 1;
    localparam [SW-1:0]  STEP_LAST = F_M1[SW-1:0];
    localparam [NIW-1:0] CI_LAST   = NI_M1[NIW-1:0];
    localparam [NOW-1:0] CO_LAST   = NO_M1[NOW-1:0];

    // ------------------------------------------------------- output buffer
    wire       fifo_ready;
    wire       en = fifo_ready;          // whole pipeline advances together
    reg        push;
    /* verilator lint_off UNUSEDSIGNAL */
    reg [COUTP*OUT_BITS-1:0] push_data;   // padded output channels dropped
    /* verilator lint_on UNUSEDSIGNAL */
    reg        push_last, push_user;

    // ------------------------------------------------------ stage 0: issue
    reg  [SW-1:0]       step;
    reg  [NIW-1:0]      ci;
    reg  [NOW-1:0]      co;
    reg  [AW-1:0]       ix;
    reg  [DIM_BITS:0]   iy;

    wire [DIM_BITS:0] w_ext = {1'b0, cfg_width};
    wire [DIM_BITS:0] h_ext = {1'b0, cfg_height};
    wire need_in   = (iy < h_ext) || (iy == {(DIM_BITS+1){1'b0}});  // idle at frame start
    wire first     = (step == {SW{1'b0}});
    wire slot      = first ? (!need_in || s_axis_tvalid) : 1'b1;
    wire issue     = en && first && slot;
    wire last_step = (step == STEP_LAST);
    wire ix_last   = ({{(DIM_BITS+1-AW){1'b0}}, ix} == w_ext - 1'b1);
    wire ix0       = (ix == {AW{1'b0}});
    wire ix1       = (ix == {{(AW-1){1'b0}}, 1'b1});
    wire frame_end = ix0 && (iy == h_ext + 1'b1);

    // what the output centred on position n - W - 1 needs
    wire c_valid = ix0 ? (iy >= 2) : (iy >= 1);
    wire c_top   = ix0 ? (iy == 2) : (iy == 1);
    wire c_bot   = ix0 ? (iy == h_ext + 1'b1) : (iy == h_ext);
    wire c_left  = ix1 || (ix0 && (cfg_width == 1));
    wire c_right = ix0;
    wire [8:0] c_mask;
    genvar gk;
    generate
        for (gk = 0; gk < 9; gk = gk + 1) begin : g_mask
            assign c_mask[gk] = !((gk / 3 == 0) && c_top) && !((gk / 3 == 2) && c_bot) &&
                                !((gk % 3 == 0) && c_left) && !((gk % 3 == 2) && c_right);
        end
    endgenerate

    assign s_axis_tready = en && first && need_in;

    // position info, held for all F steps of a pixel
    reg        p_valid, p_user, p_last;
    reg  [8:0] p_mask;

    always @(posedge aclk) begin
        if (!aresetn) begin
            step <= {SW{1'b0}};
            ci <= {NIW{1'b0}};
            co <= {NOW{1'b0}};
            ix <= {AW{1'b0}};
            iy <= {(DIM_BITS+1){1'b0}};
        end else if (en && slot) begin
            step <= last_step ? {SW{1'b0}} : step + 1'b1;
            if (ci == CI_LAST) begin
                ci <= {NIW{1'b0}};
                co <= (co == CO_LAST) ? {NOW{1'b0}} : co + 1'b1;
            end else begin
                ci <= ci + 1'b1;
            end
            if (first) begin
                if (frame_end) begin
                    ix <= {AW{1'b0}};
                    iy <= {(DIM_BITS+1){1'b0}};
                end else if (ix_last) begin
                    ix <= {AW{1'b0}};
                    iy <= iy + 1'b1;
                end else begin
                    ix <= ix + 1'b1;
                end
            end
        end
    end

    always @(posedge aclk) begin
        if (issue) begin
            p_valid <= c_valid;
            p_user  <= c_valid && c_top && c_left;
            p_last  <= c_right;
            p_mask  <= c_mask;
        end
    end

    // ----------------------------------------- line buffers (read first)
    wire [XB-1:0] pix0 = need_in ? s_axis_tdata : {XB{1'b0}};
    (* ram_style = "block" *) reg [XB-1:0] lb0 [0:MAX_W-1];
    (* ram_style = "block" *) reg [XB-1:0] lb1 [0:MAX_W-1];
    reg [XB-1:0] rd0, rd1;
    always @(posedge aclk) begin
        if (issue) begin
            if (!iy[0]) lb0[ix] <= pix0;
            rd0 <= lb0[ix];
        end
    end
    always @(posedge aclk) begin
        if (issue) begin
            if (iy[0]) lb1[ix] <= pix0;
            rd1 <= lb1[ix];
        end
    end

    // ------------------------------------------- stage 1: window shift
    reg            v1, first1, par1;
    reg  [SW-1:0]  step1;
    reg  [NIW-1:0] ci1;
    reg  [NOW-1:0] co1;
    reg  [XB-1:0]  cur1;
    always @(posedge aclk) begin
        if (!aresetn) begin
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= slot;
        end
    end
    always @(posedge aclk) begin
        if (en) begin
            first1 <= first;
            step1  <= step;
            ci1    <= ci;
            co1    <= co;
            if (issue) begin
                cur1 <= pix0;
                par1 <= iy[0];
            end
        end
    end
    // rows y-2 (top), y-1, y of the column just read
    wire [XB-1:0] row_m2 = par1 ? rd1 : rd0;
    wire [XB-1:0] row_m1 = par1 ? rd0 : rd1;
    reg  [3*XB-1:0] col_l, col_m, col_r;   // window columns, row 0 at LSB
    always @(posedge aclk) begin
        if (en && v1 && first1) begin
            col_l <= col_m;
            col_m <= col_r;
            col_r <= {cur1, row_m1, row_m2};
        end
    end

    // weight ROM, one word per fold step: block RAM when it is at least
    // ROM_BLOCK_MIN words deep, LUTs when shallower ("logic": yosys can not
    // map a wide shallow ROM to LUTRAM; Vivado warns and infers LUT ROM)
    reg [NP*W_BITS-1:0] wq;
    generate
        if (F >= ROM_BLOCK_MIN) begin : g_wrom_block
            (* rom_style = "block" *) reg [NP*W_BITS-1:0] wrom [0:F-1];
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge aclk) begin
                if (en) wq <= wrom[step1];
            end
        end else begin : g_wrom_lut
            (* rom_style = "logic" *) reg [NP*W_BITS-1:0] wrom [0:F-1];
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge aclk) begin
                if (en) wq <= wrom[step1];
            end
        end
    endgenerate

    // ------------------------------------------ stage 2: multiply
    reg            v2, fci2, lci2;
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [NIW-1:0] ci2;              // unused when NI == 1
    /* verilator lint_on UNUSEDSIGNAL */
    reg  [NOW-1:0] co2;
    reg            pv2, pu2, pl2;
    reg  [8:0]     m2;
    always @(posedge aclk) begin
        if (!aresetn) v2 <= 1'b0;
        else if (en) v2 <= v1;
    end
    always @(posedge aclk) begin
        if (en) begin
            ci2  <= ci1;
            co2  <= co1;
            fci2 <= (ci1 == {NIW{1'b0}});
            lci2 <= (ci1 == CI_LAST);
            pv2  <= p_valid;
            pu2  <= p_user;
            pl2  <= p_last;
            m2   <= p_mask;
        end
    end

    // the 9 taps of the window, padded to CINP channels, masked
    wire [9*CINP*IN_BITS-1:0] taps;
    genvar gy, gx;
    generate
        for (gy = 0; gy < 3; gy = gy + 1) begin : g_ty
            for (gx = 0; gx < 3; gx = gx + 1) begin : g_tx
                /* verilator lint_off UNUSEDSIGNAL */
                wire [3*XB-1:0] col = (gx == 0) ? col_l : (gx == 1) ? col_m : col_r;
                /* verilator lint_on UNUSEDSIGNAL */
                wire [XB-1:0]   px  = m2[gy*3+gx] ? col[gy*XB +: XB] : {XB{1'b0}};
                if (CINP > CIN) begin : g_pad
                    assign taps[(gy*3+gx)*CINP*IN_BITS +: CINP*IN_BITS] =
                        {{((CINP-CIN)*IN_BITS){1'b0}}, px};
                end else begin : g_nopad
                    assign taps[(gy*3+gx)*CINP*IN_BITS +: CINP*IN_BITS] = px;
                end
            end
        end
    endgenerate

    // input channel group ci2 of every tap (shared by all output channels)
    wire [9*PI*IN_BITS-1:0] xsel;
    generate
        for (gk = 0; gk < 9; gk = gk + 1) begin : g_sel
            if (NI == 1) begin : g_one
                assign xsel[gk*PI*IN_BITS +: PI*IN_BITS] = taps[gk*CINP*IN_BITS +: PI*IN_BITS];
            end else begin : g_mux
                assign xsel[gk*PI*IN_BITS +: PI*IN_BITS] =
                    taps[gk*CINP*IN_BITS + ci2*PI*IN_BITS +: PI*IN_BITS];
            end
        end
    endgenerate

    reg [PW-1:0] prod [0:NP-1];          // unpacked: one word per product
    genvar go, gi;
    generate
        for (go = 0; go < PO; go = go + 1) begin : g_po
            for (gi = 0; gi < PI; gi = gi + 1) begin : g_pi
                for (gk = 0; gk < 9; gk = gk + 1) begin : g_k
                    wire [IN_BITS-1:0] xr = xsel[(gk*PI + gi)*IN_BITS +: IN_BITS];
                    wire signed [IN_BITS:0] xs =
                        {(IN_SIGNED != 0) & xr[IN_BITS-1], xr};
                    wire signed [W_BITS-1:0] ws = wq[((go*PI + gi)*9 + gk)*W_BITS +: W_BITS];
                    always @(posedge aclk) begin
                        if (en) prod[(go*PI + gi)*9 + gk] <= xs * ws;
                    end
                end
            end
        end
    endgenerate

    // ------------------------- stage 3: adder tree + bias + accumulate
    reg            v3, fci3, lci3, pv3, pu3, pl3;
    reg  [NOW-1:0] co3;
    always @(posedge aclk) begin
        if (!aresetn) v3 <= 1'b0;
        else if (en) v3 <= v2;
    end
    always @(posedge aclk) begin
        if (en) begin
            co3 <= co2; fci3 <= fci2; lci3 <= lci2;
            pv3 <= pv2; pu3 <= pu2; pl3 <= pl2;
        end
    end
    reg [PO*B_BITS-1:0] brom [0:NO-1];
    initial $readmemh(BIAS_FILE, brom);
    wire [PO*B_BITS-1:0] bias_w = brom[co3];

    reg            v4, lci4, pv4, pu4, pl4;
    reg  [NOW-1:0] co4;
    reg  [PO*ACC_W-1:0] acc4;
    always @(posedge aclk) begin
        if (!aresetn) v4 <= 1'b0;
        else if (en) v4 <= v3;
    end
    // adder tree over the PI*9 products of each output channel, summed in
    // the clocked block (once per clock: an always @* over the product array
    // would be re-evaluated on every product update by event simulators)
    generate
        for (go = 0; go < PO; go = go + 1) begin : g_acc
            wire signed [ACC_W-1:0] b = {{(ACC_W-B_BITS){bias_w[go*B_BITS + B_BITS-1]}},
                                         bias_w[go*B_BITS +: B_BITS]};
            reg signed [ACC_W-1:0] s;
            integer j;
            /* verilator lint_off BLKSEQ */
            always @(posedge aclk) begin
                if (en) begin
                    s = {ACC_W{1'b0}};
                    for (j = 0; j < PI * 9; j = j + 1)
                        s = s + {{(ACC_W-PW){prod[go*PI*9 + j][PW-1]}}, prod[go*PI*9 + j]};
                    acc4[go*ACC_W +: ACC_W] <= (fci3 ? b : acc4[go*ACC_W +: ACC_W]) + s;
                end
            end
            /* verilator lint_on BLKSEQ */
        end
    endgenerate
    always @(posedge aclk) begin
        if (en) begin
            co4 <= co3; lci4 <= lci3; pv4 <= pv3; pu4 <= pu3; pl4 <= pl3;
        end
    end

    // ------------------------------------- stage 5: activation + requant
    wire [PO*OUT_BITS-1:0] rq;
    generate
        for (go = 0; go < PO; go = go + 1) begin : g_rq
            wire [ACC_W-1:0] a = acc4[go*ACC_W +: ACC_W];
            if (ACT == 1) begin : g_relu
                wire [ACC_W-1:0] ar = a[ACC_W-1] ? {ACC_W{1'b0}} : a;
                requant #(.IN_W(ACC_W), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_SIGNED(OUT_SIGNED))
                    u_rq (.v(ar), .q(rq[go*OUT_BITS +: OUT_BITS]));
            end else if (ACT == 2) begin : g_leaky
                wire [OUT_BITS-1:0] qp, qn;
                requant #(.IN_W(ACC_W), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_SIGNED(OUT_SIGNED))
                    u_rqp (.v(a), .q(qp));
                requant #(.IN_W(ACC_W), .SHIFT(SHIFT + LEAKY_SHIFT), .OUT_BITS(OUT_BITS),
                          .OUT_SIGNED(OUT_SIGNED))
                    u_rqn (.v(a), .q(qn));
                assign rq[go*OUT_BITS +: OUT_BITS] = a[ACC_W-1] ? qn : qp;
            end else begin : g_none
                requant #(.IN_W(ACC_W), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_SIGNED(OUT_SIGNED))
                    u_rq (.v(a), .q(rq[go*OUT_BITS +: OUT_BITS]));
            end
        end
    endgenerate

    // collect the output groups of a pixel, push the last one with the rest
    reg [COUTP*OUT_BITS-1:0] obuf;
    wire final4 = v4 && lci4;
    always @(posedge aclk) begin
        if (en && final4) obuf[co4*PO*OUT_BITS +: PO*OUT_BITS] <= rq;
    end
    always @* begin
        push_data = obuf;
        push_data[(NO-1)*PO*OUT_BITS +: PO*OUT_BITS] = rq;
        push      = en && final4 && (co4 == CO_LAST) && pv4;
        push_last = pl4;
        push_user = pu4;
    end

    axis_fifo #(.DATA_W(COUT*OUT_BITS), .DEPTH_LOG2(2)) u_out (
        .aclk(aclk), .aresetn(aresetn),
        .s_axis_tdata(push_data[COUT*OUT_BITS-1:0]), .s_axis_tvalid(push),
        .s_axis_tready(fifo_ready), .s_axis_tlast(push_last), .s_axis_tuser(push_user),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast),
        .m_axis_tuser(m_axis_tuser)
    );
endmodule
