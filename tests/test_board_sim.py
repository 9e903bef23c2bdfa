"""egvsr.board end to end on the simulated pynq device (unmodified pynq DMA)."""

import numpy as np
import pytest

pynq = pytest.importorskip("pynq")

from egvsr.board import (BoardSrnet, BundleMismatchError, DmaError,  # noqa: E402
                         DmaTimeoutError, EgvsrAccel, FrameSizeError,
                         NoBoardError, OverlayError)
from egvsr.board import meta as bmeta  # noqa: E402
from egvsr.board.dmastream import FrameStream  # noqa: E402
from egvsr.board.overlay import load_overlay  # noqa: E402
from egvsr.board.simdevice import SimDevice, make_sim_overlay  # noqa: E402
from egvsr.board import regmap  # noqa: E402
from egvsr.golden import network  # noqa: E402
from egvsr.golden.bundle import Bundle  # noqa: E402
from egvsr.golden.synth import random_bundle, synthetic_frames  # noqa: E402

H, W = 24, 32


@pytest.fixture(scope="module")
def bundle():
    return Bundle(*random_bundle(nf=16, nb=2, seed=0))


@pytest.fixture(scope="module")
def other_bundle():
    return Bundle(*random_bundle(nf=16, nb=2, seed=1))


@pytest.fixture(scope="module")
def frames():
    """A few real frames (carphone, cropped) or synthetic ones without it."""
    try:
        from egvsr.model.video import bundled_clip, read_frames
        f = read_frames(bundled_clip("carphone"), max_frames=4)
        return np.ascontiguousarray(f[:, 40:40 + H, 60:60 + W])
    except Exception:
        return synthetic_frames(4, H, W)


@pytest.fixture
def overlay_path(tmp_path, bundle):
    return make_sim_overlay(tmp_path, bundle.sha256, H, W)


def test_upscale_video_bit_exact_with_golden(bundle, frames):
    ref = network.run_sequence(bundle, frames, temporal_pad=2)
    with EgvsrAccel(bundle, simulate=True) as acc:
        out = acc.upscale_video(frames, temporal_pad=2)
        assert acc.simulated
        assert isinstance(acc.srnet.handle.overlay, pynq.Overlay)
        assert isinstance(acc.srnet.handle.dma, pynq.lib.dma.DMA)
        assert acc.frames == len(frames) + 2
        assert acc.times["dma_wait"] > 0
    assert out.dtype == np.uint8 and out.shape == (len(frames), 4 * H, 4 * W, 3)
    np.testing.assert_array_equal(out, ref)


def test_board_srnet_callable_and_fast_path(bundle, frames):
    ref = network.run_sequence(bundle, frames[:2], temporal_pad=1)
    with BoardSrnet(bundle, simulate=True, threaded=False) as srnet:
        out = network.run_sequence(bundle, frames[:2], srnet=srnet, temporal_pad=1)
        np.testing.assert_array_equal(out, ref)
        d = network.step(bundle, frames[1], frames[0], ref[0], details=True)
        dev = srnet.handle.device
        dma, core = dev.models["dma"], dev.models["accel"]
        n0, f0 = dma.mm2s_count, dev.flushes
        np.testing.assert_array_equal(srnet.run_step(frames[1], d["warped"]), d["hr"])
        # what reached the core, line by line, is the 51-channel SRNet input plus zero pad
        np.testing.assert_array_equal(core.last_input[..., :51], d["sr_input"])
        assert not core.last_input[..., 51:].any()
        assert dma.bytes_sent == dma.bytes_received * 56 // 64
        # one MM2S transfer and one cache flush per LR line; small ring buffers only
        assert dma.mm2s_count - n0 == H and dev.flushes - f0 == H
        assert dev.invalidates > 0  # pynq cache maintenance ran on the receive side
        st = srnet.stream
        assert [b.nbytes for b in st.in_ring] == [W * 56] * 2
        assert [b.nbytes for b in st.out_ring] == [16 * W * 4] * 2
        # the core was programmed through the register map
        assert (core.regs["LR_HEIGHT"], core.regs["LR_WIDTH"]) == (H, W)
        assert srnet.handle.reg("STATUS") == 0 and srnet.handle.reg("ERR_COUNT") == 0


