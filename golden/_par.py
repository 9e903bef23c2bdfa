"""Parallel strips for the golden kernels without BLAS thread oversubscription.

OpenBLAS's own threads busy-wait between calls; on a loaded machine that
makes many small, back-to-back matmuls several times slower than one
thread. The golden kernels therefore run their row strips on a small
Python thread pool (numpy releases the GIL in matmul, ufunc loops and
copies) with BLAS limited to one thread for the duration
(`single_thread_blas`, scoped and reference counted; the previous setting
is restored afterwards). Results do not depend on any of this: every strip
writes its own disjoint output rows and every kernel is exact.
"""
from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

__all__ = ["n_workers", "map_strips", "single_thread_blas"]

_MAX_WORKERS = 8
_lock = threading.Lock()
_pool = None
_pool_pid = None
_blas = None  # (get, set) or () when unavailable
_depth = 0
_saved = None


def n_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(_MAX_WORKERS, n))


def _get_pool():
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():  # (re)create after a fork
            _pool = ThreadPoolExecutor(max_workers=n_workers(), thread_name_prefix="golden")
            _pool_pid = os.getpid()
        return _pool


def map_strips(fn, starts) -> None:
    """Run ``fn(start)`` for every start (in parallel when it pays); re-raises errors."""
    starts = list(starts)
    nested = threading.current_thread().name.startswith("golden")
    if len(starts) < 2 or n_workers() < 2 or nested:
        for s in starts:
            fn(s)
        return
    with single_thread_blas():
        for f in [_get_pool().submit(fn, s) for s in starts]:
            f.result()


def _find_blas():
    """(get_num_threads, set_num_threads) of the OpenBLAS numpy uses, or ()."""
    paths = []
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                p = line.split()[-1] if line.strip() else ""
                if "openblas" in os.path.basename(p).lower() and p not in paths:
                    paths.append(p)
    except OSError:
        return ()
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        for suffix in ("64_", "_64_", ""):
            try:
                get = getattr(lib, "openblas_get_num_threads" + suffix)
                set_ = getattr(lib, "openblas_set_num_threads" + suffix)
            except AttributeError:
                continue
            get.restype, get.argtypes = ctypes.c_int, []
            set_.restype, set_.argtypes = None, [ctypes.c_int]
            return (get, set_)
    return ()


@contextmanager
def single_thread_blas():
    """Limit OpenBLAS to one thread inside the block (no-op without OpenBLAS)."""
    global _blas, _depth, _saved
    with _lock:
        if _blas is None:
            _blas = _find_blas()
        if _blas and _depth == 0:
            _saved = _blas[0]()
            if _saved != 1:
                _blas[1](1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _blas and _depth == 0 and _saved is not None and _saved != 1:
                _blas[1](_saved)
