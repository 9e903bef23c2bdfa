// egvsr: stream layers with a run-time frame size, for the board IP's SRNet top
// (egvsr.hls.runtime_top writes that top from the hls4ml model's layer list).
//
// hls4ml's io_stream layers take the frame size from compile-time configs. The
// layers here take the net input's LR size of the frame (h x w) as arguments and
// a compile-time scale S (1 for LR layers, the shuffle's block for the layers at
// HR behind a shuffle inside the net), so one build serves every size up to the
// build size (the configs' sizes are the maxima: buffers are sized for them,
// LOOP_TRIPCOUNT reports them).
//
// Numerics are hls4ml's: the conv calls the hls4ml dense kernel of its config
// (CONFIG_T::mult_config::kernel, the Resource strategy's reuse loop, hls4ml's
// weight layout and accumulator type) on a 3x3 window in hls4ml's order; the
// element-wise layers convert exactly as hls4ml's do (ap_fixed assignment to the
// output type: AP_RND_CONV / AP_SAT where the type says so).
//
// conv3x3_rt: 3x3, stride 1, zero padding 1 built in (the net's ZeroPadding2D
// layers are not instantiated). Two line buffers of the largest width hold the
// two previous input rows; the loop walks the (h+1) x (w+1) positions of the
// frame plus one right and one bottom padding column/row, reads an input pixel at
// every in-frame position and writes the output pixel centred one row up and one
// column left once that exists, so an output pixel comes w + 2 input pixels after
// its centre (the lag egvsr.hls.fifo sizes the skip FIFOs with, at the largest
// width: enough for every smaller frame). The line buffers are RAMs of one wide
// word (all channels) per pixel, not hls4ml's shift registers: a run-time width
// needs a random-access column. The pixel loop is scheduled as hls4ml's
// line-buffer conv: pipelined at II = reuse_factor for the Latency strategy; for
// the Resource strategy the window shift is pipelined and the dense kernel's
// reuse loop runs at II=1 (egvsr.plan's clock model).
//
// The element-wise layers (relu, linear, clone, add, the anchor's slice and add,
// DepthToSpace) are one II=1 loop over the frame's pixels each.
#ifndef NNET_RUNTIME_SIZE_STREAM_H_
#define NNET_RUNTIME_SIZE_STREAM_H_

#include "hls_stream.h"
#include "nnet_anchor_add_stream.h"
#include "nnet_common.h"
#include "nnet_dense.h"
#include "nnet_depth_to_space_stream.h"