def test_explicit_overlay_frame_size_and_bundle_checks(tmp_path, overlay_path, bundle,
                                                       other_bundle, frames):
    with BoardSrnet(bundle, overlay=overlay_path, simulate=True) as srnet:
        assert srnet.handle.lr_size == (H, W) and srnet.handle.lr_min == (8, 8)
        with pytest.raises(FrameSizeError, match="built for 8x8 up to 24x32"):
            srnet(np.zeros((H + 8, W, 51), np.uint8))
        with pytest.raises(FrameSizeError):
            srnet(np.zeros((H, W, 48), np.uint8))
    fixed = make_sim_overlay(tmp_path / "fixed", bundle.sha256, H, W, lr_min=None)
    with BoardSrnet(bundle, overlay=fixed, simulate=True) as srnet:
        with pytest.raises(FrameSizeError, match="built for 24x32 only"):
            srnet(np.zeros((H - 8, W, 51), np.uint8))
    with pytest.raises(BundleMismatchError, match="rebuild the overlay"):
        BoardSrnet(other_bundle, overlay=overlay_path, simulate=True)


def _crop_frames(frames, h, w):
    return np.ascontiguousarray(frames[:, :h, :w])


def test_two_frame_sizes_one_overlay(overlay_path, bundle, frames):
    """One overlay (largest frame 24x32) runs 24x32 and 16x24 sequences, bit-exact
    with golden; the driver programs LR_HEIGHT/LR_WIDTH per frame, nothing reloads."""
    with EgvsrAccel(bundle, overlay=overlay_path, simulate=True) as acc:
        handle = acc.srnet.handle
        models = dict(handle.device.models)
        for h, w in ((H, W), (16, 24), (H, W)):
            clip = _crop_frames(frames[:2], h, w)
            out = acc.upscale_video(clip, temporal_pad=0)
            np.testing.assert_array_equal(out, network.run_sequence(bundle, clip, temporal_pad=0))
            core = handle.device.models["accel"]
            assert (core.regs["LR_HEIGHT"], core.regs["LR_WIDTH"]) == (h, w)
        assert acc.srnet.handle is handle and handle.device.models == models
        assert handle.reg("ERR_COUNT") == 0


def _fault(kind, line):
    """An MM2S hook: lose or add bytes on the way to the core in transfer `line`."""
    def hook(i, data):
        if i != line:
            return data
        return {"drop_beat": data[56:], "drop_word": data[:-8],
                "extra_beat": np.concatenate([data, data[:56]])}[kind]
    return hook


@pytest.mark.parametrize("kind", ["drop_beat", "drop_word", "extra_beat"])
def test_frame_sync_error_restarts_the_frame(overlay_path, bundle, frames, kind):
    """A line of the wrong length sets STATUS frame error and ERR_COUNT; the core
    stays in step (it counts lines by TLAST), the driver runs the frame again
    without a bitstream reload, and the output equals golden."""
    h = load_overlay(overlay_path, bundle=bundle, simulate=True)
    st = FrameStream(h, timeout=5.0)
    try:
        models = dict(h.device.models)
        x = network.srnet_input(frames[0], np.zeros((4 * H, 4 * W, 3), np.uint8))
        h.device.models["dma"].mm2s_hook = _fault(kind, line=5)
        np.testing.assert_array_equal(st.run_x(x), network.run_srnet(bundle, x))
        assert st.frame_errors == 1 and h.reg("ERR_COUNT") == 1
        assert h.reg("STATUS") == 0  # the rerun was clean
        assert h.device.models == models  # no reload
        # a persistent fault: the driver gives up with the reason
        h.device.models["dma"].mm2s_hook = lambda i, d: d[:-56]
        with pytest.raises(DmaError, match="frame-sync error .* on 3 runs"):
            st.run_x(x)
        assert h.reg("ERR_COUNT") == 4 and not st.dirty
        h.device.models["dma"].mm2s_hook = None
        x1 = network.srnet_input(frames[1], np.zeros((4 * H, 4 * W, 3), np.uint8))
        np.testing.assert_array_equal(st.run_x(x1), network.run_srnet(bundle, x1))
    finally:
        st.close()
        h.close()


