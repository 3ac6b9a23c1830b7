"""Zero-shot classifiers that score every class from its description, and the seen–unseen curve.

Introduced in notebook 04: Direct Attribute Prediction (DAP, Lampert et al. 2009/2014), the
lecture's "nearest attribute vector" lookup, and the seen–unseen accuracy curve with its area
(AUSUC, Chao et al. 2016). Notebook 05 adds ESZSL (Romera-Paredes & Torr 2015) and the
k-occurrence measure of hubness, and the span measure of what a linear model trained on seen
class vectors can see of an unseen one; notebook 06 adds ConSE (Norouzi et al. 2014).

Every scoring function returns an (images × classes) matrix, larger = more likely, so that
`argmax` predicts and `zsl_utils.metrics.calibrated_stacking` can shift the seen columns.
NumPy arrays in give a float64 NumPy array out; a torch tensor in gives a tensor out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch

from .metrics import gzsl_scores

__all__ = [
    "dap_scores",
    "attribute_priors",
    "nearest_signature_scores",
    "seen_unseen_curve",
    "ausuc",
    "signed_targets",
    "eszsl_fit",
    "eszsl_scores",
    "k_occurrence",
    "hubness_skewness",
    "conse_embed",
    "project_onto_span",
    "span_share",
    "ridge_prototypes",
    "ridge_embedding",
    "distance_scores",
    "refine_prototypes",
    "DEFAULT_EPS",
]

DEFAULT_EPS = 1e-4
"""Probabilities are clipped to [eps, 1 - eps] before taking logs, so every log is finite."""


def _to_numpy(values, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _like(result: np.ndarray, reference):
    """Return `result` as a tensor (on the reference's device) if `reference` is one."""
    if isinstance(reference, torch.Tensor):
        return torch.from_numpy(result).to(reference.device)
    return result


def _check_probs_and_table(attribute_probs, class_attributes) -> tuple[np.ndarray, np.ndarray]:
    probs = _to_numpy(attribute_probs, "attribute_probs")
    table = _to_numpy(class_attributes, "class_attributes")
    if probs.ndim != 2:
        raise ValueError(f"attribute_probs must be (images, attributes), got shape {probs.shape}")
    if table.ndim != 2:
        raise ValueError(f"class_attributes must be (classes, attributes), got shape {table.shape}")
    if probs.shape[1] != table.shape[1]:
        raise ValueError(
            f"attribute_probs has {probs.shape[1]} attributes but class_attributes has "
            f"{table.shape[1]}"
        )
    return probs, table


def _check_probabilities(values: np.ndarray, name: str) -> None:
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(
            f"{name} must be probabilities in [0, 1], got values from {values.min():.3g} "
            f"to {values.max():.3g} (pass sigmoid(logits), not logits)"
        )


def _check_binary(table: np.ndarray, name: str) -> None:
    if not np.isin(table, (0.0, 1.0)).all():
        raise ValueError(
            f"{name} must be binary (0/1) signatures for DAP; threshold strengths first, "
            "e.g. (strengths >= 0.5)"
        )


def _check_eps(eps: float) -> None:
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}")


def attribute_priors(class_attributes) -> np.ndarray:
    """Lampert's attribute priors p(a_m = 1): the mean of the binary signatures of the
    (training) classes given, one value per attribute. Returns a float64 NumPy array."""
    table = _to_numpy(class_attributes, "class_attributes")
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError(
            f"class_attributes must be a non-empty (classes, attributes) table, "
            f"got shape {table.shape}"
        )
    _check_binary(table, "class_attributes")
    return table.mean(axis=0)


