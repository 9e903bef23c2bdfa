"""The real-video clips that train, select and judge the bundled models (issue 10).

None of these files is in the repository. They are public video from two GitHub
repositories, fetched at the commits below and laid out under a data root
(``EGVSR_DATA``, default ``build/data``) as the README's "Real-video data"
section shows:

- training: four clips of the SAM 2 demo gallery (real camera video, 1280x720,
  H.264), ``sam2/01_dog.mp4`` ...;
- validation (checkpoint selection only, never reported): ``sam2/04_coffee.mp4``;
- held out (reported; none of them trained or selected any bundled model): the
  four Vid4 sequences (``vid4/<clip>/``, the ground-truth frames as distributed
  with VSR-DUF) and SAM 2's ``bedroom`` clip (960x540);
- the bundled clips (carphone, bikes, bigbuckbunny) are reported too, with who
  trained on them (the bundled float checkpoint was trained on bikes and
  bigbuckbunny and selected on carphone; the anchor model starts from it).
"""
from __future__ import annotations

import os
from pathlib import Path

SAM2 = "github.com/facebookresearch/sam2 @ 2b90b9f5ceec907a1c18123530e92e794ad901a4 (Apache-2.0 repository)"
VID4 = "github.com/yhjo09/VSR-DUF @ f6b3c92b4fb746e9072953df4876168b1a83e449, inputs/G/<clip>/ (Vid4 ground truth)"

#: training videos: data-root-relative path -> where it comes from
TRAIN = {f"sam2/{n}.mp4": f"{SAM2}: demo/data/gallery/{n}.mp4"
         for n in ("01_dog", "02_cups", "03_blocks", "05_default_juggle")}
#: the validation clip (selects the checkpoint; not reported)
VAL = {"sam2/04_coffee.mp4": f"{SAM2}: demo/data/gallery/04_coffee.mp4"}
#: held-out clips: name -> (data-root-relative path, where it comes from)
HELDOUT = {**{c: (f"vid4/{c}", VID4.replace("<clip>", c)) for c in ("calendar", "city", "foliage", "walk")},
           "bedroom": ("sam2/bedroom.mp4", f"{SAM2}: notebooks/videos/bedroom.mp4")}


def data_root() -> Path:
    return Path(os.environ.get("EGVSR_DATA", "build/data"))


def heldout_present(root: Path | None = None) -> tuple[dict, list]:
    """({name: path} of the held-out clips found under the data root, [names missing])."""
    root = data_root() if root is None else Path(root)
    found = {n: root / p for n, (p, _) in HELDOUT.items() if (root / p).exists()}
    return found, [n for n in HELDOUT if n not in found]
