"""Tests for the nearest-prototype methods: ridge maps in both directions, DEM, transductive
refinement (zsl_utils.zeroshot, zsl_utils.benchmark)."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from zsl_utils import benchmark, zeroshot

TABLE = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.5, 0.5, 1.0]])


def images(n_per_class=30, classes=(0, 1, 2), seed=0, noise=0.1):
    """Features that are a linear function of each class's row of TABLE, plus noise."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(TABLE.shape[1], 5))
    labels = np.repeat(classes, n_per_class)
    return TABLE[labels] @ w + noise * rng.normal(size=(len(labels), 5)), labels, w


def test_ridge_prototypes_are_the_per_image_ridge_regression():
    x, y, _ = images()
    prototypes = zeroshot.ridge_prototypes(x, y, TABLE, lam=2.0)
    ridge = Ridge(alpha=2.0, fit_intercept=False).fit(TABLE[y], x)
    np.testing.assert_allclose(prototypes, TABLE @ ridge.coef_.T, atol=1e-10)


def test_ridge_prototypes_reach_an_unseen_class_through_its_description():
    x, y, w = images(noise=0.01)
    prototypes = zeroshot.ridge_prototypes(x, y, TABLE, lam=1e-3)
    np.testing.assert_allclose(prototypes[3], TABLE[3] @ w, atol=0.05)  # class 3: no images


def test_ridge_embedding_is_the_per_image_ridge_regression():
    x, y, _ = images()
    embedding = zeroshot.ridge_embedding(x, y, TABLE, lam=0.5)
    ridge = Ridge(alpha=0.5, fit_intercept=False).fit(x, TABLE[y])
    np.testing.assert_allclose(embedding, ridge.coef_.T, atol=1e-10)


def test_distance_scores_are_negative_squared_distances():
    q, p = np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(zeroshot.distance_scores(q, p), [[0, -9], [-25, -16]])
    with pytest.raises(ValueError, match="dimensions"):
        zeroshot.distance_scores(q, np.ones((2, 3)))


def test_refine_prototypes_moves_them_onto_the_clusters_and_keeps_their_order():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    x = np.concatenate([c + 0.3 * rng.normal(size=(50, 2)) for c in centres])
    start = centres + np.array([[1.0, 1.0], [-1.0, 1.2], [1.1, -1.0]])  # off, but nearest right
    refined, iterations = zeroshot.refine_prototypes(x, start)
    np.testing.assert_allclose(refined, centres, atol=0.15)
    assert 1 <= iterations < 100
    again, _ = zeroshot.refine_prototypes(x, refined)  # a fixed point stays put
    np.testing.assert_allclose(again, refined)


def test_refine_prototypes_keeps_a_prototype_that_wins_nothing():
    x = np.array([[0.0, 0.0], [0.1, 0.0]])
    refined, _ = zeroshot.refine_prototypes(x, np.array([[0.0, 0.0], [100.0, 100.0]]))
    np.testing.assert_allclose(refined[1], [100.0, 100.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, y: zeroshot.ridge_prototypes(x, y, TABLE, lam=0.0), "lam"),
        (lambda x, y: zeroshot.ridge_prototypes(x, y[:-1], TABLE, lam=1.0), "labels"),
        (lambda x, y: zeroshot.ridge_prototypes(x, y + 3, TABLE, lam=1.0), "class ids"),
        (lambda x, y: zeroshot.ridge_embedding(x, y, TABLE, lam=-1.0), "lam"),
        (lambda x, y: zeroshot.refine_prototypes(x, np.ones((2, 4))), "dims"),
        (lambda x, y: zeroshot.refine_prototypes(x, x[:2], max_iter=0), "max_iter"),
    ],
)
def test_bad_inputs_are_named(call, message):
    x, y, _ = images(n_per_class=3)
    with pytest.raises(ValueError, match=message):
        call(x, y)