def dap_scores(attribute_probs, class_attributes, priors=None, eps: float = DEFAULT_EPS):
    """Direct Attribute Prediction: the log-likelihood of every class's binary signature.

    score[i, c] = Σ_m log p(a_m = s_cm | x_i), where p(a_m = 1 | x_i) = attribute_probs[i, m]
    and s_c = class_attributes[c] ∈ {0, 1}^M (attributes independent, uniform priors). With
    `priors` (p(a_m = 1), one per attribute, e.g. `attribute_priors(seen_table)`), the score is
    Lampert's prior-corrected Σ_m [log p(a_m = s_cm | x_i) − log p(a_m = s_cm)].

    Probabilities and priors are clipped to [eps, 1 − eps] (default 1e-4, so no single
    attribute costs more than log(1e4) ≈ 9.2 nats) before taking logs.
    Returns an (images × classes) float64 array, or a tensor if `attribute_probs` is one.
    """
    _check_eps(eps)
    probs, table = _check_probs_and_table(attribute_probs, class_attributes)
    _check_probabilities(probs, "attribute_probs")
    _check_binary(table, "class_attributes")
    p = np.clip(probs, eps, 1 - eps)
    scores = np.log(p) @ table.T + np.log1p(-p) @ (1 - table).T
    if priors is not None:
        prior = _to_numpy(priors, "priors")
        if prior.shape != (table.shape[1],):
            raise ValueError(
                f"priors must have one value per attribute, shape ({table.shape[1]},), "
                f"got {prior.shape}"
            )
        _check_probabilities(prior, "priors")
        prior = np.clip(prior, eps, 1 - eps)
        scores = scores - (table @ np.log(prior) + (1 - table) @ np.log1p(-prior))[None, :]
    return _like(scores, attribute_probs)


def nearest_signature_scores(attribute_probs, class_attributes, metric: str = "euclidean"):
    """The lecture's lookup: how close each image's predicted attributes are to each class's
    attribute vector. "euclidean" gives −‖p_i − s_c‖₂, "cosine" the cosine similarity.

    `class_attributes` may be binary or strengths. Returns an (images × classes) float64
    array, or a tensor if `attribute_probs` is one.
    """
    probs, table = _check_probs_and_table(attribute_probs, class_attributes)
    if metric == "euclidean":
        scores = -np.sqrt(((probs[:, None, :] - table[None, :, :]) ** 2).sum(axis=2))
    elif metric == "cosine":
        norms = np.linalg.norm(probs, axis=1, keepdims=True) * np.linalg.norm(table, axis=1)
        if (norms == 0).any():
            raise ValueError("cosine similarity is undefined for an all-zero vector")
        scores = probs @ table.T / norms
    else:
        raise ValueError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")
    return _like(scores, attribute_probs)


def _class_ids(classes: Iterable[int], name: str) -> np.ndarray:
    array = np.unique(np.asarray(list(classes)))
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids, got dtype {array.dtype}")
    return array


