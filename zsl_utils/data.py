"""The course's embedded data: animal silhouettes, their class attributes and splits.

Introduced in notebook 00. `data/README.md` says where each file comes from;
`scripts/build_animals.py` rebuilds them from the published source.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "AnimalsData",
    "load_animals",
    "data_dir",
    "verify_checksums",
    "sample_per_class",
    "make_animals_m",
]

SPLIT_KEYS = ("trainval_loc", "test_seen_loc", "test_unseen_loc", "train_loc", "val_loc")


class ChecksumError(ValueError):
    """A data file's SHA-256 differs from the one recorded in data/SHA256SUMS."""


def data_dir() -> Path:
    """The folder holding the course data: $ZSL_DATA_DIR if set, else the repository's data/."""
    override = os.environ.get("ZSL_DATA_DIR")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "data"


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: rebuild data/ with `python scripts/build_animals.py`"
        )
    return path


def verify_checksums(root: Path, prefix: str = "") -> None:
    """Check every file listed in `root`/SHA256SUMS whose name starts with `prefix`."""
    listing = _require(root / "SHA256SUMS").read_text().splitlines()
    for line in listing:
        expected, name = line.split(maxsplit=1)
        if not name.startswith(prefix):
            continue
        actual = hashlib.sha256(_require(root / name).read_bytes()).hexdigest()
        if actual != expected:
            raise ChecksumError(
                f"{root / name}: SHA-256 is {actual}, expected {expected}. The file was "
                "changed or corrupted; restore it with git or `python scripts/build_animals.py`."
            )


