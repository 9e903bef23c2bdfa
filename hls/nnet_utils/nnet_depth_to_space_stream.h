// egvsr: streaming DepthToSpace / PixelShuffle for hls4ml (io_stream).
//
// Input: one LR pixel per stream word, all n_chan = block*block*out_chan
// channels in the word, raster order. Output: HR pixels in raster order,
// pixels_per_beat HR pixels (of one HR row) per word, out_chan channels each.
//
// Architecture: a ping-pong buffer of two LR rows (2 x in_width x n_chan
// values, no unbounded storage). The write side stores the incoming LR row
// into the free half, one pixel per clock whenever a pixel is available; the
// read side emits the other (full) half as HR words, one word per clock. Both
// sides run in the same II=1 loop with their own counters (no division), so
// reading row y+1 overlaps emitting row y: the core sustains
// max(upstream interval, block*block/pixels_per_beat) clocks per LR pixel.
//
// depth_to_space_stream_rt takes the LR frame size (h x w, at most in_height x
// in_width: the buffer is sized for in_width) as arguments: the board IP's
// run-time size top (egvsr.hls.runtime_top). depth_to_space_stream is the same
// loop at the config's size.
#ifndef NNET_DEPTH_TO_SPACE_STREAM_H_
#define NNET_DEPTH_TO_SPACE_STREAM_H_

#include "hls_stream.h"
#include "nnet_common.h"
#ifndef __SYNTHESIS__
#include <iostream>
#endif

namespace nnet {

struct depth_to_space_config {
    static const unsigned in_height = 1;
    static const unsigned in_width = 1;
    static const unsigned n_chan = 4;    // input channels
    static const unsigned block = 2;     // r
    static const unsigned out_chan = 1;  // n_chan / (r * r)
    static const unsigned pixels_per_beat = 1;  // HR pixels per output word, divides r
    static const bool crd = true;        // true: CRD (PyTorch PixelShuffle), false: DCR (TensorFlow)
};

// Input channel holding HR sub-pixel (i, j) of output channel c.
template <typename CONFIG_T> inline unsigned d2s_src_chan(unsigned c, unsigned i, unsigned j) {
    #pragma HLS INLINE
    return CONFIG_T::crd ? (c * CONFIG_T::block * CONFIG_T::block + i * CONFIG_T::block + j)
                         : ((i * CONFIG_T::block + j) * CONFIG_T::out_chan + c);
}

template <class data_T, class res_T, typename CONFIG_T>
void depth_to_space_stream_rt(hls::stream<data_T> &data, hls::stream<res_T> &res, unsigned h, unsigned w) {
    static_assert(CONFIG_T::n_chan == CONFIG_T::block * CONFIG_T::block * CONFIG_T::out_chan,
                  "depth_to_space: n_chan must be block*block*out_chan");
    static_assert(CONFIG_T::block % CONFIG_T::pixels_per_beat == 0,
                  "depth_to_space: pixels_per_beat must divide block");
    static const unsigned R = CONFIG_T::block;
    static const unsigned W = CONFIG_T::in_width;  // the buffer: the largest width
    static const unsigned BLK = R / CONFIG_T::pixels_per_beat;  // output words per LR pixel per HR row
    static const unsigned BEATS = CONFIG_T::in_height * R * W * BLK;  // output words per frame (at most)

    typename data_T::value_type buf[2][W][CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=buf complete dim=1
    #pragma HLS ARRAY_RESHAPE variable=buf complete dim=3

    bool full[2] = {false, false};
    #pragma HLS ARRAY_PARTITION variable=full complete
    unsigned wbank = 0, wx = 0, wy = 0;          // write side: bank, column, rows stored
    unsigned rbank = 0, ri = 0, rx = 0, rj = 0;  // read side: bank, HR sub-row, column, word
    unsigned ry = 0;                             // LR rows emitted

DepthToSpaceLoop:
    while (ry < h) {
        #pragma HLS PIPELINE II=1
        #pragma HLS LOOP_TRIPCOUNT min=1 max=BEATS
        #pragma HLS DEPENDENCE variable=buf inter false
        bool moved = false;  // read or wrote a word this step
        if (wy < h && !full[wbank] && !data.empty()) {
            moved = true;
            data_T in_pix = data.read();
        DepthToSpaceStore:
            for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                #pragma HLS UNROLL
                buf[wbank][wx][c] = in_pix[c];
            }
            if (wx == w - 1) {
                wx = 0;
                full[wbank] = true;
                wbank ^= 1;
                wy++;
            } else {
                wx++;
            }
        }
        if (full[rbank]) {
            moved = true;
            res_T out_pix;
            PRAGMA_DATA_PACK(out_pix)
        DepthToSpacePix:
            for (unsigned p = 0; p < CONFIG_T::pixels_per_beat; p++) {
                #pragma HLS UNROLL
            DepthToSpaceChan:
                for (unsigned c = 0; c < CONFIG_T::out_chan; c++) {
                    #pragma HLS UNROLL
                    out_pix[p * CONFIG_T::out_chan + c] =
                        buf[rbank][rx][d2s_src_chan<CONFIG_T>(c, ri, rj * CONFIG_T::pixels_per_beat + p)];
                }
            }
            res.write(out_pix);
            if (rj == BLK - 1) {
                rj = 0;
                if (rx == w - 1) {
                    rx = 0;
                    if (ri == R - 1) {
                        ri = 0;
                        full[rbank] = false;
                        rbank ^= 1;
                        ry++;
                    } else {
                        ri++;
                    }
                } else {
                    rx++;
                }
            } else {
                rj++;
            }
        }
#ifndef __SYNTHESIS__
        // C simulation runs the dataflow processes one after the other, so the input is
        // complete here: a step that moves nothing would repeat for ever (the producer
        // sent fewer than h x w pixels). Stop, with fewer output words than a frame.
        if (!moved) {
            std::cout << "WARNING: depth_to_space_stream: the input ended (" << wy << " LR rows stored, " << ry
                      << " emitted, " << h << " in the frame)" << std::endl;
            break;
        }
#endif
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void depth_to_space_stream(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    #pragma HLS INLINE
    depth_to_space_stream_rt<data_T, res_T, CONFIG_T>(data, res, CONFIG_T::in_height, CONFIG_T::in_width);
}

} // namespace nnet

#endif
