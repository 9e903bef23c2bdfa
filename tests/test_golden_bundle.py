"""golden.bundle: round trip, validation errors, atomic writes."""
import copy
import hashlib
import json
import os

import numpy as np
import pytest

from egvsr.golden import bundle as gb
from egvsr.golden.bundle import Bundle, BundleError, load_bundle, write_bundle
from egvsr.golden.synth import random_bundle


@pytest.fixture(scope="module")
def tiny():
    return random_bundle(nf=16, nb=1, tail="espcn", fnet_div=8, seed=3)


def test_round_trip(tmp_path, tiny):
    manifest, arrays = tiny
    jpath = write_bundle(tmp_path / "b", manifest, arrays)
    assert jpath == tmp_path / "b.json"
    assert sorted(os.listdir(tmp_path)) == ["b.json", "b.npz"]
    assert "arrays_sha256" not in manifest  # caller's manifest untouched
    for p in (tmp_path / "b", tmp_path / "b.json", tmp_path / "b.npz", str(tmp_path / "b")):
        b = load_bundle(p)
        assert b.manifest["arrays_file"] == "b.npz"
        assert b.sha256 == hashlib.sha256((tmp_path / "b.npz").read_bytes()).hexdigest()
        assert set(b.arrays) == set(arrays)
        for k, v in arrays.items():
            np.testing.assert_array_equal(b.arrays[k], v)
            assert b.arrays[k].dtype == v.dtype
    assert [L["name"] for L in b.layers("srnet")] == [L["name"] for L in manifest["srnet"]["layers"]]
    assert b.layer("fnet", "flow_tanh")["op"] == "tanh_flow"
    w, bias = b.weights("srnet", "conv_in")
    assert w.shape == (16, 51, 3, 3) and bias.shape == (16,)
    with pytest.raises(KeyError):
        b.layer("srnet", "nope")
    # deterministic bytes: same arrays -> same hash, equal to the in-memory digest
    write_bundle(tmp_path / "c", manifest, arrays)
    assert load_bundle(tmp_path / "c").sha256 == b.sha256 == Bundle(manifest, arrays).sha256


def _write(tmp_path, tiny, edit=None, arrays_edit=None):
    manifest, arrays = copy.deepcopy(tiny[0]), dict(tiny[1])
    jpath = write_bundle(tmp_path / "b", manifest, arrays)
    if edit or arrays_edit:
        man = json.loads(jpath.read_text())
        if arrays_edit:
            arrays_edit(arrays)
            data = gb.npz_bytes(arrays)
            (tmp_path / "b.npz").write_bytes(data)
            man["arrays_sha256"] = hashlib.sha256(data).hexdigest()
        if edit:
            edit(man)
        jpath.write_text(json.dumps(man))
    return jpath


@pytest.mark.parametrize("edit,match", [
    (lambda m: m.update(schema="other"), "schema"),
    (lambda m: m.update(schema_version=4), "schema_version"),
    (lambda m: m.update(arrays_sha256="0" * 64), "arrays_sha256 mismatch"),
    (lambda m: m.update(arrays_file="missing.npz"), "cannot be read"),
    (lambda m: m["srnet"]["layers"][0].update(weight="ghost.weight"), "missing from the npz"),
    (lambda m: m["srnet"]["layers"][0].update(cout=5), "cout"),
    (lambda m: m["srnet"]["layers"][1].update(in_exp=99), "in_exp"),
    (lambda m: m["srnet"]["layers"][1].update(inputs=["later"]), "earlier layer"),
    (lambda m: m["srnet"]["layers"][1].update(op="conv5x5"), "unknown op"),
    (lambda m: m["srnet"]["layers"][0].update(act="gelu"), "act"),
    (lambda m: m["srnet"].update(output="nope"), "output"),
    (lambda m: m["flow"].update(upsampler="lanczos"), "upsampler"),
    (lambda m: m["fnet"]["layers"][0].pop("out_bits"), "out_bits"),
    (lambda m: m["fnet"]["layers"][2].update(out_exp=0), "keep its input"),
])
def test_bad_manifest_raises(tmp_path, tiny, edit, match):
    jpath = _write(tmp_path, tiny, edit=edit)
    with pytest.raises(BundleError, match=match) as e:
        load_bundle(jpath)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("arrays_edit,match", [
    (lambda a: a.pop("conv_in.bias"), "missing from the npz"),
    (lambda a: a.update({"conv_in.weight": a["conv_in.weight"][:, :50]}), "shape"),
    (lambda a: a.update({"conv_in.weight": np.full((16, 51, 3, 3), -128, np.int16)}), "range"),
    (lambda a: a.update({"conv_in.bias": a["conv_in.bias"].astype(np.int64) + 2**40}), "range"),
])
def test_bad_arrays_raise(tmp_path, tiny, arrays_edit, match):
    jpath = _write(tmp_path, tiny, arrays_edit=arrays_edit)
    with pytest.raises(BundleError, match=match):
        load_bundle(jpath)


