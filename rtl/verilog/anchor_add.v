// anchor_add: the LR anchor skip of the ESPCN tail (docs/numerics.md "anchor_add").
//   out[k] = requant((a[k] << A_SHIFT) + (b[k / REPEAT] << B_SHIFT), SHIFT, OUT_BITS, OUT_SIGNED)
// for k = 0 .. SKIP_C*REPEAT-1; A_SHIFT, B_SHIFT >= 0 align both inputs to the finer
// exponent e (exact), SHIFT = out_exp - e (round half to even, saturate: requant.v).
// Port a: the residual, SKIP_C*REPEAT channels of A_BITS (the tail conv). Port b: the
// skip stream, B_C channels of B_BITS (the net input); only its first SKIP_C channels
// enter the skip FIFO (SKIP_C*B_BITS data bits; SKIP_DEPTH entries, 2**SKIP_DEPTH_LOG2
// when SKIP_DEPTH is 0; + its output register), where they wait for the residual,
// which lags them by the trunk's rows.
// The FIFO's output and stream a join beat by beat; tlast/tuser come from stream a.
// One beat per pixel (II = 1); latency from a's handshake to m_axis_tvalid: 3 clocks
// (sum register, output FIFO write, its output register).
module anchor_add #(
    parameter SKIP_C          = 3,
    parameter REPEAT          = 16,
    parameter B_C             = 51,
    parameter A_BITS          = 8,
    parameter A_SIGNED        = 1,
    parameter B_BITS          = 8,
    parameter B_SIGNED        = 0,
    parameter A_SHIFT         = 0,
    parameter B_SHIFT         = 1,
    parameter OUT_BITS        = 8,
    parameter OUT_SIGNED      = 0,
    parameter SHIFT           = 1,
    parameter SKIP_DEPTH_LOG2 = 4,
    parameter SKIP_DEPTH      = 0
) (
    input  wire                           aclk,
    input  wire                           aresetn,
    input  wire [SKIP_C*REPEAT*A_BITS-1:0] s_a_axis_tdata,
    input  wire                           s_a_axis_tvalid,
    output wire                           s_a_axis_tready,
    input  wire                           s_a_axis_tlast,
    input  wire                           s_a_axis_tuser,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [B_C*B_BITS-1:0]          s_b_axis_tdata,    // channels >= SKIP_C unused
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                           s_b_axis_tvalid,
    output wire                           s_b_axis_tready,
    input  wire                           s_b_axis_tlast,
    input  wire                           s_b_axis_tuser,
    output wire [SKIP_C*REPEAT*OUT_BITS-1:0] m_axis_tdata,
    output wire                           m_axis_tvalid,
    input  wire                           m_axis_tready,
    output wire                           m_axis_tlast,
    output wire                           m_axis_tuser
);
    localparam C  = SKIP_C * REPEAT;
    localparam KW = SKIP_C * B_BITS;                 // skip FIFO data width
    localparam AW = A_BITS + A_SHIFT;
    localparam BW = B_BITS + B_SHIFT;
    localparam SW = ((AW > BW) ? AW : BW) + 2;       // sum width (sign + carry)

    // ---- skip FIFO: the first SKIP_C channels of stream b
    wire [KW-1:0] k_tdata;
    wire          k_tvalid, k_tready;
    /* verilator lint_off UNUSEDSIGNAL */
    wire          k_tlast, k_tuser;                  // kept for the FIFO's width, not used
    /* verilator lint_on UNUSEDSIGNAL */
    axis_fifo #(.DATA_W(KW), .DEPTH_LOG2(SKIP_DEPTH_LOG2), .DEPTH(SKIP_DEPTH)) u_skip (
        .aclk(aclk), .aresetn(aresetn),
        .s_axis_tdata(s_b_axis_tdata[KW-1:0]), .s_axis_tvalid(s_b_axis_tvalid),
        .s_axis_tready(s_b_axis_tready), .s_axis_tlast(s_b_axis_tlast),
        .s_axis_tuser(s_b_axis_tuser),
        .m_axis_tdata(k_tdata), .m_axis_tvalid(k_tvalid), .m_axis_tready(k_tready),
        .m_axis_tlast(k_tlast), .m_axis_tuser(k_tuser)
    );

    // ---- join a with the skip FIFO, align, add (one register stage)
    wire en;                                          // the output FIFO has room
    wire both = s_a_axis_tvalid && k_tvalid;
    assign s_a_axis_tready = en && k_tvalid;
    assign k_tready        = en && s_a_axis_tvalid;

    reg            v1, l1, u1;
    reg [C*SW-1:0] sum1;
    always @(posedge aclk) begin
        if (!aresetn) v1 <= 1'b0;
        else if (en) v1 <= both;
    end
    always @(posedge aclk) begin
        if (en) begin
            l1 <= s_a_axis_tlast;
            u1 <= s_a_axis_tuser;
        end
    end
    genvar gc;
    generate
        for (gc = 0; gc < C; gc = gc + 1) begin : g_c
            wire [A_BITS-1:0] ar = s_a_axis_tdata[gc*A_BITS +: A_BITS];
            wire [B_BITS-1:0] br = k_tdata[(gc / REPEAT)*B_BITS +: B_BITS];
            wire [SW-1:0] ae = {{(SW-A_BITS){(A_SIGNED != 0) & ar[A_BITS-1]}}, ar};
            wire [SW-1:0] be = {{(SW-B_BITS){(B_SIGNED != 0) & br[B_BITS-1]}}, br};
            wire [SW-1:0] ax = ae << A_SHIFT;
            wire [SW-1:0] bx = be << B_SHIFT;
            always @(posedge aclk) begin
                if (en) sum1[gc*SW +: SW] <= ax + bx;
            end
        end
    endgenerate

    // ---- requantize, output FIFO (registered tready towards the join)
    wire [C*OUT_BITS-1:0] q;
    generate
        for (gc = 0; gc < C; gc = gc + 1) begin : g_rq
            requant #(.IN_W(SW), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_SIGNED(OUT_SIGNED))
                u_rq (.v(sum1[gc*SW +: SW]), .q(q[gc*OUT_BITS +: OUT_BITS]));
        end
    endgenerate

    axis_fifo #(.DATA_W(C*OUT_BITS), .DEPTH_LOG2(2)) u_out (
        .aclk(aclk), .aresetn(aresetn),
        .s_axis_tdata(q), .s_axis_tvalid(en && v1), .s_axis_tready(en),
        .s_axis_tlast(l1), .s_axis_tuser(u1),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast),
        .m_axis_tuser(m_axis_tuser)
    );
endmodule
