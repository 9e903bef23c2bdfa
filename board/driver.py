"""User-facing driver: full EGVSR on a video with SRNet in hardware.

The recurrent step is split as the hardware design splits it: FNet, the x4
flow upsampling and the warp run on the host through ``egvsr.golden``
(numpy); SRNet runs on the FPGA behind the AXI DMA.  FNet of frame ``n+1``
depends only on the LR frames, so it runs while the hardware computes frame
``n``; the warp waits for ``hr_n``.  Frames come out bit-exact with
``golden.network.run_sequence``.
"""

import time
from itertools import chain, islice

import numpy as np

from .backend import BoardSrnet
from egvsr.golden.validate import SRNET_IN_CHANNELS

__all__ = ["EgvsrAccel"]

STAGES = ("fnet", "flow_up", "warp", "pack", "dma_wait")


def _load(bundle):
    if isinstance(bundle, (str, bytes)) or hasattr(bundle, "__fspath__"):
        from egvsr.golden.bundle import load_bundle
        return load_bundle(bundle)
    return bundle


class EgvsrAccel:
    """EGVSR x4 with SRNet on the board or the simulated device.

    >>> acc = EgvsrAccel(bundle, simulate=True)     # or overlay="egvsr.bit"
    >>> hr = acc.upscale_video(frames)              # (N, 4H, 4W, 3) uint8
    >>> acc.throughput_test()
    >>> acc.close()

    Parameters are those of :class:`egvsr.board.backend.BoardSrnet`;
    ``bundle`` may be a path.
    """

    def __init__(self, bundle, overlay=None, simulate=None, sim_engine="golden",
                 timeout=10.0, threaded=True):
        from egvsr.golden import network, ops
        self._network, self._ops = network, ops
        self.bundle = _load(bundle)
        self.srnet = BoardSrnet(self.bundle, overlay=overlay, simulate=simulate,
                                sim_engine=sim_engine, timeout=timeout,
                                threaded=threaded)
        self.times = dict.fromkeys(STAGES, 0.0)
        self.frames = 0

    @property
    def simulated(self):
        return self.srnet.simulated

    @property
    def meta(self):
        h = self.srnet.handle
        return None if h is None else h.meta

    def _t(self, stage, t0):
        t1 = time.perf_counter()
        self.times[stage] += t1 - t0
        return t1

    def _flow(self, lr, lr_prev):
        f = self.bundle.flow
        t = time.perf_counter()
        lr_flow = self._network.run_fnet(self.bundle, lr, lr_prev)
        t = self._t("fnet", t)
        hr_flow = self._ops.flow_upsample4(lr_flow, f["upsampler"],
                                           f["lr_frac_bits"], f["hr_frac_bits"])
        self._t("flow_up", t)
        return hr_flow

    def _launch(self, lr, hr_prev, hr_flow):
        t = time.perf_counter()
        warped = self._ops.warp(hr_prev, hr_flow, self.bundle.flow["hr_frac_bits"])
        t = self._t("warp", t)
        self.srnet.submit_step(lr, warped)
        self._t("pack", t)

    def _collect(self):
        # the DMA loop packs each line and copies each block out of its DMA
        # buffer while the next transfer runs: "pack" is only the hand-over
        # (submit), line packing and copy-out are inside "dma_wait"
        t = time.perf_counter()
        hr = self.srnet.collect()
        self._t("dma_wait", t)
        self.frames += 1
        return hr

    def iter_video(self, frames, temporal_pad=5):
        """Yield HR frames (uint8 (4H, 4W, 3)) for LR frames (H, W, 3).

        Same recurrence and reflect temporal padding as
        ``golden.network.iter_sequence``.
        """
        it = iter(frames)
        head = [np.asarray(f) for f in islice(it, max(0, int(temporal_pad)) + 1)]
        if not head:
            return
        n_pad = min(max(0, int(temporal_pad)), len(head) - 1)
        seq = chain(head[n_pad:0:-1], head, it)
        first = head[0]
        if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
            raise ValueError(f"frames must be uint8 (H, W, 3), got "
                             f"{first.dtype} {first.shape}")
        h, w = first.shape[:2]
        self.srnet.ensure(h, w)
        lr_prev = np.zeros_like(first)
        hr_prev = np.zeros((4 * h, 4 * w, 3), np.uint8)
        pending = False
        try:
            for i, lr in enumerate(seq):
                lr = np.asarray(lr)
                if lr.shape != first.shape or lr.dtype != np.uint8:
                    k = n_pad - i if i < n_pad else i - n_pad   # warm-up replays frames n_pad..1
                    raise ValueError(f"frame {k}: {lr.dtype} {lr.shape}, expected uint8 "
                                     f"{first.shape} like frame 0 (one frame size per sequence)")
                hr_flow = self._flow(lr, lr_prev)  # overlaps the frame in flight
                if pending:
                    pending = False
                    hr_prev = self._collect()
                    if i - 1 >= n_pad:
                        yield hr_prev
                self._launch(lr, hr_prev, hr_flow)
                pending = True
                lr_prev = lr
            if pending:
                pending = False
                yield self._collect()
        finally:
            if pending:  # stopped early or failed: drain the transfer in flight
                try:
                    self._collect()
                except Exception:
                    pass

    def upscale_video(self, frames, temporal_pad=5, progress=None):
        """All HR frames as one uint8 (N, 4H, 4W, 3) array."""
        out = []
        for hr in self.iter_video(frames, temporal_pad):
            out.append(hr)
            if progress is not None:
                progress(len(out), None)
        if not out:
            raise ValueError("upscale_video got no frames")
        return np.stack(out)

    def throughput_test(self, n_frames=8, lr_size=None, seed=0):
        """Measure the hardware path in the manner of FINN's driver.

        Streams ``n_frames`` random SRNet inputs back to back through the DMA
        (frames/s, DMA MB/s in and out; one transfer per LR line each way),
        then runs ``n_frames`` full EGVSR steps and reports the host time per
        stage.  Returns a dict.
        """
        if not isinstance(n_frames, (int, np.integer)) or isinstance(n_frames, bool) or n_frames < 1:
            raise ValueError(f"throughput_test: n_frames must be an integer >= 1, got {n_frames!r}")
        if lr_size is None:
            lr_size = self.srnet.handle.lr_size if self.srnet.handle else (32, 32)
        h, w = lr_size
        st = self.srnet.ensure(h, w)
        rng = np.random.default_rng(seed)
        x = rng.integers(0, 256, (h, w, SRNET_IN_CHANNELS), np.uint8)
        out = np.empty((4 * h, 4 * w, 3), np.uint8)
        st.run_x(x, out)  # warm-up
        t0 = time.perf_counter()
        for _ in range(n_frames):
            st.run_x(x, out)
        dt = time.perf_counter() - t0
        res = {"device": "simulated" if self.simulated else "board",
               "lr_size": [h, w], "hr_size": [4 * h, 4 * w],
               "batch_size": n_frames, "runtime[ms]": 1e3 * dt,
               "throughput[frames/s]": n_frames / dt,
               "throughput[LR Mpx/s]": n_frames * h * w / dt / 1e6,
               "DRAM_in_bandwidth[MB/s]": n_frames * st.in_bytes / dt / 1e6,
               "DRAM_out_bandwidth[MB/s]": n_frames * st.out_bytes / dt / 1e6,
               "bytes_per_frame_in": st.in_bytes,
               "bytes_per_frame_out": st.out_bytes,
               "dma_transfers_per_frame": 2 * h,
               "bytes_per_transfer_in": st.in_bytes // h,
               "bytes_per_transfer_out": st.out_bytes // h}
        if self.meta and not self.simulated:
            res["fclk[mhz]"] = self.meta.get("clock_mhz")
        lr = rng.integers(0, 256, (n_frames, h, w, 3), np.uint8)
        saved, self.times = self.times, dict.fromkeys(STAGES, 0.0)
        n0 = self.frames
        t0 = time.perf_counter()
        for _ in self.iter_video(lr, temporal_pad=0):
            pass
        total = time.perf_counter() - t0
        n = self.frames - n0
        res["egvsr_step[frames/s]"] = n / total
        res["host_ms_per_frame"] = {k: 1e3 * v / n for k, v in self.times.items()}
        self.times = saved
        return res

    def close(self):
        """Release DMA buffers and the overlay."""
        self.srnet.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
