"""The course's data: animal silhouettes, their class attributes and splits; Hangul syllables
read from their letters (`load_hangul`); the xlsa17 benchmark.

Introduced in notebook 00. `data/README.md` says where each file comes from;
`scripts/build_animals.py` rebuilds them from the published source. `load_xlsa17` reads the
ResNet-101 features and proposed splits of Xian et al. (TPAMI 2018) where a user has them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from scipy.io import loadmat

__all__ = [
    "AnimalsData",
    "load_animals",
    "HangulData",
    "load_hangul",
    "data_dir",
    "verify_checksums",
    "sample_per_class",
    "make_animals_m",
    "make_split",
    "with_split",
    "Xlsa17Data",
    "load_xlsa17",
    "XLSA17_URL",
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
            f"{path} is missing: rebuild data/ with `make data` (scripts/build_animals.py "
            "and scripts/build_hangul.py)"
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


def _split_arrays(
    raw: dict, class_ids: dict[str, int], n_images: int, source: object
) -> dict[str, np.ndarray]:
    """The class ids and 0-based index arrays of a split dict (as in split_<name>.json)."""
    split = {}
    for key in ("seen_classes", "unseen_classes", "val_classes"):
        split[key] = np.array([class_ids[name] for name in raw[key]], dtype=np.int64)
    for key in SPLIT_KEYS:
        loc = np.array(raw[key], dtype=np.int64)
        if loc.size and (loc.min() < 0 or loc.max() >= n_images):
            raise ValueError(f"{source}: {key} has indices outside 0..{n_images - 1}")
        split[key] = loc
    return split


def _read_split(path: Path, class_ids: dict[str, int], n_images: int) -> dict[str, np.ndarray]:
    return _split_arrays(json.loads(path.read_text()), class_ids, n_images, path)


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


def _grouped_holdout(
    indices: np.ndarray, images: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    """Hold out about `fraction` of `indices`, keeping identical images on the same side."""
    groups: dict[bytes, list[int]] = {}
    for i in indices:
        groups.setdefault(hashlib.sha1(images[i].tobytes()).digest(), []).append(int(i))
    order = list(groups.values())
    rng.shuffle(order)
    held, kept, target = [], [], round(fraction * len(indices))
    for group in order:
        (held if len(held) < target else kept).extend(group)
    return sorted(kept), sorted(held)


def _class_ids_of(names: Sequence[str], class_names: list[str], role: str) -> list[int]:
    if isinstance(names, str):
        raise TypeError(f"{role} must be a sequence of class names, not the string {names!r}")
    names = list(names)
    if unknown := [n for n in names if n not in class_names]:
        raise ValueError(f"unknown {role} {unknown}; known: {class_names}")
    if len(set(names)) != len(names):
        raise ValueError(f"{role} repeat a class: {names}")
    if not names:
        raise ValueError(f"{role} is empty: name at least one class")
    return sorted(class_names.index(n) for n in names)


def _check_split_inputs(
    images: np.ndarray, labels: np.ndarray, class_names: list[str], seed: int, name: str
) -> None:
    if images.ndim < 2 or len(images) != len(labels):
        raise ValueError(
            f"images {images.shape} must have one entry per label ({len(labels)} labels)"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"labels must lie in 0..{len(class_names) - 1} (one per class name)")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(
            f"name must be letters, digits, '_' or '-' (a file name part), got {name!r}"
        )


def make_split(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    unseen_classes: Sequence[str],
    val_classes: Sequence[str],
    seed: int,
    *,
    name: str,
    test_seen_fraction: float = 0.2,
) -> dict:
    """A seen/unseen class split and its image indices in the xlsa17 form (0-based indices).

    All images of `unseen_classes` form `test_unseen_loc`. Of every seen class, a random
    `test_seen_fraction` of its images goes to `test_seen_loc` and the rest to `trainval_loc`;
    identical images (same bytes) always stay on one side. `train_loc` / `val_loc` divide
    `trainval_loc` by class: `val_classes` (seen classes) against the others. The same inputs
    and `seed` always give the same split. Returns the dict that `scripts/build_animals.py`
    writes to `split_<name>.json`; `with_split` applies it to `AnimalsData` (notebook 09).
    """
    images, labels, class_names = np.asarray(images), np.asarray(labels), list(class_names)
    _check_split_inputs(images, labels, class_names, seed, name)
    if not 0 < test_seen_fraction < 1:
        raise ValueError(f"test_seen_fraction must be between 0 and 1, got {test_seen_fraction}")
    unseen = _class_ids_of(unseen_classes, class_names, "unseen_classes")
    val = _class_ids_of(val_classes, class_names, "val_classes")
    if both := [class_names[c] for c in set(unseen) & set(val)]:
        raise ValueError(f"{both} are both unseen and validation classes; val must be seen")
    seen = [c for c in range(len(class_names)) if c not in unseen]
    if len(seen) - len(val) < 2:
        raise ValueError(
            f"only {len(seen) - len(val)} seen classes besides the validation classes; "
            "need at least 2 to train on"
        )
    if empty := [class_names[c] for c in range(len(class_names)) if not (labels == c).any()]:
        raise ValueError(f"classes {empty} have no images")
    rng = np.random.default_rng(seed)
    trainval, test_seen = [], []
    for c in seen:
        kept, held = _grouped_holdout(np.flatnonzero(labels == c), images, test_seen_fraction, rng)
        if not kept or not held:
            raise ValueError(
                f"class {class_names[c]!r} has too few distinct images to put some in both "
                f"trainval and test_seen at test_seen_fraction={test_seen_fraction}"
            )
        trainval += kept
        test_seen += held
    trainval.sort()
    return {
        "name": name,
        "seed": int(seed),
        "seen_classes": [class_names[c] for c in seen],
        "unseen_classes": [class_names[c] for c in unseen],
        "val_classes": [class_names[c] for c in val],
        "trainval_loc": trainval,
        "test_seen_loc": sorted(test_seen),
        "test_unseen_loc": np.flatnonzero(np.isin(labels, unseen)).tolist(),
        "train_loc": [i for i in trainval if labels[i] not in val],
        "val_loc": [i for i in trainval if labels[i] in val],
    }


def with_split(
    data: AnimalsData,
    unseen_classes: Sequence[str],
    val_classes: Sequence[str],
    seed: int,
    *,
    name: str,
    test_seen_fraction: float = 0.2,
) -> AnimalsData:
    """A copy of `data` with another seen/unseen split, made by `make_split`.

    Benchmarks repeat an experiment over several class splits so that no conclusion rests on
    one (notebook 09). `with_split(load_animals(), ("giraffe", "horse", "sheep"),
    ("bear", "dog"), seed=2018, name="proposed")` reproduces the shipped split exactly.
    """
    split = make_split(
        data.images,
        data.labels,
        data.class_names,
        unseen_classes,
        val_classes,
        seed,
        name=name,
        test_seen_fraction=test_seen_fraction,
    )
    ids = {class_name: i for i, class_name in enumerate(data.class_names)}
    return replace(
        data, split=name, **_split_arrays(split, ids, len(data.labels), f"split {name!r}")
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


XLSA17_URL = (
    "https://www.mpi-inf.mpg.de/departments/computer-vision-and-machine-learning/research/"
    "zero-shot-learning/zero-shot-learning-the-good-the-bad-and-the-ugly"
)
_XLSA17_FOLDERS = ("AWA1", "AWA2", "CUB", "SUN", "APY")


@dataclass(frozen=True)
class Xlsa17Data:
    """One data set of the xlsa17 release: ResNet-101 features, class attributes, proposed split.

    Class ids (0-based) index `class_names` and the rows of `attributes`; `*_loc` arrays are
    0-based image indices into `features` and `labels`. `train_loc` and `val_loc` are the
    release's validation split of the seen classes: images of the training classes and of the
    validation classes (disjoint class sets, the validation classes playing unseen); they are
    None for a copy of the release that lacks them.
    """

    name: str  # the release's folder name: AWA1, AWA2, CUB, SUN or APY
    features: np.ndarray  # (images, dims) float32
    labels: np.ndarray  # (images,) int64 class ids
    class_names: list[str]
    attributes: np.ndarray  # (classes, attributes) float32
    trainval_loc: np.ndarray
    test_seen_loc: np.ndarray
    test_unseen_loc: np.ndarray
    seen_classes: np.ndarray  # sorted class ids of trainval_loc
    unseen_classes: np.ndarray  # sorted class ids of test_unseen_loc
    train_loc: np.ndarray | None = None  # images of the validation split's training classes
    val_loc: np.ndarray | None = None  # images of its validation (pseudo-unseen) classes

    @property
    def train_classes(self) -> np.ndarray:
        """Sorted class ids of `train_loc` (the validation split's seen classes)."""
        return np.unique(self.labels[self._validation_loc("train_loc")])

    @property
    def val_classes(self) -> np.ndarray:
        """Sorted class ids of `val_loc` (the validation split's pseudo-unseen classes)."""
        return np.unique(self.labels[self._validation_loc("val_loc")])

    def _validation_loc(self, key: str) -> np.ndarray:
        loc = getattr(self, key)
        if loc is None:
            raise ValueError(
                f"{self.name} has no {key}: this copy of att_splits.mat lacks the release's "
                f"validation split (train_loc, val_loc); download the release again from "
                f"{XLSA17_URL}"
            )
        return loc


def _xlsa17_folder(root: Path, name: str) -> Path:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    folders = {folder.lower(): folder for folder in _XLSA17_FOLDERS}
    if name.lower() not in folders:
        raise ValueError(f"unknown xlsa17 data set {name!r}; known: {', '.join(_XLSA17_FOLDERS)}")
    return root / folders[name.lower()]


def _read_mat(
    path: Path, keys: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """The variables `keys` (required) and those of `optional` that `path` holds."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing. Download the xlsa17 release (xlsa17.zip, 'Proposed Split') "
            f"from {XLSA17_URL} and unpack it; `root` is its data/ folder, which holds "
            f"{', '.join(_XLSA17_FOLDERS)}."
        )
    content = loadmat(path, variable_names=[*keys, *optional])
    if missing := [key for key in keys if key not in content]:
        raise ValueError(f"{path} lacks the variables {missing}; an xlsa17 file has {list(keys)}")
    return content


def _one_based_indices(array: np.ndarray, what: str, upper: int) -> np.ndarray:
    """A MATLAB column (or row) vector of 1-based indices in 1..`upper`, as 0-based int64."""
    array = np.asarray(array)
    if array.ndim > 2 or (array.ndim == 2 and 1 not in array.shape):
        raise ValueError(f"{what} must be a vector, got shape {array.shape}")
    values = array.ravel()
    integral = np.issubdtype(values.dtype, np.integer) or (
        np.issubdtype(values.dtype, np.floating) and np.array_equal(values, np.round(values))
    )
    if not integral:
        raise ValueError(f"{what} must hold whole numbers, got {values.dtype}")
    values = values.astype(np.int64)
    if values.size and (values.min() < 1 or values.max() > upper):
        raise ValueError(
            f"{what} has values outside 1..{upper} (1-based): min {values.min()}, "
            f"max {values.max()}"
        )
    return values - 1


def _cell_strings(cell: np.ndarray, what: str) -> list[str]:
    """A MATLAB cell array of strings, as scipy loads it (object array of string arrays)."""
    names = []
    for i, item in enumerate(np.asarray(cell, dtype=object).ravel()):
        entry = np.asarray(item).ravel()
        if entry.size != 1 or not isinstance(entry[0], str):
            raise ValueError(f"{what} entry {i} is not a string: {item!r}")
        names.append(str(entry[0]))
    return names


def _validation_split(splits: dict, labels: np.ndarray, seen: np.ndarray, class_names: list[str]):
    """0-based `train_loc` and `val_loc` from att_splits.mat, checked, or {} if both absent."""
    present = [key for key in ("train_loc", "val_loc") if key in splits]
    if not present:
        return {}
    if len(present) == 1:
        raise ValueError(
            f"att_splits.mat has {present[0]} but not its partner: the validation split needs "
            "both train_loc and val_loc"
        )
    loc = {
        key: _one_based_indices(splits[key], f"att_splits.mat: {key}", len(labels))
        for key in ("train_loc", "val_loc")
    }
    train, val = (np.unique(labels[loc[key]]) for key in ("train_loc", "val_loc"))
    if len(train) == 0 or len(val) == 0:
        raise ValueError("att_splits.mat: train_loc and val_loc must both hold images")
    if stray := [class_names[c] for c in np.setdiff1d(np.union1d(train, val), seen)]:
        raise ValueError(
            f"att_splits.mat: train_loc/val_loc hold images of {stray}, which are not seen "
            "(trainval) classes; the validation split must keep to the seen classes"
        )
    if both := [class_names[c] for c in np.intersect1d(train, val)]:
        raise ValueError(
            f"att_splits.mat: classes {both} are in both train_loc and val_loc; the validation "
            "classes must be disjoint from the training classes"
        )
    return loc


def load_xlsa17(root: str | os.PathLike, name: str) -> Xlsa17Data:
    """Load one data set of the xlsa17 release of Xian et al. (TPAMI 2018) from `root`.

    `root` is the release's data/ folder: `root/<NAME>/res101.mat` (`features`: dims ×
    images, `labels`: 1-based) and `root/<NAME>/att_splits.mat` (`att`: attributes ×
    classes, 1-based `trainval_loc`, `test_seen_loc`, `test_unseen_loc`, `allclasses_names`,
    and the validation split's 1-based `train_loc` and `val_loc`, read when present).
    `name` is one of AWA1, AWA2, CUB, SUN, APY, in any case. Everything is converted to this
    package's convention: images as rows, classes as rows, 0-based indices. The validation
    split must keep to the seen classes, its training and validation classes disjoint. Never
    downloads.
    """
    folder = _xlsa17_folder(Path(root), name)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} does not exist. Download the xlsa17 release (xlsa17.zip, "
            f"'Proposed Split') from {XLSA17_URL} and unpack it; `root` is its data/ folder."
        )
    res = _read_mat(folder / "res101.mat", ("features", "labels"))
    splits = _read_mat(
        folder / "att_splits.mat",
        ("att", "trainval_loc", "test_seen_loc", "test_unseen_loc", "allclasses_names"),
        optional=("train_loc", "val_loc"),
    )
    features = np.asarray(res["features"])
    if features.ndim != 2:
        raise ValueError(f"res101.mat: features must be a matrix, got shape {features.shape}")
    class_names = _cell_strings(splits["allclasses_names"], "att_splits.mat: allclasses_names")
    att = np.asarray(splits["att"])
    if att.ndim != 2 or att.shape[1] != len(class_names):
        raise ValueError(
            f"att_splits.mat: att has shape {att.shape}, but there are {len(class_names)} "
            "classes in allclasses_names (att must be attributes × classes)"
        )
    labels = _one_based_indices(res["labels"], "res101.mat: labels", len(class_names))
    if features.shape[1] != len(labels):
        raise ValueError(
            f"res101.mat: features has {features.shape[1]} columns (images) but there are "
            f"{len(labels)} labels (features must be dims × images)"
        )
    loc = {
        key: _one_based_indices(splits[key], f"att_splits.mat: {key}", len(labels))
        for key in ("trainval_loc", "test_seen_loc", "test_unseen_loc")
    }
    seen, unseen = np.unique(labels[loc["trainval_loc"]]), np.unique(labels[loc["test_unseen_loc"]])
    if both := [class_names[c] for c in np.intersect1d(seen, unseen)]:
        raise ValueError(f"att_splits.mat: classes {both} are both seen (trainval) and unseen")
    loc.update(_validation_split(splits, labels, seen, class_names))
    return Xlsa17Data(
        name=folder.name,
        features=np.ascontiguousarray(features.T, dtype=np.float32),
        labels=labels,
        class_names=class_names,
        attributes=np.ascontiguousarray(att.T, dtype=np.float32),
        seen_classes=seen,
        unseen_classes=unseen,
        **loc,
    )


@dataclass(frozen=True)
class HangulData:
    """Hangul syllables rendered in many font faces, with their letters as attributes and a
    zero-shot split (xlsa17 form), the same fields as `AnimalsData` plus each image's face.

    Class ids index `class_names` (the syllables as text) and the rows of `attributes`
    (one-hot initial / vowel / final, `zsl_utils.hangul.attribute_names()`); font ids index
    `font_names`. `unseen_fonts` are faces no trainval image uses: their images of seen
    syllables are in `test_seen_loc`, so "a syllable never seen" and "a hand never seen" can be
    told apart. `*_loc` arrays are 0-based image indices.
    """

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64 class ids
    fonts: np.ndarray  # (N,) int64 font ids
    class_names: list[str]
    font_names: list[str]
    attribute_names: list[str]
    attributes: np.ndarray  # (classes, 68) float32, one-hot per position
    split: str
    seen_classes: np.ndarray
    unseen_classes: np.ndarray
    val_classes: np.ndarray
    unseen_fonts: np.ndarray
    trainval_loc: np.ndarray
    test_seen_loc: np.ndarray
    test_unseen_loc: np.ndarray
    train_loc: np.ndarray
    val_loc: np.ndarray

    class_ids = AnimalsData.class_ids
    tensors = AnimalsData.tensors
    class_subset = AnimalsData.class_subset


def load_hangul() -> HangulData:
    """Load the Hangul benchmark (400 syllables × about 29 images, 28×28, 34 faces).

    Checks every file against data/SHA256SUMS first; loads arrays without pickle. Rebuilt by
    `scripts/build_hangul.py`; data/README.md says how the split was chosen.
    """
    from .hangul import attribute_names, attribute_table

    root = data_dir()
    verify_checksums(root, prefix="hangul/")
    folder = root / "hangul"
    with np.load(_require(folder / "hangul.npz"), allow_pickle=False) as npz:
        images, labels, fonts = npz["images"], npz["labels"], npz["fonts"]
        class_names, font_names = npz["class_names"].tolist(), npz["font_names"].tolist()
    raw = json.loads(_require(folder / "split.json").read_text())
    ids = {name: i for i, name in enumerate(class_names)}
    split = _split_arrays(raw, ids, len(labels), folder / "split.json")
    unseen_fonts = np.array([font_names.index(f) for f in raw["unseen_fonts"]], dtype=np.int64)
    return HangulData(
        images=images,
        labels=labels,
        fonts=fonts,
        class_names=class_names,
        font_names=font_names,
        attribute_names=attribute_names(),
        attributes=attribute_table(class_names),
        split="proposed",
        unseen_fonts=unseen_fonts,
        **split,
    )
