"""The still-image training set of the anchor-skip recipe (README "Quality").

Writes ``OUT/train/<name>/0000.png`` (one frame per folder: ``egvsr train
--data OUT/train --moving-prob 1`` turns each into whole-pixel moving
sequences) and ``OUT/val_rocket/`` (rocket moved 1 px down, 2 px right per
frame, 10 frames), so that all three bundled video clips (carphone, bikes,
bigbuckbunny) stay out of training and checkpoint selection and can judge
the model. The images are ``skimage.data`` stills (grey ones as RGB).

    python -m egvsr.model.stills_set build/data/stills
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .data import load_still

TRAIN_STILLS = ("astronaut", "chelsea", "coffee", "brick", "camera", "grass", "gravel", "moon", "clock",
                "coins", "text")
VAL_STILL = "rocket"


def write_stills_set(out) -> Path:
    from PIL import Image
    out = Path(out)
    for name in TRAIN_STILLS:
        (out / "train" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(load_still(name)).save(out / "train" / name / "0000.png")
    val = load_still(VAL_STILL)
    (out / "val_rocket").mkdir(parents=True, exist_ok=True)
    for k in range(10):
        Image.fromarray(np.ascontiguousarray(val[k:k + 400, 2 * k:2 * k + 600])).save(
            out / "val_rocket" / f"{k:04d}.png")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m egvsr.model.stills_set OUT_DIR")
    print(write_stills_set(sys.argv[1]))
