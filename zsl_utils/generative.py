"""Generative zero-shot learning: synthesise image features of unseen classes, then classify.

Introduced in notebook 09. A conditional variational autoencoder over image *features*
(closest to CVAE-ZSL, Mishra et al. 2018; feature generation is also the idea of f-CLSWGAN,
Xian et al. CVPR 2018, with a GAN) learns p(x | a) from the seen classes: the encoder maps a
feature x and its class's semantic vector a to q(z | x, a), the decoder maps (z, a) back to x.
Decoding random z with an unseen class's a gives synthetic features of a class that has no
images. A plain softmax classifier over seen + unseen classes, trained on real seen features
and synthetic unseen ones, then gives the unseen classes training examples of their own; how
much of generalized ZSL's seen-class bias that removes is measured in notebook 09 (not all).

Features are the backbone's ReLU outputs (`protocol.image_features`), so they are
non-negative: the model divides them by one scale (their mean, so non-negativity survives)
and its decoder ends in a ReLU.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .train import fit, predict

__all__ = [
    "FeatureCVAE",
    "cvae_loss",
    "fit_feature_cvae",
    "synthesize",
    "fit_softmax",
    "generative_zsl_scores",
]


class FeatureCVAE(nn.Module):
    """A conditional VAE over image features x given class semantics a (one hidden layer each).

    `encode(x, a)` gives the mean and log-variance of q(z | x, a); `decode(z, a)` gives a
    non-negative feature vector. Both take and return features in their original units:
    the buffer `feature_scale` (set by `fit_feature_cvae`) divides them inside the network.
    """

    def __init__(
        self, feature_dim: int, semantic_dim: int, latent_dim: int = 16, hidden: int = 128
    ):
        super().__init__()
        for name, value in (
            ("feature_dim", feature_dim),
            ("semantic_dim", semantic_dim),
            ("latent_dim", latent_dim),
            ("hidden", hidden),
        ):
            _positive_int(value, name)
        self.feature_dim, self.semantic_dim, self.latent_dim = feature_dim, semantic_dim, latent_dim
        self.encoder = nn.Sequential(
            nn.Linear(feature_dim + semantic_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim + semantic_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, feature_dim),
            nn.ReLU(),
        )
        self.register_buffer("feature_scale", torch.tensor(1.0))

    def encode(self, x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x, a), each (n, latent_dim)."""
        mu, logvar = self.encoder(torch.cat([x / self.feature_scale, a], dim=1)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Features (n, feature_dim), non-negative, decoded from latents z and semantics a."""
        return self.decoder(torch.cat([z, a], dim=1)) * self.feature_scale


def _float_matrix(values, name: str) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if not array.flags.writeable:  # e.g. memory-mapped by joblib: torch needs its own copy
        array = array.copy()
    return torch.from_numpy(array)


def _class_labels(labels, n_classes: int, n_samples: int, name: str = "labels") -> torch.Tensor:
    array = (
        labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    )
    if array.shape != (n_samples,):
        raise ValueError(
            f"{name} must hold one class id per sample ({n_samples}), got {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        stray = sorted(set(array.tolist()) - set(range(n_classes)))
        raise ValueError(f"{name} must be class ids in 0..{n_classes - 1}, got {stray}")
    return torch.from_numpy(array.astype(np.int64))


def _positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def cvae_loss(
    model: FeatureCVAE, x: torch.Tensor, a: torch.Tensor, noise: torch.Tensor, beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The CVAE's loss on a batch, averaged over its samples: (loss, reconstruction, kl).

    (μ, log σ²) = encode(x, a); z = μ + σ · `noise` (the reparameterisation: `noise` ~ N(0, I)
    drawn by the caller, so z is differentiable in μ and σ); x̂ = decode(z, a);
    reconstruction = ‖(x̂ − x) / scale‖² summed over dimensions; kl = KL(N(μ, σ²) ‖ N(0, I))
    = −½ Σ (1 + log σ² − μ² − σ²); loss = reconstruction + `beta` · kl.
    """
    mu, logvar = model.encode(x, a)
    if noise.shape != mu.shape:
        raise ValueError(
            f"noise must have the latents' shape {tuple(mu.shape)}, got {tuple(noise.shape)}"
        )
    x_hat = model.decode(mu + noise * (0.5 * logvar).exp(), a)
    reconstruction = ((x_hat - x) / model.feature_scale).pow(2).sum(dim=1).mean()
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
    return reconstruction + beta * kl, reconstruction, kl


def fit_feature_cvae(
    features,
    labels,
    class_semantics,
    *,
    latent_dim: int = 16,
    hidden: int = 128,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 256,
    beta: float = 1.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> tuple[FeatureCVAE, dict[str, list[float]]]:
    """Train a `FeatureCVAE` on non-negative `features` (n × d) of the classes `labels`.

    `labels` are class ids, rows of `class_semantics` (classes × s), the table that gives each
    class's semantic vector (e.g. `data.attributes`; rows of unseen classes are never read).
    Loss per sample (`cvae_loss`): squared reconstruction error (summed over dimensions, on
    features divided by their mean) + `beta` · KL(q(z | x, a) ‖ N(0, I)); Adam. Returns the
    model in eval mode and the mean "loss", "reconstruction" and "kl" of every epoch.
    """
    x = _float_matrix(features, "features")
    table = _float_matrix(class_semantics, "class_semantics")
    y = _class_labels(labels, len(table), len(x))
    if x.min() < 0:
        raise ValueError("features must be non-negative (the backbone's ReLU outputs)")
    if float(x.mean()) == 0:
        raise ValueError("features are all zero: there is nothing to model")
    _positive_int(epochs, "epochs")
    _positive_int(batch_size, "batch_size")
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number >= 0, got {beta}")
    torch.manual_seed(seed)
    model = FeatureCVAE(x.shape[1], table.shape[1], latent_dim, hidden)
    model.feature_scale.fill_(float(x.mean()))
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    x, y, table = x.to(device), y.to(device), table.to(device)
    history: dict[str, list[float]] = {"loss": [], "reconstruction": [], "kl": []}
    for _ in tqdm(range(epochs), desc="feature CVAE", disable=not progress, leave=False):
        totals = dict.fromkeys(history, 0.0)
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            noise = torch.randn(len(batch), model.latent_dim, generator=generator).to(device)
            loss, reconstruction, kl = cvae_loss(model, x[batch], table[y[batch]], noise, beta)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            for key, value in (("loss", loss), ("reconstruction", reconstruction), ("kl", kl)):
                totals[key] += value.item() * len(batch)
        for key in history:
            history[key].append(totals[key] / len(x))
    model.eval()
    return model, history


@torch.no_grad()
def synthesize(
    model: FeatureCVAE,
    class_semantics,
    classes: Iterable[int],
    n_per_class: int,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """`n_per_class` synthetic features of every class in `classes` (ids, rows of
    `class_semantics`): decode z ~ N(0, I) with the class's semantic vector.

    Returns features (len(classes) · n_per_class × d, float32) and their class ids (int64),
    class by class in the order of `classes`.
    """
    if not isinstance(model, FeatureCVAE):
        raise TypeError(f"model must be a FeatureCVAE, got {type(model).__name__}")
    table = _float_matrix(class_semantics, "class_semantics")
    if table.shape[1] != model.semantic_dim:
        raise ValueError(
            f"class_semantics has {table.shape[1]} dimensions but the model expects "
            f"{model.semantic_dim}"
        )
    ids = np.asarray(list(classes))
    if ids.size == 0:
        raise ValueError("classes is empty")
    _positive_int(n_per_class, "n_per_class")
    labels = _class_labels(
        np.repeat(ids, n_per_class), len(table), ids.size * n_per_class, "classes"
    )
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(len(labels), model.latent_dim, generator=generator)
    device = model.feature_scale.device
    model.eval()
    features = model.decode(z.to(device), table[labels].to(device)).cpu()
    return features.numpy(), labels.numpy()


def fit_softmax(
    features,
    labels,
    n_classes: int,
    *,
    epochs: int = 10,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 256,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> nn.Linear:
    """A linear softmax classifier (features → `n_classes` logits, column = class id) trained
    with `zsl_utils.train.fit` (Adam, cross-entropy). Classes without samples get no positive
    signal, so their logits stay low."""
    x = _float_matrix(features, "features")
    _positive_int(n_classes, "n_classes")
    y = _class_labels(labels, n_classes, len(x))
    torch.manual_seed(seed)
    classifier = nn.Linear(x.shape[1], n_classes)
    fit(
        classifier,
        x,
        y,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        weight_decay=weight_decay,
        device=device,
        seed=seed,
        progress=progress,
        desc="softmax",
    )
    return classifier


_LAST_CVAE: dict[bytes, FeatureCVAE] = {}


def _fitted_cvae(x_real: torch.Tensor, y_real: np.ndarray, table: torch.Tensor, **settings):
    """`fit_feature_cvae` on these data and settings. The last model is kept, keyed by both, so
    that a search over the number of synthetic features fits the CVAE once (training is
    deterministic given the seed, so the kept model is the one a new fit would give)."""
    key = hashlib.sha256(
        b"".join(np.ascontiguousarray(a).tobytes() for a in (x_real, y_real, table))
        + repr(sorted((k, str(v)) for k, v in settings.items())).encode()
    ).digest()
    if key not in _LAST_CVAE:
        _LAST_CVAE.clear()
        _LAST_CVAE[key] = fit_feature_cvae(x_real, y_real, table, **settings)[0]
    return _LAST_CVAE[key]


def generative_zsl_scores(
    train_features,
    train_labels,
    test_features,
    class_semantics,
    unseen_classes: Iterable[int],
    *,
    n_per_class: int = 3000,
    beta: float = 3.0,
    latent_dim: int = 16,
    cvae_epochs: int = 10,
    softmax_epochs: int = 10,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> np.ndarray:
    """The whole recipe: fit a `FeatureCVAE` on the real seen features, synthesise
    `n_per_class` features of every unseen class, train a softmax on real + synthetic
    features and score `test_features`. Returns (test images × classes) logits, one column per
    row of `class_semantics`. Notebook 09 chooses `n_per_class` and `beta` on each run's
    validation split; the latent size `latent_dim` and the epochs are fixed, not searched.
    """
    table = _float_matrix(class_semantics, "class_semantics")
    x_real = _float_matrix(train_features, "train_features")
    y_real = _class_labels(train_labels, len(table), len(x_real), "train_labels").numpy()
    x_test = _float_matrix(test_features, "test_features")
    if x_test.shape[1] != x_real.shape[1]:
        raise ValueError(
            f"test_features have {x_test.shape[1]} dimensions but train_features {x_real.shape[1]}"
        )
    unseen = np.asarray(list(unseen_classes))
    if overlap := sorted(set(y_real.tolist()) & set(unseen.tolist())):
        raise ValueError(f"unseen classes {overlap} have real training features")
    cvae = _fitted_cvae(
        x_real,
        y_real,
        table,
        latent_dim=latent_dim,
        epochs=cvae_epochs,
        beta=beta,
        seed=seed,
        device=device,
        progress=progress,
    )
    x_fake, y_fake = synthesize(cvae, table, unseen, n_per_class, seed=seed)
    classifier = fit_softmax(
        np.concatenate([x_real.numpy(), x_fake]),
        np.concatenate([y_real, y_fake]),
        len(table),
        epochs=softmax_epochs,
        seed=seed,
        device=device,
        progress=progress,
    )
    return predict(classifier, x_test, device=device).numpy().astype(np.float64)
