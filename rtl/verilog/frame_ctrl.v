// frame_ctrl: frame control of the board IP (egvsr_srnet) around a streaming
// core: ap_ctrl_hs handshake, run-time frame size, frame synchronisation of
// the input stream and TLAST of the output stream.
//
// Start: in idle, ap_start takes reg_height x reg_width (ap_ready pulses). A
// size outside [MIN_LR, MAX_H] x [MIN_LR, MAX_W] sets status[1] (size error)
// and ends the frame at once (ap_done), consuming nothing. Otherwise the core
// is held in reset for RST_CYCLES clocks (a clean pipeline whatever came
// before), sees the size on cfg_width/cfg_height, and the frame runs.
//
// Input (Xilinx video conventions): tlast ends every LR line; tuser marks the
// frame's first beat. With USE_TUSER = 0 (the AXI DMA drives no tuser; tie
// it to 0) the first beat after the start is the start of frame; with
// USE_TUSER = 1 beats before the tuser beat are dropped. Lines are counted by
// tlast, so one lost or extra beat costs one line, not the frame: a line
// shorter than the width (tlast early) is zero-filled, a longer one (no tlast
// on its last pixel) is cut (beats dropped up to its tlast). A tuser beat
// inside a frame (the frame was short; either setting) zero-fills the rest of
// the frame and waits for the next start. Any of these sets status[0] (frame error)
// and counts the frame once in err_count; the core always receives exactly
// H x W pixels, so every output line comes and the next frame is correct.
//
// Output: P HR pixels per beat, R*W/P beats per HR row; tlast on the last beat
// of each LR line's block of R HR rows (TLAST_FRAME = 0, what a driver that
// receives line by line needs) or only on the frame's last beat
// (TLAST_FRAME = 1). ap_done pulses when the frame's last beat is taken.
// R and R/P are powers of two; P divides R; MAX_W, MAX_H < 2**DIM_BITS - 1 and
// DIM_BITS <= REG_BITS.
module frame_ctrl #(
    parameter MAX_W       = 64,
    parameter MAX_H       = 64,
    parameter MIN_LR      = 4,
    parameter DIM_BITS    = 12,   // core frame-size ports
    parameter REG_BITS    = 16,   // LR_HEIGHT / LR_WIDTH registers
    parameter DATA_W      = 8,    // core input beat
    parameter R           = 4,    // output scale
    parameter P           = 2,    // HR pixels per output beat
    parameter USE_TUSER   = 0,
    parameter TLAST_FRAME = 0,
    parameter RST_CYCLES  = 4
) (
    input  wire                aclk,
    input  wire                aresetn,
    // ap_ctrl_hs (from / to the register file)
    input  wire                ap_start,
    output wire                ap_ready,
    output reg                 ap_done,
    output wire                ap_idle,
    input  wire [REG_BITS-1:0] reg_height,
    input  wire [REG_BITS-1:0] reg_width,
    output wire [1:0]          status,
    output wire [31:0]         err_count,
    // core control
    output reg                 core_aresetn,
    output reg  [DIM_BITS-1:0] cfg_width,
    output reg  [DIM_BITS-1:0] cfg_height,
    // input stream in, core input stream out
    input  wire [DATA_W-1:0]   s_tdata,
    input  wire                s_tvalid,
    output wire                s_tready,
    input  wire                s_tlast,
    input  wire                s_tuser,
    output wire [DATA_W-1:0]   c_tdata,
    output wire                c_tvalid,
    input  wire                c_tready,
    // core output stream in, output stream out (data passes beside)
    input  wire                o_tvalid,
    output wire                o_tready,
    output wire                m_tvalid,
    input  wire                m_tready,
    output wire                m_tlast
);
    localparam RB  = (R > 1) ? $clog2(R) : 1;           // HR rows per LR line: 2**RB
    localparam RPB = (R / P > 1) ? $clog2(R / P) : 0;   // output beats per LR pixel: 2**RPB
    localparam OW  = DIM_BITS + RB + 1;                 // output counters
    localparam CW  = (RST_CYCLES > 1) ? $clog2(RST_CYCLES + 1) : 1;
    localparam integer R_M1 = R - 1;
    localparam integer RST_M1 = RST_CYCLES - 1;
    localparam [REG_BITS-1:0] MIN_V = MIN_LR[REG_BITS-1:0];
    localparam [REG_BITS-1:0] MAXW_V = MAX_W[REG_BITS-1:0];
    localparam [REG_BITS-1:0] MAXH_V = MAX_H[REG_BITS-1:0];
    localparam [RB-1:0] BLK_LAST = R_M1[RB-1:0];
    localparam [CW-1:0] RST_LAST = RST_M1[CW-1:0];
    localparam [1:0] S_IDLE = 2'd0, S_RST = 2'd1, S_RUN = 2'd2;
    // input modes
    localparam [1:0] M_PASS = 2'd0, M_PADLINE = 2'd1, M_PADFRAME = 2'd2;

    reg  [1:0]          state;
    reg  [CW-1:0]       rcnt;
    reg  [1:0]          st;
    reg  [31:0]         ecnt;
    reg                 ferr;          // this frame has counted its error
    reg  [1:0]          mode;
    reg                 cutting;       // dropping the rest of a long line
    reg                 sof_wait;      // USE_TUSER: no tuser beat yet
    reg                 in_done;
    reg  [DIM_BITS-1:0] icol, irow;
    reg  [OW-1:0]       ocol, orow, ocol_last, orow_last;

    assign status = st;
    assign err_count = ecnt;
    assign ap_idle = (state == S_IDLE);

    // ------------------------------------------------------------------ start
    wire size_ok = (reg_width >= MIN_V) && (reg_width <= MAXW_V) &&
                   (reg_height >= MIN_V) && (reg_height <= MAXH_V);
    wire start = ap_start && (state == S_IDLE);
    assign ap_ready = start;     // the start is taken (the register file clears ap_start)
    wire [OW-1:0] w_ext = {{(OW - DIM_BITS){1'b0}}, reg_width[DIM_BITS-1:0]};
    wire [OW-1:0] h_ext = {{(OW - DIM_BITS){1'b0}}, reg_height[DIM_BITS-1:0]};

    // ------------------------------------------------------------------ input
    wire run      = (state == S_RUN) && !in_done;
    wire col_last = (icol == cfg_width - 1'b1);
    wire row_last = (irow == cfg_height - 1'b1);
    wire first    = (icol == {DIM_BITS{1'b0}}) && (irow == {DIM_BITS{1'b0}});
    wire pre_sof  = (USE_TUSER != 0) && sof_wait && !s_tuser;   // dropped
    wire early    = s_tuser && !first;                            // next frame's SOF: held
    wire pass     = run && (mode == M_PASS) && !cutting;
    wire pad      = run && (mode != M_PASS);
    wire drop     = cutting || (pass && pre_sof);
    assign c_tvalid = pad || (pass && s_tvalid && !pre_sof && !early);
    assign c_tdata  = pad ? {DATA_W{1'b0}} : s_tdata;
    assign s_tready = drop || (pass && !early && c_tready);
    wire s_hs = s_tvalid && s_tready;
    wire c_hs = c_tvalid && c_tready;
    // a beat that breaks the frame (one error per frame is counted)
    wire err_now = (s_hs && pass && pre_sof) ||
                   (pass && s_tvalid && early) ||
                   (c_hs && !pad && (s_tlast != col_last));

    // ----------------------------------------------------------------- output
    wire m_hs = m_tvalid && m_tready;
    wire ocol_end = (ocol == ocol_last);
    wire orow_end = (orow == orow_last);
    assign m_tvalid = (state == S_RUN) && o_tvalid;
    assign o_tready = (state == S_RUN) && m_tready;
    assign m_tlast  = ocol_end && ((TLAST_FRAME != 0) ? orow_end : (orow[RB-1:0] == BLK_LAST));

    always @(posedge aclk) begin
        if (!aresetn) begin
            state <= S_IDLE;
            rcnt <= {CW{1'b0}};
            st <= 2'b00;
            ecnt <= 32'd0;
            ferr <= 1'b0;
            mode <= M_PASS;
            cutting <= 1'b0;
            sof_wait <= 1'b0;
            in_done <= 1'b0;
            icol <= {DIM_BITS{1'b0}};
            irow <= {DIM_BITS{1'b0}};
            ocol <= {OW{1'b0}};
            orow <= {OW{1'b0}};
            ocol_last <= {OW{1'b0}};
            orow_last <= {OW{1'b0}};
            cfg_width <= {DIM_BITS{1'b0}};
            cfg_height <= {DIM_BITS{1'b0}};
            core_aresetn <= 1'b0;
            ap_done <= 1'b0;
        end else begin
            ap_done <= 1'b0;
            // the rest of a long line is dropped in any state, up to its tlast
            if (cutting && s_tvalid && s_tlast) cutting <= 1'b0;
            case (state)
                S_IDLE: begin
                    if (start) begin
                        if (!size_ok) begin
                            st <= 2'b10;
                            ap_done <= 1'b1;
                        end else begin
                            st <= 2'b00;
                            ferr <= 1'b0;
                            cfg_width <= reg_width[DIM_BITS-1:0];
                            cfg_height <= reg_height[DIM_BITS-1:0];
                            ocol_last <= w_ext << RPB;     // R*W/P beats per HR row
                            orow_last <= h_ext << RB;      // R*H HR rows
                            state <= S_RST;
                            rcnt <= {CW{1'b0}};
                        end
                    end
                end
                S_RST: begin
                    if (rcnt == RST_LAST) begin
                        // as last indices
                        ocol_last <= ocol_last - 1'b1;
                        orow_last <= orow_last - 1'b1;
                        state <= S_RUN;
                        core_aresetn <= 1'b1;
                        mode <= M_PASS;
                        sof_wait <= (USE_TUSER != 0);
                        in_done <= 1'b0;
                        icol <= {DIM_BITS{1'b0}};
                        irow <= {DIM_BITS{1'b0}};
                        ocol <= {OW{1'b0}};
                        orow <= {OW{1'b0}};
                    end
                    rcnt <= rcnt + 1'b1;
                end
                default: begin   // S_RUN
                    if (err_now && !ferr) begin
                        ferr <= 1'b1;
                        st[0] <= 1'b1;
                        ecnt <= ecnt + 1'b1;
                    end
                    if (pass && s_tvalid && early) mode <= M_PADFRAME;
                    if (c_hs) begin
                        sof_wait <= 1'b0;
                        if (!pad && s_tlast && !col_last) mode <= M_PADLINE;   // short line
                        if (!pad && !s_tlast && col_last) cutting <= 1'b1;      // long line
                        if (col_last) begin
                            icol <= {DIM_BITS{1'b0}};
                            if (mode == M_PADLINE) mode <= M_PASS;
                            if (row_last) begin
                                in_done <= 1'b1;
                                mode <= M_PASS;
                            end else begin
                                irow <= irow + 1'b1;
                            end
                        end else begin
                            icol <= icol + 1'b1;
                        end
                    end
                    if (m_hs) begin
                        if (ocol_end) begin
                            ocol <= {OW{1'b0}};
                            orow <= orow + 1'b1;
                            if (orow_end) begin
                                state <= S_IDLE;
                                core_aresetn <= 1'b0;
                                ap_done <= 1'b1;
                            end
                        end else begin
                            ocol <= ocol + 1'b1;
                        end
                    end
                end
            endcase
        end
    end
endmodule