def test_register_map_of_the_simulated_core(overlay_path, bundle):
    h = load_overlay(overlay_path, bundle=bundle, simulate=True)
    try:
        r = h.reg
        assert (r("ID_LO"), r("ID_HI")) == bmeta.id_words(bundle.sha256)
        assert (r("MAX_HEIGHT"), r("MAX_WIDTH"), r("VERSION")) == (H, W, regmap.REGMAP_VERSION)
        assert r("AP_CTRL") & regmap.AP_IDLE
        acc = h.accel
        acc.write(regmap.offset("LR_HEIGHT"), H)
        acc.write(regmap.offset("LR_WIDTH"), W + 1)  # wider than the build
        acc.write(regmap.offset("AP_CTRL"), regmap.AP_START)
        assert r("STATUS") == regmap.STATUS_SIZE_ERROR
        assert r("AP_CTRL") & (regmap.AP_DONE | regmap.AP_IDLE) == regmap.AP_DONE | regmap.AP_IDLE
        assert not r("AP_CTRL") & regmap.AP_DONE  # ap_done clears on read
        acc.write(regmap.offset("ID_LO"), 0)  # read-only
        assert r("ID_LO") == bmeta.id_words(bundle.sha256)[0]
    finally:
        h.close()


def test_dma_timeout_raises_and_recovers(overlay_path, bundle, frames):
    h = load_overlay(overlay_path, bundle=bundle, simulate=True)
    st = FrameStream(h, timeout=0.2)
    try:
        x = network.srnet_input(frames[0], np.zeros((4 * H, 4 * W, 3), np.uint8))
        h.device.models["accel"].stall = True  # a hung core: no TLAST ever comes back
        with pytest.raises(DmaTimeoutError, match=r"within 0.2 s at LR line 0 of 24 \(24 sent\)"):
            st.run_x(x)
        assert st.dirty
        old = h.device.models["accel"]
        np.testing.assert_array_equal(st.run_x(x), network.run_srnet(bundle, x))
        assert h.device.models["accel"] is not old  # reloaded (fresh core and DMA)
    finally:
        st.close()
        h.close()


def test_core_size_error_is_immediate_and_keeps_the_overlay(overlay_path, bundle, frames):
    """A frame the core refuses (STATUS size error at ap_start) raises FrameSizeError at
    once: no DMA wait, no reset, no reload; the next frame runs on the same core."""
    import time
    h = load_overlay(overlay_path, bundle=bundle, simulate=True)
    st = FrameStream(h, timeout=5.0)
    try:
        x = network.srnet_input(frames[0], np.zeros((4 * H, 4 * W, 3), np.uint8))
        core = h.device.models["accel"]
        core.max_w = W - 8                      # the core now takes at most 24 x 24
        t0 = time.monotonic()
        with pytest.raises(FrameSizeError, match=r"refused a 24x32 frame"):
            st.run_x(x)
        assert time.monotonic() - t0 < 1.0 and not st.dirty
        core.max_w = W
        np.testing.assert_array_equal(st.run_x(x), network.run_srnet(bundle, x))
        assert h.device.models["accel"] is core  # not reloaded
    finally:
        st.close()
        h.close()


def test_dma_error_when_packet_exceeds_buffer(overlay_path, bundle, frames):
    h = load_overlay(overlay_path, bundle=bundle, simulate=True)
    st = FrameStream(h, timeout=2.0)
    try:
        h.device.models["accel"].extra_out_bytes = 8  # a core whose line block is too long
        with pytest.raises(DmaError, match="DMAIntErr"):
            st.run_x(np.zeros((H, W, 51), np.uint8))
    finally:
        st.close()
        h.close()


def test_overlay_errors(tmp_path, overlay_path, bundle):
    with pytest.raises(OverlayError, match="no build metadata"):
        load_overlay(str(tmp_path / "missing.bit"), simulate=True, bundle=bundle)
    with pytest.raises(NoBoardError):
        load_overlay(overlay_path, bundle=bundle, simulate=False)
    h = load_overlay(overlay_path, bundle=bundle, simulate=True)
    try:
        h.device.models["id"].words[0] ^= 1  # bitstream from another build
        with pytest.raises(OverlayError, match="does not match its metadata"):
            h.check_id()
        h.device.models["id"].words[0] ^= 1
        core = h.device.models["accel"]
        core.id = (core.id[0], core.id[1] ^ 1)  # the core's own ID registers
        with pytest.raises(OverlayError, match="core's ID registers .* do not match"):
            h.check_id()
        core.id = bmeta.id_words(bundle.sha256)
        core.version = regmap.REGMAP_VERSION + 1
        with pytest.raises(OverlayError, match="register map is version 2, this driver speaks version 1"):
            h.check_id()
        core.version = regmap.REGMAP_VERSION
        # an HLS core before its first call reads 0 in ID/MAX/VERSION: the identify
        # call (a start with size 0, refused at once) makes them valid
        core.outputs_valid = False
        assert h.reg("VERSION") == 0
        h.check_id()
        assert h.reg("STATUS") == regmap.STATUS_SIZE_ERROR and core.frame is None
        core.max_w += 8
        with pytest.raises(OverlayError, match="up to 24x40 .* metadata says 24x32"):
            h.check_id()
    finally:
        h.close()
    bad = bmeta.read_meta(overlay_path)
    bad["ip"]["dma"] = ""
    with pytest.raises(OverlayError, match="ip.dma"):
        bmeta.validate(bad, "x")
    with pytest.raises(OverlayError, match="schema"):
        bmeta.validate({"schema": "nope"}, "x")


