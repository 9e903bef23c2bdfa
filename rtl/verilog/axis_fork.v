// axis_fork: broadcast one AXI4-Stream to two. The input beat is accepted
// once both outputs have taken it (each output may take it in a different
// cycle).
module axis_fork #(
    parameter DATA_W = 8
) (
    input  wire              aclk,
    input  wire              aresetn,
    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,
    input  wire              s_axis_tlast,
    input  wire              s_axis_tuser,
    output wire [DATA_W-1:0] m0_axis_tdata,
    output wire              m0_axis_tvalid,
    input  wire              m0_axis_tready,
    output wire              m0_axis_tlast,
    output wire              m0_axis_tuser,
    output wire [DATA_W-1:0] m1_axis_tdata,
    output wire              m1_axis_tvalid,
    input  wire              m1_axis_tready,
    output wire              m1_axis_tlast,
    output wire              m1_axis_tuser
);
    reg done0, done1;   // output already took the current input beat
    wire take0 = m0_axis_tvalid && m0_axis_tready;
    wire take1 = m1_axis_tvalid && m1_axis_tready;

    assign s_axis_tready  = (done0 || m0_axis_tready) && (done1 || m1_axis_tready);
    assign m0_axis_tvalid = s_axis_tvalid && !done0;
    assign m1_axis_tvalid = s_axis_tvalid && !done1;
    assign m0_axis_tdata  = s_axis_tdata;
    assign m1_axis_tdata  = s_axis_tdata;
    assign m0_axis_tlast  = s_axis_tlast;
    assign m1_axis_tlast  = s_axis_tlast;
    assign m0_axis_tuser  = s_axis_tuser;
    assign m1_axis_tuser  = s_axis_tuser;

    always @(posedge aclk) begin
        if (!aresetn) begin
            done0 <= 1'b0;
            done1 <= 1'b0;
        end else if (s_axis_tvalid && s_axis_tready) begin
            done0 <= 1'b0;
            done1 <= 1'b0;
        end else begin
            if (take0) done0 <= 1'b1;
            if (take1) done1 <= 1'b1;
        end
    end
endmodule
