// requant: combinational fixed-point requantization of one value.
//   q = saturate(rshift_rne(v, SHIFT), OUT_BITS, OUT_SIGNED)
// v is a signed IN_W-bit integer. SHIFT > 0 rounds half to even on the floor
// grid (docs/numerics.md); SHIFT <= 0 is an exact left shift.
module requant #(
    parameter IN_W       = 32,
    parameter SHIFT      = 8,
    parameter OUT_BITS   = 8,
    parameter OUT_SIGNED = 1
) (
    input  wire [IN_W-1:0]     v,
    output wire [OUT_BITS-1:0] q
);
    // width of the rounded value before saturation
    localparam XW = (SHIFT <= 0) ? IN_W - SHIFT + 1 :
                    (SHIFT >= IN_W) ? 2 : IN_W - SHIFT + 1;
    localparam signed [63:0] HI = OUT_SIGNED ? (64'sd1 <<< (OUT_BITS - 1)) - 64'sd1
                                             : (64'sd1 <<< OUT_BITS) - 64'sd1;
    localparam signed [63:0] LO = OUT_SIGNED ? -(64'sd1 <<< (OUT_BITS - 1)) : 64'sd0;

    wire signed [XW-1:0] x;

    generate
        if (SHIFT <= 0) begin : g_left
            wire signed [XW-1:0] vx = {{(XW-IN_W){v[IN_W-1]}}, v};
            assign x = vx <<< (-SHIFT);
        end else if (SHIFT >= IN_W) begin : g_zero
            // |v| <= 2**(IN_W-1) <= 2**(SHIFT-1): always rounds to 0
            assign x = {XW{1'b0}};
        end else begin : g_right
            wire signed [XW-2:0] fl = v[IN_W-1:SHIFT];   // floor(v / 2**SHIFT)
            wire half = v[SHIFT-1];
            wire sticky;
            if (SHIFT == 1) begin : g_s1
                assign sticky = 1'b0;
            end else begin : g_sn
                assign sticky = |v[SHIFT-2:0];
            end
            wire up = half & (sticky | fl[0]);
            assign x = {fl[XW-2], fl} + {{(XW-1){1'b0}}, up};
        end
    endgenerate

    wire signed [63:0] xw = {{(64-XW){x[XW-1]}}, x};
    /* verilator lint_off UNUSEDSIGNAL */
    wire signed [63:0] sat = (xw > HI) ? HI : (xw < LO) ? LO : xw;
    /* verilator lint_on UNUSEDSIGNAL */
    assign q = sat[OUT_BITS-1:0];
endmodule