def test_sim_overlay_from_bundle_file(tmp_path, bundle, frames):
    """The simulated hardware loads the bundle it was built from by path."""
    from egvsr.golden.bundle import load_bundle, write_bundle
    stem = tmp_path / "b"
    write_bundle(stem, bundle.manifest, bundle.arrays)
    b = load_bundle(stem)
    bit = make_sim_overlay(tmp_path / "ol", b.sha256, H, W, bundle_path=stem)
    dev = SimDevice()  # no bundle given: read sim.bundle_path
    h = load_overlay(bit, bundle=b.sha256, simulate=True, device=dev)
    st = FrameStream(h)
    try:
        x = network.srnet_input(frames[0], np.zeros((4 * H, 4 * W, 3), np.uint8))
        np.testing.assert_array_equal(st.run_x(x), network.run_srnet(bundle, x))
    finally:
        st.close()
        h.close()


def test_throughput_test_reports(bundle):
    with EgvsrAccel(bundle, simulate=True) as acc:
        r = acc.throughput_test(n_frames=2, lr_size=(16, 16))
    assert r["throughput[frames/s]"] > 0 and r["DRAM_in_bandwidth[MB/s]"] > 0
    assert r["bytes_per_frame_in"] == 16 * 16 * 56
    assert r["bytes_per_frame_out"] == 64 * 64 * 4
    assert r["dma_transfers_per_frame"] == 32
    assert (r["bytes_per_transfer_in"], r["bytes_per_transfer_out"]) == (16 * 56, 16 * 16 * 4)
    assert set(r["host_ms_per_frame"]) >= {"fnet", "warp", "pack", "dma_wait"}


@pytest.mark.slow
def test_rtl_engine_optional(tmp_path, bundle, frames):
    backend = pytest.importorskip("egvsr.rtl_tb.backend")
    if not hasattr(backend, "RtlBoardEngine"):
        pytest.skip("rtl_tb.backend.RtlBoardEngine not available")
    x = network.srnet_input(frames[0][:8, :8].copy(), np.zeros((32, 32, 3), np.uint8))
    # the overlay of the next test: one RTL build (by content) serves both
    bit = make_sim_overlay(tmp_path, bundle.sha256, 12, 16, engine="rtl")
    try:
        with BoardSrnet(bundle, overlay=bit, simulate=True, sim_engine="rtl") as srnet:
            y = srnet(x)
    except NoBoardError as e:
        pytest.skip(str(e))
    np.testing.assert_array_equal(y, network.run_srnet(bundle, x))


