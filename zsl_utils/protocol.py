"""The zero-shot evaluation protocol that notebooks 04-09 share, so that their numbers compare.

Notebook 04 introduces it step by step; later notebooks call it:

- `validation_split`: a GZSL validation set carved from the seen classes only (Xian et al.
  2018): the `val_classes` play the unseen classes, and images of the other seen classes held
  out by image content play the seen test images; `validation_class_sets` draws other sets
  of seen classes to play unseen, one per run.
- `train_backbone` and `image_features`: one image network per split, a `SmallCNN` softmax
  classifier trained on the seen classes' images; its hidden layer is the image feature every
  embedding method uses (as the benchmark's methods share ResNet-101 features).
- `xlsa17_validation_split`: the same validation set for the real benchmark, built from the
  xlsa17 release's own validation classes (`train_loc` → `val_loc`);
  `per_class_validation_split` the same for the Hangul benchmark's few images per syllable.
- `choose_gamma`: calibrated stacking's γ, the one with the best validation H.
- `evaluate`: ZSL top-1 and GZSL U, S, H with and without calibration, and AUSUC, for a score
  matrix over all classes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch

from .data import AnimalsData, HangulData, Xlsa17Data
from .metrics import calibrated_stacking, gzsl_scores, per_class_accuracy
from .models import SmallCNN
from .train import fit, predict
from .zeroshot import ausuc, seen_unseen_curve

__all__ = [
    "ValidationSplit",
    "validation_split",
    "validation_class_sets",
    "xlsa17_validation_split",
    "per_class_validation_split",
    "BACKBONE",
    "train_backbone",
    "image_features",
    "choose_gamma",
    "evaluate",
]

BACKBONE = {"channels": (8, 16, 32), "hidden": 64, "epochs": 8, "lr": 3e-3, "batch_size": 128}
"""The backbone's architecture and training settings, the same in every notebook."""


@dataclass(frozen=True)
class ValidationSplit:
    """Image indices and classes of a GZSL validation split drawn from the seen classes.

    `fit_loc`: images to train on (classes `seen_classes`); `val_loc`: validation images,
    held-out images of `seen_classes` followed by all training images of `unseen_classes`.
    """

    fit_loc: np.ndarray
    val_loc: np.ndarray
    seen_classes: np.ndarray
    unseen_classes: np.ndarray


def _image_digests(images: np.ndarray) -> np.ndarray:
    return np.array([hashlib.sha256(image.tobytes()).hexdigest() for image in images])


def validation_split(
    data: AnimalsData,
    held_fraction: float = 0.2,
    seed: int = 0,
    *,
    val_classes: Sequence[int] | None = None,
):
    """Carve a GZSL validation split out of the seen classes' images (`data.trainval_loc`).

    The classes of `data.val_classes`, or the seen classes `val_classes` if given (never
    trained on here), act as unseen: all their training images are validation images. Of the
    other seen classes' training images, a `held_fraction` of the distinct images (grouped by
    content, so exact duplicates stay on one side) is held out as the seen part of the
    validation set. The real unseen classes and the test images are never touched.
    Introduced in notebook 04; notebook 09 rotates `val_classes` from run to run.
    """
    if not 0 < held_fraction < 1:
        raise ValueError(f"held_fraction must be between 0 and 1, got {held_fraction}")
    pseudo_unseen = _pseudo_unseen(data, val_classes)
    trainval = np.asarray(data.trainval_loc)
    is_pseudo_unseen = np.isin(data.labels[trainval], pseudo_unseen)
    train_loc, val_loc = trainval[~is_pseudo_unseen], trainval[is_pseudo_unseen]
    digests = _image_digests(data.images[train_loc])
    distinct = np.unique(digests)
    held_digests = distinct[np.random.default_rng(seed).random(len(distinct)) < held_fraction]
    held = np.isin(digests, held_digests)
    return ValidationSplit(
        fit_loc=train_loc[~held],
        val_loc=np.concatenate([train_loc[held], val_loc]),
        seen_classes=np.setdiff1d(data.seen_classes, pseudo_unseen),
        unseen_classes=pseudo_unseen,
    )


def _pseudo_unseen(data: AnimalsData, val_classes: Sequence[int] | None) -> np.ndarray:
    """The sorted class ids that play unseen in a validation split, checked."""
    if val_classes is None:
        return np.sort(np.asarray(data.val_classes))
    chosen = np.unique(np.asarray(val_classes, dtype=int))
    if not len(chosen):
        raise ValueError("val_classes is empty: name at least one seen class to play unseen")
    if stray := sorted(set(chosen.tolist()) - set(np.asarray(data.seen_classes).tolist())):
        raise ValueError(f"val_classes {stray} are not seen classes of split {data.split!r}")
    if len(np.setdiff1d(data.seen_classes, chosen)) < 2:
        raise ValueError("val_classes must leave at least two seen classes to train on")
    return chosen


