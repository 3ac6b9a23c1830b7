import numpy as np
import pytest
import torch

from zsl_utils.metrics import calibrated_stacking, gzsl_scores
from zsl_utils.zeroshot import (
    DEFAULT_EPS,
    attribute_priors,
    ausuc,
    dap_scores,
    eszsl_fit,
    eszsl_scores,
    hubness_skewness,
    k_occurrence,
    nearest_signature_scores,
    seen_unseen_curve,
    signed_targets,
)

PROBS = np.array([[0.9, 0.2]])
SIGNATURES = np.array([[1.0, 0.0], [0.0, 1.0]])


def test_dap_scores_by_hand():
    scores = dap_scores(PROBS, SIGNATURES)
    expected = [[np.log(0.9) + np.log(0.8), np.log(0.1) + np.log(0.2)]]
    assert scores.shape == (1, 2)
    assert np.allclose(scores, expected)


def test_dap_scores_with_priors_by_hand():
    # priors 0.75 and 0.25: class 0 (1, 0) has prior probability 0.75·0.75, class 1 0.25·0.25
    scores = dap_scores(PROBS, SIGNATURES, priors=np.array([0.75, 0.25]))
    plain = dap_scores(PROBS, SIGNATURES)
    assert np.allclose(scores - plain, [[-2 * np.log(0.75), -2 * np.log(0.25)]])


def test_uniform_priors_shift_every_class_equally():
    rng = np.random.default_rng(0)
    probs, table = rng.random((5, 4)), rng.integers(0, 2, (3, 4)).astype(float)
    shifted = dap_scores(probs, table, priors=np.full(4, 0.5)) - dap_scores(probs, table)
    assert np.allclose(shifted, 4 * np.log(2))


def test_dap_scores_clip_probabilities():
    scores = dap_scores(np.array([[0.0, 1.0]]), SIGNATURES)
    assert np.isfinite(scores).all()
    assert scores[0, 0] == pytest.approx(2 * np.log(DEFAULT_EPS))
    assert scores[0, 1] == pytest.approx(2 * np.log1p(-DEFAULT_EPS))


def test_dap_scores_keep_torch_tensors():
    scores = dap_scores(torch.tensor(PROBS, dtype=torch.float32), torch.tensor(SIGNATURES))
    assert isinstance(scores, torch.Tensor)
    assert np.allclose(scores.numpy(), dap_scores(PROBS, SIGNATURES), atol=1e-6)


@pytest.mark.parametrize(
    ("probs", "table", "priors", "message"),
    [
        (np.ones((2, 3)) / 2, SIGNATURES, None, "3 attributes but class_attributes has 2"),
        (np.array([0.5, 0.5]), SIGNATURES, None, r"\(images, attributes\)"),
        (np.array([[1.5, 0.2]]), SIGNATURES, None, r"probabilities in \[0, 1\]"),
        (np.array([[-0.1, 0.2]]), SIGNATURES, None, r"probabilities in \[0, 1\]"),
        (np.array([[np.nan, 0.2]]), SIGNATURES, None, "NaN"),
        (PROBS, np.array([[0.7, 0.0], [0.0, 1.0]]), None, "binary"),
        (PROBS, SIGNATURES, np.array([0.5, 0.5, 0.5]), r"one value per attribute, shape \(2,\)"),
        (PROBS, SIGNATURES, np.array([0.5, 1.2]), r"priors must be probabilities"),
    ],
)
def test_dap_scores_reject_bad_input(probs, table, priors, message):
    with pytest.raises(ValueError, match=message):
        dap_scores(probs, table, priors=priors)


def test_dap_scores_reject_bad_eps():
    with pytest.raises(ValueError, match="eps"):
        dap_scores(PROBS, SIGNATURES, eps=0.0)