def test_float_array_refused(tmp_path, tiny):
    manifest, arrays = tiny
    bad = dict(arrays, **{"conv_in.bias": arrays["conv_in.bias"].astype(np.float32)})
    with pytest.raises(BundleError, match="integer"):
        write_bundle(tmp_path / "b", manifest, bad)
    assert os.listdir(tmp_path) == []


def test_corrupt_npz_and_bad_json(tmp_path, tiny):
    jpath = _write(tmp_path, tiny)
    man = json.loads(jpath.read_text())
    junk = b"PK\x03\x04 this is not a zip file"
    (tmp_path / "b.npz").write_bytes(junk)
    man["arrays_sha256"] = hashlib.sha256(junk).hexdigest()
    jpath.write_text(json.dumps(man))
    with pytest.raises(BundleError, match="corrupt"):
        load_bundle(jpath)
    jpath.write_text("{not json")
    with pytest.raises(BundleError, match="JSON"):
        load_bundle(jpath)
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "absent")


def test_truncated_npz_detected_by_hash(tmp_path, tiny):
    jpath = _write(tmp_path, tiny)
    data = (tmp_path / "b.npz").read_bytes()
    (tmp_path / "b.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="arrays_sha256 mismatch"):
        load_bundle(jpath)


def test_atomic_write_leaves_nothing_on_failure(tmp_path, tiny, monkeypatch):
    manifest, arrays = tiny

    def boom(f, arr, allow_pickle=False):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError, match="disk full"):
        write_bundle(tmp_path / "b", manifest, arrays)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()

    # failure while writing the JSON: the npz may land, the JSON (the commit point) must not
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(gb.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_bundle(tmp_path / "b", manifest, arrays)
    assert sorted(os.listdir(tmp_path)) == ["b.npz"]  # no temp file, no JSON


def test_overwrite_keeps_old_bundle_until_commit(tmp_path, tiny, monkeypatch):
    manifest, arrays = tiny
    write_bundle(tmp_path / "b", manifest, arrays)
    before = (tmp_path / "b.json").read_text()
    monkeypatch.setattr(gb.json, "dumps", lambda *a, **k: (_ for _ in ()).throw(TypeError("x")))
    with pytest.raises(TypeError):
        write_bundle(tmp_path / "b", manifest, arrays)
    assert (tmp_path / "b.json").read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["b.json", "b.npz"]
    load_bundle(tmp_path / "b")


def test_schema_2_anchor_bundle_and_schema_1_rules(tmp_path, real_frames):
    """Schema 2 adds anchor_add; schema-1 bundles still load, but may not use it."""
    from egvsr.golden import ops
    from egvsr.golden.graph import run_graph
    from egvsr.golden.network import srnet_input
    man, arrays = random_bundle(skip="anchor", seed=3)
    assert man["schema_version"] == 3
    path = write_bundle(tmp_path / "a", man, arrays)
    b = load_bundle(path)
    lr, prev = real_frames[1, 40:56, 60:84], real_frames[0, 40:56, 60:84]
    x = srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1))
    t = run_graph(b, "srnet", x, keep=True)
    # the op by its definition: residual and the repeated lr RGB at the finer exponent, one rounding
    e_res = b.layer("srnet", "conv_sub")["out_exp"]
    e = min(e_res, -8)
    s = t["conv_sub"].astype(np.int64) * 2 ** (e_res - e) + np.repeat(x[..., :3].astype(np.int64), 16, -1) * 2 ** (-8 - e)
    want = np.clip(np.round(s / 2.0 ** (-8 - e)), 0, 255)  # np.round: half to even
    assert np.array_equal(t["anchor"], want)
    assert (s % 2 == 1).any()  # some sums are ties: the rounding is exercised
    assert np.array_equal(ops.anchor_add(t["conv_sub"], x, e_res, -8, 16, -8, 8, False), t["anchor"])
    old = copy.deepcopy(man)
    old["schema_version"] = 1
    with pytest.raises(BundleError, match="anchor_add.*schema_version 2"):
        Bundle(old, arrays)
    plain, parr = random_bundle(seed=3)
    plain["schema_version"] = 1
    assert load_bundle(write_bundle(tmp_path / "v1", plain, parr)).manifest["schema_version"] == 1


