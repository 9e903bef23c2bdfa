// axis_fifo: AXI4-Stream FIFO of DEPTH (+1 output register) entries; DEPTH = 0
// means 2**DEPTH_LOG2, otherwise DEPTH_LOG2 is its address width ($clog2(DEPTH):
// 2**(DEPTH_LOG2-1) < DEPTH <= 2**DEPTH_LOG2, DEPTH >= 2), so a skip FIFO holds
// exactly the beats it needs instead of the next power of two.
// Synchronous-read memory (block RAM when DEPTH_LOG2 >= 6) with a registered
// output, so s_tready and m_tvalid are both driven from registers; the
// empty/full flags are registered and follow from the flags, two "one away"
// flags and this clock's read/write in one LUT level, so no pointer or count
// comparator lies between a neighbour's handshake and this FIFO's enables (a
// pointer's wrap at DEPTH - 1 depends on the pointer alone).
module axis_fifo #(
    parameter DATA_W     = 8,
    parameter DEPTH_LOG2 = 4,
    parameter DEPTH      = 0
) (
    input  wire              aclk,
    input  wire              aresetn,
    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,
    input  wire              s_axis_tlast,
    input  wire              s_axis_tuser,
    output wire [DATA_W-1:0] m_axis_tdata,
    output wire              m_axis_tvalid,
    input  wire              m_axis_tready,
    output wire              m_axis_tlast,
    output wire              m_axis_tuser
);
    localparam AW = (DEPTH_LOG2 < 1) ? 1 : DEPTH_LOG2;
    localparam N  = (DEPTH == 0) ? (1 << AW) : DEPTH;  // memory entries
    localparam W  = DATA_W + 2;

    generate
        if (N < 2 || N > (1 << AW) || (AW > 1 && N <= (1 << (AW - 1)))) begin : g_bad_depth
            // no such module: elaboration stops here, naming the problem
            axis_fifo_DEPTH_LOG2_must_be_clog2_of_DEPTH u_bad_depth ();
        end
    endgenerate

    reg  [AW-1:0] wp, rp;            // memory addresses
    reg  [AW:0]   cnt;               // entries in the memory
    reg           empty, full;       // registered flags
    reg           one, full_m1;      // registered: cnt == 1, cnt == N - 1
    reg           ov;
    reg  [W-1:0]  od;
    wire          wr = s_axis_tvalid && !full;
    wire          rd = !empty && (!ov || m_axis_tready);
    wire [AW:0]   cnt_n = cnt + {{AW{1'b0}}, wr} - {{AW{1'b0}}, rd};
    wire [W-1:0] din = {s_axis_tuser, s_axis_tlast, s_axis_tdata};

    generate
        if (AW >= 6) begin : g_bram
            (* ram_style = "block" *) reg [W-1:0] mem [0:N-1];
            always @(posedge aclk) begin
                if (wr) mem[wp] <= din;
                if (rd) od <= mem[rp];
            end
        end else begin : g_lutram
            (* ram_style = "distributed" *) reg [W-1:0] mem [0:N-1];
            always @(posedge aclk) begin
                if (wr) mem[wp] <= din;
                if (rd) od <= mem[rp];
            end
        end
    endgenerate

    localparam [AW:0]   ONE  = 1;
    localparam integer  NM1  = N - 1;
    localparam [AW:0]   TOP  = NM1[AW:0];
    localparam [AW-1:0] LAST = NM1[AW-1:0];          // the last address: pointers wrap after it
    wire [AW-1:0] wp_n, rp_n;
    generate
        if (N == (1 << AW)) begin : g_wrap_free
            assign wp_n = wp + 1'b1;
            assign rp_n = rp + 1'b1;
        end else begin : g_wrap
            assign wp_n = (wp == LAST) ? {AW{1'b0}} : wp + 1'b1;
            assign rp_n = (rp == LAST) ? {AW{1'b0}} : rp + 1'b1;
        end
    endgenerate
    always @(posedge aclk) begin
        if (!aresetn) begin
            wp <= {AW{1'b0}};
            rp <= {AW{1'b0}};
            cnt <= {(AW+1){1'b0}};
            empty <= 1'b1;
            full <= 1'b0;
            one <= 1'b0;
            full_m1 <= 1'b0;
            ov <= 1'b0;
        end else begin
            if (wr) wp <= wp_n;
            if (rd) rp <= rp_n;
            cnt <= cnt_n;
            // the flags from the registered ones and this clock's wr/rd (one
            // LUT level), the equality tests on the count's next value only
            // feed the "one away" flags
            empty <= empty ? !wr : (one && rd && !wr);
            full  <= full ? !rd : (full_m1 && wr && !rd);
            one <= (cnt_n == ONE);
            full_m1 <= (cnt_n == TOP);
            if (rd) ov <= 1'b1;
            else if (m_axis_tready) ov <= 1'b0;
        end
    end

    assign s_axis_tready = !full;
    assign m_axis_tvalid = ov;
    assign m_axis_tdata  = od[DATA_W-1:0];
    assign m_axis_tlast  = od[DATA_W];
    assign m_axis_tuser  = od[DATA_W+1];
endmodule
