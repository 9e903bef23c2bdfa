"""The HLS conv cost model (`golden.oplib.hls_cost`) against what hls4ml generates.

Independent references: the configs and types hls4ml writes for a converted
SRNet top (``firmware/parameters.h``, ``defines.h``), the nnet_utils headers it
copies into the project (the line buffer declaration, which loops carry a
PIPELINE pragma, the weight ROM binding), and the C simulation of a conv core
with counters patched into those headers (how often the pixel loop, the dense
kernel and its ReuseLoop run in a frame).
"""
import ctypes
import math
import re

import numpy as np
import pytest

pytest.importorskip("hls4ml")

from egvsr.board.boards import get_board  # noqa: E402
from egvsr.golden.bundle import Bundle  # noqa: E402
from egvsr.golden.oplib import hls_cost  # noqa: E402
from egvsr.golden.oplib.memory import hls_bram36  # noqa: E402
from egvsr.golden.synth import random_bundle  # noqa: E402
from egvsr.hls.build import plan_hls  # noqa: E402
from egvsr.hls.convert import reuse_factors  # noqa: E402
from egvsr.hls.cores import NET, TOP, build_core  # noqa: E402

H, W = 5, 7


@pytest.fixture(scope="module")
def tiny():
    return Bundle(*random_bundle(nf=16, nb=2, seed=0))


@pytest.fixture(scope="module")
def top(tiny, tmp_path_factory):
    """The SRNet top at the kv260 plan's reuse factors, converted (not compiled) at H x W."""
    b = get_board("kv260")
    plan = plan_hls(tiny, b, 960, 540, 60, 4)
    reuse = reuse_factors(tiny.graph(NET), plan["folding"])
    core = build_core(tiny, TOP, H, W, tmp_path_factory.mktemp("top") / "top", b.part,
                      b.clock_period_ns, reuse=reuse, pixels_per_beat=4)
    return core, reuse


def _struct(text, name):
    m = re.search(r"struct %s : nnet::\w+ \{(.*?)\n\};" % re.escape(name), text, re.S)
    assert m, name
    return {k: v.strip() for k, v in re.findall(r"static const [\w:]+ (\w+) =\s*([^;]+);", m.group(1))}


def _width(defines, type_name):
    """Bit width of an ap_(u)fixed/ap_(u)int typedef, or of the element of an nnet::array one."""
    m = re.search(r"typedef (.*?) %s;" % re.escape(type_name), defines)
    assert m, type_name
    w = re.search(r"ap_u?(?:fixed|int)<(\d+)", m.group(1))
    return int(w.group(1))


