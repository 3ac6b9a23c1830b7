"""Self-taught learning: features learned from unlabelled, unrelated images (Raina et al. 2007).

Introduced in notebook 09, for the lecture's last quadrant: the source data are unlabelled
and need not share the target's classes (natural photographs, or other animals), the target
has a few labels. As Raina et al. did, we learn sparse-coding bases from small patches of the
unlabelled images (`learn_filters`, scikit-learn's `MiniBatchDictionaryLearning`), then
describe every target image by how strongly each basis responds in each region of the image
(`filter_features`: convolution, sign split, average pooling), and train a logistic
regression on a few labelled target images (`few_label_accuracy`). `random_filters` is the
control: the same feature pipeline with filters nobody learned.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.linear_model import LogisticRegression

from .data import sample_per_class

__all__ = [
    "random_patches",
    "natural_patches",
    "learn_filters",
    "random_filters",
    "filter_features",
    "few_label_accuracy",
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


def learn_filters(
    patches: np.ndarray, n_filters: int = 16, alpha: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Sparse-coding bases of `patches` (n, size, size): (n_filters, size, size), unit norm.

    Each patch's mean brightness is removed first (the bases code edges and shapes, not
    brightness) and flat patches are dropped; then scikit-learn's `MiniBatchDictionaryLearning`
    makes one pass over them with L1 penalty `alpha`. No labels are used.
    """
    patches = np.asarray(patches)
    if patches.ndim != 3 or patches.shape[1] != patches.shape[2]:
        raise ValueError(f"patches must have shape (n, size, size), got {patches.shape}")
    _check_count("n_filters", n_filters)
    _check_seed(seed)
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    flat = patches.reshape(len(patches), -1).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    flat = flat[np.linalg.norm(flat, axis=1) > 1e-2]
    if len(flat) < n_filters:
        raise ValueError(f"only {len(flat)} patches are not flat, fewer than n_filters={n_filters}")
    learner = MiniBatchDictionaryLearning(
        n_filters, alpha=alpha, batch_size=256, max_iter=1, random_state=seed
    )
    bases = learner.fit(flat).components_
    return bases.reshape(n_filters, *patches.shape[1:]).astype(np.float32)


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

    The few-label target task of notebook 09; `C` is scikit-learn's inverse L2 strength.
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
