// toy_abs: |x| of each of N signed BITS-bit values, saturated (|min| -> max);
// unsigned values pass. One register stage, AXI4-Stream with back-pressure.
module toy_abs #(
    parameter N      = 1,
    parameter BITS   = 8,
    parameter SIGNED = 1
) (
    input  wire               aclk,
    input  wire               aresetn,
    input  wire [N*BITS-1:0]  s_axis_tdata,
    input  wire               s_axis_tvalid,
    output wire               s_axis_tready,
    input  wire               s_axis_tlast,
    input  wire               s_axis_tuser,
    output reg  [N*BITS-1:0]  m_axis_tdata,
    output reg                m_axis_tvalid,
    input  wire               m_axis_tready,
    output reg                m_axis_tlast,
    output reg                m_axis_tuser
);
    assign s_axis_tready = !m_axis_tvalid || m_axis_tready;
    wire [N*BITS-1:0] y;
    genvar g;
    generate
        for (g = 0; g < N; g = g + 1) begin : g_n
            wire [BITS-1:0] x = s_axis_tdata[g*BITS +: BITS];
            wire neg = (SIGNED != 0) && x[BITS-1];
            wire is_min = neg && (x[BITS-2:0] == {(BITS-1){1'b0}});
            assign y[g*BITS +: BITS] = !neg ? x : (is_min ? {1'b0, {(BITS-1){1'b1}}} : (~x + 1'b1));
        end
    endgenerate
    always @(posedge aclk) begin
        if (!aresetn) m_axis_tvalid <= 1'b0;
        else if (s_axis_tready) m_axis_tvalid <= s_axis_tvalid;
    end
    always @(posedge aclk) begin
        if (s_axis_tready) begin
            m_axis_tdata <= y;
            m_axis_tlast <= s_axis_tlast;
            m_axis_tuser <= s_axis_tuser;
        end
    end
endmodule