def test_line_buffer_and_accumulator_from_the_project(top, tiny):
    """Per conv: hls4ml's padded input width, channels, element width and accumulator width
    give exactly the model's SRL line-buffer LUTs and accum width; its mult config gives
    the model's DSPs and weight ROM."""
    core, reuse = top
    fw = core.project_dir / "firmware"
    params = (fw / "parameters.h").read_text()
    defines = (fw / "defines.h").read_text()
    src = (fw / f"{core.hls_model.config.get_project_name()}.cpp").read_text()
    graph = tiny.graph(NET)
    calls = re.findall(r"nnet::conv_2d_cl<(\w+), (\w+), (config\d+)>\([^)]*\); // Conv2D_(\w+)", src)
    assert sorted(c[3] for c in calls) == sorted(reuse)
    for in_t, _res_t, cfg, name in calls:
        node = graph.node(name)
        c = _struct(params, cfg)
        m = _struct(params, cfg + "_mult")
        # zero padding is a layer of its own: the conv sees the padded map, no padding inside
        assert [c[k] for k in ("pad_top", "pad_bottom", "pad_left", "pad_right")] == ["0"] * 4
        assert (int(c["in_height"]), int(c["in_width"])) == (H + 2, W + 2)
        assert int(c["filt_height"]) == 3 and c["strategy"] == "nnet::resource"
        assert c["implementation"] == "nnet::conv_implementation::linebuffer"
        n_chan, in_bits = int(c["n_chan"]), _width(defines, in_t)
        assert n_chan == node.layer["cin"] and in_bits == node.inputs[0].bits
        rf = int(m["reuse_factor"])
        parts = hls_cost.conv3x3_parts(node.layer["cin"], node.layer["cout"], in_bits,
                                       node.layer["w_bits"], rf, {"h": H, "w": W})
        # ap_shift_reg<value_type, in_width> line_buffer[filt_height - 1][n_chan]: one SRLC32E
        # per 32 stages per bit
        rows = int(c["filt_height"]) - 1
        assert parts["lut"]["line_buffer"] == rows * n_chan * in_bits * math.ceil(int(c["in_width"]) / 32)
        assert parts["acc_bits"] == _width(defines, f"Conv2D_{name}_accum_t")
        block = -(-int(m["n_in"]) * int(m["n_out"]) // rf)
        w_bits = _width(defines, re.search(r"typedef (\w+) weight_t;", params[params.index(
            f"struct {cfg}_mult"):]).group(1))
        assert parts["dsp"] == block
        assert parts["bram36"] == hls_bram36(block * w_bits, rf, lutram_below=0)


def test_template_structure_behind_the_model(top):
    """The source lines the model rests on are the ones hls4ml copied into the project."""
    core, _ = top
    nu = core.project_dir / "firmware" / "nnet_utils"
    conv2d = (nu / "nnet_conv2d_stream.h").read_text()
    res = conv2d[conv2d.index("void conv_2d_buffer_resource_cl("):conv2d.index("void conv_2d_cl(")]
    lat = conv2d[conv2d.index("void conv_2d_buffer_latency_cl("):conv2d.index("void conv_2d_buffer_resource_cl(")]
    assert "PIPELINE" not in res                      # the Resource pixel loop is not pipelined
    assert "#pragma HLS PIPELINE II=CONFIG_T::reuse_factor" in lat
    assert re.search(r"static ap_shift_reg<typename data_T::value_type, CONFIG_T::in_width> "
                     r"line_buffer\[MAX\(CONFIG_T::filt_height - 1, 1\)\]\s*\[CONFIG_T::n_chan\];", res)
    assert "ARRAY_PARTITION variable = line_buffer complete dim = 2" in res
    stream = (nu / "nnet_conv_stream.h").read_text()
    cob = stream[stream.index("void compute_output_buffer_2d("):stream.index("void compute_output_buffer_1d(")]
    assert "#pragma HLS INLINE OFF" in cob
    slb = stream[stream.index("void shift_line_buffer("):stream.index("void compute_output_buffer_2d(")]
    assert "#pragma HLS PIPELINE" in slb
    dense = (nu / "nnet_dense_resource.h").read_text()
    assert dense.count("#pragma HLS RESOURCE variable=weights core=ROM_nP_BRAM") == 3
    assert dense.count("if (CONFIG_T::reuse_factor > 1) {") == 3
    assert dense.count("#pragma HLS PIPELINE II=1 rewind") == 3
    assert dense.count("#pragma HLS ARRAY_RESHAPE   variable=weights block factor=block_factor") == 3


_COUNTERS = ('#ifndef EGVSR_COUNTERS\n#define EGVSR_COUNTERS\n'
             'extern "C" { __attribute__((weak)) long egvsr_pixels = 0; '
             '__attribute__((weak)) long egvsr_dense = 0; __attribute__((weak)) long egvsr_reuse = 0; }\n'
             '#endif\n')


def _insert_before(path, marker, text, start=None):
    """Insert `text` before the first `marker` (after `start`, when given) of a header."""
    src = path.read_text()
    i = src.index(start) if start else 0
    j = src.index(marker, i)
    path.write_text(src[:j] + text + src[j:])


@pytest.mark.slow
@pytest.mark.parametrize("rf", [24, 288])
def test_csim_counts_match_the_clock_model(tiny, tmp_path, rf):
    """C simulation of one conv core with counters in hls4ml's own loops: per frame the
    pixel loop runs (H+2)*(W+2) times, the dense kernel H*W times and its ReuseLoop RF
    times per call (RF <= n_in and RF > n_in kernels); the model's frame clocks are those
    counts times its per-part clocks."""
    b = get_board("kv260")
    core = build_core(tiny, "rb0_conv1", H, W, tmp_path / "c", b.part, b.clock_period_ns,
                      reuse={"rb0_conv1": rf})
    nu = core.project_dir / "firmware" / "nnet_utils"
    conv = nu / "nnet_conv_stream.h"
    _insert_before(conv, "namespace nnet {", _COUNTERS)
    _insert_before(conv, "    // Add pixel to buffer\n", "    egvsr_pixels++;\n", "void compute_output_buffer_2d(")
    _insert_before(conv, "        // Dense multiply\n", "        egvsr_dense++;\n", "void compute_output_buffer_2d(")
    dense = (nu / "nnet_dense_resource.h").read_text()
    loop = "        #pragma HLS PIPELINE II=1 rewind\n"
    assert dense.count(loop) == 3                     # the ReuseLoop of the three kernels
    dense = dense.replace("namespace nnet {", _COUNTERS + "namespace nnet {", 1)
    (nu / "nnet_dense_resource.h").write_text(dense.replace(loop, loop + "        egvsr_reuse++;\n"))
    core.compile()
    lib = core.hls_model._top_function_lib
    counts = {k: ctypes.c_long.in_dll(lib, "egvsr_" + k) for k in ("pixels", "dense", "reuse")}
    for c in counts.values():
        c.value = 0
    frames = 2
    core.run(np.random.default_rng(0).integers(0, 256, (frames, H, W, 16)))
    got = {k: c.value / frames for k, c in counts.items()}
    assert got == {"pixels": (H + 2) * (W + 2), "dense": H * W, "reuse": H * W * rf}
    parts = hls_cost.conv3x3_parts(16, 16, 8, 8, rf, {"h": H, "w": W})
    assert parts["frame_clocks"] == (got["reuse"] + got["dense"] * hls_cost.DENSE_OVERHEAD
                                     + got["pixels"] * hls_cost.PIXEL_OVERHEAD)
