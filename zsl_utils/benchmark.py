"""Zero-shot methods on shared image features, one call per method, scores over all classes.

Every function here trains on the features of seen-class images (`train_features`, their
class ids `train_labels`, the seen classes `seen_classes`) and returns an (images × classes)
score matrix for `eval_features`, one column per row of the class table it is given (all
classes, by class id), ready for `protocol.choose_gamma` and `protocol.evaluate`.
Notebook 06 introduces them to compare ConSE with DAP and the embedding methods on one
backbone; notebook 07 adds them as rows beside CLIP; notebook 09's leaderboard runs them on
several splits and seeds.

`run_protocol` runs the full protocol of Xian et al. (TPAMI 2018) on features of a validation
problem and a test problem: every method's settings searched on the validation classes,
calibrated stacking's γ by validation H, then retrained on all seen classes and scored on the
test images. `run_xlsa17` runs it on a data set of the real benchmark (`data.load_xlsa17`),
notebook 10 on the Hangul benchmark. `XLSA17_METHODS` lists the attribute-based methods it
runs by default.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.preprocessing import StandardScaler

from . import generative, protocol, text
from .data import Xlsa17Data
from .losses import hinge_rank_loss
from .metrics import per_class_accuracy
from .zeroshot import (
    _matrix,
    conse_embed,
    dap_scores,
    distance_scores,
    eszsl_fit,
    eszsl_scores,
    refine_prototypes,
    ridge_embedding,
    ridge_prototypes,
    signed_targets,
)

__all__ = [
    "dap_attribute_probs",
    "dap_on_features",
    "eszsl_on_features",
    "hinge_on_features",
    "conse_on_probs",
    "lit_on_features",
    "dem_prototypes",
    "GridMethod",
    "XLSA17_METHODS",
    "PROTOTYPE_METHODS",
    "Problem",
    "ProtocolResult",
    "run_protocol",
    "run_xlsa17",
    "transductive_zsl",
]


def _features(values, name: str) -> np.ndarray:
    array = _matrix(values, name)
    if array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (images, dims) array, got {array.shape}")
    return array


def _train_and_eval(train_features, eval_features) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 training and evaluation features of the same width."""
    x_train = _features(train_features, "train_features")
    x_eval = _features(eval_features, "eval_features")
    if x_eval.shape[1] != x_train.shape[1]:
        raise ValueError(
            f"eval_features have {x_eval.shape[1]} dims but train_features have {x_train.shape[1]}"
        )
    return x_train, x_eval


def _check_training(train_features, train_labels, eval_features, class_table, name):
    """Validated float64 copies; labels must be class ids that index `class_table`'s rows."""
    x_train, x_eval = _train_and_eval(train_features, eval_features)
    labels = np.asarray(train_labels)
    if labels.shape != (len(x_train),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"train_labels must hold one integer class id per training image, shape "
            f"({len(x_train)},), got {labels.dtype} {labels.shape}"
        )
    table = _features(class_table, name)
    if labels.min() < 0 or labels.max() >= len(table):
        raise ValueError(f"train_labels must be class ids 0..{len(table) - 1} (rows of {name})")
    return x_train, labels, x_eval, table


def _seen(seen_classes: Iterable[int], labels: np.ndarray, n_classes: int) -> np.ndarray:
    seen = np.asarray(list(seen_classes), dtype=np.int64)
    if seen.ndim != 1 or len(np.unique(seen)) != len(seen) or len(seen) < 2:
        raise ValueError(f"seen_classes must be at least 2 distinct class ids, got {seen.tolist()}")
    if seen.min() < 0 or seen.max() >= n_classes:
        raise ValueError(f"seen_classes must be class ids 0..{n_classes - 1}, got {seen.tolist()}")
    if stray := sorted(set(labels.tolist()) - set(seen.tolist())):
        raise ValueError(f"train_labels hold classes {stray} that are not in seen_classes")
    return seen


