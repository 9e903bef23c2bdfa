// conv3x3: same-padding 3x3 convolution over an AXI4-Stream frame.
//
// One beat = one pixel with all CIN channels (channel c in
// s_axis_tdata[c*IN_BITS +: IN_BITS]). Output beats carry COUT channels.
// acc = b[o] + sum w[o,c,dy,dx] * in[y+dy-1, x+dx-1, c] (exact), then
// out = requant(act(acc)) with SHIFT = out_exp - (in_exp + w_exp):
//   ACT 0: none; 1: relu; 2: leaky (negative acc shifted by SHIFT+LEAKY_SHIFT).
//
// Parallelism: PI input and PO output channels per clock, so a pixel takes
// ceil(CIN/PI) * ceil(COUT/PO) clocks (1 when fully parallel).
// Weights: WEIGHT_FILE, one word per fold step (step = co_group*NI + ci_group)
// holding w[co_group*PO+po, ci_group*PI+pi, ky, kx] at bit
// ((po*PI + pi)*9 + ky*3 + kx) * W_BITS (PACK: the pair fields below,
// 2*W_BITS+1 bits each at bit ((j*PI + pi)*9 + ky*3 + kx) * (2*W_BITS+1)).
// Biases: BIAS_FILE, one word per
// output group, b[og*PO+po] at bit po*B_BITS (both $readmemh hex). The
// weight ROM is block RAM when F >= ROM_BLOCK_MIN, LUTs otherwise.
//
// Frame size (cfg_width x cfg_height, 1..MAX_W x 1..2**DIM_BITS-2) is read at
// run time (registered) and must be stable from one clock before a frame's
// first beat until its last output. The core walks the frame
// positions n = 0 .. W*H + W (W*H input pixels, then W+1 flush positions);
// position n produces the output centred on pixel n-W-1. Two line buffers
// (block RAM) hold the previous two rows; a 3x3 window of column vectors
// slides along. The input tlast/tuser are not used: the frame size counts.
//
// Timing (300 MHz class): no combinational path holds more than one adder.
// Registered taps and weights feed each multiplier (DSP A/B registers), the
// product is registered twice (M and P registers), the PI*9 products of an
// output channel are summed by a tree with a register after every level
// (add_tree), the bias/accumulate and the requantization are registered.
// Flow control is credit based: a pixel's last step is issued only when the
// output FIFO has room for it, so the pipeline after the issue stage never
// stalls and no clock enable fans out to it (only the issue stage waits).
//
// PACK = 1 (UltraScale+ DSP48E2, IN_BITS <= 8, W_BITS <= 8): two output
// channels share one 27x18 multiplier whose 27-bit operand is
// w[2j] * 2**18 + w[2j+1]. The ROM holds that operand in 2*W_BITS+1 bits,
// {w[2j] - (w[2j+1] < 0), w[2j+1]}, and the operand is formed by sign
// extension (wiring, no adder). The product x * operand carries w[2j+1]*x in
// its low 18 bits and w[2j]*x - borrow above bit 18, where the borrow is bit
// 17 (the low lane's sign). The trees sum the raw high lanes; a small tree
// counts the borrows of each pair and one adder per high lane adds the count
// after the tree (no adder per multiplier), exactly.
module conv3x3 #(
    parameter CIN         = 4,
    parameter COUT        = 4,
    parameter IN_BITS     = 8,
    parameter IN_SIGNED   = 0,
    parameter W_BITS      = 8,
    parameter B_BITS      = 32,
    parameter OUT_BITS    = 8,
    parameter OUT_SIGNED  = 1,
    parameter SHIFT       = 8,
    parameter ACT         = 0,
    parameter LEAKY_SHIFT = 0,
    parameter PI          = CIN,
    parameter PO          = COUT,
    parameter MAX_W       = 64,
    parameter DIM_BITS    = 12,
    parameter ROM_BLOCK_MIN = 64,
    parameter PACK        = 0,
    parameter LUT_MULTS   = 0,
    parameter WEIGHT_FILE = "conv_w.mem",
    parameter BIAS_FILE   = "conv_b.mem"
) (
    input  wire                     aclk,
    input  wire                     aresetn,
    input  wire [DIM_BITS-1:0]      cfg_width,
    input  wire [DIM_BITS-1:0]      cfg_height,
    input  wire [CIN*IN_BITS-1:0]   s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire                     s_axis_tlast,
    input  wire                     s_axis_tuser,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [COUT*OUT_BITS-1:0] m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready,
    output wire                     m_axis_tlast,
    output wire                     m_axis_tuser
);
    // ---------------------------------------------------------------- sizes
    localparam NI    = (CIN + PI - 1) / PI;      // input channel groups
    localparam NO    = (COUT + PO - 1) / PO;     // output channel groups
    localparam CINP  = NI * PI;
    localparam COUTP = NO * PO;
    localparam F     = NI * NO;                  // clocks per pixel
    localparam SW    = (F > 1) ? $clog2(F) : 1;
    localparam NIW   = (NI > 1) ? $clog2(NI) : 1;
    localparam NOW   = (NO > 1) ? $clog2(NO) : 1;
    localparam AW    = (MAX_W > 1) ? $clog2(MAX_W) : 1;
    localparam XB    = IN_BITS * CIN;            // one pixel
    localparam PK    = (PACK != 0 && LUT_MULTS == 0 && PO >= 2 && IN_BITS <= 8 && W_BITS <= 8) ? 1 : 0;
    localparam NPAIR = (PO + 1) / 2;
    localparam NM    = PK ? NPAIR * PI * 9 : PO * PI * 9;   // multipliers (DSPs)
    localparam WF    = PK ? 27 : W_BITS;         // multiplier weight operand
    localparam RFW   = PK ? 2 * W_BITS + 1 : W_BITS; // weight field of the ROM word
    localparam XW    = IN_BITS + 1;              // activation operand (signed)
    localparam MW    = XW + WF;                  // multiplier output
    localparam PW    = IN_BITS + 1 + W_BITS;     // one product
    localparam SUMW  = PW + $clog2(9 * CINP) + 1;
    localparam ACC_W = ((SUMW > B_BITS) ? SUMW : B_BITS) + 1;
    localparam TL    = $clog2(9 * PI);           // adder tree levels (registered)
    // LUT_MULTS: the last LUT_MULTS multipliers are mul_lut (fabric, latency LM);
    // the DSP multipliers then get ML more input registers (LM > 2), or the
    // fabric products FD more (LM < 2), so that both arrive together
    localparam NL    = (LUT_MULTS > NM) ? NM : LUT_MULTS;
    localparam LM    = $clog2(W_BITS + 1);
    localparam ML    = (NL > 0 && LM > 2) ? LM - 2 : 0;
    localparam FD    = (NL > 0 && LM < 2) ? 2 - LM : 0;
    localparam BCW   = $clog2(9 * PI + 1) + 1;   // borrow count of a pair (signed)
    // stages after the issue: 1 window/ROM, 2 taps, 3 operand regs, (ML more
    // when fabric multipliers are slower), M, P, tree, (borrow correction when
    // PK), bias/accumulate, requant
    localparam ST    = 5 + PK + ML + TL;         // tree sum valid at stage ST
    localparam LAT   = ST + 2;                   // push at stage LAT
    localparam FL2   = $clog2(LAT + 4);          // output FIFO: room for every pixel in flight
    localparam CRW   = FL2 + 2;
    localparam integer   F_M1  = F - 1;
    localparam integer   NI_M1 = NI - 1;
    localparam integer   NO_M1 = NO - 1;
    localparam [SW-1:0]  STEP_LAST = F_M1[SW-1:0];
    localparam [NIW-1:0] CI_LAST   = NI_M1[NIW-1:0];
    localparam [NOW-1:0] CO_LAST   = NO_M1[NOW-1:0];

    // ------------------------------------------------ stage 0: issue (credits)
    reg  [SW-1:0]       step;
    reg  [NIW-1:0]      ci;
    reg  [NOW-1:0]      co;
    reg  [AW-1:0]       ix;
    reg  [DIM_BITS:0]   iy;
    reg  [CRW-1:0]      credits;             // free output FIFO entries not yet promised
    reg                 has_credit;          // credits != 0, registered with credits

    // the frame size and the bounds derived from it, registered (no adder or
    // comparator of the size ports lies on a path into the issue logic)
    reg  [DIM_BITS:0] h_m1, w_m2;
    reg               w_one;
    always @(posedge aclk) begin
        h_m1  <= {1'b0, cfg_height} - 1'b1;
        w_m2  <= {1'b0, cfg_width} - {{(DIM_BITS-1){1'b0}}, 2'd2};
        w_one <= (cfg_width == {{(DIM_BITS-1){1'b0}}, 1'b1});
    end
    // step flags registered with step (first: step == 0, last_step: F - 1)
    reg  first, last_step;
    // position flags, registered with ix / iy (set when they move, from the
    // old value; the size-dependent ones only matter from row 1 on, when the
    // size is stable). At column 0 the last-column test is width == 1.
    reg  ix0, ix1, ixl;
    reg  y0, y_ge1, y_ge2, y_eq1, y_eq2, y_lt_h, y_eq_h, y_eq_h1;
    wire ix_last   = ix0 ? w_one : ixl;
    wire need_in   = y0 || y_lt_h;                 // rows 0 .. H-1 take input
    wire frame_end = ix0 && y_eq_h1;

    // what the output centred on position n - W - 1 needs
    wire c_valid = ix0 ? y_ge2 : y_ge1;
    wire c_top   = ix0 ? y_eq2 : y_eq1;
    wire c_bot   = ix0 ? y_eq_h1 : y_eq_h;
    wire c_left  = ix1 || (ix0 && w_one);
    wire c_right = ix0;
    wire [8:0] c_mask;
    genvar gk;
    generate
        for (gk = 0; gk < 9; gk = gk + 1) begin : g_mask
            assign c_mask[gk] = !((gk / 3 == 0) && c_top) && !((gk / 3 == 2) && c_bot) &&
                                !((gk % 3 == 0) && c_left) && !((gk % 3 == 2) && c_right);
        end
    endgenerate

    // position info, held for all F steps of a pixel
    reg        p_valid, p_user, p_last;
    reg  [8:0] p_mask;

    // a step that ends a valid pixel pushes one output beat: it needs a credit
    // (with F > 1 the last step is never the first: the pixel's flags are registered)
    wire will_push = (F == 1) ? c_valid : (last_step && p_valid);
    wire room      = !will_push || has_credit;
    wire slot      = (first ? (!need_in || s_axis_tvalid) : 1'b1) && room;
    wire issue     = first && slot;
    wire out_hs    = m_axis_tvalid && m_axis_tready;
    wire [CRW-1:0] credits_n = credits - {{(CRW-1){1'b0}}, slot && will_push}
                                       + {{(CRW-1){1'b0}}, out_hs};

    assign s_axis_tready = first && need_in && room;

    always @(posedge aclk) begin
        if (!aresetn) begin
            step <= {SW{1'b0}};
            first <= 1'b1;
            last_step <= (F == 1);
            ci <= {NIW{1'b0}};
            co <= {NOW{1'b0}};
            ix <= {AW{1'b0}};
            ix0 <= 1'b1;
            ix1 <= 1'b0;
            ixl <= 1'b0;
            iy <= {(DIM_BITS+1){1'b0}};
            {y0, y_ge1, y_ge2, y_eq1, y_eq2, y_lt_h, y_eq_h, y_eq_h1} <= 8'b1000_0000;
            credits <= (1 << FL2);
            has_credit <= 1'b1;
        end else begin
            credits <= credits_n;
            has_credit <= (credits_n != {CRW{1'b0}});
            if (slot) begin
                step <= last_step ? {SW{1'b0}} : step + 1'b1;
                first <= last_step;
                last_step <= (F == 1) || (!last_step && step == STEP_LAST - 1'b1);
                if (ci == CI_LAST) begin
                    ci <= {NIW{1'b0}};
                    co <= (co == CO_LAST) ? {NOW{1'b0}} : co + 1'b1;
                end else begin
                    ci <= ci + 1'b1;
                end
                if (first) begin
                    if (frame_end || ix_last) begin
                        ix  <= {AW{1'b0}};
                        ix0 <= 1'b1;
                        ix1 <= 1'b0;
                        ixl <= 1'b0;
                        if (frame_end) begin
                            iy <= {(DIM_BITS+1){1'b0}};
                            {y0, y_ge1, y_ge2, y_eq1, y_eq2, y_lt_h, y_eq_h, y_eq_h1} <= 8'b1000_0000;
                        end else begin          // row iy + 1
                            iy      <= iy + 1'b1;
                            y0      <= 1'b0;
                            y_ge1   <= 1'b1;
                            y_ge2   <= y_ge1;
                            y_eq1   <= y0;
                            y_eq2   <= y_eq1;
                            y_lt_h  <= (iy < h_m1);
                            y_eq_h  <= (iy == h_m1);
                            y_eq_h1 <= y_eq_h;
                        end
                    end else begin
                        ix  <= ix + 1'b1;
                        ix0 <= 1'b0;
                        ix1 <= ix0;
                        ixl <= ({{(DIM_BITS+1-AW){1'b0}}, ix} == w_m2);   // ix + 1 == W - 1
                    end
                end
            end
        end
    end

    always @(posedge aclk) begin
        if (issue) begin
            p_valid <= c_valid;
            p_user  <= c_valid && c_top && c_left;
            p_last  <= c_right;
            p_mask  <= c_mask;
        end
    end

    // ----------------------------------------- line buffers (read first)
    wire [XB-1:0] pix0 = need_in ? s_axis_tdata : {XB{1'b0}};
    (* ram_style = "block" *) reg [XB-1:0] lb0 [0:MAX_W-1];
    (* ram_style = "block" *) reg [XB-1:0] lb1 [0:MAX_W-1];
    reg [XB-1:0] rd0, rd1;
    always @(posedge aclk) begin
        if (issue) begin
            if (!iy[0]) lb0[ix] <= pix0;
            rd0 <= lb0[ix];
        end
    end
    always @(posedge aclk) begin
        if (issue) begin
            if (iy[0]) lb1[ix] <= pix0;
            rd1 <= lb1[ix];
        end
    end

    // valid bit of every stage (reset), the rest of the pipeline has none
    reg [LAT:1] v;
    always @(posedge aclk) begin
        if (!aresetn) v <= {LAT{1'b0}};
        else v <= {v[LAT-1:1], slot};
    end

    // ------------------------------------------- stage 1: window shift
    reg            first1, par1;
    reg  [SW-1:0]  step1;
    reg  [NIW-1:0] ci1;
    reg  [NOW-1:0] co1;
    reg  [XB-1:0]  cur1;
    always @(posedge aclk) begin
        first1 <= first;
        step1  <= step;
        ci1    <= ci;
        co1    <= co;
        if (issue) begin
            cur1 <= pix0;
            par1 <= iy[0];
        end
    end
    // rows y-2 (top), y-1, y of the column just read
    wire [XB-1:0] row_m2 = par1 ? rd1 : rd0;
    wire [XB-1:0] row_m1 = par1 ? rd0 : rd1;
    reg  [3*XB-1:0] col_l, col_m, col_r;   // window columns, row 0 at LSB
    always @(posedge aclk) begin
        if (v[1] && first1) begin
            col_l <= col_m;
            col_m <= col_r;
            col_r <= {cur1, row_m1, row_m2};
        end
    end

    // weight ROM, one word per fold step: block RAM when it is at least
    // ROM_BLOCK_MIN words deep, LUTs when shallower ("logic": yosys can not
    // map a wide shallow ROM to LUTRAM; Vivado warns and infers LUT ROM)
    reg [NM*RFW-1:0] wq;
    generate
        if (F >= ROM_BLOCK_MIN) begin : g_wrom_block
            (* rom_style = "block" *) reg [NM*RFW-1:0] wrom [0:F-1];
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge aclk) wq <= wrom[step1];
        end else begin : g_wrom_lut
            (* rom_style = "logic" *) reg [NM*RFW-1:0] wrom [0:F-1];
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge aclk) wq <= wrom[step1];
        end
    endgenerate

    // ------------------------------------------ stage 2: taps of group ci
    reg            fci2, lci2;
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [NIW-1:0] ci2;              // unused when NI == 1
    /* verilator lint_on UNUSEDSIGNAL */
    reg  [NOW-1:0] co2;
    reg            pv2, pu2, pl2;
    reg  [8:0]     m2;
    always @(posedge aclk) begin
        ci2  <= ci1;
        co2  <= co1;
        fci2 <= (ci1 == {NIW{1'b0}});
        lci2 <= (ci1 == CI_LAST);
        pv2  <= p_valid;
        pu2  <= p_user;
        pl2  <= p_last;
        m2   <= p_mask;
    end

    // the 9 taps of the window, padded to CINP channels, masked
    wire [9*CINP*IN_BITS-1:0] taps;
    genvar gy, gx;
    generate
        for (gy = 0; gy < 3; gy = gy + 1) begin : g_ty
            for (gx = 0; gx < 3; gx = gx + 1) begin : g_tx
                /* verilator lint_off UNUSEDSIGNAL */
                wire [3*XB-1:0] col = (gx == 0) ? col_l : (gx == 1) ? col_m : col_r;
                /* verilator lint_on UNUSEDSIGNAL */
                wire [XB-1:0]   px  = m2[gy*3+gx] ? col[gy*XB +: XB] : {XB{1'b0}};
                if (CINP > CIN) begin : g_pad
                    assign taps[(gy*3+gx)*CINP*IN_BITS +: CINP*IN_BITS] =
                        {{((CINP-CIN)*IN_BITS){1'b0}}, px};
                end else begin : g_nopad
                    assign taps[(gy*3+gx)*CINP*IN_BITS +: CINP*IN_BITS] = px;
                end
            end
        end
    endgenerate

    // stage 3: registered multiplier operands (group ci2 of every tap, the weights)
    reg [9*PI*XW-1:0] xa;            // signed activations, shared by all outputs
    reg [NM*RFW-1:0]  wb;
    generate
        for (gk = 0; gk < 9; gk = gk + 1) begin : g_sel
            wire [PI*IN_BITS-1:0] xg;
            if (NI == 1) begin : g_one
                assign xg = taps[gk*CINP*IN_BITS +: PI*IN_BITS];
            end else begin : g_mux
                assign xg = taps[gk*CINP*IN_BITS + ci2*PI*IN_BITS +: PI*IN_BITS];
            end
            genvar gs;
            for (gs = 0; gs < PI; gs = gs + 1) begin : g_sx
                wire [IN_BITS-1:0] xr = xg[gs*IN_BITS +: IN_BITS];
                always @(posedge aclk)
                    xa[(gk*PI + gs)*XW +: XW] <= {(IN_SIGNED != 0) & xr[IN_BITS-1], xr};
            end
        end
    endgenerate
    always @(posedge aclk) wb <= wq;

    // stages 4, 5 (+ML): multiply, M and P registers; fabric multipliers from stage 3
    /* verilator lint_off UNUSEDSIGNAL */
    wire [9*PI*XW-1:0] xa_d;         // the fabric multipliers' fields unused
    wire [NM*RFW-1:0]  wb_d;
    /* verilator lint_on UNUSEDSIGNAL */
    pipe_delay #(.W(9*PI*XW), .D(ML)) u_dxa (.aclk(aclk), .d(xa), .q(xa_d));
    pipe_delay #(.W(NM*RFW), .D(ML)) u_dwb (.aclk(aclk), .d(wb), .q(wb_d));
    // the products: P registers of the DSP multipliers, outputs of the fabric
    // ones (arrays, one word per multiplier: event-driven simulators wake only
    // the readers of the word that changed)
    /* verilator lint_off UNDRIVEN */
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [MW-1:0] pp_d [0:NM-1];
    wire [MW-1:0] pp_f [0:NM-1];
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_on UNDRIVEN */
    genvar gm;
    generate
        for (gm = 0; gm < NM; gm = gm + 1) begin : g_mul
            // multiplier gm: tap gk, input channel gi of its group (same order as the ROM)
            localparam integer GK = gm % 9;
            localparam integer GI = (gm / 9) % PI;
            if (gm >= NM - NL) begin : g_lut     // fabric (never packed)
                wire [PW-1:0] pf;
                mul_lut #(.XW(XW), .WB(W_BITS), .PW(PW)) u_ml (
                    .aclk(aclk), .x(xa[(GK*PI + GI)*XW +: XW]), .w(wb[gm*RFW +: RFW]), .p(pf));
                wire [PW-1:0] pfd;
                pipe_delay #(.W(PW), .D(FD)) u_dpf (.aclk(aclk), .d(pf), .q(pfd));
                assign pp_f[gm] = pfd;                    // MW == PW when not packed
            end else begin : g_dsp
                wire signed [XW-1:0] xs = xa_d[(GK*PI + GI)*XW +: XW];
                wire signed [WF-1:0] ws;
                if (PK) begin : g_pk    // {hi', lo} -> hi' * 2**18 + lo, sign extensions only
                    wire [RFW-1:0] f = wb_d[gm*RFW +: RFW];
                    assign ws = {{(9 - W_BITS){f[RFW-1]}}, f[RFW-2:W_BITS],
                                 {(18 - W_BITS){f[W_BITS-1]}}, f[W_BITS-1:0]};
                end else begin : g_w
                    assign ws = wb_d[gm*WF +: WF];
                end
                reg [MW-1:0] pm;
                always @(posedge aclk) begin
                    pm <= xs * ws;
                    pp_d[gm] <= pm;
                end
            end
        end
    endgenerate

    // products of output channel go, tap gk, input gi: lanes of the packed
    // multipliers (PK: the high lane without its borrow) or the products
    wire [PO*PI*9*PW-1:0] prods;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [NPAIR*PI*9-1:0] borrow;            // PK: bit 17 of each packed product
    /* verilator lint_on UNUSEDSIGNAL */
    genvar go, gi;
    generate
        for (go = 0; go < PO; go = go + 1) begin : g_po
            for (gi = 0; gi < PI; gi = gi + 1) begin : g_pi
                for (gk = 0; gk < 9; gk = gk + 1) begin : g_k
                    localparam integer IDX = (go * PI + gi) * 9 + gk;
                    if (PK) begin : g_lane
                        localparam integer MI = ((go / 2) * PI + gi) * 9 + gk;
                        /* verilator lint_off UNUSEDSIGNAL */
                        wire [MW-1:0] p = pp_d[MI];     // packed: always DSP
                        /* verilator lint_on UNUSEDSIGNAL */
                        if (go % 2 == 0) begin : g_hi   // w[2j] * x - borrow: above bit 18
                            assign prods[IDX*PW +: PW] = p[18 +: PW];
                            assign borrow[MI] = p[17];
                        end else begin : g_lo           // w[2j+1] * x: the low bits
                            assign prods[IDX*PW +: PW] = p[PW-1:0];
                        end
                    end else begin : g_direct
                        wire [MW-1:0] p;
                        if (IDX >= NM - NL) begin : g_f
                            assign p = pp_f[IDX];
                        end else begin : g_d
                            assign p = pp_d[IDX];
                        end
                        assign prods[IDX*PW +: PW] = p[PW-1:0];
                    end
                end
            end
        end
        if (!PK) begin : g_nob
            assign borrow = {(NPAIR*PI*9){1'b0}};
        end
    endgenerate

    // ---------------------- pipelined adder trees (one per output channel)
    wire [PO*SUMW-1:0] tsum0;
    generate
        for (go = 0; go < PO; go = go + 1) begin : g_tree
            add_tree #(.N(PI * 9), .IW(PW), .OW(SUMW)) u_tree (
                .aclk(aclk), .in(prods[go*PI*9*PW +: PI*9*PW]), .sum(tsum0[go*SUMW +: SUMW]));
        end
    endgenerate

    // PK: one stage adds each pair's borrow count to its high lane
    wire [PO*SUMW-1:0] tsum;
    genvar gj;
    generate
        if (PK) begin : g_borrow
            reg [PO*SUMW-1:0] tsum_c;
            for (gj = 0; gj < NPAIR; gj = gj + 1) begin : g_pair
                wire [2*PI*9-1:0] bits2;
                wire [BCW-1:0]    cnt;
                for (gk = 0; gk < PI * 9; gk = gk + 1) begin : g_b
                    assign bits2[2*gk +: 2] = {1'b0, borrow[gj*PI*9 + gk]};
                end
                add_tree #(.N(PI * 9), .IW(2), .OW(BCW)) u_cnt (.aclk(aclk), .in(bits2), .sum(cnt));
                always @(posedge aclk)
                    tsum_c[2*gj*SUMW +: SUMW] <= tsum0[2*gj*SUMW +: SUMW] +
                                                 {{(SUMW-BCW){1'b0}}, cnt};
                if (2 * gj + 1 < PO) begin : g_lo
                    always @(posedge aclk)
                        tsum_c[(2*gj+1)*SUMW +: SUMW] <= tsum0[(2*gj+1)*SUMW +: SUMW];
                end
            end
            assign tsum = tsum_c;
        end else begin : g_noborrow
            assign tsum = tsum0;
        end
    endgenerate

    // the stage-2 fields, delayed to the stages that use them
    localparam MB = 5 + NOW;
    wire [MB-1:0] meta2 = {lci2, pl2, pu2, pv2, fci2, co2};
    wire [NOW-1:0] co_b;                     // stage ST-1: bias address
    wire [MB-1:0]  meta_t;                   // stage ST: accumulate
    pipe_delay #(.W(NOW), .D(ST - 3)) u_dco (.aclk(aclk), .d(co2), .q(co_b));
    pipe_delay #(.W(MB), .D(ST - 2)) u_dmeta (.aclk(aclk), .d(meta2), .q(meta_t));
    wire fci_t = meta_t[NOW];

    reg [PO*B_BITS-1:0] brom [0:NO-1];
    initial $readmemh(BIAS_FILE, brom);
    reg [PO*B_BITS-1:0] bias_r;             // stage ST
    always @(posedge aclk) bias_r <= brom[co_b];

    // ------------------------------ stage ST+1: bias + accumulate over ci
    reg [PO*ACC_W-1:0] acc;
    reg [MB-1:0]       meta_a;
    always @(posedge aclk) meta_a <= meta_t;
    generate
        for (go = 0; go < PO; go = go + 1) begin : g_acc
            wire signed [ACC_W-1:0] b = {{(ACC_W-B_BITS){bias_r[go*B_BITS + B_BITS-1]}},
                                         bias_r[go*B_BITS +: B_BITS]};
            wire signed [ACC_W-1:0] s = {{(ACC_W-SUMW){tsum[go*SUMW + SUMW-1]}},
                                         tsum[go*SUMW +: SUMW]};
            always @(posedge aclk) begin
                if (v[ST])
                    acc[go*ACC_W +: ACC_W] <= (fci_t ? b : acc[go*ACC_W +: ACC_W]) + s;
            end
        end
    endgenerate

    // -------------------------- stage LAT: activation + requant, registered
    wire [PO*OUT_BITS-1:0] rq;
    generate
        for (go = 0; go < PO; go = go + 1) begin : g_rq
            wire [ACC_W-1:0] a = acc[go*ACC_W +: ACC_W];
            if (ACT == 1) begin : g_relu
                wire [ACC_W-1:0] ar = a[ACC_W-1] ? {ACC_W{1'b0}} : a;
                requant #(.IN_W(ACC_W), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_SIGNED(OUT_SIGNED))
                    u_rq (.v(ar), .q(rq[go*OUT_BITS +: OUT_BITS]));
            end else if (ACT == 2) begin : g_leaky
                wire [OUT_BITS-1:0] qp, qn;
                requant #(.IN_W(ACC_W), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_SIGNED(OUT_SIGNED))
                    u_rqp (.v(a), .q(qp));
                requant #(.IN_W(ACC_W), .SHIFT(SHIFT + LEAKY_SHIFT), .OUT_BITS(OUT_BITS),
                          .OUT_SIGNED(OUT_SIGNED))
                    u_rqn (.v(a), .q(qn));
                assign rq[go*OUT_BITS +: OUT_BITS] = a[ACC_W-1] ? qn : qp;
            end else begin : g_none
                requant #(.IN_W(ACC_W), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_SIGNED(OUT_SIGNED))
                    u_rq (.v(a), .q(rq[go*OUT_BITS +: OUT_BITS]));
            end
        end
    endgenerate
    reg [PO*OUT_BITS-1:0] rq_r;
    reg [MB-1:0]          meta_r;
    always @(posedge aclk) begin
        rq_r   <= rq;
        meta_r <= meta_a;
    end
    wire [NOW-1:0] co_r = meta_r[NOW-1:0];
    wire pv_r  = meta_r[NOW+1];
    wire pu_r  = meta_r[NOW+2];
    wire pl_r  = meta_r[NOW+3];
    wire lci_r = meta_r[NOW+4];

    // collect the output groups of a pixel, push the last one with the rest
    reg [COUTP*OUT_BITS-1:0] obuf;
    wire final_r = v[LAT] && lci_r;
    always @(posedge aclk) begin
        if (final_r) obuf[co_r*PO*OUT_BITS +: PO*OUT_BITS] <= rq_r;
    end
    /* verilator lint_off UNUSEDSIGNAL */
    reg [COUTP*OUT_BITS-1:0] push_data;   // padded output channels dropped
    /* verilator lint_on UNUSEDSIGNAL */
    reg push;
    always @* begin
        push_data = obuf;
        push_data[(NO-1)*PO*OUT_BITS +: PO*OUT_BITS] = rq_r;
        push = final_r && (co_r == CO_LAST) && pv_r;
    end

    // the credits guarantee room: the FIFO never refuses a push
    /* verilator lint_off UNUSEDSIGNAL */
    wire fifo_ready;
    /* verilator lint_on UNUSEDSIGNAL */
    axis_fifo #(.DATA_W(COUT*OUT_BITS), .DEPTH_LOG2(FL2)) u_out (
        .aclk(aclk), .aresetn(aresetn),
        .s_axis_tdata(push_data[COUT*OUT_BITS-1:0]), .s_axis_tvalid(push),
        .s_axis_tready(fifo_ready), .s_axis_tlast(pl_r), .s_axis_tuser(pu_r),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast),
        .m_axis_tuser(m_axis_tuser)
    );
endmodule
