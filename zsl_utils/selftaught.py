"""Self-taught learning and clustering: features learned from unlabelled, unrelated images.

Introduced in notebook 11, for the lecture's bottom row: the source data are unlabelled and
need not share the target's classes (natural photographs, or other animals). In self-taught
learning (Raina et al. 2007) the target has a few labels; in self-taught clustering (Dai et al.
2008) it has none. As Raina et al. did, we learn sparse-coding bases from small patches of the
unlabelled images (`contrast_normalise`, `fit_dictionary`, `learn_filters`: scikit-learn's
`MiniBatchDictionaryLearning`, trained until its objective stops improving). Unlike Raina et
al., whose features were the sparse codes themselves, we describe every target image by its
linear filter responses, split by sign and averaged over regions (`filter_features`), the
cheap encoder of Coates and Ng (2011); then a logistic regression is trained on a few
labelled target images (`few_label_accuracy`). `random_filters` is the
control: the same feature pipeline with filters nobody learned; `filter_bank` builds any of the
three banks. Without target labels, `cluster_quality` groups the target images by k-means in a
feature space and scores the groups against the hidden classes (NMI, ARI).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from .data import sample_per_class

__all__ = [
    "random_patches",
    "natural_patches",
    "contrast_normalise",
    "fit_dictionary",
    "learn_filters",
    "random_filters",
    "FILTER_SOURCES",
    "filter_bank",
    "filter_features",
    "few_label_accuracy",
    "cluster_quality",
]


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def _as_unit_images(images) -> np.ndarray:
    """(n, height, width) float32 in [0, 1] from uint8 (0..255) or float images in [0, 1]."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:  # torch layout (n, 1, height, width)
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got {images.shape}")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    if images.size and (images.min() < 0 or images.max() > 1):
        raise ValueError("float images must lie in [0, 1]")
    return images.astype(np.float32)


def random_patches(images, n: int, size: int, seed: int = 0) -> np.ndarray:
    """`n` random `size`×`size` patches of `images`, float32 in [0, 1], shape (n, size, size).

    Every image and every position is equally likely. `images`: (m, height, width) uint8 or
    float in [0, 1] (or torch's (m, 1, height, width)). The same `seed` gives the same patches.
    """
    images = _as_unit_images(images)
    _check_count("n", n)
    _check_count("size", size)
    _check_seed(seed)
    if len(images) == 0:
        raise ValueError("images is empty")
    height, width = images.shape[1:]
    if size > min(height, width):
        raise ValueError(f"size {size} is larger than the images ({height}×{width})")
    rng = np.random.default_rng(seed)
    which = rng.integers(len(images), size=n)
    top = rng.integers(0, height - size + 1, size=n)
    left = rng.integers(0, width - size + 1, size=n)
    offsets = np.arange(size)
    rows = top[:, None, None] + offsets[None, :, None]
    cols = left[:, None, None] + offsets[None, None, :]
    return images[which[:, None, None], rows, cols]


@lru_cache(maxsize=1)
def _grey_photos() -> np.ndarray:
    """The two photographs in grey, decoded once per session (read-only: it is shared)."""
    from sklearn.datasets import load_sample_images  # china.jpg and flower.jpg, shipped with it

    photos = load_sample_images().images
    grey = np.stack([photo.mean(axis=2) / 255 for photo in photos]).astype(np.float32)
    grey.flags.writeable = False
    return grey


def natural_patches(n: int, size: int = 28, seed: int = 0) -> np.ndarray:
    """`n` grey `size`×`size` patches of scikit-learn's two photographs, float32 in [0, 1].

    The unlabelled natural images of Raina et al.'s setting (they used patches of photographs
    of natural scenes); grey is the mean of the red, green and blue channels.
    """
    return random_patches(_grey_photos(), n, size, seed)


