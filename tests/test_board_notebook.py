"""board/notebooks/egvsr_demo.ipynb runs on the simulated device (nbmake)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NB = Path(__file__).resolve().parents[1] / "board" / "notebooks" / "egvsr_demo.ipynb"


def test_notebook_stored_without_outputs():
    nb = json.loads(NB.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.slow
def test_notebook_runs_with_nbmake():
    pytest.importorskip("nbmake")
    pytest.importorskip("pynq")
    pytest.importorskip("matplotlib")
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("EGVSR_OVERLAY", None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--nbmake", "--nbmake-timeout=120", str(NB)],
                       cwd=NB.parents[2], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
