"""MSRA-B's train/val/test split (EvoNet Sec. III): the DRFI split lists, or a seeded split without them.

The 2500/500/2000 split that EvoNet uses ships as file lists ``train_cvpr2013.txt``,
``valid_cvpr2013.txt`` and ``test_cvpr2013.txt`` in the copy's root: one file name (``.jpg``,
``.png`` or bare stem) per line.  Each list must name at least one image, none twice, and no image
may be in two lists (a test image seen in training would inflate every score).  Without lists the
sorted stems are permuted with ``numpy.random.default_rng(seed)`` (seed 0) and cut into the first
2500, the next 500 and the rest (2000 of 5000); a copy of another size is cut in the same
50 % / 10 % / 40 % proportions, and must give at least one training and one test image (the
validation part of a copy of under 6 images may be empty: nothing trains or scores on it).
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np

from evosynth.errors import DataError

#: The DRFI split lists, as redistributed with DSS and Amulet.
MSRA_B_LISTS = {"train": "train_cvpr2013.txt", "val": "valid_cvpr2013.txt", "test": "test_cvpr2013.txt"}
#: EvoNet Sec. III: 2500 training, 500 validation and 2000 test images.
MSRA_B_SPLIT = {"train": 2500, "val": 500, "test": 2000}
MSRA_B_SPLIT_SEED = 0


def _read_list(path: Path) -> list[str]:
    """Stems named in a split list: the first token of each non-empty line, any folder or suffix dropped."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"msra_b: {path}: unreadable split list ({exc}); one image file name a line") from None
    return [Path(line.split()[0]).stem for line in text.splitlines() if line.strip()]


def msra_b_split(root: str | Path, stems: list[str],
                 seed: int = MSRA_B_SPLIT_SEED) -> tuple[dict[str, list[str]], str]:
    """The train/val/test stems of MSRA-B and how they were chosen (``"lists"`` or ``"seeded"``).

    ``stems`` (every image stem found under ``root``) are split by seed when ``root`` holds no lists.
    """
    root = Path(root)
    lists = {split: root / name for split, name in MSRA_B_LISTS.items()}
    present = [split for split, path in lists.items() if path.is_file()]
    if present:
        if len(present) < len(lists):
            absent = ", ".join(str(lists[s]) for s in lists if s not in present)
            raise DataError(f"msra_b: split list {absent} missing; expected all of"
                            f" {', '.join(MSRA_B_LISTS.values())} in {root}/ or none of them")
        splits = {split: _read_list(path) for split, path in lists.items()}
        _check_lists(splits, lists)
        return splits, "lists"
    order = sorted(stems)
    order = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    total = sum(MSRA_B_SPLIT.values())
    n_train = round(len(order) * MSRA_B_SPLIT["train"] / total)
    n_val = round(len(order) * MSRA_B_SPLIT["val"] / total)
    splits = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    if not splits["train"] or not splits["test"]:
        raise DataError(f"msra_b: {root}: {len(order)} image(s) give {len(splits['train'])} training and"
                        f" {len(splits['test'])} test images in the seeded 50/10/40 split; both need at least"
                        f" one (give at least 2 images, or the split lists {', '.join(MSRA_B_LISTS.values())})")
    return splits, "seeded"


def _check_lists(splits: dict[str, list[str]], lists: dict[str, Path]) -> None:
    """Each split list names at least one image, none twice, and no image is in two lists."""
    for split, stems in splits.items():
        if not stems:
            raise DataError(f"msra_b: {lists[split]} names no image; each split list needs at least one")
        repeated = sorted(stem for stem, n in Counter(stems).items() if n > 1)
        if repeated:
            raise DataError(f"msra_b: {lists[split]} names {repeated[0]!r} more than once ({len(repeated)}"
                            " image(s) repeated); each image belongs to one split, once")
    for a, b in combinations(splits, 2):
        shared = sorted(set(splits[a]) & set(splits[b]))
        if shared:
            raise DataError(f"msra_b: {lists[a]} and {lists[b]} share {len(shared)} image(s), e.g. {shared[0]!r};"
                            " the split lists must be disjoint (a test image seen in training inflates scores)")