def seen_unseen_curve(
    scores, y_true, seen_classes: Iterable[int], unseen_classes: Iterable[int], gammas=None
) -> dict[str, np.ndarray]:
    """Generalized-ZSL accuracies as calibrated stacking's γ sweeps (Chao et al. 2016).

    For each γ, γ is subtracted from the seen columns of `scores` (images × classes, over
    seen and unseen classes), every image is assigned its argmax class, and U, S and H are
    computed as in `zsl_utils.metrics.gzsl_scores`. With `gammas=None` the curve is exact:
    one γ below every image's switching point (U = 0), one between each pair of consecutive
    switching points, and one above all of them (S = 0). Returns NumPy arrays
    {"gamma", "U", "S", "H"}, with γ increasing, U non-decreasing and S non-increasing.
    """
    matrix = _to_numpy(scores, "scores")
    if matrix.ndim != 2:
        raise ValueError(f"scores must be (images, classes), got shape {matrix.shape}")
    y = y_true.detach().cpu().numpy() if isinstance(y_true, torch.Tensor) else np.asarray(y_true)
    if y.shape != (matrix.shape[0],):
        raise ValueError(f"y_true must have one label per row of scores, got shape {y.shape}")
    seen = _class_ids(seen_classes, "seen_classes")
    unseen = _class_ids(unseen_classes, "unseen_classes")
    if overlap := sorted(set(seen.tolist()) & set(unseen.tolist())):
        raise ValueError(f"classes {overlap} are both seen and unseen")
    every = np.concatenate([seen, unseen])
    if every.min() < 0 or every.max() >= matrix.shape[1]:
        raise ValueError(
            f"class ids {sorted(every.tolist())} out of range for {matrix.shape[1]} score columns"
        )
    gzsl_scores(y, y, seen, unseen)  # validates y_true against the two class sets
    best_seen = seen[matrix[:, seen].argmax(axis=1)]
    best_unseen = unseen[matrix[:, unseen].argmax(axis=1)]
    # an image switches from its best seen to its best unseen class once γ exceeds `switch`
    switch = matrix[:, seen].max(axis=1) - matrix[:, unseen].max(axis=1)
    if gammas is None:
        points = np.unique(switch)
        gammas = np.concatenate(
            [[points[0] - 1.0], (points[:-1] + points[1:]) / 2, [points[-1] + 1.0]]
        )
    else:
        gammas = np.sort(_to_numpy(gammas, "gammas").ravel())
        if gammas.size == 0:
            raise ValueError("gammas is empty")
    right_if_seen, right_if_unseen = best_seen == y, best_unseen == y

    def class_accuracy(c) -> np.ndarray:
        # correct images of class c at each γ: right as seen, plus the change of every image
        # whose switching point lies below γ (counted exactly, in integers)
        members = y == c
        order = np.argsort(switch[members], kind="stable")
        change = right_if_unseen[members].astype(np.int64) - right_if_seen[members]
        changed = np.concatenate([[0], np.cumsum(change[order])])
        below = np.searchsorted(switch[members][order], gammas, side="left")
        return (right_if_seen[members].sum() + changed[below]) / members.sum()

    def mean_class_accuracy(classes: np.ndarray) -> np.ndarray:
        return np.mean([class_accuracy(c) for c in classes], axis=0)

    u, s = mean_class_accuracy(unseen), mean_class_accuracy(seen)
    total = u + s
    h = np.divide(2 * u * s, total, out=np.zeros_like(total), where=total > 0)
    return {"gamma": gammas.astype(np.float64), "U": u, "S": s, "H": h}


def ausuc(curve: Mapping[str, np.ndarray]) -> float:
    """Area under the seen–unseen accuracy curve (S plotted against U), by the trapezoid rule.

    `curve` is `seen_unseen_curve`'s output (or any mapping with arrays "U" and "S" of
    accuracies in [0, 1], ordered so that U never decreases). To cover the whole curve it
    should reach U = 0 at one end and S = 0 at the other, as `gammas=None` ensures.
    """
    missing = [key for key in ("U", "S") if key not in curve]
    if missing:
        raise ValueError(f"curve has no {missing}; pass seen_unseen_curve's output")
    u = _to_numpy(curve["U"], "curve['U']").ravel()
    s = _to_numpy(curve["S"], "curve['S']").ravel()
    if u.shape != s.shape:
        raise ValueError(f"curve['U'] has {u.size} points but curve['S'] has {s.size}")
    if u.size < 2:
        raise ValueError("a curve needs at least two points")
    for name, values in (("U", u), ("S", s)):
        if values.min() < 0 or values.max() > 1:
            raise ValueError(f"curve['{name}'] must hold accuracies in [0, 1]")
    if (np.diff(u) < 0).any():
        raise ValueError("curve['U'] must not decrease; order the points by increasing gamma")
    return float(np.sum(np.diff(u) * (s[1:] + s[:-1]) / 2))


