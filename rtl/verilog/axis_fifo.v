// axis_fifo: AXI4-Stream FIFO, 2**DEPTH_LOG2 (+1 output register) entries.
// Synchronous-read memory (block RAM when DEPTH_LOG2 >= 6) with a registered
// output, so s_tready and m_tvalid are both driven from registers.
module axis_fifo #(
    parameter DATA_W     = 8,
    parameter DEPTH_LOG2 = 4
) (
    input  wire              aclk,
    input  wire              aresetn,
    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,
    input  wire              s_axis_tlast,
    input  wire              s_axis_tuser,
    output wire [DATA_W-1:0] m_axis_tdata,
    output wire              m_axis_tvalid,
    input  wire              m_axis_tready,
    output wire              m_axis_tlast,
    output wire              m_axis_tuser
);
    localparam AW = (DEPTH_LOG2 < 1) ? 1 : DEPTH_LOG2;
    localparam W  = DATA_W + 2;

    reg  [AW:0]  wp, rp;
    reg          ov;
    reg  [W-1:0] od;
    wire         mem_empty = (wp == rp);
    wire         mem_full  = (wp[AW] != rp[AW]) && (wp[AW-1:0] == rp[AW-1:0]);
    wire         wr = s_axis_tvalid && !mem_full;
    wire         rd = !mem_empty && (!ov || m_axis_tready);
    wire [W-1:0] din = {s_axis_tuser, s_axis_tlast, s_axis_tdata};

    generate
        if (AW >= 6) begin : g_bram
            (* ram_style = "block" *) reg [W-1:0] mem [0:(1<<AW)-1];
            always @(posedge aclk) begin
                if (wr) mem[wp[AW-1:0]] <= din;
                if (rd) od <= mem[rp[AW-1:0]];
            end
        end else begin : g_lutram
            (* ram_style = "distributed" *) reg [W-1:0] mem [0:(1<<AW)-1];
            always @(posedge aclk) begin
                if (wr) mem[wp[AW-1:0]] <= din;
                if (rd) od <= mem[rp[AW-1:0]];
            end
        end
    endgenerate

    always @(posedge aclk) begin
        if (!aresetn) begin
            wp <= {(AW+1){1'b0}};
            rp <= {(AW+1){1'b0}};
            ov <= 1'b0;
        end else begin
            if (wr) wp <= wp + 1'b1;
            if (rd) rp <= rp + 1'b1;
            if (rd) ov <= 1'b1;
            else if (m_axis_tready) ov <= 1'b0;
        end
    end

    assign s_axis_tready = !mem_full;
    assign m_axis_tvalid = ov;
    assign m_axis_tdata  = od[DATA_W-1:0];
    assign m_axis_tlast  = od[DATA_W];
    assign m_axis_tuser  = od[DATA_W+1];
endmodule