def test_attribute_priors_are_signature_means():
    assert np.allclose(attribute_priors([[1, 0, 1], [1, 1, 0]]), [1.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="binary"):
        attribute_priors([[0.5, 1.0]])
    with pytest.raises(ValueError, match="non-empty"):
        attribute_priors(np.zeros((0, 3)))


def test_nearest_signature_scores_by_hand():
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    euclid = nearest_signature_scores(probs, SIGNATURES)
    assert np.allclose(euclid, [[0.0, -np.sqrt(2)], [-np.sqrt(0.5), -np.sqrt(0.5)]])
    cosine = nearest_signature_scores(probs, SIGNATURES, metric="cosine")
    assert np.allclose(cosine, [[1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    as_tensor = nearest_signature_scores(torch.tensor(probs), torch.tensor(SIGNATURES))
    assert isinstance(as_tensor, torch.Tensor) and np.allclose(as_tensor.numpy(), euclid)


def test_nearest_signature_scores_reject_bad_input():
    with pytest.raises(ValueError, match="unknown metric"):
        nearest_signature_scores(PROBS, SIGNATURES, metric="manhattan")
    with pytest.raises(ValueError, match="1 attributes but class_attributes has 2"):
        nearest_signature_scores(np.ones((1, 1)), SIGNATURES)
    with pytest.raises(ValueError, match="all-zero"):
        nearest_signature_scores(np.zeros((1, 2)), SIGNATURES, metric="cosine")


# class 0 is seen, class 1 unseen; each image switches to class 1 once γ > s0 − s1
CURVE_SCORES = np.array([[2.0, 0.0], [1.0, 0.0], [0.5, 0.0], [-1.0, 0.0]])
CURVE_LABELS = np.array([0, 0, 1, 1])


def test_seen_unseen_curve_by_hand():
    curve = seen_unseen_curve(CURVE_SCORES, CURVE_LABELS, [0], [1])
    assert np.allclose(curve["gamma"], [-2.0, -0.25, 0.75, 1.5, 3.0])
    assert np.allclose(curve["U"], [0.0, 0.5, 1.0, 1.0, 1.0])
    assert np.allclose(curve["S"], [1.0, 1.0, 1.0, 0.5, 0.0])
    assert np.allclose(curve["H"], [0.0, 2 / 3, 1.0, 2 / 3, 0.0])
    assert ausuc(curve) == pytest.approx(1.0)  # perfectly separable: the whole unit square


def test_seen_unseen_curve_matches_calibrated_stacking():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(60, 5))
    labels = np.repeat(np.arange(5), 12)
    seen, unseen = [0, 1, 2], [3, 4]
    gammas = np.array([-1.0, 0.0, 0.3, 2.0])
    curve = seen_unseen_curve(torch.tensor(scores), torch.tensor(labels), seen, unseen, gammas)
    for i, gamma in enumerate(gammas):
        pred = calibrated_stacking(scores, seen, gamma).argmax(axis=1)
        expected = gzsl_scores(labels, pred, seen, unseen)
        assert curve["U"][i] == pytest.approx(expected["U"])
        assert curve["S"][i] == pytest.approx(expected["S"])
        assert curve["H"][i] == pytest.approx(expected["H"])


def test_exact_curve_spans_both_ends_and_is_monotone():
    rng = np.random.default_rng(1)
    scores, labels = rng.normal(size=(40, 4)), np.repeat(np.arange(4), 10)
    curve = seen_unseen_curve(scores, labels, [0, 1], [2, 3])
    assert curve["U"][0] == 0 and curve["S"][-1] == 0
    assert (np.diff(curve["U"]) >= 0).all() and (np.diff(curve["S"]) <= 0).all()
    assert 0 <= ausuc(curve) <= 1


@pytest.mark.parametrize(
    ("scores", "labels", "seen", "unseen", "message"),
    [
        (CURVE_SCORES[:, 0], CURVE_LABELS, [0], [1], r"\(images, classes\)"),
        (CURVE_SCORES, CURVE_LABELS[:3], [0], [1], "one label per row"),
        (CURVE_SCORES, CURVE_LABELS, [0], [0, 1], "both seen and unseen"),
        (CURVE_SCORES, CURVE_LABELS, [0], [2], "out of range"),
        (CURVE_SCORES, CURVE_LABELS, [], [1], "seen_classes is empty"),
        (np.full((4, 2), np.inf), CURVE_LABELS, [0], [1], "NaN or infinite"),
    ],
)
def test_seen_unseen_curve_rejects_bad_input(scores, labels, seen, unseen, message):
    with pytest.raises(ValueError, match=message):
        seen_unseen_curve(scores, labels, seen, unseen)


def test_seen_unseen_curve_rejects_empty_gammas():
    with pytest.raises(ValueError, match="gammas is empty"):
        seen_unseen_curve(CURVE_SCORES, CURVE_LABELS, [0], [1], gammas=[])


def test_ausuc_by_hand():
    # a straight line from (0, 1) to (1, 0): area 1/2
    assert ausuc({"U": [0.0, 0.5, 1.0], "S": [1.0, 0.5, 0.0]}) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("curve", "message"),
    [
        ({"U": [0.0, 1.0]}, "no"),
        ({"U": [0.0, 1.0], "S": [1.0]}, "2 points but"),
        ({"U": [0.0], "S": [1.0]}, "at least two points"),
        ({"U": [0.0, 1.5], "S": [1.0, 0.0]}, r"accuracies in \[0, 1\]"),
        ({"U": [1.0, 0.0], "S": [0.0, 1.0]}, "must not decrease"),
    ],
)
def test_ausuc_rejects_bad_curves(curve, message):
    with pytest.raises(ValueError, match=message):
        ausuc(curve)


def test_eszsl_fit_matches_the_formula():
    rng = np.random.default_rng(0)
    X, S = rng.normal(size=(20, 4)), rng.normal(size=(3, 5))
    Y = -np.ones((20, 3))
    Y[np.arange(20), rng.integers(0, 3, 20)] = 1
    gamma, lam = 0.5, 2.0
    expected = (
        np.linalg.inv(X.T @ X + gamma * np.eye(4))
        @ X.T
        @ Y
        @ S
        @ np.linalg.inv(S.T @ S + lam * np.eye(5))
    )
    V = eszsl_fit(X, Y, S, gamma, lam)
    assert V.shape == (4, 5)
    assert np.allclose(V, expected)
    assert np.allclose(eszsl_scores(X, V, S), X @ expected @ S.T)


def test_eszsl_recovers_a_separable_toy_problem():
    # features = the class attributes themselves: the identity map classifies perfectly
    S = np.eye(3)
    labels = np.repeat(np.arange(3), 5)
    X = S[labels]
    Y = np.eye(3)[labels]
    V = eszsl_fit(X, Y, S, gamma=1e-3, lam=1e-3)
    assert (eszsl_scores(X, V, S).argmax(1) == labels).all()
    unseen = np.array([[1.0, 1.0, 0.0]])  # a new class described by two attributes
    assert eszsl_scores(np.array([[1.0, 1.0, 0.0]]), V, np.vstack([S, unseen])).argmax() == 3


def test_eszsl_errors():
    X, Y, S = np.ones((4, 2)), np.ones((4, 3)), np.ones((3, 5))
    with pytest.raises(ValueError, match="samples"):
        eszsl_fit(X, Y[:3], S, 1.0, 1.0)
    with pytest.raises(ValueError, match="class columns"):
        eszsl_fit(X, Y, S[:2], 1.0, 1.0)
    with pytest.raises(ValueError, match="gamma"):
        eszsl_fit(X, Y, S, -1.0, 1.0)
    with pytest.raises(ValueError, match="singular"):
        eszsl_fit(X, Y, S, 0.0, 1.0)  # XᵀX of a constant X has rank 1
    V = eszsl_fit(X, Y, S, 1.0, 1.0)
    with pytest.raises(ValueError, match="features"):
        eszsl_scores(np.ones((2, 3)), V, S)
    with pytest.raises(ValueError, match="attributes"):
        eszsl_scores(X, V, np.ones((3, 4)))
    with pytest.raises(ValueError, match="2-D"):
        eszsl_scores(np.ones(2), V, S)


def test_k_occurrence_by_hand():
    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.7, 0.0], [0.2, 0.1, 0.3]])
    assert k_occurrence(scores).tolist() == [2, 0, 1]
    assert k_occurrence(scores, k=2).tolist() == [3, 2, 1]
    assert k_occurrence(scores, k=3).tolist() == [3, 3, 3]
    with pytest.raises(ValueError, match="k must be"):
        k_occurrence(scores, k=4)
    with pytest.raises(ValueError, match="k must be"):
        k_occurrence(scores, k=0)


