// pipe_delay: a W-bit signal delayed by D clocks (D = 0: a wire).
module pipe_delay #(
    parameter W = 1,
    parameter D = 1
) (
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire         aclk,       // unused when D == 0
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [W-1:0] d,
    output wire [W-1:0] q
);
    generate
        if (D == 0) begin : g_wire
            assign q = d;
        end else begin : g_sr
            reg [W-1:0] sr [0:D-1];
            integer k;
            always @(posedge aclk) begin
                sr[0] <= d;
                for (k = 1; k < D; k = k + 1) sr[k] <= sr[k-1];
            end
            assign q = sr[D-1];
        end
    endgenerate
endmodule
