// add_tree: pipelined sum of N signed IW-bit values (IW >= 2) into an OW-bit sum.
// A binary tree with a register after every level: latency LEVELS =
// ceil(log2(N)) clocks (0 when N == 1: the input passes through), so no
// combinational path holds more than one adder (one carry chain). The adders
// grow one bit a level (IW + l bits at level l, at most OW): no adder is wider
// than its result needs; the stored words are sign-extended to OW (the copies
// of the sign bit are one flip-flop to synthesis).
module add_tree #(
    parameter N  = 9,
    parameter IW = 17,
    parameter OW = 24
) (
    input  wire            aclk,
    input  wire [N*IW-1:0] in,
    output wire [OW-1:0]   sum
);
    function integer n_at;        // values at tree level l (level 0: the inputs)
        input integer n, l;
        integer k;
        begin
            n_at = n;
            for (k = 0; k < l; k = k + 1) n_at = (n_at + 1) / 2;
        end
    endfunction
    function integer off_at;      // first index of level l (level 1 at 0)
        input integer n, l;
        integer k;
        begin
            off_at = 0;
            for (k = 1; k < l; k = k + 1) off_at = off_at + n_at(n, k);
        end
    endfunction
    function integer w_at;        // adder bits at level l
        input integer l;
        begin
            w_at = (IW + l < OW) ? IW + l : OW;
        end
    endfunction
    function integer clog2i;
        input integer v;
        integer k;
        begin
            clog2i = 0;
            for (k = 1; k < v; k = k * 2) clog2i = clog2i + 1;
        end
    endfunction

    localparam LEVELS = clog2i(N);
    localparam TOTAL  = (LEVELS > 0) ? off_at(N, LEVELS + 1) : 1;

    genvar gl, gi;
    generate
        if (LEVELS == 0) begin : g_pass
            assign sum = {{(OW-IW+1){in[IW-1]}}, in[IW-2:0]};
        end else begin : g_tree
            // one word per node (an array, so event-driven simulators wake
            // only the readers of the word that changed)
            reg [OW-1:0] t [0:TOTAL-1];
            for (gl = 1; gl <= LEVELS; gl = gl + 1) begin : g_lvl
                localparam integer WL = w_at(gl);
                for (gi = 0; gi < n_at(N, gl); gi = gi + 1) begin : g_node
                    wire signed [WL-1:0] a, b;
                    if (gl == 1) begin : g_leaf
                        assign a = {{(WL-IW+1){in[(2*gi)*IW + IW-1]}}, in[(2*gi)*IW +: IW-1]};
                        if (2 * gi + 1 < N) begin : g_two
                            assign b = {{(WL-IW+1){in[(2*gi+1)*IW + IW-1]}},
                                        in[(2*gi+1)*IW +: IW-1]};
                        end else begin : g_one
                            assign b = {WL{1'b0}};
                        end
                    end else begin : g_inner
                        /* verilator lint_off UNUSEDSIGNAL */   // the sign copies above WL
                        wire [OW-1:0] ta = t[off_at(N, gl - 1) + 2 * gi];
                        /* verilator lint_on UNUSEDSIGNAL */
                        assign a = ta[WL-1:0];
                        if (2 * gi + 1 < n_at(N, gl - 1)) begin : g_two
                            /* verilator lint_off UNUSEDSIGNAL */
                            wire [OW-1:0] tb = t[off_at(N, gl - 1) + 2 * gi + 1];
                            /* verilator lint_on UNUSEDSIGNAL */
                            assign b = tb[WL-1:0];
                        end else begin : g_one
                            assign b = {WL{1'b0}};
                        end
                    end
                    wire signed [WL-1:0] s = a + b;
                    always @(posedge aclk) t[off_at(N, gl) + gi] <= {{(OW-WL+1){s[WL-1]}}, s[WL-2:0]};
                end
            end
            assign sum = t[TOTAL - 1];
        end
    endgenerate
endmodule