def validation_class_sets(seen_classes: Sequence[int], n: int, size: int = 2, seed: int = 0):
    """`n` different sets of `size` seen classes to play unseen in validation, drawn at random
    (with `seed`) among all such sets: one per run, so that settings chosen on validation do
    not all hinge on one set of pseudo-unseen classes. Returns a list of sorted id arrays."""
    seen = np.sort(np.asarray(seen_classes, dtype=int))
    if not 1 <= size <= len(seen) - 2:
        raise ValueError(f"size must be between 1 and {len(seen) - 2} for {len(seen)} seen classes")
    candidates = list(combinations(seen.tolist(), size))
    if not 1 <= n <= len(candidates):
        raise ValueError(f"n must be between 1 and {len(candidates)}, got {n}")
    order = np.random.default_rng(seed).permutation(len(candidates))[:n]
    return [np.array(candidates[i]) for i in order]


def xlsa17_validation_split(data: Xlsa17Data, held_fraction: float = 0.2, seed: int = 0):
    """A GZSL validation split of an xlsa17 data set, from the release's validation classes.

    The classes of `data.val_loc` act as unseen; the classes of `data.train_loc` as seen, and
    of each of them a `held_fraction` of its images (drawn with `seed`, at least one image per
    class on each side) is held out as the seen part of the validation set. Only images of
    `data.trainval_loc` are used: an image the release also lists as a test image never
    informs a choice. Returns a `ValidationSplit` of 0-based image indices. Introduced in
    notebook 09.
    """
    if not isinstance(data, Xlsa17Data):
        raise TypeError(f"data must be an Xlsa17Data (load_xlsa17), got {type(data).__name__}")
    if not 0 < held_fraction < 1:
        raise ValueError(f"held_fraction must be between 0 and 1, got {held_fraction}")
    train_classes = data.train_classes  # raises a clear error if the split is absent
    data.val_classes  # noqa: B018 (the same check for val_loc)
    train_loc = np.intersect1d(data.train_loc, data.trainval_loc)
    val_loc = np.intersect1d(data.val_loc, data.trainval_loc)
    if not len(val_loc):
        raise ValueError("val_loc ∩ trainval_loc is empty: no validation images to choose on")
    fit, held = _hold_out_per_class(
        data.labels, train_loc, train_classes, data.class_names, held_fraction, seed
    )
    return ValidationSplit(
        fit_loc=fit,
        val_loc=np.concatenate([held, val_loc]),
        seen_classes=train_classes,
        unseen_classes=np.unique(data.labels[val_loc]),
    )


def per_class_validation_split(data: HangulData, held_fraction: float = 0.2, seed: int = 0):
    """`validation_split` for data with few images per class (the Hangul benchmark).

    The classes of `data.val_classes` act as unseen (all their `val_loc` images); of every
    other seen class a `held_fraction` of its `train_loc` images (at least one, and at least
    one left to train on) is held out as the seen part, so that every class has validation
    images and per-class accuracy is defined. Introduced in notebook 10.
    """
    if not 0 < held_fraction < 1:
        raise ValueError(f"held_fraction must be between 0 and 1, got {held_fraction}")
    seen = np.setdiff1d(data.seen_classes, data.val_classes)
    fit, held = _hold_out_per_class(
        data.labels, np.asarray(data.train_loc), seen, data.class_names, held_fraction, seed
    )
    return ValidationSplit(
        fit_loc=fit,
        val_loc=np.concatenate([held, data.val_loc]),
        seen_classes=seen,
        unseen_classes=np.asarray(data.val_classes),
    )


def _hold_out_per_class(labels, loc, classes, class_names, held_fraction: float, seed: int):
    """Split `loc` class by class: of each class in `classes`, a `held_fraction` of its images
    (at least one, never all) drawn with `seed` is held out. Returns (fit, held), sorted."""
    rng = np.random.default_rng(seed)
    fit, held = [], []
    for c in classes:
        images = loc[labels[loc] == c]
        if len(images) < 2:
            raise ValueError(
                f"class {class_names[c]!r} has {len(images)} training image(s); "
                "a validation split needs at least 2 per class"
            )
        n_held = min(max(1, round(held_fraction * len(images))), len(images) - 1)
        chosen = rng.permutation(len(images)) < n_held
        held.append(images[chosen])
        fit.append(images[~chosen])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(held))


