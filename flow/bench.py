"""``make bench``: every stage's benchmark -> bench/results/*.json.

Suites: ``model`` (float fps at 960x540), ``golden`` (golden vs qonnx vs
onnxruntime), ``hls`` (C-sim fps, compile time, estimated board fps), ``rtl``
(simulated cycles/s, II, yosys figures; the long regression), ``board``
(simulated-device throughput). Each writes its own JSON file.
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

RESULTS = Path("bench/results")


def _board(out):
    from egvsr.board.driver import EgvsrAccel
    from egvsr.golden.bundle import default_bundle_path
    res = {"what": "PYNQ driver on the simulated device (golden behind the DMA), tiny W8A8 bundle",
           "host": platform.node(), "results": {}}
    for h, w in ((34, 42), (68, 120)):
        acc = EgvsrAccel(default_bundle_path(), simulate=True)
        try:
            res["results"][f"{w}x{h}"] = acc.throughput_test(n_frames=4, lr_size=(h, w))
        finally:
            acc.close()
    Path(out).write_text(json.dumps(res, indent=1, default=str))
    return 0


def _rtl(out):
    from egvsr.golden.bundle import default_bundle_path
    from egvsr.rtl_tb.regression import main as regression
    return regression(["--bundle", str(default_bundle_path()), "--out", str(out)])


SUITES = {
    "model": lambda out: __import__("egvsr.model.bench", fromlist=["main"]).main(out),
    "golden": lambda out: __import__("egvsr.quant.bench", fromlist=["main"]).main(out),
    "hls": lambda out: __import__("egvsr.hls.bench", fromlist=["main"]).main(out),
    "board": _board,
    "rtl": _rtl,
}


def main(only=None) -> int:
    names = [s.strip() for s in only.split(",")] if only else list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"egvsr bench: unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    rc = 0
    for n in names:
        t0 = time.time()
        print(f"== bench {n}", flush=True)
        r = SUITES[n](RESULTS / f"{n}.json") or 0
        print(f"== bench {n}: {'ok' if r == 0 else 'FAILED'} in {time.time() - t0:.0f} s -> {RESULTS / (n + '.json')}", flush=True)
        rc = rc or r
    return rc