@pytest.mark.slow
def test_rtl_engine_two_frame_sizes_one_overlay(tmp_path, bundle, frames):
    """The driver on the simulated device with the RTL board IP behind the DMA
    and the register map: the driver's own AXI-Lite writes (identify on load,
    then LR_HEIGHT/LR_WIDTH/ap_start per frame) are replayed into the IP's
    register file, and every value the driver reads (VERSION, ID, MAX size on
    load; AP_CTRL idle/done, STATUS, ERR_COUNT per frame) is the IP's. One
    overlay (up to 12x16), two frame sizes, real frames, bit-exact with golden;
    one output packet per LR line, cut by the IP's own TLAST (one Verilator build)."""
    backend = pytest.importorskip("egvsr.rtl_tb.backend")
    if not hasattr(backend, "RtlBoardEngine"):
        pytest.skip("rtl_tb.backend.RtlBoardEngine not available")
    off = regmap.offset
    bit = make_sim_overlay(tmp_path, bundle.sha256, 12, 16, engine="rtl")
    try:
        acc = EgvsrAccel(bundle, overlay=bit, simulate=True, sim_engine="rtl")
    except NoBoardError as e:
        pytest.skip(str(e))
    with acc:
        handle = acc.srnet.handle
        core = handle.device.models["accel"]
        assert core.register_level
        # load: the identify call (a start with size 0) ran the IP; the values the
        # driver checked against the metadata are the IP's
        ident = core.rtl_runs[0]
        assert ident["writes"] == [(off("LR_HEIGHT"), 0), (off("LR_WIDTH"), 0),
                                   (off("AP_CTRL"), regmap.AP_START)]
        rd = ident["reads"]
        assert rd[off("STATUS")] == regmap.STATUS_SIZE_ERROR and ident["sent"] == 0
        assert ident["ctrl"] & regmap.AP_DONE and ident["idle"]
        assert (rd[off("ID_LO")], rd[off("ID_HI")]) == bmeta.id_words(bundle.sha256)
        assert (rd[off("MAX_HEIGHT")], rd[off("MAX_WIDTH")]) == (12, 16)
        assert rd[off("VERSION")] == regmap.REGMAP_VERSION
        for h, w in ((12, 16), (8, 12)):
            n0 = len(core.rtl_runs)
            clip = _crop_frames(frames[:2], h, w)
            out = acc.upscale_video(clip, temporal_pad=0)
            np.testing.assert_array_equal(out, network.run_sequence(bundle, clip, temporal_pad=0))
            runs = core.rtl_runs[n0:]
            assert len(runs) == len(clip)          # one IP run per frame, no reload
            for r in runs:
                assert r["writes"][-3:] == [(off("LR_HEIGHT"), h), (off("LR_WIDTH"), w),
                                            (off("AP_CTRL"), regmap.AP_START)]
                rd = r["reads"]
                assert (rd[off("LR_HEIGHT")], rd[off("LR_WIDTH")]) == (h, w)
                assert rd[off("STATUS")] == 0 and rd[off("ERR_COUNT")] == 0
                assert r["idle"] and r["ctrl"] & regmap.AP_DONE and r["sent"] == h * w
                assert r["packet_bytes"] == [16 * w * 4] * h and r["tail_bytes"] == 0
            # what the driver reads now is what the IP read back
            assert (handle.reg("LR_HEIGHT"), handle.reg("LR_WIDTH")) == (h, w)
        assert core.rtl_runs[1]["writes"][0] == (off("AP_CTRL"), 0)   # written on load
        assert acc.srnet.handle is handle and handle.reg("ERR_COUNT") == 0
        assert handle.reg("STATUS") == 0 and handle.reg("VERSION") == regmap.REGMAP_VERSION
        # a beat lost on the way in: the IP's frame sync (not the Python model) flags
        # it, the driver reads STATUS and runs the frame again, bit-exact
        lost = []

        def drop_first_beat(i, data):
            if lost:
                return data
            lost.append(i)
            return data[56:]
        handle.device.models["dma"].mm2s_hook = drop_first_beat
        n0 = len(core.rtl_runs)
        clip = _crop_frames(frames[:1], 8, 12)
        out = acc.upscale_video(clip, temporal_pad=0)
        np.testing.assert_array_equal(out, network.run_sequence(bundle, clip, temporal_pad=0))
        bad, rerun = core.rtl_runs[n0:]
        assert bad["reads"][off("STATUS")] == regmap.STATUS_FRAME_ERROR
        assert bad["sent"] == 8 * 12 - 1 and bad["packet_bytes"] == [16 * 12 * 4] * 8
        assert rerun["reads"][off("STATUS")] == 0 and rerun["sent"] == 8 * 12
        assert acc.srnet.stream.frame_errors == 1 and handle.reg("ERR_COUNT") == 1


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["regmap", "tlast"])
def test_rtl_engine_wrong_ip_fails_the_driver(tmp_path_factory, bundle, frames, fault):
    """The driver test above against an IP built wrong fails with a message that
    names the cause: LR_WIDTH decoded at 0x1c instead of 0x18 (a register-map
    error: the IP refuses the frame, the DMA times out and the driver reports the
    size error and the width it reads back), or output TLAST only at the end of
    the frame (the per-line TLAST missing: S2MM DMAIntErr). Generated and built
    in a temporary folder: nothing of the broken IP stays behind."""
    import dataclasses
    backend = pytest.importorskip("egvsr.rtl_tb.backend")
    if not hasattr(backend, "RtlBoardEngine"):
        pytest.skip("rtl_tb.backend.RtlBoardEngine not available")
    tmp = tmp_path_factory.mktemp(f"bad_ip_{fault}")
    if fault == "regmap":
        table = tuple(dataclasses.replace(r, offset=0x1C) if r.name == "LR_WIDTH" else r
                      for r in regmap.REGISTERS)
        opts, err = {"registers": table}, DmaTimeoutError
        match = (r"STATUS=0x2, SIZE ERROR\. LR_HEIGHT x LR_WIDTH read back as 8x0, written "
                 r"8x12: the core's register map differs from this driver's")
    else:
        opts, err = {"tlast": "frame"}, DmaError
        match = r"S2MM \(receive\) error at LR line 0.*DMAIntErr"
    try:
        # a quick C++ compile: the broken IP runs one frame
        eng = backend.RtlBoardEngine(bundle, workdir=tmp / "gen", build_root=tmp / "sim",
                                     ip_options=opts, vflags=["-CFLAGS", "-O0"])
    except RuntimeError as e:   # no simulator
        pytest.skip(str(e))
    bit = make_sim_overlay(tmp, bundle.sha256, 12, 16, engine="rtl")
    with EgvsrAccel(bundle, overlay=bit, simulate=True, sim_engine=eng, timeout=2.0) as acc:
        with pytest.raises(err, match=match):
            acc.upscale_video(_crop_frames(frames[:2], 8, 12), temporal_pad=0)