def _standardise(x_train: np.ndarray, x_eval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_eval)


def dap_attribute_probs(train_features, train_labels, class_attributes, eval_features):
    """p(a_m = 1 | x) for every attribute m: one logistic regression per attribute on the
    standardised features, its targets the attribute values of each image's class.

    Attributes with the same values on every training image share one regression (one per
    distinct pattern); an attribute constant over the training classes gets that constant.
    Returns (eval images, attributes) float64.
    """
    x_train, labels, x_eval, table = _check_training(
        train_features, train_labels, eval_features, class_attributes, "class_attributes"
    )
    x_train, x_eval = _standardise(x_train, x_eval)
    patterns, which = np.unique(table[labels].T, axis=0, return_inverse=True)
    probs = np.empty((len(x_eval), len(patterns)))
    for j, pattern in enumerate(patterns):
        if pattern.min() == pattern.max():  # constant: no classifier needed
            probs[:, j] = pattern[0]
        else:
            model = LogisticRegression(solver="liblinear").fit(x_train, pattern)
            probs[:, j] = model.predict_proba(x_eval)[:, 1]
    return probs[:, which.ravel()]


def dap_on_features(train_features, train_labels, class_attributes, eval_features):
    """DAP (notebook 04) on given features: `dap_attribute_probs`, then `zeroshot.dap_scores`
    against the binary signatures of all classes. Returns (eval images, classes)."""
    probs = dap_attribute_probs(train_features, train_labels, class_attributes, eval_features)
    return dap_scores(probs, np.asarray(class_attributes, dtype=np.float64))


def eszsl_on_features(
    train_features,
    train_labels,
    seen_classes,
    eval_features,
    class_semantics,
    gamma: float,
    lam: float,
):
    """ESZSL (notebook 05) on standardised features: V from the seen classes' rows of
    `class_semantics` with ±1 targets, scores x V sᵀ for every class. Returns (eval, classes)."""
    x_train, labels, x_eval, table = _check_training(
        train_features, train_labels, eval_features, class_semantics, "class_semantics"
    )
    seen = _seen(seen_classes, labels, len(table))
    x_train, x_eval = _standardise(x_train, x_eval)
    v = eszsl_fit(x_train, signed_targets(labels, seen), table[seen], gamma, lam)
    return eszsl_scores(x_eval, v, table)