def test_schema_3_add_inputs_at_own_exponents(real_frames):
    """Schema 3: a residual add's second input may come at its own exponent (quantizer option
    independent_add_exps): both aligned to the finer one, one round-half-even requant; a
    manifest declaring schema 2 may not, and is refused naming the version it needs."""
    from egvsr.golden.graph import run_graph
    from egvsr.golden.network import srnet_input
    man, arrays = random_bundle(nf=8, nb=2, seed=4, own_add_exps=True)
    b = Bundle(man, arrays)
    lr, prev = real_frames[1, 40:56, 60:84], real_frames[0, 40:56, 60:84]
    x = srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1))
    t = run_graph(b, "srnet", x, keep=True)
    assert not b.layer("srnet", "conv_in")["out_signed"]
    for k, (a, r) in enumerate((("conv_in", "rb0_conv2"), ("rb0_add", "rb1_conv2"))):
        L = b.layer("srnet", f"rb{k}_add")
        ea, er = b.layer("srnet", a)["out_exp"], b.layer("srnet", r)["out_exp"]
        assert L["in_exp"] == ea != er   # finer residual in block 0, coarser in block 1
        real = t[a] * 2.0 ** ea + t[r] * 2.0 ** er        # exact in float64
        want = np.clip(np.round(real / 2.0 ** L["out_exp"]), -128, 127)   # half to even, saturate
        assert np.array_equal(t[f"rb{k}_add"], want), k
    old = copy.deepcopy(man)
    old["schema_version"] = 2
    with pytest.raises(BundleError, match="rb0_add.*need schema_version 3"):
        Bundle(old, arrays)


def test_schema_3_per_channel_weight_exponents(real_frames):
    """Schema 3: a conv's weights may carry one exponent per output channel (``w_exps``,
    option per_channel_weights): channel o accumulates at in_exp + w_exps[o] and shifts by
    out_exp - that. Checked against the definition on real frames; the effective (shifted)
    weights the hardware uses give the same; bad w_exps and a schema-2 manifest are refused."""
    from egvsr.golden import ops
    from egvsr.golden.fixed import rshift_rne
    from egvsr.golden.graph import run_graph
    from egvsr.golden.network import srnet_input
    from egvsr.golden.oplib import get
    man, arrays = random_bundle(nf=8, nb=1, seed=5, per_channel=True)
    b = Bundle(man, arrays)
    lr, prev = real_frames[1, 40:56, 60:84], real_frames[0, 40:56, 60:84]
    x = srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1))
    t = run_graph(b, "srnet", x, keep=True)
    L = b.layer("srnet", "conv_in")
    assert len(set(L["w_exps"])) > 1 and L["w_exp"] == min(L["w_exps"])
    acc = ops.conv3x3_acc(x, arrays[L["weight"]], arrays[L["bias"]])
    want = np.stack([np.clip(rshift_rne(np.maximum(acc[..., o], 0), L["out_exp"] - (-8 + e)), -128, 127)
                     for o, e in enumerate(L["w_exps"])], -1)
    assert np.array_equal(t["conv_in"], want) and want.std() > 1
    w, bias, w_exp, w_bits, b_bits = get("conv3x3").effective(L, arrays)
    assert w_bits == L["w_bits"] + max(L["w_exps"]) - w_exp and b_bits == L["b_bits"] + max(L["w_exps"]) - w_exp
    assert np.array_equal(ops.conv3x3(x, w, bias, -8, w_exp, L["out_exp"], 8, True, "relu"), t["conv_in"])
    for bad, match in (([0] * 3, "list of 8"), ([L["w_exp"] + 9] + L["w_exps"][1:], "within 8")):
        m2 = copy.deepcopy(man)
        m2["srnet"]["layers"][0]["w_exps"] = bad
        with pytest.raises(BundleError, match=match):
            Bundle(m2, arrays)
    old = copy.deepcopy(man)
    old["schema_version"] = 2
    with pytest.raises(BundleError, match="w_exps.*schema_version 3"):
        Bundle(old, arrays)