def contrast_normalise(patches: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """Patches (n, size, size) as float64 rows (m, size²): mean removed, divided by
    sqrt(variance + `eps`), flat patches (norm under 1e-2 after mean removal) dropped.

    The per-patch contrast normalisation of Coates and Ng: faint and strong edges get about
    the same scale (a full-contrast patch has norm near size), so one sparsity penalty suits
    photographs and silhouettes alike; `eps` keeps faint noise from being blown up.
    """
    patches = np.asarray(patches)
    if patches.ndim != 3 or patches.shape[1] != patches.shape[2]:
        raise ValueError(f"patches must have shape (n, size, size), got {patches.shape}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    flat = patches.reshape(len(patches), -1).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    flat = flat[np.linalg.norm(flat, axis=1) > 1e-2]
    return flat / np.sqrt(flat.var(axis=1, keepdims=True) + eps)


def fit_dictionary(
    patches: np.ndarray, n_filters: int = 16, alpha: float = 1.0, seed: int = 0
) -> MiniBatchDictionaryLearning:
    """scikit-learn's `MiniBatchDictionaryLearning` fitted to the contrast-normalised
    `patches` (n, size, size) with L1 penalty `alpha`, until converged.

    Minibatches of 256; training stops when the objective has not improved for 10
    minibatches or the dictionary changes by under 1e-3 (at most 100 passes). The fitted
    learner's `n_steps_` and `n_iter_` say how long it took. No labels are used. The codes of
    each minibatch are solved only approximately (their warnings are silenced): the stopping
    rule above is on the whole objective.
    """
    _check_count("n_filters", n_filters)
    _check_seed(seed)
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    flat = contrast_normalise(patches)
    if len(flat) < n_filters:
        raise ValueError(f"only {len(flat)} patches are not flat, fewer than n_filters={n_filters}")
    learner = MiniBatchDictionaryLearning(
        n_filters,
        alpha=alpha,
        batch_size=256,
        max_iter=100,
        tol=1e-3,
        max_no_improvement=10,
        fit_algorithm="cd",
        transform_algorithm="lasso_cd",
        transform_alpha=alpha,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return learner.fit(flat)


def learn_filters(
    patches: np.ndarray, n_filters: int = 16, alpha: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Sparse-coding bases of `patches` (n, size, size): (n_filters, size, size), unit norm.

    The dictionary of `fit_dictionary` (contrast-normalised patches, trained to convergence
    with L1 penalty `alpha`), as filters.
    """
    bases = fit_dictionary(patches, n_filters, alpha, seed).components_
    return bases.reshape(n_filters, *np.shape(patches)[1:]).astype(np.float32)


def random_filters(n_filters: int, size: int, seed: int = 0) -> np.ndarray:
    """The control: `n_filters` Gaussian random filters (n_filters, size, size), each with
    zero mean and unit norm like the learned bases."""
    _check_count("n_filters", n_filters)
    _check_count("size", size)
    _check_seed(seed)
    filters = np.random.default_rng(seed).standard_normal((n_filters, size * size))
    filters -= filters.mean(axis=1, keepdims=True)
    filters /= np.linalg.norm(filters, axis=1, keepdims=True)
    return filters.reshape(n_filters, size, size).astype(np.float32)


FILTER_SOURCES = ("random", "photographs", "images")


def filter_bank(
    source: str,
    n_filters: int,
    size: int,
    seed: int = 0,
    n_patches: int = 3000,
    images=None,
    alpha: float = 1.0,
) -> np.ndarray:
    """One bank of `n_filters` filters (n_filters, size, size) from one of `FILTER_SOURCES`.

    "random": `random_filters` (the control); "photographs": `learn_filters` on `n_patches`
    patches of scikit-learn's photographs; "images": `learn_filters` on `n_patches` patches of
    the unlabelled `images` (needed for this source only). Introduced in notebook 11.
    """
    if source not in FILTER_SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {FILTER_SOURCES}")
    if (images is None) != (source != "images"):
        raise ValueError('images are needed for source "images" and for it only')
    if source == "random":
        return random_filters(n_filters, size, seed)
    if source == "photographs":
        patches = natural_patches(n_patches, size, seed)
    else:
        patches = random_patches(images, n_patches, size, seed)
    return learn_filters(patches, n_filters, alpha, seed)


def filter_features(images, filters: np.ndarray, grid: int = 4) -> np.ndarray:
    """How strongly each filter responds in each of `grid`×`grid` regions of each image.

    Every image is convolved with every filter (zero padding, same size); positive and
    negative responses are kept apart (max(r, 0) and max(-r, 0), the sign split of Coates
    and Ng 2011) and averaged over each region. Returns float32 (n, 2 · n_filters · grid²).
    """
    images = _as_unit_images(images)
    filters = np.asarray(filters, dtype=np.float32)
    if filters.ndim != 3 or filters.shape[1] != filters.shape[2] or filters.shape[1] % 2 == 0:
        raise ValueError(
            f"filters must have shape (k, size, size) with odd size, got {filters.shape}"
        )
    _check_count("grid", grid)
    if grid > min(images.shape[1:]):
        raise ValueError(f"grid {grid} is finer than the images {images.shape[1:]}")
    weight = torch.from_numpy(filters).unsqueeze(1)
    with torch.no_grad():
        response = torch.nn.functional.conv2d(
            torch.from_numpy(images).unsqueeze(1), weight, padding=filters.shape[1] // 2
        )
        split = torch.cat([response.clamp(min=0), (-response).clamp(min=0)], dim=1)
        pooled = torch.nn.functional.adaptive_avg_pool2d(split, grid)
    return pooled.flatten(1).numpy()


def few_label_accuracy(
    train_features,
    train_labels,
    test_features,
    test_labels,
    n_per_class: int,
    seed: int = 0,
    C: float = 1.0,
) -> float:
    """Test accuracy of a logistic regression trained on `n_per_class` random labelled
    examples of every class, drawn from (`train_features`, `train_labels`) with `seed`.

    The few-label target task of notebook 11; `C` is scikit-learn's inverse L2 strength.
    """
    train_features, test_features = np.asarray(train_features), np.asarray(test_features)
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    for name, features, labels in (
        ("train", train_features, train_labels),
        ("test", test_features, test_labels),
    ):
        if features.ndim != 2 or labels.shape != (len(features),):
            raise ValueError(
                f"{name}: need features (n, d) and one label per row, "
                f"got {features.shape} and {labels.shape}"
            )
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(
            f"train features have {train_features.shape[1]} dimensions, "
            f"test features {test_features.shape[1]}"
        )
    if len(np.unique(train_labels)) < 2:
        raise ValueError("train_labels must hold at least two classes")
    if unknown := sorted(set(test_labels.tolist()) - set(train_labels.tolist())):
        raise ValueError(f"test labels {unknown} have no training examples")
    chosen = sample_per_class(train_labels, n_per_class, seed)
    classifier = LogisticRegression(C=C, max_iter=2000)
    classifier.fit(train_features[chosen], train_labels[chosen])
    return float((classifier.predict(test_features) == test_labels).mean())


def cluster_quality(features, labels, n_clusters: int, seed: int = 0, n_init: int = 10) -> dict:
    """How well k-means groups of `features` (n, d) match the hidden `labels` (n,).

    The features are clustered as they are (no label is read) by scikit-learn's `KMeans` with
    `n_clusters` clusters and `n_init` restarts from `seed` (the run with the lowest
    within-cluster sum of squares is kept); then the clusters are compared with `labels`:
    {"NMI": normalised mutual information (arithmetic mean of the two entropies),
    "ARI": adjusted Rand index}. Both are 1 for a perfect match and invariant to how the
    clusters are numbered; ARI is 0 on average for a random grouping. Introduced in
    notebook 11.
    """
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(
            f"need features (n, d) and one label per row, got {features.shape} and {labels.shape}"
        )
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or infinite values")
    _check_count("n_clusters", n_clusters)
    _check_count("n_init", n_init)
    _check_seed(seed)
    if n_clusters > len(features):
        raise ValueError(f"n_clusters={n_clusters} is more than the {len(features)} samples")
    kmeans = KMeans(n_clusters, n_init=n_init, random_state=seed)
    clusters = kmeans.fit_predict(features.astype(np.float64))
    return {
        "NMI": float(normalized_mutual_info_score(labels, clusters)),
        "ARI": float(adjusted_rand_score(labels, clusters)),
    }