def test_hubness_skewness():
    balanced = np.eye(4)  # every class is the nearest neighbour of exactly one query
    assert hubness_skewness(balanced) == 0.0
    hub = np.zeros((10, 5))
    hub[:, 0] = 1.0  # class 0 is everybody's nearest neighbour
    counts = np.array([10.0, 0, 0, 0, 0])
    expected = np.mean((counts - 2) ** 3) / counts.std() ** 3
    assert np.isclose(hubness_skewness(hub), expected) and expected > 1


def test_signed_targets():
    Y = signed_targets(torch.tensor([5, 2, 5]), [2, 5])
    assert Y.tolist() == [[-1, 1], [1, -1], [-1, 1]]
    with pytest.raises(ValueError, match=r"\[7\] are not among"):
        signed_targets([7], [2, 5])
    with pytest.raises(ValueError, match="distinct"):
        signed_targets([2], [2, 2])


def test_project_onto_span_by_hand():
    from zsl_utils.zeroshot import project_onto_span

    basis = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])  # spans the x-y plane
    projected = project_onto_span(np.array([[3.0, -2.0, 5.0]]), basis)
    assert np.allclose(projected, [[3.0, -2.0, 0.0]])
    inside = np.array([[2.0, 7.0, 0.0]])
    assert np.allclose(project_onto_span(inside, basis), inside)  # already in the span
    # a rank-deficient basis (a repeated row) spans the same line
    line = project_onto_span(np.array([[1.0, 1.0, 0.0]]), np.array([[1.0, 0.0, 0.0]] * 2))
    assert np.allclose(line, [[1.0, 0.0, 0.0]])


def test_span_share_by_hand():
    from zsl_utils.zeroshot import span_share

    basis = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    shares = span_share(np.array([[0.0, 3.0, 4.0], [1.0, 2.0, 0.0], [0.0, 0.0, 2.0]]), basis)
    assert np.allclose(shares, [0.6, 1.0, 0.0])
    # full-rank basis: every vector lies in the span
    rng = np.random.default_rng(0)
    assert np.allclose(span_share(rng.normal(size=(4, 3)), rng.normal(size=(3, 3))), 1.0)


def test_span_errors():
    from zsl_utils.zeroshot import project_onto_span, span_share

    with pytest.raises(ValueError, match="dimensions"):
        project_onto_span(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="non-zero"):
        project_onto_span(np.ones((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="zero"):
        span_share(np.array([[0.0, 0.0, 0.0]]), np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        span_share(np.array([[np.nan, 1.0, 0.0]]), np.eye(3))
    with pytest.raises(ValueError, match="2-D"):
        span_share(np.ones(3), np.eye(3))
