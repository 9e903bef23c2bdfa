"""A simulated PYNQ device: DDR, an AXI DMA and the SRNet core, off-board.

:class:`SimDevice` implements the parts of the ``pynq.Device`` interface
that ``pynq.Overlay``, ``pynq.MMIO``, ``pynq.allocate`` and the unmodified
``pynq.lib.dma.DMA`` driver use (``REGISTER_RW`` capability,
``read_registers``/``write_registers``, ``allocate``, ``flush``/``invalidate``,
``get_bitfile_metadata``, ``download``).  Behind the registers:

* :class:`~egvsr.board.simregs.AxiDmaModel` - AXI DMA v7.1 in simple
  (direct register) mode, MM2S and S2MM channels (PG021 register map).
* :class:`~egvsr.board.simregs.SrnetCoreModel` - the SRNet stream core with
  the ``s_axi_control`` register map of :mod:`egvsr.board.regmap`
  (``ap_ctrl_hs``, frame size, STATUS/ERR_COUNT, ID, MAX size, VERSION),
  one LR line per input packet and 4 HR rows per output packet, frame sync
  on TLAST; the frame goes through an *engine*: ``golden.network.run_srnet``
  (default) or the RTL board IP simulated by ``rtl_tb`` (``engine='rtl'``,
  a register-level engine: the driver's register writes since the last
  frame are replayed into the IP's AXI-Lite register file, and the driver
  reads the IP's registers and gets the IP's output packets, cut at its
  TLAST; see :class:`~egvsr.board.simregs.SrnetCoreModel`).
* :class:`~egvsr.board.simregs.IdGpioModel` - AXI GPIO whose inputs carry
  the first 64 bits of the bundle hash.

The "bitstream" of a simulated overlay is a placeholder ``.bit`` file plus the
usual ``.egvsr.json`` (board ``"sim"``); see :func:`make_sim_overlay`.
"""

import bisect
import os
import threading
import weakref

import numpy as np

from . import meta as _meta
from .errors import NoBoardError, OverlayError
from .simregs import AxiDmaModel, IdGpioModel, SrnetCoreModel

try:  # pynq is optional: the package imports without it
    from pynq.pl_server.device import Device as _PynqDevice
    from pynq.buffer import PynqBuffer as _PynqBuffer
except Exception:  # pragma: no cover - exercised only without pynq
    _PynqDevice = object
    _PynqBuffer = None

__all__ = ["SimDevice", "SimMemory", "make_sim_overlay", "golden_engine",
           "rtl_engine", "register_engine", "ENGINES", "SIM_BASES"]

#: AXI-Lite base addresses of the simulated IP (a Zynq-7000 style map).
SIM_BASES = {"dma": 0x40400000, "accel": 0x43C00000, "id": 0x41200000}
_RANGE = 0x10000
_PLACEHOLDER = b"EGVSR simulated overlay: not a bitstream (see .egvsr.json)\n"


def golden_engine(bundle):
    """SRNet through the numpy golden model: ``x (H,W,51) -> (4H,4W,3)``."""
    from egvsr.golden.network import run_srnet

    def run(x):
        return run_srnet(bundle, x)
    run.name = "golden"
    return run


#: Engines by name. ``board`` imports only numpy, pynq and golden, so other
#: engines register themselves: importing ``egvsr.rtl_tb.backend`` adds 'rtl'.
ENGINES = {"golden": golden_engine}


def register_engine(name: str, factory) -> None:
    """Make ``factory(bundle) -> callable x -> y`` available as ``engine=name``."""
    ENGINES[name] = factory


def rtl_engine(bundle):
    """SRNet through the RTL simulation, once ``egvsr.rtl_tb.backend`` is imported."""
    if "rtl" not in ENGINES:
        raise NoBoardError("sim_engine='rtl' is not registered: import egvsr.rtl_tb.backend first "
                           "(needs the 'sim' extra: pip install 'egvsr[sim]')")
    return ENGINES["rtl"](bundle)