def test_dem_learns_prototypes_near_the_class_means():
    x, y, _ = images(noise=0.05)
    x = np.maximum(x, 0)  # features after a ReLU, as the backbone's are
    prototypes = benchmark.dem_prototypes(x, y, TABLE, weight_decay=1e-5, seed=0)
    means = np.stack([x[y == c].mean(0) for c in range(3)])
    assert prototypes.shape == (4, 5)
    assert np.abs(prototypes[:3] - means).max() < 0.1


def test_dem_prototypes_shrink_with_a_larger_weight_decay():
    x, y, _ = images()
    x = np.maximum(x, 0)
    small = benchmark.dem_prototypes(x, y, TABLE, weight_decay=1e-5, seed=0)
    large = benchmark.dem_prototypes(x, y, TABLE, weight_decay=10.0, seed=0)
    assert np.linalg.norm(large) < np.linalg.norm(small)


@pytest.mark.parametrize("name", list(benchmark.PROTOTYPE_METHODS))
def test_prototype_methods_rank_the_unseen_class_first_on_its_images(name):
    x, y, _ = images(noise=0.05)
    x_unseen, _, _ = images(classes=(3,), noise=0.05)
    x, x_unseen = x - min(x.min(), x_unseen.min()), x_unseen - min(x.min(), x_unseen.min())
    method = benchmark.PROTOTYPE_METHODS[name]
    setting = method.grid[len(method.grid) // 2]
    scores = method.score(x, y, [0, 1, 2], [3], x_unseen, TABLE, seed=0, device="cpu", **setting)
    assert scores.shape == (len(x_unseen), 4)
    zsl = scores[:, [3, 0]].argmax(1)  # the unseen class against one seen class
    assert (zsl == 0).mean() > 0.5


def clustered_problem(shift=0.0, seed=0):
    """Six classes with random descriptions: 0-3 seen, 4-5 unseen; features a linear map of
    the description plus little noise; the unseen test images moved by `shift`."""
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(6, 4))
    w = rng.normal(size=(4, 8))

    def draw(classes, n):
        labels = np.repeat(classes, n)
        return table[labels] @ w + 0.05 * rng.normal(size=(len(labels), 8)), labels

    x_train, y_train = draw([0, 1, 2, 3], 40)
    x_eval, y_eval = draw([4, 5], 40)
    problem = benchmark.Problem(x_train, y_train, np.arange(4), np.array([4, 5]),
                                x_eval + shift, y_eval)  # fmt: skip
    return problem, table


def test_transductive_zsl_composes_ridge_prototypes_and_k_means():
    problem, table = clustered_problem(shift=0.5)
    result = benchmark.transductive_zsl(problem, table, lam=0.1)
    start = zeroshot.ridge_prototypes(problem.x_train, problem.y_train, table, 0.1)[[4, 5]]
    refined, iterations = zeroshot.refine_prototypes(problem.x_eval, start)
    pick = np.array([4, 5])[zeroshot.distance_scores(problem.x_eval, refined).argmax(1)]
    assert result["transductive"] == pytest.approx((pick == problem.y_eval).mean())
    assert result["k-means iterations"] == iterations
    assert set(result) == {"inductive", "transductive", "k-means iterations"}


def test_transductive_zsl_finds_two_clean_clusters():
    problem, table = clustered_problem(shift=0.0)
    result = benchmark.transductive_zsl(problem, table, lam=0.01)
    assert result["transductive"] == 1.0 and result["inductive"] > 0.5


def test_transductive_zsl_needs_unseen_evaluation_images():
    problem, table = clustered_problem()
    seen_only = benchmark.Problem(problem.x_train, problem.y_train, problem.seen, problem.unseen,
                                  problem.x_train, problem.y_train)  # fmt: skip
    with pytest.raises(ValueError, match="no evaluation images of unseen classes"):
        benchmark.transductive_zsl(seen_only, table, lam=0.1)
