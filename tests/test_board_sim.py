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
from egvsr.board.streams import pack_step  # noqa: E402
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
        np.testing.assert_array_equal(srnet.run_step(frames[1], d["warped"]), d["hr"])
        # the packed DMA buffer is the 51-channel SRNet input plus zero pad
        buf = srnet.in_buf
        np.testing.assert_array_equal(buf[..., :51], d["sr_input"])
        assert not buf[..., 51:].any()
        dev = srnet.handle.device
        assert dev.models["dma"].bytes_sent == dev.models["dma"].bytes_received * 56 // 64
        assert dev.flushes > 0 and dev.invalidates > 0  # pynq cache maintenance ran


def test_explicit_overlay_frame_size_and_bundle_checks(overlay_path, bundle,
                                                       other_bundle, frames):
    with BoardSrnet(bundle, overlay=overlay_path, simulate=True) as srnet:
        assert srnet.handle.lr_size == (H, W)
        with pytest.raises(FrameSizeError, match="built for 24x32"):
            srnet(np.zeros((H + 8, W, 51), np.uint8))
        with pytest.raises(FrameSizeError):
            srnet(np.zeros((H, W, 48), np.uint8))
    with pytest.raises(BundleMismatchError, match="rebuild the overlay"):
        BoardSrnet(other_bundle, overlay=overlay_path, simulate=True)


def test_dma_timeout_raises_and_recovers(overlay_path, bundle, frames):
    h = load_overlay(overlay_path, bundle=bundle, simulate=True)
    st = FrameStream(h, timeout=0.2)
    try:
        h.accel.write(0x00, 0)  # stop the core: no TLAST ever comes back
        with pytest.raises(DmaTimeoutError, match="NOT started"):
            st.run()
        h.accel.write(0x00, 0x81)  # restart; the DMA was reset by the driver
        x = network.srnet_input(frames[0], np.zeros((4 * H, 4 * W, 3), np.uint8))
        st.in_buf[..., :51] = x
        np.testing.assert_array_equal(st.run(), network.run_srnet(bundle, x))
        # a short MM2S transfer (fewer bytes than the frame) also stalls
        h.dma.recvchannel.transfer(st.out_buf)
        h.dma.sendchannel.transfer(st.in_buf, nbytes=st.in_bytes // 2)
        st.pending = True
        with pytest.raises(DmaTimeoutError, match="within 0.2 s"):
            st.collect()
    finally:
        st.close()
        h.close()


def test_dma_error_when_packet_exceeds_buffer(overlay_path, bundle):
    h = load_overlay(overlay_path, bundle=bundle, simulate=True)
    st = FrameStream(h, timeout=2.0)
    try:
        st.out_buf = pynq.allocate((16, 4 * W, 4), np.uint8, target=h.device)
        with pytest.raises(DmaError, match="DMAIntErr"):
            st.run()
    finally:
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
        hr = np.zeros((4 * H, 4 * W, 3), np.uint8)
        pack_step(st.in_buf, frames[0], hr)
        x = network.srnet_input(frames[0], hr)
        np.testing.assert_array_equal(st.run(), network.run_srnet(bundle, x))
    finally:
        h.close()


def test_throughput_test_reports(bundle):
    with EgvsrAccel(bundle, simulate=True) as acc:
        r = acc.throughput_test(n_frames=2, lr_size=(16, 16))
    assert r["throughput[frames/s]"] > 0 and r["DRAM_in_bandwidth[MB/s]"] > 0
    assert r["bytes_per_frame_in"] == 16 * 16 * 56
    assert r["bytes_per_frame_out"] == 64 * 64 * 4
    assert set(r["host_ms_per_frame"]) >= {"fnet", "warp", "pack", "dma_wait"}


@pytest.mark.slow
def test_rtl_engine_optional(bundle, frames):
    backend = pytest.importorskip("egvsr.rtl_tb.backend")
    if not hasattr(backend, "RtlSrnet"):
        pytest.skip("rtl_tb.backend.RtlSrnet not available")
    x = network.srnet_input(frames[0][:8, :8].copy(), np.zeros((32, 32, 3), np.uint8))
    try:
        with BoardSrnet(bundle, simulate=True, sim_engine="rtl") as srnet:
            y = srnet(x)
    except NoBoardError as e:
        pytest.skip(str(e))
    np.testing.assert_array_equal(y, network.run_srnet(bundle, x))


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
    when a new frame size replaces the overlay)."""
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
        acc.throughput_test(n_frames=1, lr_size=(16, 16))  # another size: a new overlay
        assert len(sim_dirs()) == 1 and sim_dirs() != first
    finally:
        acc.close()
    assert sim_dirs() == []
