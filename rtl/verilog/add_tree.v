// add_tree: pipelined sum of N signed IW-bit values (IW >= 2) into an OW-bit sum.
// A binary tree with a register after every level: latency LEVELS =
// ceil(log2(N)) clocks (0 when N == 1: the input passes through), so no
// combinational path holds more than one adder (one carry chain). The sums
// grow one bit a level (IW + l bits at level l, at most OW): no adder is
// wider than its result needs.
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
    function integer w_at;        // bits of a value at level l
        input integer l;
        begin
            w_at = (IW + l < OW) ? IW + l : OW;
        end
    endfunction
    function integer off_at;      // first bit of level l in the flat bus
        input integer n, l;
        integer k;
        begin
            off_at = 0;
            for (k = 0; k < l; k = k + 1) off_at = off_at + n_at(n, k) * w_at(k);
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
    localparam BITS   = off_at(N, LEVELS + 1);

    // every level's values, level 0 (the inputs) first
    wire [BITS-1:0] bus;
    assign bus[N*IW-1:0] = in;

    genvar gl, gi;
    generate
        for (gl = 1; gl <= LEVELS; gl = gl + 1) begin : g_lvl
            localparam integer WP = w_at(gl - 1);     // previous level's width
            localparam integer WL = w_at(gl);
            localparam integer NP = n_at(N, gl - 1);
            localparam integer OP = off_at(N, gl - 1);
            localparam integer OL = off_at(N, gl);
            for (gi = 0; gi < n_at(N, gl); gi = gi + 1) begin : g_node
                // sign extension (WL >= WP; replicating WL-WP+1 copies of the
                // sign avoids a zero-width replication when WL == WP)
                wire [WP-1:0] ap = bus[OP + (2*gi)*WP +: WP];
                wire signed [WL-1:0] a = {{(WL-WP+1){ap[WP-1]}}, ap[WP-2:0]};
                wire signed [WL-1:0] b;
                if (2 * gi + 1 < NP) begin : g_two
                    wire [WP-1:0] bp = bus[OP + (2*gi+1)*WP +: WP];
                    assign b = {{(WL-WP+1){bp[WP-1]}}, bp[WP-2:0]};
                end else begin : g_one
                    assign b = {WL{1'b0}};
                end
                reg signed [WL-1:0] t;
                always @(posedge aclk) t <= a + b;
                assign bus[OL + gi*WL +: WL] = t;
            end
        end
    endgenerate

    localparam integer WT = w_at(LEVELS);
    wire [WT-1:0] top = bus[off_at(N, LEVELS) +: WT];
    assign sum = {{(OW-WT+1){top[WT-1]}}, top[WT-2:0]};
endmodule