@dataclass(frozen=True)
class AnimalsData:
    """Animal silhouettes with class attributes and one seen/unseen split (xlsa17 form).

    Class ids index `class_names` and the rows of `attributes`; `*_loc` arrays are
    0-based image indices into `images` and `labels`.
    """

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64 class ids
    class_names: list[str]
    attribute_names: list[str]
    attributes: np.ndarray  # (classes, attributes) float32, binary
    attribute_strengths: np.ndarray  # (classes, attributes) float32 in [0, 1]
    descriptions: list[str]
    split: str
    seen_classes: np.ndarray
    unseen_classes: np.ndarray
    val_classes: np.ndarray
    trainval_loc: np.ndarray
    test_seen_loc: np.ndarray
    test_unseen_loc: np.ndarray
    train_loc: np.ndarray
    val_loc: np.ndarray

    def class_ids(self, names: list[str]) -> np.ndarray:
        """Class ids of `names`, with a clear error for a name not in the dataset."""
        lookup = {name: i for i, name in enumerate(self.class_names)}
        if unknown := [n for n in names if n not in lookup]:
            raise KeyError(f"unknown class names {unknown}; known: {self.class_names}")
        return np.array([lookup[n] for n in names], dtype=np.int64)

    def tensors(self, loc: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Images at `loc` as float tensors (n, 1, 28, 28) in [0, 1], and their labels."""
        loc = np.asarray(loc)
        if loc.ndim != 1 or not np.issubdtype(loc.dtype, np.integer):
            raise ValueError(
                f"loc must be a 1-D array of image indices, got {loc.dtype} {loc.shape}"
            )
        if loc.size and (loc.min() < 0 or loc.max() >= len(self.labels)):
            raise IndexError(f"loc has indices outside 0..{len(self.labels) - 1}")
        x = torch.from_numpy(self.images[loc]).float().div_(255).unsqueeze(1)
        return x, torch.from_numpy(self.labels[loc])

    def class_subset(
        self, names: list[str], loc: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images of the classes `names` (among `loc`, default all), labelled 0..len(names)-1
        in the order of `names`: a new task made of some of the animals (notebooks 01-03)."""
        ids = self.class_ids(names)
        if len(set(ids.tolist())) != len(ids):
            raise ValueError(f"class names repeat: {names}")
        pool = np.arange(len(self.labels)) if loc is None else np.asarray(loc)
        chosen = pool[np.isin(self.labels[pool], ids)]
        x, y = self.tensors(chosen)
        relabel = torch.full((len(self.class_names),), -1, dtype=torch.long)
        relabel[torch.from_numpy(ids)] = torch.arange(len(ids))
        return x, relabel[y]


def sample_per_class(labels, n_per_class: int, seed: int) -> np.ndarray:
    """Indices of `n_per_class` random samples of every class in `labels`, sorted.

    The few-shot draw of notebooks 01-02: the same seed gives the same images.
    """
    labels = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < n_per_class:
            raise ValueError(f"class {c} has {len(members)} samples, fewer than {n_per_class}")
        chosen.append(rng.choice(members, size=n_per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def _read_class_table(path: Path, class_names: list[str]) -> tuple[list[str], np.ndarray]:
    with _require(path).open(newline="") as f:
        header, *rows = list(csv.reader(f))
    if [r[0] for r in rows] != class_names:
        raise ValueError(f"{path}: rows {[r[0] for r in rows]} do not match {class_names}")
    return header[1:], np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float32)


def _read_descriptions(path: Path, class_names: list[str]) -> list[str]:
    with _require(path).open(newline="") as f:
        rows = {r["class"]: r["description"] for r in csv.DictReader(f)}
    if missing := [c for c in class_names if c not in rows]:
        raise ValueError(f"{path}: no description for {missing}")
    return [rows[c] for c in class_names]


def _read_split(path: Path, class_ids: dict[str, int], n_images: int) -> dict[str, np.ndarray]:
    raw = json.loads(path.read_text())
    split = {}
    for key in ("seen_classes", "unseen_classes", "val_classes"):
        split[key] = np.array([class_ids[name] for name in raw[key]], dtype=np.int64)
    for key in SPLIT_KEYS:
        loc = np.array(raw[key], dtype=np.int64)
        if loc.size and (loc.min() < 0 or loc.max() >= n_images):
            raise ValueError(f"{path}: {key} has indices outside 0..{n_images - 1}")
        split[key] = loc
    return split


def load_animals(split: str = "proposed") -> AnimalsData:
    """Load the animal silhouettes (10 classes × 1000 images, 28×28) with attributes and a split.

    Checks every file against data/SHA256SUMS first; loads arrays without pickle.
    """
    root = data_dir()
    available = sorted(
        p.stem.removeprefix("split_") for p in (root / "animals").glob("split_*.json")
    )
    if split not in available:
        raise ValueError(f"unknown split {split!r}; available: {available}")
    verify_checksums(root, prefix="animals/")
    with np.load(_require(root / "animals" / "animals.npz"), allow_pickle=False) as npz:
        images, labels, class_names = npz["images"], npz["labels"], npz["class_names"].tolist()
    attribute_names, attributes = _read_class_table(
        root / "animals" / "attributes.csv", class_names
    )
    strength_names, strengths = _read_class_table(
        root / "animals" / "attribute_strengths.csv", class_names
    )
    if strength_names != attribute_names:
        raise ValueError("attributes.csv and attribute_strengths.csv name different attributes")
    ids = {name: i for i, name in enumerate(class_names)}
    return AnimalsData(
        images=images,
        labels=labels,
        class_names=class_names,
        attribute_names=attribute_names,
        attributes=attributes,
        attribute_strengths=strengths,
        descriptions=_read_descriptions(root / "animals" / "descriptions.csv", class_names),
        split=split,
        **_read_split(root / "animals" / f"split_{split}.json", ids, len(labels)),
    )


def _sample_photos() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images  # the two photographs scikit-learn ships

    return list(load_sample_images().images)


def make_animals_m(
    images: np.ndarray, seed: int, photos: list[np.ndarray] | None = None
) -> np.ndarray:
    """Animals-M: each silhouette blended with a random patch of a colour photograph.

    Built the way Ganin et al. (2016) built MNIST-M from MNIST: for every image, a random
    photo (default: scikit-learn's two sample photographs, china.jpg and flower.jpg) and a
    random 28×28 patch of it are drawn, and each colour channel becomes |patch − image|.
    Black background takes the photo's colours, a white shape becomes their negative.
    Introduced in notebook 03 (domain-adversarial training).

    `images`: uint8 array (n, 28, 28), as in `AnimalsData.images`; `photos`: uint8 arrays
    (height, width, 3), each at least 28×28. Returns a uint8 array (n, 3, 28, 28) with values
    in 0..255, channels first like torch; the same `seed` always gives the same result.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 (0..255), got {images.dtype}")
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (n, 28, 28), got {images.shape}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    photos = _sample_photos() if photos is None else [np.asarray(p) for p in photos]
    if not photos:
        raise ValueError("photos is empty: give at least one photograph")
    for i, photo in enumerate(photos):
        if photo.dtype != np.uint8:
            raise TypeError(f"photo {i} must be uint8, got {photo.dtype}")
        if photo.ndim != 3 or photo.shape[2] != 3 or min(photo.shape[:2]) < 28:
            raise ValueError(f"photo {i} must be (height ≥ 28, width ≥ 28, 3), got {photo.shape}")
    rng = np.random.default_rng(seed)
    n = len(images)
    which = rng.integers(len(photos), size=n)
    heights = np.array([p.shape[0] for p in photos])[which]
    widths = np.array([p.shape[1] for p in photos])[which]
    top = rng.integers(0, heights - 27)  # the patch's corner: uniform over every position
    left = rng.integers(0, widths - 27)
    offsets = np.arange(28)
    patches = np.empty((n, 28, 28, 3), dtype=np.uint8)
    for k, photo in enumerate(photos):
        chosen = np.flatnonzero(which == k)
        rows = top[chosen, None, None] + offsets[None, :, None]
        cols = left[chosen, None, None] + offsets[None, None, :]
        patches[chosen] = photo[rows, cols]
    blended = np.abs(patches.astype(np.int16) - images[..., None].astype(np.int16))
    return blended.astype(np.uint8).transpose(0, 3, 1, 2).copy()
