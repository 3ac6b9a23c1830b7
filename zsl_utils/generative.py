"""Generative zero-shot learning: synthesise image features of unseen classes, then classify.

Introduced in notebook 09. A conditional variational autoencoder over image *features*
(closest to CVAE-ZSL, Mishra et al. 2018) learns p(x | a) from the seen classes: the encoder
maps a feature x and its class's semantic vector a to q(z | x, a), the decoder maps (z, a)
back to x. Decoding random z with an unseen class's a gives synthetic features of a class that
has no images. f-CLSWGAN (Xian et al., CVPR 2018) learns the same p(x | a) with a conditional
Wasserstein GAN instead: a generator G(z, a), a critic D(x, a) with a gradient penalty, and a
frozen softmax that asks G for features of the right class. A plain softmax classifier over
seen + unseen classes, trained on real seen features and synthetic unseen ones, then gives the
unseen classes training examples of their own; how much of generalized ZSL's seen-class bias
that removes is measured in notebook 09 (not all).

Features are the backbone's ReLU outputs (`protocol.image_features`), so they are
non-negative: both models divide them by one scale (their mean, so non-negativity survives)
and their decoder or generator ends in a ReLU.
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
    "FeatureWGAN",
    "critic_losses",
    "fit_feature_wgan",
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


def _non_negative_number(value, name: str) -> None:
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")


def _seen_data(features, labels, class_semantics):
    """Checked (features, labels, class_semantics) tensors for fitting a feature generator."""
    x = _float_matrix(features, "features")
    table = _float_matrix(class_semantics, "class_semantics")
    y = _class_labels(labels, len(table), len(x))
    if x.min() < 0:
        raise ValueError("features must be non-negative (the backbone's ReLU outputs)")
    if float(x.mean()) == 0:
        raise ValueError("features are all zero: there is nothing to model")
    return x, y, table


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
    x, y, table = _seen_data(features, labels, class_semantics)
    _positive_int(epochs, "epochs")
    _positive_int(batch_size, "batch_size")
    _non_negative_number(beta, "beta")
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


class FeatureWGAN(nn.Module):
    """f-CLSWGAN's conditional generator G(z, a) and critic D(x, a), one hidden layer each
    (leaky ReLU 0.2).

    `generate(z, a)` gives non-negative features from noise z (n × noise_dim) and semantics a;
    `critic_score(x, a)` gives the critic's score of each feature, shape (n,). Both use features
    in their original units; the buffer `feature_scale` (set by `fit_feature_wgan`) divides
    them inside the networks. `latent_dim` (= noise_dim) is the size of z that `synthesize`
    draws.
    """

    def __init__(self, feature_dim: int, semantic_dim: int, noise_dim: int = 16, hidden: int = 128):
        super().__init__()
        for name, value in (
            ("feature_dim", feature_dim),
            ("semantic_dim", semantic_dim),
            ("noise_dim", noise_dim),
            ("hidden", hidden),
        ):
            _positive_int(value, name)
        self.feature_dim, self.semantic_dim, self.latent_dim = feature_dim, semantic_dim, noise_dim
        self.generator = nn.Sequential(
            nn.Linear(noise_dim + semantic_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, feature_dim),
            nn.ReLU(),
        )
        self.critic = nn.Sequential(
            nn.Linear(feature_dim + semantic_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )
        self.register_buffer("feature_scale", torch.tensor(1.0))

    def generate(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Features (n, feature_dim), non-negative, generated from noise z and semantics a."""
        return self.generator(torch.cat([z, a], dim=1)) * self.feature_scale

    def critic_score(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The critic's score D(x, a) of each feature, shape (n,): higher looks more real."""
        return self.critic(torch.cat([x / self.feature_scale, a], dim=1)).squeeze(1)


def critic_losses(
    model: FeatureWGAN, real: torch.Tensor, fake: torch.Tensor, a: torch.Tensor, epsilon
) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's two terms of WGAN-GP (Gulrajani et al. 2017) on a batch: the mean of
    D(fake, a) − D(real, a), and the gradient penalty, the mean of (‖∇ D(x̂, a)‖₂ − 1)² at
    x̂ = ε · real + (1 − ε) · fake (`epsilon`: one value in [0, 1] per sample, n × 1), the
    gradient taken with respect to the features divided by `model.feature_scale`.

    The critic is linear, leaky ReLU, linear, so ∇ D is W₁ₓᵀ (w₂ ⊙ slope), the slope 1 or the
    leak by the sign of each hidden unit: written in closed form rather than by a second
    backward pass, and the real, fake and mixed features share one pass of the first layer.
    The graph to the critic's weights is kept, so both terms train it; `fake` is detached.
    """
    if real.shape != fake.shape or len(epsilon) != len(real):
        raise ValueError(
            f"real, fake and epsilon must hold the same samples, got {tuple(real.shape)}, "
            f"{tuple(fake.shape)} and {len(epsilon)}"
        )
    first, activation, last = model.critic
    d, n = model.feature_dim, len(real)
    fake = fake.detach()
    x = torch.cat([real, fake, epsilon * real + (1 - epsilon) * fake]) / model.feature_scale
    semantic = a @ first.weight[:, d:].T + first.bias  # the same for the three
    hidden = (x @ first.weight[:, :d].T).view(3, n, -1) + semantic
    scores = last(activation(hidden[:2])).squeeze(-1)
    slope = torch.where(hidden[2] > 0, 1.0, activation.negative_slope)
    gradient = (slope * last.weight) @ first.weight[:, :d]
    return (scores[1] - scores[0]).mean(), (gradient.norm(2, dim=1) - 1).pow(2).mean()


def _frozen_softmax(x_scaled, y, n_classes, epochs, batch_size, seed, device, progress):
    """f-CLSWGAN's classifier: a softmax pre-trained on the real features, then frozen."""
    classifier = fit_softmax(
        x_scaled,
        y,
        n_classes,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        device=device,
        progress=progress,
    )
    return classifier.to(device).requires_grad_(False).eval()


def _critic_step(model, optimiser, real, a, z, gp_weight, rng) -> tuple[float, float]:
    """One critic update on D(fake) − D(real) + gp_weight · GP; returns both terms."""
    with torch.no_grad():
        fake = model.generate(z, a)
    epsilon = torch.rand(len(real), 1, generator=rng).to(real.device)
    critic_loss, penalty = critic_losses(model, real, fake, a, epsilon)
    optimiser.zero_grad()
    (critic_loss + gp_weight * penalty).backward()
    optimiser.step()
    return critic_loss.item(), penalty.item()


def _generator_step(model, optimiser, classifier, y, a, z, cls_weight) -> tuple[float, float]:
    """One generator update on −D(fake) + cls_weight · CE(classifier(fake), y); returns both
    terms (the cross-entropy unweighted)."""
    fake = model.generate(z, a)
    adversarial = -model.critic_score(fake, a).mean()
    cls = nn.functional.cross_entropy(classifier(fake / model.feature_scale), y)
    optimiser.zero_grad()
    (adversarial + cls_weight * cls).backward()
    optimiser.step()
    return adversarial.item(), cls.item()


def _converged(objective: list[float], window: int, tol: float, burn_in: int = 0) -> bool:
    """True once, after at least `burn_in` values, the mean of the last `window` values is not
    below the mean of the `window` before them by more than `tol` of its size."""
    if len(objective) < max(2 * window, burn_in):
        return False
    last, before = np.mean(objective[-window:]), np.mean(objective[-2 * window : -window])
    return bool(last > before - tol * abs(before))


def fit_feature_wgan(
    features,
    labels,
    class_semantics,
    *,
    noise_dim: int = 16,
    hidden: int = 128,
    round_steps: int = 20,
    max_rounds: int = 50,
    burn_in: int = 8,
    window: int = 3,
    tol: float = 0.05,
    critic_steps: int = 5,
    gp_weight: float = 10.0,
    cls_weight: float = 1.0,
    lr: float = 1e-3,
    batch_size: int = 256,
    classifier_epochs: int = 10,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> tuple[FeatureWGAN, dict[str, list[float]]]:
    """Train a `FeatureWGAN` with the f-CLSWGAN objective on non-negative `features` (n × d)
    of the classes `labels` (ids, rows of `class_semantics`, as in `fit_feature_cvae`), until
    its objective stops falling.

    A softmax (`fit_softmax`, `classifier_epochs`) is first trained on the real features
    divided by their mean, then frozen. Training goes in rounds of `round_steps` generator
    steps (so that its length does not depend on n); each generator step is preceded by
    `critic_steps` critic steps, every step on its own random batch, the critic minimising
    D(fake) − D(real) + `gp_weight` · GP (`critic_losses`; with respect to the features divided
    by their mean, so it does not depend on the backbone's units). The generator step minimises
    −D(fake) + `cls_weight` · cross-entropy of the frozen softmax on fake / scale with the
    batch's labels (the softmax uses `batch_size` too). Adam, betas (0.5, 0.999) as in the
    reference code, but lr 1e-3 (the reference's 1e-4 needs far more steps than we train).

    Stopping: after each round, the objective W + `cls_weight` · CE (W = D(real) − D(fake),
    the critic's estimate of the Wasserstein distance between real and generated features,
    which Gulrajani et al. show tracks sample quality) is averaged over the last `window`
    rounds; after a `burn_in` of rounds (early on the critic is still learning and its
    estimate jumps), training stops when that mean is not below the mean of the `window`
    rounds before by more than `tol` (relative), or after `max_rounds`. Returns the model in
    eval mode and, per round, the means of "critic" (D(fake) − D(real)), "gp", "generator"
    (−D(fake)), "cls" (the cross-entropy, unweighted), "wasserstein" and "objective"; their
    length is the number of rounds trained.
    """
    x, y, table = _seen_data(features, labels, class_semantics)
    for name, value in (
        ("round_steps", round_steps),
        ("max_rounds", max_rounds),
        ("window", window),
        ("critic_steps", critic_steps),
        ("batch_size", batch_size),
        ("classifier_epochs", classifier_epochs),
    ):
        _positive_int(value, name)
    for name, value in (
        ("gp_weight", gp_weight),
        ("cls_weight", cls_weight),
        ("tol", tol),
        ("burn_in", burn_in),
    ):
        _non_negative_number(value, name)
    scale = float(x.mean())
    classifier = _frozen_softmax(
        x / scale, y, len(table), classifier_epochs, batch_size, seed, device, progress
    )
    torch.manual_seed(seed)
    model = FeatureWGAN(x.shape[1], table.shape[1], noise_dim, hidden)
    model.feature_scale.fill_(scale)
    model.to(device).train()
    critic_optimiser = torch.optim.Adam(model.critic.parameters(), lr=lr, betas=(0.5, 0.999))
    generator_optimiser = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=(0.5, 0.999))
    rng = torch.Generator().manual_seed(seed)
    x, y, table = x.to(device), y.to(device), table.to(device)

    def sample() -> tuple[torch.Tensor, torch.Tensor]:
        """Random indices of real samples and noise for as many fakes."""
        batch = torch.randperm(len(x), generator=rng)[:batch_size]
        return batch.to(device), torch.randn(len(batch), noise_dim, generator=rng).to(device)

    history: dict[str, list[float]] = {
        key: [] for key in ("critic", "gp", "generator", "cls", "wasserstein", "objective")
    }
    for _ in tqdm(range(max_rounds), desc="feature WGAN", disable=not progress, leave=False):
        totals = dict.fromkeys(history, 0.0)
        for _ in range(round_steps):
            for _ in range(critic_steps):
                batch, z = sample()
                losses = _critic_step(
                    model, critic_optimiser, x[batch], table[y[batch]], z, gp_weight, rng
                )
                for key, value in zip(("critic", "gp"), losses, strict=True):
                    totals[key] += value / critic_steps
            batch, z = sample()
            losses = _generator_step(
                model, generator_optimiser, classifier, y[batch], table[y[batch]], z, cls_weight
            )
            for key, value in zip(("generator", "cls"), losses, strict=True):
                totals[key] += value
        totals["wasserstein"] = -totals["critic"]
        totals["objective"] = totals["wasserstein"] + cls_weight * totals["cls"]
        for key in history:
            history[key].append(totals[key] / round_steps)
        if _converged(history["objective"], window, tol, burn_in):
            break
    model.eval()
    return model, history


@torch.no_grad()
def synthesize(
    model: FeatureCVAE | FeatureWGAN,
    class_semantics,
    classes: Iterable[int],
    n_per_class: int,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """`n_per_class` synthetic features of every class in `classes` (ids, rows of
    `class_semantics`): decode z ~ N(0, I) with the class's semantic vector (the CVAE's
    decoder or the WGAN's generator).

    Returns features (len(classes) · n_per_class × d, float32) and their class ids (int64),
    class by class in the order of `classes`.
    """
    if not isinstance(model, (FeatureCVAE, FeatureWGAN)):
        raise TypeError(f"model must be a FeatureCVAE or a FeatureWGAN, got {type(model).__name__}")
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
    decode = model.decode if isinstance(model, FeatureCVAE) else model.generate
    features = decode(z.to(device), table[labels].to(device)).cpu()
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


_LAST_GENERATOR: dict[bytes, FeatureCVAE | FeatureWGAN] = {}


def _fitted_generator(
    kind: str, x_real: torch.Tensor, y_real: np.ndarray, table: torch.Tensor, **settings
) -> FeatureCVAE | FeatureWGAN:
    """`fit_feature_cvae` ("cvae") or `fit_feature_wgan` ("wgan") on these data and settings.
    The last model is kept, keyed by all of them, so that a search over the number of synthetic
    features fits the generator once (training is deterministic given the seed, so the kept
    model is the one a new fit would give)."""
    key = hashlib.sha256(
        b"".join(np.ascontiguousarray(a).tobytes() for a in (x_real, y_real, table))
        + repr((kind, sorted((k, str(v)) for k, v in settings.items()))).encode()
    ).digest()
    if key not in _LAST_GENERATOR:
        fit_generator = fit_feature_cvae if kind == "cvae" else fit_feature_wgan
        _LAST_GENERATOR.clear()
        _LAST_GENERATOR[key] = fit_generator(x_real, y_real, table, **settings)[0]
    return _LAST_GENERATOR[key]


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
    generator: str = "cvae",
    cls_weight: float = 1.0,
    wgan_max_rounds: int = 50,
) -> np.ndarray:
    """The whole recipe: fit a feature generator on the real seen features, synthesise
    `n_per_class` features of every unseen class, train a softmax on real + synthetic
    features and score `test_features`. Returns (test images × classes) logits, one column per
    row of `class_semantics`. Notebook 09 chooses `n_per_class` and `beta` on each run's
    validation split; the latent size `latent_dim` and the epochs are fixed, not searched.

    `generator` is "cvae" (`fit_feature_cvae`, which uses `beta` and `cvae_epochs`) or "wgan"
    (f-CLSWGAN, `fit_feature_wgan`, which uses `cls_weight` and stops on its own criterion,
    after `wgan_max_rounds` rounds at the latest);
    `latent_dim` is the CVAE's latent size or the WGAN's noise size.
    """
    if generator not in ("cvae", "wgan"):
        raise ValueError(f"generator must be 'cvae' or 'wgan', got {generator!r}")
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
    if generator == "cvae":
        settings = {"latent_dim": latent_dim, "epochs": cvae_epochs, "beta": beta}
    else:
        settings = {
            "noise_dim": latent_dim,
            "cls_weight": cls_weight,
            "max_rounds": wgan_max_rounds,
        }
    model = _fitted_generator(
        generator, x_real, y_real, table, **settings, seed=seed, device=device, progress=progress
    )
    x_fake, y_fake = synthesize(model, table, unseen, n_per_class, seed=seed)
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
