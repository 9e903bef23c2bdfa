"""Integer golden model of EGVSR (numpy + standard library only, runs on a PYNQ board).

The arithmetic is defined by docs/numerics.md; HLS, RTL and board backends
must reproduce these functions bit for bit. Modules: `fixed` (rounding,
saturation), `ops` (conv3x3, add, relu, shuffles, pooling, upsampling, flow
ops), `oplib` (one module per bundle op: contract, geometry, golden
execution, cost model, HLS/RTL emitters), `hwgraph` (the hardware graph of
a net, `Bundle.graph`), `bundle` (load/write/validate bundles), `graph`
(layer-list executor), `network` (EGVSR step and sequence), `synth` (random valid
bundles), `bench` (MAC counting and speed).
"""
from .bundle import SCHEMA_VERSION, Bundle, BundleError, load_bundle, write_bundle
from .network import (iter_sequence, run_fnet, run_graph, run_sequence, run_srnet, srnet_input,
                      step)

__all__ = ["SCHEMA_VERSION", "Bundle", "BundleError", "load_bundle", "write_bundle", "run_graph",
           "run_srnet", "run_fnet", "srnet_input", "step", "iter_sequence", "run_sequence"]
