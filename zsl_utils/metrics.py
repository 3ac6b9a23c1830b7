"""Evaluation the way the zero-shot field does it (Xian et al., TPAMI 2018).

Introduced in notebook 00 and used from notebook 04 on: per-class top-1 accuracy,
the generalized ZSL scores U, S and H, and calibrated stacking (Chao et al., ECCV 2016).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch

__all__ = ["per_class_accuracy", "gzsl_scores", "calibrated_stacking"]


def _as_label_vector(values, name: str) -> np.ndarray:
    array = (
        values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    )
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids, got dtype {array.dtype}")
    return array


def _as_class_set(classes: Iterable[int], name: str) -> np.ndarray:
    array = np.unique(_as_label_vector(list(classes), name))
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    return array


def per_class_accuracy(y_true, y_pred, classes: Iterable[int] | None = None) -> float:
    """Mean over classes of per-class top-1 accuracy (the ZSL standard metric).

    With `classes`, the mean runs over those classes only: samples whose true class is
    not in `classes` are left out, and a prediction outside `classes` counts as wrong.
    Every class in the mean must have at least one sample.
    """
    y_true = _as_label_vector(y_true, "y_true")
    y_pred = _as_label_vector(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("y_true is empty")
    classes = np.unique(y_true) if classes is None else _as_class_set(classes, "classes")
    accuracies = []
    for c in classes:
        mask = y_true == c
        if not mask.any():
            raise ValueError(f"class {c} has no samples in y_true")
        accuracies.append(np.mean(y_pred[mask] == c))
    return float(np.mean(accuracies))


def gzsl_scores(
    y_true, y_pred, seen_classes: Iterable[int], unseen_classes: Iterable[int]
) -> Mapping[str, float]:
    """Generalized ZSL: per-class accuracy on unseen (U) and seen (S) test classes and their
    harmonic mean H = 2·U·S / (U + S), which is 0 when either is 0.

    Predictions range over seen and unseen classes together.
    """
    seen = _as_class_set(seen_classes, "seen_classes")
    unseen = _as_class_set(unseen_classes, "unseen_classes")
    if overlap := sorted(set(seen.tolist()) & set(unseen.tolist())):
        raise ValueError(f"classes {overlap} are both seen and unseen")
    y_true = _as_label_vector(y_true, "y_true")
    if unknown := sorted(
        set(np.unique(y_true).tolist()) - set(seen.tolist()) - set(unseen.tolist())
    ):
        raise ValueError(f"y_true has classes {unknown} that are neither seen nor unseen")
    u = per_class_accuracy(y_true, y_pred, unseen)
    s = per_class_accuracy(y_true, y_pred, seen)
    h = 0.0 if u + s == 0 else 2 * u * s / (u + s)
    return {"U": u, "S": s, "H": h}


def calibrated_stacking(scores, seen_classes: Iterable[int], gamma: float):
    """Subtract `gamma` from the seen-class columns of an (images × classes) score matrix.

    Returns a new array (or tensor, if given one); the input is left unchanged.
    """
    if not np.isfinite(gamma):
        raise ValueError(f"gamma must be finite, got {gamma}")
    if scores.ndim != 2:
        raise ValueError(f"scores must be (images, classes), got shape {tuple(scores.shape)}")
    seen = _as_class_set(seen_classes, "seen_classes")
    n_classes = scores.shape[1]
    if seen.min() < 0 or seen.max() >= n_classes:
        raise ValueError(f"seen_classes {seen.tolist()} out of range for {n_classes} score columns")
    if isinstance(scores, torch.Tensor):
        calibrated = scores.clone() if scores.is_floating_point() else scores.float()
    else:
        calibrated = np.array(scores, dtype=float)
    calibrated[:, seen.tolist()] -= gamma
    return calibrated