def train_backbone(
    data: AnimalsData,
    loc: np.ndarray,
    classes: Iterable[int],
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    settings: dict | None = None,
    held_loc: np.ndarray | None = None,
) -> SmallCNN:
    """A `SmallCNN` trained to classify the images `loc` into `classes` (settings `BACKBONE`
    unless `settings` gives others, with the same keys).

    Output column j is class `classes[j]`. Every image in `loc` (and `held_loc`) must belong to
    one of `classes`: a zero-shot backbone never sees an unseen class. With `held_loc`, held-out
    images of those classes, the epochs are a cap and training stops on their accuracy
    (`train.fit` with `validation`; `settings` may also hold its "patience", and "norm" for
    `SmallCNN`). The returned model's `history` is `train.fit`'s. Introduced in notebook 05.
    """
    classes = np.asarray(list(classes))
    settings = dict(BACKBONE if settings is None else settings)
    if missing := sorted(set(BACKBONE) - set(settings)):
        raise ValueError(f"settings lacks {missing}; give every key of BACKBONE")
    x, y = _class_images(data, loc, classes)
    validation = None if held_loc is None else _class_images(data, held_loc, classes)
    torch.manual_seed(seed)
    model = SmallCNN(
        len(classes),
        channels=settings.pop("channels"),
        hidden=settings.pop("hidden"),
        norm=settings.pop("norm", False),
        channels_last=True,  # the same network, trained faster on a CPU
    )
    model.history = fit(
        model,
        x,
        y,
        **settings,
        device=device,
        seed=seed,
        progress=progress,
        desc="backbone",
        validation=validation,
    )
    return model


def _class_images(data, loc, classes: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    labels = data.labels[np.asarray(loc)]
    if stray := sorted(set(np.unique(labels).tolist()) - set(classes.tolist())):
        names = [data.class_names[c] for c in stray]
        raise ValueError(f"loc holds images of classes {names} that are not in `classes`")
    return data.class_subset([data.class_names[c] for c in classes], loc)


class _Features(torch.nn.Module):
    def __init__(self, model: SmallCNN):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x)


def image_features(model: SmallCNN, x: torch.Tensor, device: torch.device | str = "cpu"):
    """The backbone's hidden-layer features of images `x`, as a float32 NumPy array."""
    if not isinstance(model, SmallCNN):
        raise TypeError(f"model must be a SmallCNN, got {type(model).__name__}")
    return predict(_Features(model), x, device=device).numpy()


def choose_gamma(scores, y_true, seen_classes: Iterable[int], unseen_classes: Iterable[int]):
    """The calibrated-stacking γ with the highest H on validation data (the smallest if tied).

    `scores` covers at least the columns of `seen_classes` and `unseen_classes`; other columns
    (e.g. the real unseen classes) are ignored. Introduced in notebook 04.
    """
    curve = seen_unseen_curve(scores, y_true, seen_classes, unseen_classes)
    return float(curve["gamma"][int(np.argmax(curve["H"]))])


def evaluate(
    scores, y_true, seen_classes: Iterable[int], unseen_classes: Iterable[int], gamma: float
) -> dict[str, float]:
    """One results row for test `scores` (images × all classes) and labels `y_true`.

    "ZSL": per-class top-1 on the unseen test images among unseen classes only; "U", "S",
    "H": GZSL, all classes competing; "U+CS", "S+CS", "H+CS": the same after calibrated
    stacking with `gamma` (chosen on validation data, never here); "AUSUC": area under the
    seen-unseen curve. Introduced in notebook 05.
    """
    scores = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else scores
    scores = np.asarray(scores, dtype=np.float64)
    y = y_true.detach().cpu().numpy() if isinstance(y_true, torch.Tensor) else np.asarray(y_true)
    if scores.ndim != 2 or y.shape != (scores.shape[0],):
        raise ValueError(
            f"need scores (images, classes) and one label per image, got {scores.shape}, {y.shape}"
        )
    seen, unseen = np.asarray(list(seen_classes)), np.asarray(list(unseen_classes))
    is_unseen = np.isin(y, unseen)
    if not is_unseen.any() or is_unseen.all():
        raise ValueError("the test labels must include images of seen and of unseen classes")
    zsl_pred = unseen[scores[is_unseen][:, unseen].argmax(axis=1)]
    raw = gzsl_scores(y, scores.argmax(axis=1), seen, unseen)
    calibrated = gzsl_scores(
        y, calibrated_stacking(scores, seen, gamma).argmax(axis=1), seen, unseen
    )
    return {
        "ZSL": per_class_accuracy(y[is_unseen], zsl_pred, unseen),
        **raw,
        **{f"{key}+CS": value for key, value in calibrated.items()},
        "AUSUC": ausuc(seen_unseen_curve(scores, y, seen, unseen)),
    }
