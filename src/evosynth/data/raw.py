"""Where a dataset's raw files live, read from its params spec alone (no numpy, no file access).

The readers (:mod:`evosynth.data.sources`, :mod:`evosynth.data.saliency`,
:mod:`evosynth.data.kitti_prepared`, :mod:`evosynth.data.stl10`) read from
:func:`root`; the pipeline makes :func:`raw_paths` the dependencies of the
dataset's ``prepare`` stage in both engines, so a changed file re-prepares the
data and reruns whatever was trained on it.
"""

from __future__ import annotations

from typing import Any

#: Debian's ``dataset-fashion-mnist`` package puts the gzipped IDX files here.
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
#: Sources a library ships (scikit-learn's digits): no file of the project's to depend on.
BUNDLED_SOURCES = ("digits",)
#: Sources torchvision may download into ``root`` (``download: true``) when no local copy is found.
DOWNLOADABLE_SOURCES = ("fashion_mnist", "mnist", "cifar10", "stl10")


def default_root(source: str) -> str:
    """The folder a public set is looked for in when its spec gives no ``root``."""
    return DEBIAN_FASHION_MNIST if source == "fashion_mnist" else f"data/raw/{source}"


def root(spec: dict[str, Any]) -> str:
    """The file (npz) or folder every other source reads its raw data from."""
    return spec.get("root") or default_root(spec["source"])


def raw_paths(spec: dict[str, Any]) -> tuple[str, ...]:
    """The user's files and folders a dataset is prepared from: its root and KITTI's ``val_list``.

    None for a bundled set, and none for a set torchvision downloads (``download: true``):
    its folder may not exist before the download, which fetches a published, fixed archive.
    """
    source = spec["source"]
    if source in BUNDLED_SOURCES or (spec.get("download") and source in DOWNLOADABLE_SOURCES):
        return ()
    return (root(spec), *([spec["val_list"]] if spec.get("val_list") else []))
