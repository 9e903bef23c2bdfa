// residual_add: out = requant((a << A_SHIFT) + (b << B_SHIFT), SHIFT, OUT_BITS, OUT_SIGNED)
// per channel. A_SHIFT, B_SHIFT >= 0 align inputs at their own exponents to the finer
// one e (exact; both 0 when they share one), SHIFT = out_exp - e. Joins two
// AXI4-Streams beat by beat; tlast/tuser come from stream a.
module residual_add #(
    parameter C          = 4,
    parameter A_BITS     = 8,
    parameter A_SIGNED   = 1,
    parameter B_BITS     = 8,
    parameter B_SIGNED   = 1,
    parameter A_SHIFT    = 0,
    parameter B_SHIFT    = 0,
    parameter OUT_BITS   = 8,
    parameter OUT_SIGNED = 1,
    parameter SHIFT      = 0
) (
    input  wire                  aclk,
    input  wire                  aresetn,
    input  wire [C*A_BITS-1:0]   s_a_axis_tdata,
    input  wire                  s_a_axis_tvalid,
    output wire                  s_a_axis_tready,
    input  wire                  s_a_axis_tlast,
    input  wire                  s_a_axis_tuser,
    input  wire [C*B_BITS-1:0]   s_b_axis_tdata,
    input  wire                  s_b_axis_tvalid,
    output wire                  s_b_axis_tready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire                  s_b_axis_tlast,
    input  wire                  s_b_axis_tuser,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [C*OUT_BITS-1:0] m_axis_tdata,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire                  m_axis_tuser
);
    localparam AW = A_BITS + A_SHIFT;
    localparam BW = B_BITS + B_SHIFT;
    localparam SW = ((AW > BW) ? AW : BW) + 2;       // sum width (sign + carry)

    wire en;
    wire both = s_a_axis_tvalid && s_b_axis_tvalid;
    assign s_a_axis_tready = en && s_b_axis_tvalid;
    assign s_b_axis_tready = en && s_a_axis_tvalid;

    reg            v1, l1, u1;
    reg [C*SW-1:0] sum1;
    always @(posedge aclk) begin
        if (!aresetn) v1 <= 1'b0;
        else if (en) v1 <= both;
    end
    genvar gc;
    generate
        for (gc = 0; gc < C; gc = gc + 1) begin : g_c
            wire [A_BITS-1:0] ar = s_a_axis_tdata[gc*A_BITS +: A_BITS];
            wire [B_BITS-1:0] br = s_b_axis_tdata[gc*B_BITS +: B_BITS];
            wire [SW-1:0] ae = {{(SW-A_BITS){(A_SIGNED != 0) & ar[A_BITS-1]}}, ar};
            wire [SW-1:0] be = {{(SW-B_BITS){(B_SIGNED != 0) & br[B_BITS-1]}}, br};
            wire [SW-1:0] ax = ae << A_SHIFT;
            wire [SW-1:0] bx = be << B_SHIFT;
            always @(posedge aclk) begin
                if (en) sum1[gc*SW +: SW] <= ax + bx;
            end
        end
    endgenerate
    always @(posedge aclk) begin
        if (en) begin
            l1 <= s_a_axis_tlast;
            u1 <= s_a_axis_tuser;
        end
    end

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