def test_make_backend_board_sim_matches_golden(bundle, frames):
    from egvsr.board.backend import make_backend
    with make_backend(bundle, "board-sim") as srnet:
        out = network.run_sequence(bundle, frames[:2], srnet=srnet, temporal_pad=0)
        assert srnet.simulated
    np.testing.assert_array_equal(out, network.run_sequence(bundle, frames[:2],
                                                            temporal_pad=0))
    with pytest.raises(ValueError):
        make_backend(bundle, "golden")


def test_stopping_a_video_early_leaves_the_dma_idle(bundle, frames):
    from egvsr.board.driver import EgvsrAccel
    acc = EgvsrAccel(bundle, simulate=True)
    try:
        gen = acc.iter_video(frames, temporal_pad=0)
        next(gen)
        gen.close()  # a transfer was in flight
        out = acc.upscale_video(frames[:2], temporal_pad=0)
        np.testing.assert_array_equal(out, network.run_sequence(bundle, frames[:2], temporal_pad=0))
    finally:
        acc.close()


def test_generated_sim_overlay_dir_is_removed_on_close(bundle, frames, tmp_path,
                                                       monkeypatch):
    """The auto-generated simulated overlay lives in an egvsr_sim_* temp dir
    while the device is open, and nothing of it is left after close (also
    when a larger frame replaces the overlay; a smaller one reuses it)."""
    import tempfile
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    def sim_dirs():
        return sorted(p.name for p in tmp.glob("egvsr_sim_*"))

    acc = EgvsrAccel(bundle, simulate=True)
    try:
        out = acc.upscale_video(frames[:2], temporal_pad=0)
        np.testing.assert_array_equal(out, network.run_sequence(bundle, frames[:2],
                                                                temporal_pad=0))
        first = sim_dirs()
        assert len(first) == 1  # the overlay in use
        acc.throughput_test(n_frames=1, lr_size=(16, 16))  # smaller: the same overlay
        assert sim_dirs() == first
        acc.throughput_test(n_frames=1, lr_size=(H, W + 8))  # larger: a new overlay
        assert len(sim_dirs()) == 1 and sim_dirs() != first
        assert acc.srnet.handle.lr_size == (H, W + 8)
    finally:
        acc.close()
    assert sim_dirs() == []


def test_metadata_dma_length_register_too_narrow(overlay_path, bundle):
    """An overlay whose DMA length register cannot hold one line's transfer is
    refused when its metadata is read, naming the fix (not a DMAIntErr later)."""
    import json
    from egvsr.board.errors import OverlayError
    meta = json.loads(open(bmeta.meta_path(overlay_path)).read())
    assert meta["dma"]["sg_length_width"] == bmeta.length_width(W)
    bmeta.validate(meta, "ok")
    meta["dma"]["sg_length_width"] = bmeta.length_width(W) - 1
    with pytest.raises(OverlayError, match="make bitstream"):
        bmeta.validate(meta, "narrow")
