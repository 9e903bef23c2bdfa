// relu: out = requant(max(x, 0), SHIFT, OUT_BITS, OUT_SIGNED) for each of the
// N values of a beat (SHIFT = out_exp - in_exp).
module relu #(
    parameter N          = 3,
    parameter IN_BITS    = 8,
    parameter IN_SIGNED  = 1,
    parameter OUT_BITS   = 8,
    parameter OUT_SIGNED = 0,
    parameter SHIFT      = 0
) (
    input  wire                  aclk,
    input  wire                  aresetn,
    input  wire [N*IN_BITS-1:0]  s_axis_tdata,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire                  s_axis_tuser,
    output wire [N*OUT_BITS-1:0] m_axis_tdata,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire                  m_axis_tuser
);
    localparam XW = IN_BITS + 1;
    wire en;
    assign s_axis_tready = en;
    reg            v1, l1, u1;
    reg [N*XW-1:0] x1;
    always @(posedge aclk) begin
        if (!aresetn) v1 <= 1'b0;
        else if (en) v1 <= s_axis_tvalid;
    end
    always @(posedge aclk) begin
        if (en) begin
            l1 <= s_axis_tlast;
            u1 <= s_axis_tuser;
        end
    end
    wire [N*OUT_BITS-1:0] q;
    genvar gn;
    generate
        for (gn = 0; gn < N; gn = gn + 1) begin : g_n
            wire [IN_BITS-1:0] xr = s_axis_tdata[gn*IN_BITS +: IN_BITS];
            wire neg = (IN_SIGNED != 0) && xr[IN_BITS-1];
            always @(posedge aclk) begin
                if (en) x1[gn*XW +: XW] <= neg ? {XW{1'b0}} : {1'b0, xr};
            end
            requant #(.IN_W(XW), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_SIGNED(OUT_SIGNED))
                u_rq (.v(x1[gn*XW +: XW]), .q(q[gn*OUT_BITS +: OUT_BITS]));
        end
    endgenerate
    axis_fifo #(.DATA_W(N*OUT_BITS), .DEPTH_LOG2(2)) u_out (
        .aclk(aclk), .aresetn(aresetn),
        .s_axis_tdata(q), .s_axis_tvalid(en && v1), .s_axis_tready(en),
        .s_axis_tlast(l1), .s_axis_tuser(u1),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast),
        .m_axis_tuser(m_axis_tuser)
    );
endmodule