class SimMemory:
    """Simulated DDR: contiguous buffers with fake physical addresses.

    Each allocation owns a numpy byte array; the address map holds weak
    references, so a freed buffer makes later DMA to it a decode error, as
    an unmapped address would be on the board.
    """

    BASE = 0x10000000
    ALIGN = 4096

    def __init__(self, device):
        self.device = device
        self._next = self.BASE
        self._bases = []
        self._blocks = {}
        self._lock = threading.Lock()

    def allocate(self, shape, dtype, **kwargs):
        """Return a zeroed ``PynqBuffer`` at a fresh physical address."""
        if _PynqBuffer is None:
            raise NoBoardError("pynq is not installed: no PynqBuffer")
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        backing = np.zeros(max(nbytes, 1), np.uint8)
        with self._lock:
            addr = self._next
            self._next += -(-max(nbytes, 1) // self.ALIGN) * self.ALIGN
            bisect.insort(self._bases, addr)
            self._blocks[addr] = (weakref.ref(backing), nbytes)
        buf = _PynqBuffer(shape, dtype, buffer=backing, device=self.device,
                          device_address=addr, bo=addr, coherent=False)
        return buf

    def _find(self, addr, nbytes):
        with self._lock:
            i = bisect.bisect_right(self._bases, addr) - 1
            if i < 0:
                return None
            base = self._bases[i]
            ref, size = self._blocks[base]
            backing = ref()
            if backing is None:
                del self._blocks[base]
                self._bases.pop(i)
                return None
        if addr + nbytes > base + size:
            return None
        return backing[addr - base: addr - base + nbytes]

    def read(self, addr, nbytes):
        """Bytes ``[addr, addr+nbytes)`` as a copy, or None if unmapped."""
        view = self._find(addr, nbytes)
        return None if view is None else view.copy()

    def write(self, addr, data):
        """Write ``data`` (uint8 array) at ``addr``; False if unmapped."""
        view = self._find(addr, len(data))
        if view is None:
            return False
        view[:] = data
        return True


class _SimParser:
    """Metadata of a simulated overlay, shaped like pynq's HWH parser."""

    def __init__(self, meta):
        self.meta = meta
        ip = meta["ip"]
        width = str(meta["stream"]["dma_data_width"])
        sgw = str(meta.get("dma", {}).get("sg_length_width", 26))
        self.ip_dict = {
            ip["dma"]: _ip_entry(ip["dma"], "xilinx.com:ip:axi_dma:7.1",
                                 SIM_BASES["dma"], {
                "C_INCLUDE_SG": "0", "C_MICRO_DMA": "0",
                "C_SG_LENGTH_WIDTH": sgw,
                "C_INCLUDE_MM2S": "1", "C_INCLUDE_S2MM": "1",
                "C_INCLUDE_MM2S_DRE": "0", "C_INCLUDE_S2MM_DRE": "0",
                "C_M_AXI_MM2S_DATA_WIDTH": width,
                "C_M_AXI_S2MM_DATA_WIDTH": width,
                "C_M_AXIS_MM2S_TDATA_WIDTH": width,
                "C_S_AXIS_S2MM_TDATA_WIDTH": width}),
            ip["accel"]: _ip_entry(ip["accel"], "xilinx.com:hls:egvsr_srnet:1.0",
                                   SIM_BASES["accel"], {}),
        }
        if ip.get("id"):
            self.ip_dict[ip["id"]] = _ip_entry(
                ip["id"], "xilinx.com:ip:axi_gpio:2.0", SIM_BASES["id"],
                {"C_IS_DUAL": "1", "C_ALL_INPUTS": "1", "C_ALL_INPUTS_2": "1",
                 "C_GPIO_WIDTH": "32", "C_GPIO2_WIDTH": "32"})
        self.gpio_dict = {}
        self.interrupt_pins = {}
        self.interrupt_controllers = {}
        self.hierarchy_dict = {}
        self.mem_dict = {}
        self.clock_dict = {}
        self.systemgraph = None


def _ip_entry(name, vlnv, base, params):
    # pynq lower-cases parameter names ("c_include_sg") in its parser
    params = {k.lower(): v for k, v in params.items()}
    return {"fullpath": name, "type": vlnv, "bdtype": None,
            "phys_addr": base, "addr_range": _RANGE, "mem_id": "S_AXI_LITE",
            "memtype": "REGISTER", "gpio": {}, "interrupts": {},
            "parameters": params, "registers": {}, "state": None}


class SimDevice(_PynqDevice):
    """Register-level fake ``pynq.Device`` hosting a simulated EGVSR overlay.

    Parameters
    ----------
    bundle : golden Bundle, optional
        The bundle the simulated hardware computes with.  If omitted,
        ``download`` loads ``sim.bundle_path`` from the overlay metadata.
    engine : ``'golden'`` | ``'rtl'`` | callable | register-level engine
        What computes SRNet behind the stream: a callable ``x -> y`` behind
        the Python register map, or an object with ``register_level = True``
        and ``run_frame`` (``egvsr.rtl_tb.backend.RtlBoardEngine``: the RTL
        board IP; ``for_overlay(meta)``, if present, is called at download).
    threaded : bool
        Run the core in a worker thread (default), so host work overlaps
        the "hardware" as on the board; ``False`` computes inline when a
        frame's last byte arrives.
    """

    def __init__(self, bundle=None, engine="golden", threaded=True,
                 tag="egvsr_sim"):
        if _PynqDevice is object:
            raise NoBoardError("pynq is not installed; the simulated device "
                               "needs it (pip install 'egvsr[board]')")
        super().__init__(tag)
        self.name = "egvsr-sim"
        self.capabilities = {"REGISTER_RW": True, "MEMORY_MAPPED": False,
                             "CALLABLE": False}
        self.default_memory = SimMemory(self)
        self.bundle = bundle
        self.engine = engine
        self.threaded = threaded
        self.timestamp = ""
        self.bitfile_name = None
        self.lock = threading.RLock()
        self.models = {}
        self._windows = []
        self.flushes = 0
        self.invalidates = 0

    # --- pynq.Device interface -------------------------------------------
    def get_bitfile_metadata(self, bitfile_name, partial=False):
        # any EGVSR overlay can be simulated from its metadata alone
        return _SimParser(_meta.read_meta(bitfile_name))

    def download(self, bitstream, parser=None):
        """"Program" the simulated fabric: build the IP models."""
        if parser is None:
            parser = self.get_bitfile_metadata(bitstream.bitfile_name)
        self._build(parser.meta, bitstream.bitfile_name)
        self.post_download(bitstream, parser, self.name)

    def allocate(self, shape, dtype, **kwargs):
        return self.default_memory.allocate(shape, dtype, **kwargs)

    def get_memory(self, description):
        return self.default_memory

    def flush(self, bo, offset, ptr, size):
        self.flushes += 1

    def invalidate(self, bo, offset, ptr, size):
        self.invalidates += 1

    def read_registers(self, address, length):
        model, off = self._decode(address)
        with self.lock:
            return model.read(off).to_bytes(4, "little")[:length]

    def write_registers(self, address, data):
        model, off = self._decode(address)
        words = np.frombuffer(bytes(data), "<u4")
        with self.lock:
            for i, w in enumerate(words):
                model.write(off + 4 * i, int(w))

    def shutdown(self):
        pass

    def close(self):
        """Stop the core's worker thread."""
        core = self.models.get("accel")
        if core is not None:
            core.stop()

    # --- simulation -------------------------------------------------------
    def _decode(self, address):
        for base, model in self._windows:
            if base <= address < base + _RANGE:
                return model, address - base
        raise OverlayError(f"simulated bus: no IP at address {address:#x}")

    def _build(self, meta, bitfile_name):
        self.close()
        bundle = self.bundle
        if bundle is not None and getattr(bundle, "sha256", None) != \
                meta["bundle_sha256"] and meta.get("sim", {}).get("bundle_path"):
            bundle = None  # the "hardware" computes with the bundle it was built from
        if bundle is None:
            path = meta.get("sim", {}).get("bundle_path")
            if not path:
                raise OverlayError(f"{bitfile_name}: simulated overlay has no "
                                   "sim.bundle_path and no bundle was given")
            from egvsr.golden.bundle import load_bundle
            bundle = load_bundle(path)
        engine = self.engine
        if engine is None:
            engine = meta.get("sim", {}).get("engine", "golden")
        if engine == "rtl":
            engine = rtl_engine(bundle)
        elif isinstance(engine, str) and engine in ENGINES:
            engine = ENGINES[engine](bundle)
        elif not (callable(engine) or getattr(engine, "register_level", False)):
            raise ValueError(f"engine must be 'golden', 'rtl', callable or a register-level "
                             f"engine, got {engine!r}")
        if hasattr(engine, "for_overlay"):
            # a register-level engine (the RTL board IP) sized as the overlay's metadata
            # says; built here, before the driver's first register access
            engine = engine.for_overlay(meta)
        core = SrnetCoreModel(self, meta, engine, threaded=self.threaded)
        dma = AxiDmaModel(self, self.default_memory, core,
                          length_bits=meta.get("dma", {}).get("sg_length_width", 26))
        core.sink = dma
        self.models = {"dma": dma, "accel": core}
        self._windows = [(SIM_BASES["dma"], dma), (SIM_BASES["accel"], core)]
        if meta["ip"].get("id"):
            gpio = IdGpioModel(*_meta.id_words(meta["bundle_sha256"]))
            self.models["id"] = gpio
            self._windows.append((SIM_BASES["id"], gpio))


def make_sim_overlay(directory, bundle_sha256, lr_height, lr_width,
                     name="egvsr_sim", bundle_path=None, engine="golden",
                     dma_data_width=64, preset=None, lr_min=(8, 8)):
    """Write a simulated overlay (placeholder ``.bit`` + ``.egvsr.json``).

    ``lr_height x lr_width`` is the largest LR frame the simulated core
    takes, ``lr_min`` the smallest (a run-time size core, as the RTL top;
    ``None``: only the one size, as the HLS wrapper).

    Returns the ``.bit`` path to pass to ``pynq.Overlay(..., device=SimDevice())``
    or :func:`egvsr.board.overlay.load_overlay`.
    """
    os.makedirs(directory, exist_ok=True)
    bit = os.path.join(directory, name + ".bit")
    if lr_min is not None:
        lr_min = (min(int(lr_min[0]), int(lr_height)), min(int(lr_min[1]), int(lr_width)))
    meta = _meta.make_meta(bundle_sha256, lr_height, lr_width, board="sim",
                           preset=preset, dma_data_width=dma_data_width, lr_min=lr_min)
    meta["sim"] = {"engine": engine if isinstance(engine, str) else
                   str(getattr(engine, "name", None) or type(engine).__name__),
                   "bundle_path": None if bundle_path is None
                   else os.path.abspath(str(bundle_path))}
    with open(bit, "wb") as f:
        f.write(_PLACEHOLDER)
    _meta.write_meta(bit, meta)
    return bit
