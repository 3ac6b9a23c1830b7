"""Measuring and choosing without target labels, for unsupervised domain adaptation.

Introduced in notebook 03 (domain-adversarial training). In unsupervised domain adaptation
the target images have no labels, so neither a setting (λ, ...) nor the alignment of the
features may be judged with them:

- `proxy_a_distance(f_src, f_tgt, seed)`: how well a fresh linear classifier tells two sets of
  features apart, as Ben-David et al. (2007, 2010) and Ganin et al. (JMLR 2016) measure the
  distance between domains: d_A = 2 (1 − 2ε), ε its error on held-out features. 0 means the
  domains are indistinguishable, 2 that they are perfectly separable; it does not change when
  the features are rescaled.
- `reverse_validation(predict_forward, fit_reverse, x_tgt, x_src_val, y_src_val)`: Ganin et
  al.'s reverse validation (section 5.1.2, after Zhong et al. 2010): label the target images
  with the adapted model, train a reverse classifier on those pseudo-labels, and score it on
  held-out labelled source images. No target label is read.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["proxy_a_distance", "reverse_validation"]


def _features(f, name: str) -> np.ndarray:
    if hasattr(f, "detach"):
        f = f.detach().cpu().numpy()
    array = np.asarray(f, dtype=float)
    if array.ndim != 2 or len(array) < 2:
        raise ValueError(
            f"{name} must be a 2-D array with at least 2 rows, got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def proxy_a_distance(f_src, f_tgt, seed: int, test_size: float = 0.5) -> float:
    """d_A = 2 (1 − 2ε): ε is the held-out error of a linear domain classifier (logistic
    regression on standardised features) fitted on a stratified part of source (0) and target
    (1) features and tested on the rest (`test_size` of them, split with `seed`).

    About 0 (it can dip slightly below) for indistinguishable domains, 2 for separable ones.
    """
    f_src, f_tgt = _features(f_src, "f_src"), _features(f_tgt, "f_tgt")
    if f_src.shape[1] != f_tgt.shape[1]:
        raise ValueError(
            f"source and target features differ in width: {f_src.shape[1]} and {f_tgt.shape[1]}"
        )
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size!r}")
    f = np.concatenate([f_src, f_tgt])
    domain = np.repeat([0, 1], [len(f_src), len(f_tgt)])
    f_fit, f_held, d_fit, d_held = train_test_split(
        f, domain, test_size=test_size, stratify=domain, random_state=seed
    )
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    error = 1.0 - classifier.fit(f_fit, d_fit).score(f_held, d_held)
    return float(2.0 * (1.0 - 2.0 * error))


def reverse_validation(
    predict_forward: Callable,
    fit_reverse: Callable,
    x_tgt,
    x_src_val,
    y_src_val,
) -> float:
    """The reverse validation score of an adapted model, without any target label.

    `predict_forward(x)` gives the adapted (forward) model's class predictions; the target
    images `x_tgt` are labelled with them; `fit_reverse(x_tgt, pseudo_labels)` trains a
    reverse classifier on them and returns its predict function; the score is that
    classifier's accuracy on the held-out labelled source images (`x_src_val`, `y_src_val`).
    A model whose pseudo-labels are right, and whose alignment lets a classifier carry them
    back to the source domain, scores high.
    """
    if len(x_src_val) != len(y_src_val):
        raise ValueError(
            f"x_src_val has {len(x_src_val)} samples but y_src_val has {len(y_src_val)}"
        )
    if len(x_tgt) == 0 or len(x_src_val) == 0:
        raise ValueError("reverse validation needs target images and source validation images")
    pseudo = np.asarray(_as_numpy(predict_forward(x_tgt)))
    if pseudo.shape != (len(x_tgt),):
        raise ValueError(f"predict_forward must give one label per image, got shape {pseudo.shape}")
    predict_reverse = fit_reverse(x_tgt, pseudo)
    predicted = np.asarray(_as_numpy(predict_reverse(x_src_val)))
    truth = np.asarray(_as_numpy(y_src_val))
    if predicted.shape != truth.shape:
        raise ValueError(
            f"the reverse classifier gave shape {predicted.shape}, expected {truth.shape}"
        )
    return float((predicted == truth).mean())


def _as_numpy(values):
    return values.detach().cpu().numpy() if hasattr(values, "detach") else values