namespace egvsr_rt {

// --------------------------------------------------------------------------- conv
// One position (x, y) of the padded walk: shift the line buffers and the window.
template <class data_T, typename CONFIG_T>
void conv3x3_rt_shift(const data_T &pix, bool in_frame, unsigned x, unsigned y, unsigned ww,
                      typename data_T::value_type line[2][CONFIG_T::out_width][CONFIG_T::n_chan],
                      typename data_T::value_type win[9 * CONFIG_T::n_chan]) {
    #pragma HLS PIPELINE
    typedef typename data_T::value_type in_t;
    static const unsigned C = CONFIG_T::n_chan;
    const bool stored = x < ww;                 // the right padding column is not stored
    const unsigned xs = stored ? x : 0;
ConvRtShiftChan:
    for (unsigned c = 0; c < C; c++) {
        #pragma HLS UNROLL
        in_t up2 = line[0][xs][c];              // row y - 2
        in_t up1 = line[1][xs][c];              // row y - 1
        in_t col[3];
        col[0] = (stored && y >= 2) ? up2 : in_t(0);
        col[1] = (stored && y >= 1) ? up1 : in_t(0);
        col[2] = in_frame ? pix[c] : in_t(0);
        if (stored) {
            line[0][xs][c] = up1;
            line[1][xs][c] = col[2];
        }
    ConvRtShiftRows:
        for (unsigned r = 0; r < 3; r++) {
            #pragma HLS UNROLL
            win[(3 * r + 0) * C + c] = win[(3 * r + 1) * C + c];
            win[(3 * r + 1) * C + c] = x == 0 ? in_t(0) : win[(3 * r + 2) * C + c];  // left padding
            win[(3 * r + 2) * C + c] = col[r];
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void conv3x3_rt_step(hls::stream<data_T> &data, hls::stream<res_T> &res, unsigned x, unsigned y, unsigned hh,
                     unsigned ww, typename data_T::value_type line[2][CONFIG_T::out_width][CONFIG_T::n_chan],
                     typename CONFIG_T::weight_t weights[9 * CONFIG_T::n_chan * CONFIG_T::n_filt],
                     typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS INLINE OFF
    // the 3x3 window in hls4ml's kernel_data order: (3 * row + col) * n_chan + chan (registers)
    static typename data_T::value_type win[9 * CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=win complete
    const bool in_frame = y < hh && x < ww;
    data_T pix;
    if (in_frame)
        pix = data.read();
    conv3x3_rt_shift<data_T, CONFIG_T>(pix, in_frame, x, y, ww, line, win);
    if (y >= 1 && x >= 1) {  // the window is centred on pixel (y - 1, x - 1)
        typename res_T::value_type out[CONFIG_T::n_filt];
        #pragma HLS ARRAY_PARTITION variable=out complete
        CONFIG_T::mult_config::template kernel<typename data_T::value_type, typename res_T::value_type,
                                               typename CONFIG_T::mult_config>::dense(win, out, weights, biases);
        res_T pack;
        PRAGMA_DATA_PACK(pack)
    ConvRtPack:
        for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
            #pragma HLS UNROLL
            pack[f] = out[f];
        }
        res.write(pack);
    }
}

// CONFIG_T: hls4ml's conv config of the layer (its out_height x out_width is the
// largest frame; in_height/in_width there include the padding of its
// ZeroPadding2D layer, which is not instantiated: this conv pads itself).
template <class data_T, class res_T, typename CONFIG_T, unsigned S>
void conv3x3_rt(hls::stream<data_T> &data, hls::stream<res_T> &res, unsigned h, unsigned w,
                typename CONFIG_T::weight_t weights[9 * CONFIG_T::n_chan * CONFIG_T::n_filt],
                typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    static_assert(CONFIG_T::filt_height == 3 && CONFIG_T::filt_width == 3, "conv3x3_rt: 3x3 kernels only");
    static_assert(CONFIG_T::stride_height == 1 && CONFIG_T::stride_width == 1, "conv3x3_rt: stride 1 only");
    static_assert(CONFIG_T::in_height == CONFIG_T::out_height + 2 && CONFIG_T::in_width == CONFIG_T::out_width + 2,
                  "conv3x3_rt: the config must be the conv behind a padding-1 ZeroPadding2D");
    static_assert(data_T::size == CONFIG_T::n_chan && res_T::size == CONFIG_T::n_filt,
                  "conv3x3_rt: stream word sizes do not match the config");
    static const unsigned STEPS = (CONFIG_T::out_height + 1) * (CONFIG_T::out_width + 1);
    typedef typename data_T::value_type in_t;

    // the two previous input rows at the largest width, one wide word (all channels) per
    // pixel: two RAMs with one read and one write a position (state left from the previous
    // frame is never read: rows above the frame are masked)
    static in_t line[2][CONFIG_T::out_width][CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=line complete dim=1
    #pragma HLS ARRAY_RESHAPE variable=line complete dim=3

    const unsigned hh = h * S, ww = w * S;
    const unsigned steps = (hh + 1) * (ww + 1);
    unsigned x = 0, y = 0;
ConvRtLoop:
    for (unsigned i = 0; i < steps; i++) {
        #pragma HLS LOOP_TRIPCOUNT min=1 max=STEPS
        #pragma HLS DEPENDENCE variable=line inter false
        if (CONFIG_T::strategy == nnet::latency) {
            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
        }
        conv3x3_rt_step<data_T, res_T, CONFIG_T>(data, res, x, y, hh, ww, line, weights, biases);
        if (x == ww) {
            x = 0;
            y++;
        } else {
            x++;
        }
    }
}

// --------------------------------------------------------------------------- element-wise
// RELU: max(x, 0), else the identity (hls4ml's "linear"); both convert to res_T's type
template <class data_T, class res_T, bool RELU, unsigned S, unsigned MAX_PIXELS>
void activation_rt(hls::stream<data_T> &data, hls::stream<res_T> &res, unsigned h, unsigned w) {
    typedef typename res_T::value_type out_t;
    const unsigned n = (h * S) * (w * S);
ActivationRtLoop:
    for (unsigned i = 0; i < n; i++) {
        #pragma HLS PIPELINE II=1
        #pragma HLS LOOP_TRIPCOUNT min=1 max=MAX_PIXELS
        data_T in = data.read();
        res_T out;
        PRAGMA_DATA_PACK(out)
    ActivationRtChan:
        for (unsigned j = 0; j < res_T::size; j++) {
            #pragma HLS UNROLL
            out[j] = (RELU && !(in[j] > 0)) ? (out_t)0 : (out_t)in[j];
        }
        res.write(out);
    }
}

template <class data_T, class res_T, unsigned S, unsigned MAX_PIXELS>
void clone2_rt(hls::stream<data_T> &data, hls::stream<res_T> &res1, hls::stream<res_T> &res2, unsigned h,
               unsigned w) {
    const unsigned n = (h * S) * (w * S);
CloneRtLoop:
    for (unsigned i = 0; i < n; i++) {
        #pragma HLS PIPELINE II=1
        #pragma HLS LOOP_TRIPCOUNT min=1 max=MAX_PIXELS
        data_T in = data.read();
        res_T out1, out2;
        PRAGMA_DATA_PACK(out1)
        PRAGMA_DATA_PACK(out2)
    CloneRtChan:
        for (unsigned j = 0; j < res_T::size; j++) {
            #pragma HLS UNROLL
            out1[j] = in[j];
            out2[j] = in[j];
        }
        res1.write(out1);
        res2.write(out2);
    }
}

// hls4ml's Merge add: the sum in the layer's result type (exact for the types
// hls4ml derives), requantized by the activation layer behind it.
template <class in1_T, class in2_T, class res_T, unsigned S, unsigned MAX_PIXELS>
void add_rt(hls::stream<in1_T> &data1, hls::stream<in2_T> &data2, hls::stream<res_T> &res, unsigned h, unsigned w) {
    static_assert(in1_T::size == res_T::size && in2_T::size == res_T::size, "add_rt: word sizes differ");
    const unsigned n = (h * S) * (w * S);
AddRtLoop:
    for (unsigned i = 0; i < n; i++) {
        #pragma HLS PIPELINE II=1
        #pragma HLS LOOP_TRIPCOUNT min=1 max=MAX_PIXELS
        in1_T a = data1.read();
        in2_T b = data2.read();
        res_T out;
        PRAGMA_DATA_PACK(out)
    AddRtChan:
        for (unsigned j = 0; j < res_T::size; j++) {
            #pragma HLS UNROLL
            out[j] = a[j] + b[j];
        }
        res.write(out);
    }
}

// --------------------------------------------------------------------------- our extension layers
template <class data_T, class res_T, typename CONFIG_T, unsigned S>
void channel_slice_rt(hls::stream<data_T> &data, hls::stream<res_T> &res, unsigned h, unsigned w) {
    nnet::channel_slice_stream_rt<data_T, res_T, CONFIG_T>(data, res, (h * S) * (w * S));
}

template <class resid_T, class skip_T, class res_T, typename CONFIG_T, unsigned S>
void anchor_add_rt(hls::stream<resid_T> &resid, hls::stream<skip_T> &skip, hls::stream<res_T> &res, unsigned h,
                   unsigned w) {
    nnet::anchor_add_stream_rt<resid_T, skip_T, res_T, CONFIG_T>(resid, skip, res, (h * S) * (w * S));
}

template <class data_T, class res_T, typename CONFIG_T, unsigned S>
void depth_to_space_rt(hls::stream<data_T> &data, hls::stream<res_T> &res, unsigned h, unsigned w) {
    nnet::depth_to_space_stream_rt<data_T, res_T, CONFIG_T>(data, res, h * S, w * S);
}

} // namespace egvsr_rt

#endif
