"""Unit tests of `zsl_utils.zeroshot.conse_embed` (notebook 06)."""

import numpy as np
import pytest
import torch

from zsl_utils.zeroshot import conse_embed

# three seen classes with 2-d semantic vectors
VECTORS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def test_tiny_case_by_hand():
    probs = np.array([[0.5, 0.3, 0.2]])
    # top 2: classes 0 (0.5) and 1 (0.3): (0.5·(1, 0) + 0.3·(0, 1)) / 0.8
    assert np.allclose(conse_embed(probs, VECTORS, top_t=2), [[0.625, 0.375]])
    # all three: 0.5·(1, 0) + 0.3·(0, 1) + 0.2·(1, 1), weights already sum to 1
    assert np.allclose(conse_embed(probs, VECTORS, top_t=3), [[0.7, 0.5]])


def test_top_1_is_the_most_probable_class_vector():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    embedded = conse_embed(probs, VECTORS, top_t=1)
    assert np.array_equal(embedded, VECTORS[probs.argmax(axis=1)])


def test_uses_the_top_classes_not_the_first_columns():
    probs = np.array([[0.1, 0.2, 0.7]])
    assert np.allclose(conse_embed(probs, VECTORS, top_t=1), [[1.0, 1.0]])
    assert np.allclose(conse_embed(probs, VECTORS, top_t=2), [[0.7 / 0.9, 1.0]])


def test_result_is_a_convex_combination():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5), size=20)
    vectors = rng.normal(size=(5, 4))
    for top_t in range(1, 6):
        embedded = conse_embed(probs, vectors, top_t)
        assert embedded.shape == (20, 4)
        assert (embedded <= vectors.max(axis=0) + 1e-12).all()
        assert (embedded >= vectors.min(axis=0) - 1e-12).all()


def test_ties_go_to_the_earlier_column():
    probs = np.array([[0.4, 0.3, 0.3], [0.2, 0.4, 0.4]])
    embedded = conse_embed(probs, VECTORS, top_t=2)
    # row 0: classes 0 and 1 (1 beats 2 in the tie); row 1: classes 1 and 2 (both 0.4)
    assert np.allclose(embedded[0], (0.4 * VECTORS[0] + 0.3 * VECTORS[1]) / 0.7)
    assert np.allclose(embedded[1], (VECTORS[1] + VECTORS[2]) / 2)
    assert np.array_equal(conse_embed(probs[1:], VECTORS, top_t=1), VECTORS[[1]])


def test_uniform_probabilities_give_the_mean_vector():
    probs = np.full((1, 3), 1 / 3)
    assert np.allclose(conse_embed(probs, VECTORS, top_t=3), VECTORS.mean(axis=0, keepdims=True))


def test_small_rounding_is_accepted():
    probs = np.array([[0.5, 0.3, 0.2 + 5e-5]])  # sums to 1.00005, within the default 1e-4
    assert conse_embed(probs, VECTORS, top_t=3).shape == (1, 2)


@pytest.mark.parametrize("row", [[0.5, 0.3, 0.1], [2.0, 1.0, -0.5], [0.9, 0.8, 0.7]])
def test_rows_that_do_not_sum_to_one_are_rejected(row):
    with pytest.raises(ValueError, match="sum to 1|non-negative"):
        conse_embed(np.array([row]), VECTORS, top_t=2)


def test_negative_probabilities_are_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        conse_embed(np.array([[1.2, -0.2, 0.0]]), VECTORS, top_t=1)


def test_tolerance_can_be_widened():
    probs = np.array([[0.5, 0.3, 0.19]])
    with pytest.raises(ValueError, match="sums to 0.99"):
        conse_embed(probs, VECTORS, top_t=2)
    assert np.allclose(conse_embed(probs, VECTORS, top_t=2, atol=0.02), [[0.625, 0.375]])


@pytest.mark.parametrize("top_t", [0, -1, 4])
def test_top_t_out_of_range(top_t):
    with pytest.raises(ValueError, match="top_t must be between 1 and 3"):
        conse_embed(np.array([[0.5, 0.3, 0.2]]), VECTORS, top_t=top_t)


@pytest.mark.parametrize("top_t", [2.0, True, "2"])
def test_top_t_must_be_an_int(top_t):
    with pytest.raises(TypeError, match="top_t must be an int"):
        conse_embed(np.array([[0.5, 0.3, 0.2]]), VECTORS, top_t=top_t)


def test_numpy_integer_top_t_is_accepted():
    assert conse_embed(np.array([[0.5, 0.3, 0.2]]), VECTORS, top_t=np.int64(1)).shape == (1, 2)


@pytest.mark.parametrize(
    ("probs", "vectors", "message"),
    [
        (np.array([[0.5, 0.5]]), VECTORS, "2 seen-class columns but seen_vectors has 3 rows"),
        (np.array([0.5, 0.3, 0.2]), VECTORS, "probs must be a 2-D matrix"),
        (np.array([[0.5, 0.3, 0.2]]), VECTORS[0], "seen_vectors must be a 2-D matrix"),
        (np.array([[np.nan, 0.5, 0.5]]), VECTORS, "probs contains NaN"),
    ],
)
def test_shape_and_value_errors(probs, vectors, message):
    with pytest.raises(ValueError, match=message):
        conse_embed(probs, vectors, top_t=1)


def test_keeps_torch_tensors():
    probs = torch.softmax(torch.tensor([[2.0, 1.0, 0.0]]), dim=1)
    embedded = conse_embed(probs, VECTORS, top_t=2)
    assert isinstance(embedded, torch.Tensor)
    p = probs.double().numpy()[0]
    expected = (p[0] * VECTORS[0] + p[1] * VECTORS[1]) / (p[0] + p[1])
    assert np.allclose(embedded.numpy()[0], expected)
