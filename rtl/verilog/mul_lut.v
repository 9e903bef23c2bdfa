// mul_lut: pipelined signed XW x WB multiplier in fabric (LUTs and carry
// chains, no DSP), for cores that run out of DSP slices. Shift-and-add: one
// row per weight bit, the sign bit's row as (~x << (WB-1)) plus 2**(WB-1)
// (-x = ~x + 1), summed by add_tree (a register after every level): latency
// ceil(log2(WB + 1)) clocks. Exact modulo 2**PW, and the product fits PW bits.
module mul_lut #(
    parameter XW = 9,
    parameter WB = 8,
    parameter PW = XW + WB
) (
    input  wire          aclk,
    input  wire [XW-1:0] x,          // signed
    input  wire [WB-1:0] w,          // signed
    output wire [PW-1:0] p           // x * w
);
    localparam N = WB + 1;
    wire [N*PW-1:0] rows;
    wire [PW-1:0] xs = {{(PW-XW){x[XW-1]}}, x};
    genvar gi;
    generate
        for (gi = 0; gi < WB - 1; gi = gi + 1) begin : g_row
            assign rows[gi*PW +: PW] = w[gi] ? (xs << gi) : {PW{1'b0}};
        end
    endgenerate
    assign rows[(WB-1)*PW +: PW] = w[WB-1] ? ((~xs) << (WB-1)) : {PW{1'b0}};
    assign rows[WB*PW +: PW]     = w[WB-1] ? ({{(PW-1){1'b0}}, 1'b1} << (WB-1)) : {PW{1'b0}};
    add_tree #(.N(N), .IW(PW), .OW(PW)) u_sum (.aclk(aclk), .in(rows), .sum(p));
endmodule
