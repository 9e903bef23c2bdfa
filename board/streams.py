"""Host side of the DMA buffer formats (docs/numerics.md, "Streams").

Input buffer: ``(H, W, Bin)`` uint8, one LR pixel per beat group, channels
0..2 = ``lr_curr``, 3..50 = ``space_to_depth(warped, 4)`` (DCR), zero pad up
to ``Bin`` (56 for a 64-bit DMA).  Output buffer: ``(4H, 4W, 4)`` uint8,
bytes R, G, B, 0; the frame is the ``[..., :3]`` view.

The packers write straight into the (DMA) buffer through strided views:
no intermediate 51-channel array is built.
"""

import numpy as np

from egvsr.golden.validate import SRNET_IN_CHANNELS

C = SRNET_IN_CHANNELS

__all__ = ["pack_step", "pack_x", "unpack_output", "frame_view",
           "s2d_view", "input_words", "output_words"]


def _check(buf, shape, what):
    if buf.dtype != np.uint8 or buf.shape != shape:
        raise ValueError(f"{what}: expected uint8 {shape}, got "
                         f"{buf.dtype} {buf.shape}")


def s2d_view(buf):
    """Writable ``(H, W, 4, 4, 3)`` view of channels 3..50 of ``buf``.

    ``view[y, x, i, j, c]`` is channel ``3 + (i*4 + j)*3 + c``, i.e. the DCR
    ``space_to_depth`` of an HR image ``hr[4y+i, 4x+j, c]``.
    """
    v = buf[:, :, 3:C]
    v = v.view()
    v.shape = v.shape[:2] + (4, 4, 3)  # raises instead of copying
    return v


def pack_step(buf, lr_curr, warped):
    """Pack ``lr_curr`` (H,W,3) and ``warped`` (4H,4W,3) into ``buf``.

    ``buf`` is the (H, W, Bin) input buffer; pad bytes are left as they are
    (zero from allocation; the core ignores them).
    """
    h, w = lr_curr.shape[:2]
    _check(lr_curr, (h, w, 3), "lr_curr")
    _check(warped, (4 * h, 4 * w, 3), "warped")
    if buf.shape[:2] != (h, w) or buf.shape[2] < C:
        raise ValueError(f"input buffer {buf.shape} does not fit a {h}x{w} frame")
    buf[:, :, 0:3] = lr_curr
    # warped[4y+i, 4x+j, c] -> (y, i, x, j, c) -> (y, x, i, j, c), a view
    s2d_view(buf)[...] = warped.reshape(h, 4, w, 4, 3).transpose(0, 2, 1, 3, 4)
    return buf


def pack_x(buf, x):
    """Pack an SRNet input ``x`` (H, W, 51) into ``buf`` (H, W, Bin)."""
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != C:
        raise ValueError(f"SRNet input must be uint8 (H, W, 51), got "
                         f"{x.dtype} {x.shape}")
    if buf.shape[:2] != x.shape[:2]:
        raise ValueError(f"input buffer {buf.shape} does not fit {x.shape}")
    buf[:, :, :C] = x
    return buf


def frame_view(out_buf):
    """The (4H, 4W, 3) frame inside an output buffer (a view, no copy)."""
    return out_buf[..., :3]


def unpack_output(out_buf, out=None):
    """Copy the frame out of ``out_buf`` (into ``out`` when given)."""
    if out is None:
        return np.array(frame_view(out_buf))
    out[...] = frame_view(out_buf)
    return out


def input_words(buf, dma_data_width=64):
    """The input buffer as stream beats: ``(H*W*Bin/word,)`` little-endian
    unsigned words (for inspection; the DMA reads the bytes directly)."""
    dt = np.dtype(f"<u{dma_data_width // 8}")
    return np.ascontiguousarray(buf).reshape(-1).view(dt)


def output_words(out_buf, dma_data_width=64):
    """The output buffer as stream beats (``P`` HR pixels per beat)."""
    return input_words(out_buf, dma_data_width)