def _matrix(values, name: str) -> np.ndarray:
    array = _to_numpy(values, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {array.shape}")
    return array


def _ridge_inverse_times(gram: np.ndarray, reg: float, rhs: np.ndarray, name: str) -> np.ndarray:
    """(gram + reg·I)⁻¹ rhs, with a clear error when the system is singular."""
    try:
        return np.linalg.solve(gram + reg * np.eye(len(gram)), rhs)
    except np.linalg.LinAlgError as err:
        raise ValueError(f"the ridge system is singular: make {name} larger than 0") from err


def signed_targets(labels, classes) -> np.ndarray:
    """ESZSL's targets Y (samples × classes): +1 in the column of each sample's class, −1
    elsewhere; column j is `classes[j]`. Introduced in notebook 05."""
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    classes = np.asarray(list(classes))
    if y.ndim != 1 or classes.ndim != 1 or len(np.unique(classes)) != len(classes):
        raise ValueError("labels must be a 1-D array and classes a list of distinct class ids")
    if stray := sorted(set(y.tolist()) - set(classes.tolist())):
        raise ValueError(f"labels {stray} are not among the classes {classes.tolist()}")
    return np.where(y[:, None] == classes[None, :], 1.0, -1.0)


def eszsl_fit(X, Y, S, gamma: float, lam: float) -> np.ndarray:
    """Embarrassingly simple zero-shot learning (Romera-Paredes & Torr 2015), in closed form.

    X: (samples, features); Y: (samples, classes), the target of each sample for each seen
    class as the caller defines it (the paper uses +1 for the true class and −1 elsewhere);
    S: (classes, attributes), one row per column of Y. Returns V (features, attributes) =
    (XᵀX + γI)⁻¹ Xᵀ Y S (SᵀS + λI)⁻¹, the bilinear map that `eszsl_scores` uses.
    Introduced in notebook 05.
    """
    X, Y, S = _matrix(X, "X"), _matrix(Y, "Y"), _matrix(S, "S")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but Y has {Y.shape[0]}")
    if S.shape[0] != Y.shape[1]:
        raise ValueError(f"Y has {Y.shape[1]} class columns but S has {S.shape[0]} class rows")
    for name, value in (("gamma", gamma), ("lam", lam)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    left = _ridge_inverse_times(X.T @ X, gamma, X.T @ Y @ S, "gamma")  # (XᵀX + γI)⁻¹ XᵀYS
    return _ridge_inverse_times(S.T @ S, lam, left.T, "lam").T  # · (SᵀS + λI)⁻¹ (symmetric)


def eszsl_scores(X, V, S):
    """ESZSL's class scores X V Sᵀ: (samples × classes) for the classes whose rows are in S.

    S may describe other classes than those `eszsl_fit` saw (the unseen ones): that is the
    zero-shot step. Introduced in notebook 05.
    """
    X, V, S = _matrix(X, "X"), _matrix(V, "V"), _matrix(S, "S")
    if X.shape[1] != V.shape[0]:
        raise ValueError(f"X has {X.shape[1]} features but V expects {V.shape[0]}")
    if S.shape[1] != V.shape[1]:
        raise ValueError(f"S has {S.shape[1]} attributes but V expects {V.shape[1]}")
    return X @ V @ S.T


def k_occurrence(scores, k: int = 1) -> np.ndarray:
    """N_k of every class: in how many rows of `scores` (queries × classes) it is among the
    k highest-scoring classes. A "hub" is a class with a large N_k; without hubness every
    class would get about k·queries/classes. Introduced in notebook 05.
    """
    matrix = _matrix(scores, "scores")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= matrix.shape[1]:
        raise ValueError(f"k must be an int between 1 and {matrix.shape[1]}, got {k!r}")
    top = np.argpartition(-matrix, k - 1, axis=1)[:, :k]
    return np.bincount(top.ravel(), minlength=matrix.shape[1])


def hubness_skewness(scores, k: int = 1) -> float:
    """The skewness of the k-occurrence distribution (Radovanović et al. 2010): about 0 when
    every class is a nearest neighbour equally often, large and positive when a few hubs are
    the nearest neighbour of most queries. Introduced in notebook 05.
    """
    counts = k_occurrence(scores, k).astype(np.float64)
    spread = counts.std()
    if spread == 0:
        return 0.0
    return float(np.mean((counts - counts.mean()) ** 3) / spread**3)


def conse_embed(probs, seen_vectors, top_t: int, atol: float = 1e-4):
    """ConSE (Norouzi et al. 2014): embed each image as the convex combination of the
    semantic vectors of its T most probable seen classes,

        f(x) = Σ_{t≤T} p(ŷ_t | x) s(ŷ_t) / Σ_{t≤T} p(ŷ_t | x),

    where ŷ_1, ŷ_2, ... are the seen classes sorted by decreasing probability. `probs`:
    (images, seen classes), a seen-class classifier's softmax, each row summing to 1 within
    `atol` (anything else is rejected, not silently renormalised: logits or sigmoid outputs
    are a mistake, not a distribution); `seen_vectors`: (seen classes, dims), row j the vector
    of column j. Ties in probability are broken by column order (the earlier column wins).
    Returns (images, dims), float64 NumPy, or a tensor if `probs` is one. Introduced in
    notebook 06.
    """
    p = _matrix(probs, "probs")
    vectors = _matrix(seen_vectors, "seen_vectors")
    if p.shape[1] != vectors.shape[0]:
        raise ValueError(
            f"probs has {p.shape[1]} seen-class columns but seen_vectors has "
            f"{vectors.shape[0]} rows"
        )
    if isinstance(top_t, bool) or not isinstance(top_t, (int, np.integer)):
        raise TypeError(f"top_t must be an int, got {type(top_t).__name__}")
    if not 1 <= top_t <= p.shape[1]:
        raise ValueError(
            f"top_t must be between 1 and {p.shape[1]} (the seen classes), got {top_t}"
        )
    if p.size and p.min() < 0:
        raise ValueError(f"probs must be non-negative, got a minimum of {p.min():.3g}")
    sums = p.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=atol):
        worst = sums[np.argmax(np.abs(sums - 1))]
        raise ValueError(
            f"every row of probs must sum to 1 (within {atol}), but one sums to {worst:.6g}; "
            "pass softmax(logits), not logits or sigmoids"
        )
    top = np.argsort(-p, axis=1, kind="stable")[:, :top_t]  # stable: earlier column wins ties
    weights = np.take_along_axis(p, top, axis=1)  # (images, T), the largest is >= 1/classes
    embedded = np.einsum("it,itd->id", weights, vectors[top]) / weights.sum(axis=1, keepdims=True)
    return _like(embedded, probs)


def project_onto_span(vectors, basis) -> np.ndarray:
    """Orthogonal projection of every row of `vectors` onto the span of the rows of `basis`.

    A linear compatibility F(x, y) = θ(x)ᵀ W φ(y) trained on seen classes only (the hinge
    models and ESZSL of notebook 05) sees an unseen class vector φ(u) only through this
    projection onto the span of the seen class vectors: W's gradient (and ESZSL's closed form)
    lives in that span, so the part of φ(u) outside it changes no trained score.
    `vectors`: (n, dims); `basis`: (k, dims), e.g. the seen class vectors. Returns (n, dims).
    Introduced in notebook 05.
    """
    v, b = _matrix(vectors, "vectors"), _matrix(basis, "basis")
    if v.shape[1] != b.shape[1]:
        raise ValueError(f"vectors have {v.shape[1]} dimensions but basis rows have {b.shape[1]}")
    if b.shape[0] == 0 or not np.abs(b).sum():
        raise ValueError("basis must have at least one non-zero row")
    return v @ np.linalg.pinv(b) @ b


def span_share(vectors, basis) -> np.ndarray:
    """‖projection‖ / ‖vector‖ for every row of `vectors`, projected onto the span of `basis`'s
    rows (`project_onto_span`): 1 when a vector lies in the span, 0 when it is orthogonal to it.
    Introduced in notebook 05.
    """
    v = _matrix(vectors, "vectors")
    norms = np.linalg.norm(v, axis=1)
    if (norms == 0).any():
        raise ValueError(f"vectors rows {np.flatnonzero(norms == 0).tolist()} are zero")
    return np.linalg.norm(project_onto_span(v, basis), axis=1) / norms


def _labelled(features, labels, class_table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float64 features (n × d), integer labels (n,) indexing `class_table`'s rows."""
    x = _matrix(features, "features")
    table = _matrix(class_table, "class_table")
    y = np.asarray(labels)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must hold one integer class id per row of features ({len(x)})")
    if len(x) == 0 or y.min() < 0 or y.max() >= len(table):
        raise ValueError(f"labels must be class ids 0..{len(table) - 1} (rows of class_table)")
    return x, y, table


def _check_lam(lam: float) -> None:
    if not lam > 0:
        raise ValueError(f"lam must be larger than 0, got {lam}")


def ridge_prototypes(features, labels, class_table, lam: float) -> np.ndarray:
    """Visual prototypes of every class, by ridge regression from the semantic space to the
    feature space (the "reverse" direction of Shigeto et al., ECML 2015): W minimises
    Σᵢ ‖xᵢ − s_{yᵢ} W‖² + lam ‖W‖², and class c's prototype is s_c W (classes × dims).
    The per-image sum is computed through the class sums, so the cost does not grow with the
    number of images. Introduced in notebook 09.
    """
    x, y, table = _labelled(features, labels, class_table)
    _check_lam(lam)
    classes, counts = np.unique(y, return_counts=True)
    sums = np.stack([x[y == c].sum(0) for c in classes])
    s = table[classes]
    gram = s.T @ (counts[:, None] * s)  # Σᵢ s_{yᵢ}ᵀ s_{yᵢ}
    return table @ _ridge_inverse_times(gram, lam, s.T @ sums, "lam")


def ridge_embedding(features, labels, class_table, lam: float) -> np.ndarray:
    """The "forward" ridge map V from features to the semantic space: V minimises
    Σᵢ ‖s_{yᵢ} − xᵢ V‖² + lam ‖V‖² (dims × semantic dims); an image x is embedded as x V and
    compared with the class vectors. Introduced in notebook 09, as the contrast to
    `ridge_prototypes`.
    """
    x, y, table = _labelled(features, labels, class_table)
    _check_lam(lam)
    return _ridge_inverse_times(x.T @ x, lam, x.T @ table[y], "lam")


def distance_scores(queries, points) -> np.ndarray:
    """−‖q − p‖² for every query row and every point row (queries × points): higher is nearer,
    so the scores plug into argmax, calibrated stacking and AUSUC. Introduced in notebook 09."""
    q, p = _matrix(queries, "queries"), _matrix(points, "points")
    if q.shape[1] != p.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions but points have {p.shape[1]}")
    squared = (q**2).sum(1)[:, None] - 2 * q @ p.T + (p**2).sum(1)[None]
    return -np.maximum(squared, 0.0)


def refine_prototypes(features, prototypes, max_iter: int = 100):
    """Transductive refinement: k-means (Lloyd's algorithm) on unlabelled `features`, started
    from the given `prototypes` (one per class, e.g. an inductive method's unseen-class
    prototypes), so that cluster k stays class k. A prototype that wins no image keeps its
    place. Returns (refined prototypes, iterations run); it stops when no assignment changes.
    Introduced in notebook 09.
    """
    x, centres = _matrix(features, "features"), _matrix(prototypes, "prototypes").copy()
    if x.shape[1] != centres.shape[1] or len(x) == 0:
        raise ValueError(
            f"features ({x.shape}) must be non-empty with the prototypes' {centres.shape[1]} dims"
        )
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    assigned = None
    for iteration in range(1, max_iter + 1):
        nearest = distance_scores(x, centres).argmax(1)
        if assigned is not None and np.array_equal(nearest, assigned):
            return centres, iteration - 1
        assigned = nearest
        for k in np.unique(assigned):
            centres[k] = x[assigned == k].mean(0)
    return centres, max_iter
