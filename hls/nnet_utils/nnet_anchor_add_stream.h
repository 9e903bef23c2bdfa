// egvsr: the LR anchor skip of SRNet's ESPCN tail for hls4ml (io_stream).
//
// channel_slice_stream: one word of n_in channels in, its first n_out channels
// out (the net input's lr_curr RGB, 51 -> 3), so that the skip FIFO in front
// of the add holds n_out-channel words.
//
// anchor_add_stream: per LR pixel one residual word (n_chan = n_skip * repeat
// channels) and one skip word (n_skip channels); output channel k is
//   out[k] = (res_T::value_type)(resid[k] + skip[k / repeat])
// The sum is ap_fixed's own plus type of the two input types (sum_t below:
// fractional bits of the finer input, one integer bit more than the wider),
// which holds every sum exactly, so both inputs are aligned to the finer
// exponent without loss; the one rounding is the conversion to the output
// type (AP_RND_CONV: round half to even, AP_SAT: saturate), as in
// golden.ops.anchor_add.
//
// Both are one loop at II=1: one pixel per clock, all channels unrolled;
// k / repeat is a constant per unrolled channel (wiring, no divider).
//
// The _rt forms take the frame's pixel count as an argument (at most the
// config's n_pixels): the board IP's run-time size top (egvsr.hls.runtime_top).
// The plain forms run the same loop over the config's n_pixels.
#ifndef NNET_ANCHOR_ADD_STREAM_H_
#define NNET_ANCHOR_ADD_STREAM_H_

#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

struct channel_slice_config {
    static const unsigned n_pixels = 1;  // words per frame (H * W)
    static const unsigned n_in = 2;      // channels of an input word
    static const unsigned n_out = 1;     // leading channels kept
};

template <class data_T, class res_T, typename CONFIG_T>
void channel_slice_stream_rt(hls::stream<data_T> &data, hls::stream<res_T> &res, unsigned n_pixels) {
    static_assert(CONFIG_T::n_out <= CONFIG_T::n_in, "channel_slice: more channels out than in");
    static_assert(data_T::size == CONFIG_T::n_in && res_T::size == CONFIG_T::n_out,
                  "channel_slice: stream word sizes do not match the config");
ChannelSliceLoop:
    for (unsigned i = 0; i < n_pixels; i++) {
        #pragma HLS PIPELINE II=1
        #pragma HLS LOOP_TRIPCOUNT min=1 max=CONFIG_T::n_pixels
        data_T in_pix = data.read();
        res_T out_pix;
        PRAGMA_DATA_PACK(out_pix)
    ChannelSliceChan:
        for (unsigned c = 0; c < CONFIG_T::n_out; c++) {
            #pragma HLS UNROLL
            out_pix[c] = in_pix[c];
        }
        res.write(out_pix);
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void channel_slice_stream(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    #pragma HLS INLINE
    channel_slice_stream_rt<data_T, res_T, CONFIG_T>(data, res, CONFIG_T::n_pixels);
}

struct anchor_add_config {
    static const unsigned n_pixels = 1;  // words per frame (H * W)
    static const unsigned n_chan = 1;    // residual and output channels
    static const unsigned n_skip = 1;    // skip channels
    static const unsigned repeat = 1;    // n_chan / n_skip
};

template <class resid_T, class skip_T, class res_T, typename CONFIG_T>
void anchor_add_stream_rt(hls::stream<resid_T> &resid, hls::stream<skip_T> &skip, hls::stream<res_T> &res,
                          unsigned n_pixels) {
    static_assert(CONFIG_T::n_chan == CONFIG_T::n_skip * CONFIG_T::repeat,
                  "anchor_add: n_chan must be n_skip * repeat");
    static_assert(resid_T::size == CONFIG_T::n_chan && skip_T::size == CONFIG_T::n_skip &&
                      res_T::size == CONFIG_T::n_chan,
                  "anchor_add: stream word sizes do not match the config");
    typedef typename resid_T::value_type resid_value_t;
    typedef typename skip_T::value_type skip_value_t;
    typedef decltype(resid_value_t() + skip_value_t()) sum_t;  // exact: no rounding, no overflow
AnchorAddLoop:
    for (unsigned i = 0; i < n_pixels; i++) {
        #pragma HLS PIPELINE II=1
        #pragma HLS LOOP_TRIPCOUNT min=1 max=CONFIG_T::n_pixels
        resid_T r = resid.read();
        skip_T s = skip.read();
        res_T out_pix;
        PRAGMA_DATA_PACK(out_pix)
    AnchorAddChan:
        for (unsigned k = 0; k < CONFIG_T::n_chan; k++) {
            #pragma HLS UNROLL
            sum_t sum = r[k] + s[k / CONFIG_T::repeat];
            out_pix[k] = sum;
        }
        res.write(out_pix);
    }
}

template <class resid_T, class skip_T, class res_T, typename CONFIG_T>
void anchor_add_stream(hls::stream<resid_T> &resid, hls::stream<skip_T> &skip, hls::stream<res_T> &res) {
    #pragma HLS INLINE
    anchor_add_stream_rt<resid_T, skip_T, res_T, CONFIG_T>(resid, skip, res, CONFIG_T::n_pixels);
}

} // namespace nnet

#endif