def hinge_on_features(
    train_features,
    train_labels,
    seen_classes,
    eval_features,
    class_semantics,
    *,
    seed: int = 0,
    steps: int = 300,
    margin: float = 1.0,
    lr: float = 1e-2,
    weight_decay: float = 1e-3,
    batch_size: int = 256,
    form: str = "max",
):
    """The embedding methods' bilinear model (notebook 05): scores x W sᵀ with unit-length class
    vectors s, W trained on the standardised features by Adam with `losses.hinge_rank_loss`
    over the seen classes. `form="max"` is SJE's hinge (Akata et al. 2015), `form="sum"`
    DeViSE's (Frome et al. 2013), with attributes or word vectors alike; ALE's rank-weighted
    hinge is not implemented. Returns (eval images, classes) float64."""
    x_train, labels, x_eval, table = _check_training(
        train_features, train_labels, eval_features, class_semantics, "class_semantics"
    )
    seen = _seen(seen_classes, labels, len(table))
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, got {steps}, {batch_size}")
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("class_semantics has an all-zero row: it cannot be made unit length")
    unit = torch.tensor(table / norms, dtype=torch.float32)
    x_train, x_eval = _standardise(x_train, x_eval)
    x = torch.tensor(x_train, dtype=torch.float32)
    column = np.full(len(table), -1)
    column[seen] = np.arange(len(seen))
    targets = torch.tensor(column[labels])  # each image's column among the seen classes
    generator = torch.Generator().manual_seed(seed)
    w = (0.01 * torch.randn(x.shape[1], unit.shape[1], generator=generator)).requires_grad_()
    optimiser = torch.optim.Adam([w], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        batch = torch.randint(0, len(x), (batch_size,), generator=generator)
        loss = hinge_rank_loss(x[batch] @ w @ unit[seen].T, targets[batch], margin, form=form)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return (torch.tensor(x_eval, dtype=torch.float32) @ w @ unit.T).double().numpy()


def conse_on_probs(probs, class_vectors, seen_classes, top_t: int):
    """ConSE (notebook 06): each image's convex combination of its `top_t` most probable seen
    classes' vectors, scored by cosine against every class's vector. `probs` is a seen-class
    softmax, column j for `seen_classes[j]`. Returns (images, classes) float64."""
    vectors = _features(class_vectors, "class_vectors")
    seen = np.asarray(list(seen_classes), dtype=np.int64)
    if seen.ndim != 1 or seen.min(initial=0) < 0 or seen.max(initial=0) >= len(vectors):
        raise ValueError(
            f"seen_classes must be class ids 0..{len(vectors) - 1} (rows of class_vectors)"
        )
    return cosine_similarity(conse_embed(probs, vectors[seen], top_t), vectors)


def lit_on_features(
    train_features,
    captions,
    eval_features,
    prompts,
    word_vectors,
    *,
    embed_dim: int = 64,
    epochs: int = 6,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
):
    """CLIP-style training with the image side locked (LiT, Zhai et al. 2022; notebook 07's
    model on shared features): a linear projection of the standardised frozen features and a
    GloVe-initialised text encoder, trained with `losses.clip_loss` on image–caption pairs;
    then each class is scored by its prompts' mean embedding (prompt ensembling).

    `captions`: one or more lists (variants) of one caption per training image; `prompts`:
    one list of prompt strings per class (all classes, by class id). Returns (eval images,
    classes): scale × cosine, float64.
    """
    x_train, x_eval = _train_and_eval(train_features, eval_features)
    if isinstance(captions, (str, np.ndarray)) or not captions or isinstance(captions[0], str):
        raise ValueError("captions must be a list of caption lists (variants), one per image each")
    if bad := [i for i, variant in enumerate(captions) if len(variant) != len(x_train)]:
        raise ValueError(f"caption variants {bad} do not hold one caption per training image")
    every_text = [c for variant in captions for c in variant] + [p for ps in prompts for p in ps]
    vocabulary = text.Vocabulary(every_text, word_vectors, seed=seed)
    max_len = max(len(text.tokenize(c)) for c in every_text)
    tokens = torch.stack([vocabulary.encode(v, max_len=max_len) for v in captions], dim=1)
    x_train, x_eval = _standardise(x_train, x_eval)
    torch.manual_seed(seed)
    model = text.ClipModel(
        text.TextEncoder(vocabulary.vectors, embed_dim),
        embed_dim,
        image_encoder=torch.nn.Linear(x_train.shape[1], embed_dim),
    )
    features = torch.tensor(x_train, dtype=torch.float32)
    text.fit_clip(
        model,
        features,
        tokens,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        device=device,
        seed=seed,
        progress=False,
    )
    classes = text.class_embeddings(model, vocabulary, prompts, device=device)
    with torch.no_grad():
        model.eval()
        images = model.encode_image(torch.tensor(x_eval, dtype=torch.float32).to(device)).cpu()
        return (model.scale().cpu() * images @ classes.T).double().numpy()


def dem_prototypes(
    train_features,
    train_labels,
    class_table,
    *,
    weight_decay: float,
    hidden: int = 128,
    max_iter: int = 200,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Visual prototypes from a small network, semantic → features (DEM, Zhang et al. CVPR
    2017): f(s) = ReLU(s W₁ + b₁) W₂ + b₂, trained to minimise the mean over images of
    ‖xᵢ − f(s_{yᵢ})‖² + `weight_decay` · (‖W₁‖² + ‖W₂‖²). That mean equals a count-weighted
    loss on the class means plus a constant, so training runs full-batch on one row per class,
    with L-BFGS until an iteration changes the objective by less than 1e-6 of its starting value
    (or `max_iter` iterations). DEM ends with a second ReLU;
    we leave it out, so that no output unit can die in full-batch training. Returns f(s_c) for
    every class (classes × dims). Introduced in notebook 09.
    """
    x, labels, _, table = _check_training(
        train_features, train_labels, train_features, class_table, "class_table"
    )
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be 0 or larger, got {weight_decay}")
    classes, counts = np.unique(labels, return_counts=True)
    means = np.stack([x[labels == c].mean(0) for c in classes])
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(table.shape[1], hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, x.shape[1]),
    ).to(device)
    s = torch.tensor(table[classes], dtype=torch.float32, device=device)
    target = torch.tensor(means, dtype=torch.float32, device=device)
    weight = torch.tensor(counts / counts.sum(), dtype=torch.float32, device=device)

    def objective():
        fit = (weight * ((net(s) - target) ** 2).sum(1)).sum()
        return fit + weight_decay * sum((layer.weight**2).sum() for layer in (net[0], net[2]))

    def closure():
        optimiser.zero_grad()
        value = objective()
        value.backward()
        return value

    with torch.no_grad():
        start = objective().item()  # the starting objective sets the scale of "no progress"
    optimiser = torch.optim.LBFGS(
        net.parameters(),
        max_iter=max_iter,
        tolerance_change=1e-6 * start,
        line_search_fn="strong_wolfe",
    )
    optimiser.step(closure)
    with torch.no_grad():
        return net(torch.tensor(table, dtype=torch.float32, device=device)).cpu().double().numpy()


@dataclass(frozen=True)
class GridMethod:
    """A zero-shot method for `run_protocol` and the settings to search for it on validation.

    `score(x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, **setting)`
    trains on features `x_train` of the seen classes (ids `y_train`; `seen` and `unseen` are
    class ids, rows of the class table `attributes`) and returns (eval images × all classes)
    scores. `grid` holds the settings (keyword dicts) to try, in order; ties go to the first.
    """

    score: Callable[..., np.ndarray]
    grid: tuple[dict, ...] = field(default_factory=lambda: ({},))

    def at_edge(self, setting: Mapping) -> list[str]:
        """The keys of `setting` whose value is the smallest or the largest that the grid tries
        for that key (a key with one value is never at an edge). A setting chosen at an edge
        may mean that the grid is too narrow."""
        edges = []
        for key, value in setting.items():
            tried = sorted({s[key] for s in self.grid if key in s})
            if len(tried) > 1 and value in (tried[0], tried[-1]):
                edges.append(key)
        return edges


def _binary_signatures(attributes: np.ndarray) -> np.ndarray:
    """Continuous class attributes binarised at each attribute's mean over the classes (DAP)."""
    return (attributes > attributes.mean(axis=0)).astype(np.float64)


def _dap(x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device):
    return dap_on_features(x_train, y_train, _binary_signatures(attributes), x_eval)


def _hinge(form: str):
    def score(x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, margin):
        return hinge_on_features(
            x_train, y_train, seen, x_eval, attributes, seed=seed, margin=margin, form=form
        )

    return score


def _eszsl(x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, gamma, lam):
    return eszsl_on_features(x_train, y_train, seen, x_eval, attributes, gamma, lam)


def _conse(x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, top_t):
    """ConSE on a seen-class softmax (`_seen_class_probs`), its top `top_t` classes mixed."""
    probs = _seen_class_probs(x_train, y_train, x_eval, np.asarray(seen))
    return conse_on_probs(probs, attributes, seen, min(top_t, len(seen)))


_LAST_SOFTMAX: dict[bytes, np.ndarray] = {}


def _seen_class_probs(x_train, y_train, x_eval, seen: np.ndarray) -> np.ndarray:
    """p(seen class | image) for `x_eval`: multinomial logistic regression on the standardised
    features, trained by L-BFGS until the loss improves by less than 1e-3 (relative). The last
    result is kept, keyed by the data, so that a search over ConSE's T fits it once."""
    x_train, x_eval = _train_and_eval(x_train, x_eval)
    y_train = np.asarray(y_train)
    key = hashlib.sha256(
        b"".join(np.ascontiguousarray(a).tobytes() for a in (x_train, y_train, x_eval, seen))
    ).digest()
    if key not in _LAST_SOFTMAX:
        x_train, x_eval = _standardise(x_train, x_eval)
        classifier = LogisticRegression(max_iter=1000, tol=1e-3).fit(x_train, y_train)
        column = {c: j for j, c in enumerate(classifier.classes_)}
        _LAST_SOFTMAX.clear()
        _LAST_SOFTMAX[key] = classifier.predict_proba(x_eval)[:, [column[c] for c in seen]]
    return _LAST_SOFTMAX[key]


def _feature_generator(generator: str, **fixed):
    """The score of a feature-generator row: `generative.generative_zsl_scores` with this
    `generator` ("cvae" or "wgan") and its `fixed` settings, unless the grid gives others."""

    def score(
        x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, n_per_class, **grid
    ):
        return generative.generative_zsl_scores(
            x_train,
            y_train,
            x_eval,
            attributes,
            unseen,
            generator=generator,
            n_per_class=n_per_class,
            seed=seed,
            device=device,
            **{**fixed, **grid},
        )

    return score


def _reverse_ridge(x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, lam):
    prototypes = ridge_prototypes(x_train, y_train, attributes, lam)
    return distance_scores(x_eval, prototypes)


def _forward_ridge(x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, lam):
    embedding = ridge_embedding(x_train, y_train, attributes, lam)
    return distance_scores(np.asarray(x_eval, dtype=np.float64) @ embedding, attributes)


def _dem(x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, weight_decay):
    prototypes = dem_prototypes(
        x_train, y_train, attributes, weight_decay=weight_decay, seed=seed, device=device
    )
    return distance_scores(x_eval, prototypes)


PROTOTYPE_METHODS: dict[str, GridMethod] = {
    "forward ridge (image → semantic)": GridMethod(
        _forward_ridge, tuple({"lam": 10.0**k} for k in range(-1, 5))
    ),
    "reverse ridge (semantic → image)": GridMethod(
        _reverse_ridge, tuple({"lam": 10.0**k} for k in range(-3, 3))
    ),
    "DEM (semantic → image network)": GridMethod(
        _dem, tuple({"weight_decay": 10.0**k} for k in range(-4, -1))
    ),
}
"""Nearest-prototype methods by Euclidean distance, with their validation grids: the forward
ridge map embeds images in the semantic space; the reverse ridge map (Shigeto et al. 2015) and
DEM (Zhang et al. 2017) map class descriptions into the feature space. Notebook 09."""

_POWERS = [10.0**k for k in range(-2, 5)]
XLSA17_METHODS: dict[str, GridMethod] = {
    "DAP": GridMethod(_dap),
    "SJE (max hinge)": GridMethod(_hinge("max"), tuple({"margin": m} for m in (0.1, 0.3, 1.0))),
    "DeViSE (sum hinge)": GridMethod(_hinge("sum"), tuple({"margin": m} for m in (0.1, 0.3, 1.0))),
    "ESZSL": GridMethod(
        _eszsl, tuple({"gamma": g, "lam": lam} for g in _POWERS for lam in _POWERS)
    ),
    "ConSE": GridMethod(_conse, tuple({"top_t": t} for t in (1, 2, 5, 10, 30))),
    "CVAE feature generator": GridMethod(
        _feature_generator("cvae", beta=3.0), tuple({"n_per_class": n} for n in (300, 1000, 3000))
    ),
    "f-CLSWGAN feature generator": GridMethod(
        _feature_generator("wgan", cls_weight=1.0),
        tuple({"n_per_class": n} for n in (300, 1000, 3000)),
    ),
}
"""The attribute-based methods `run_xlsa17` runs by default, with their validation grids.
DAP's signatures are the attributes binarised at each attribute's mean over the classes;
ConSE's seen-class classifier is a logistic regression on the standardised features. The two
feature generators search the number of synthetic features per unseen class; the CVAE's β
(3) and f-CLSWGAN's classification-loss weight (1) are fixed unless a grid adds them."""

_CRITERIA = ("ZSL", "H", "H+CS", "AUSUC")


@dataclass(frozen=True)
class Problem:
    """One zero-shot problem on fixed features: train on `x_train` (class ids `y_train`, all of
    them in `seen`), then score `x_eval` (true class ids `y_eval`, images of `seen` and of
    `unseen` classes) against every class."""

    x_train: np.ndarray
    y_train: np.ndarray
    seen: np.ndarray
    unseen: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray

    def __post_init__(self):
        if len(self.x_train) != len(self.y_train) or len(self.x_eval) != len(self.y_eval):
            raise ValueError("need one class id per training image and per evaluation image")
        if stray := sorted(
            set(np.unique(self.y_train).tolist()) - set(np.asarray(self.seen).tolist())
        ):
            raise ValueError(f"training images of classes {stray} that are not in `seen`")
        if overlap := sorted(
            set(np.asarray(self.seen).tolist()) & set(np.asarray(self.unseen).tolist())
        ):
            raise ValueError(f"classes {overlap} are both seen and unseen")


@dataclass(frozen=True)
class ProtocolResult:
    """What `run_protocol` (or `run_xlsa17`) measured. `table`: one row per method (its chosen
    setting, the validation score that chose it, γ, then the test ZSL, U, S, H, U+CS, S+CS,
    H+CS, AUSUC, and the seconds the test run took to train and score); `search`: every
    setting tried, with every validation measure (prefixed "validation ") and its γ;
    `test_scores`: each method's test scores (images × classes), if they were asked for."""

    table: pd.DataFrame
    search: pd.DataFrame
    test_scores: dict[str, np.ndarray] = field(default_factory=dict)


def run_protocol(
    validation: Problem,
    test: Problem,
    attributes,
    methods: Mapping[str, GridMethod],
    *,
    seed: int = 0,
    criterion: str = "AUSUC",
    device: torch.device | str = "cpu",
    keep_scores: bool = False,
) -> ProtocolResult:
    """Xian et al.'s protocol (TPAMI 2018) for zero-shot methods on fixed features.

    1. Validation: every setting of each method's grid is trained on `validation` and scored
       on its evaluation images against all classes; the setting with the best `criterion`
       ("ZSL", "H", "H+CS" with γ chosen there, or "AUSUC") is kept, ties to the first.
    2. Calibration: γ of calibrated stacking, the one with the best validation H of the kept
       setting's scores (`protocol.choose_gamma`).
    3. Test: that setting retrained on `test` and evaluated there with that γ.

    `attributes`: the class table (one row per class id). No test image informs a choice.
    With `keep_scores`, the result also holds every method's test scores (e.g. for hubness).
    """
    if not methods:
        raise ValueError("methods is empty: give at least one GridMethod")
    if bad := [name for name, m in methods.items() if not isinstance(m, GridMethod) or not m.grid]:
        raise ValueError(f"methods {bad} must be GridMethods with a non-empty grid")
    if criterion not in _CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; use one of {', '.join(_CRITERIA)}")
    attributes = np.asarray(attributes, dtype=np.float64)

    def scores(problem: Problem, method: GridMethod, setting: dict) -> np.ndarray:
        return method.score(
            problem.x_train,
            problem.y_train,
            problem.seen,
            problem.unseen,
            problem.x_eval,
            attributes,
            seed=seed,
            device=device,
            **setting,
        )

    v = validation
    rows, searched, kept = [], [], {}
    for name, method in methods.items():
        best = None
        for setting in method.grid:
            val_scores = scores(v, method, setting)
            gamma = protocol.choose_gamma(val_scores, v.y_eval, v.seen, v.unseen)
            measured = protocol.evaluate(val_scores, v.y_eval, v.seen, v.unseen, gamma)
            value = measured[criterion]
            validation_row = {f"validation {k}": x for k, x in measured.items()}
            searched.append({"method": name, "setting": setting, **validation_row, "γ": gamma})
            if best is None or value > best[0]:
                best = (value, setting, gamma)
        value, setting, gamma = best
        start = time.perf_counter()
        test_scores = scores(test, method, setting)
        seconds = time.perf_counter() - start
        if keep_scores:
            kept[name] = test_scores
        row = protocol.evaluate(test_scores, test.y_eval, test.seen, test.unseen, gamma)
        chosen = {"setting": setting, f"validation {criterion}": value, "γ": gamma}
        rows.append({"method": name, **chosen, **row, "seconds": seconds})
    return ProtocolResult(
        table=pd.DataFrame(rows).set_index("method"),
        search=pd.DataFrame(searched),
        test_scores=kept,
    )


def run_xlsa17(
    data: Xlsa17Data,
    methods: Mapping[str, GridMethod] | None = None,
    *,
    seed: int = 0,
    held_fraction: float = 0.2,
    criterion: str = "AUSUC",
    device: torch.device | str = "cpu",
) -> ProtocolResult:
    """`run_protocol` on one xlsa17 data set, the protocol of Xian et al. (TPAMI 2018).

    Validation (`protocol.xlsa17_validation_split`): train on the release's training classes
    (`train_loc`, less a `held_fraction` of each class's images held out) and score the
    held-out images and the validation classes' images (`val_loc`). Test: train on all seen
    classes (`trainval_loc`) and score `test_seen_loc` + `test_unseen_loc`. `methods` defaults
    to `XLSA17_METHODS`. Introduced in notebook 09.
    """
    methods = XLSA17_METHODS if methods is None else methods
    split = protocol.xlsa17_validation_split(data, held_fraction, seed)
    test_loc = np.concatenate([data.test_seen_loc, data.test_unseen_loc])

    def problem(train, seen, unseen, evaluation) -> Problem:
        return Problem(
            data.features[train],
            data.labels[train],
            seen,
            unseen,
            data.features[evaluation],
            data.labels[evaluation],
        )

    return run_protocol(
        problem(split.fit_loc, split.seen_classes, split.unseen_classes, split.val_loc),
        problem(data.trainval_loc, data.seen_classes, data.unseen_classes, test_loc),
        data.attributes,
        methods,
        seed=seed,
        criterion=criterion,
        device=device,
    )


def transductive_zsl(problem: Problem, class_table, lam: float) -> dict[str, float]:
    """ZSL accuracy (per class, among the unseen classes) of the reverse ridge's unseen-class
    prototypes (`zeroshot.ridge_prototypes` with `lam`) on `problem`'s evaluation images of
    unseen classes: "inductive" as they are, "transductive" after k-means on those images,
    unlabelled, started from them (`zeroshot.refine_prototypes`); and the "k-means iterations"
    it ran. The evaluation labels are read only to score. Notebooks 09 and 10.
    """
    is_unseen = np.isin(problem.y_eval, problem.unseen)
    if not is_unseen.any():
        raise ValueError("the problem has no evaluation images of unseen classes")
    x, y = problem.x_eval[is_unseen], problem.y_eval[is_unseen]
    start = ridge_prototypes(problem.x_train, problem.y_train, class_table, lam)[problem.unseen]
    refined, iterations = refine_prototypes(x, start)
    accuracy = {
        stage: per_class_accuracy(y, problem.unseen[distance_scores(x, centres).argmax(1)],
                                  problem.unseen)
        for stage, centres in (("inductive", start), ("transductive", refined))
    }  # fmt: skip
    return {**accuracy, "k-means iterations": float(iterations)}
