import numpy as np
import pytest
import torch

from zsl_utils.adaptation import proxy_a_distance, reverse_validation


def gaussians(shift, n=400, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, dim))
    b = rng.normal(size=(n, dim))
    b[:, 0] += shift
    return a, b


def test_proxy_a_distance_is_near_zero_for_one_distribution_and_near_two_for_separable():
    same_a, same_b = gaussians(0.0)
    far_a, far_b = gaussians(8.0)
    assert abs(proxy_a_distance(same_a, same_b, seed=1)) < 0.3
    assert proxy_a_distance(far_a, far_b, seed=1) > 1.95


def test_proxy_a_distance_grows_with_the_shift_and_ignores_the_scale():
    values = [proxy_a_distance(*gaussians(shift), seed=2) for shift in (0.5, 1.5, 3.0)]
    assert values[0] < values[1] < values[2]
    a, b = gaussians(1.0)
    assert proxy_a_distance(1000 * a, 1000 * b, seed=3) == pytest.approx(
        proxy_a_distance(a, b, seed=3)
    )  # rescaled features, the same split: the same distance


def test_proxy_a_distance_is_deterministic_and_accepts_tensors():
    a, b = gaussians(1.0)
    d = proxy_a_distance(a, b, seed=4)
    assert isinstance(d, float) and -2 <= d <= 2
    assert proxy_a_distance(torch.from_numpy(a), torch.from_numpy(b), seed=4) == d


def test_proxy_a_distance_rejects_bad_input():
    a, b = gaussians(1.0)
    with pytest.raises(ValueError, match="width"):
        proxy_a_distance(a, b[:, :3], seed=0)
    with pytest.raises(ValueError, match="2-D"):
        proxy_a_distance(a[:, 0], b, seed=0)
    bad = b.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        proxy_a_distance(a, bad, seed=0)
    with pytest.raises(ValueError, match="test_size"):
        proxy_a_distance(a, b, seed=0, test_size=1.0)


def nearest_mean(x, labels):
    # a tiny reverse classifier: the nearest class mean
    classes = np.unique(labels)
    means = np.stack([x[labels == c].mean(0) for c in classes])
    return lambda z: classes[np.argmin(((z[:, None] - means[None]) ** 2).sum(-1), axis=1)]


def test_reverse_validation_rewards_right_pseudo_labels_and_reads_no_target_label():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 5.0]])
    y_src_val = rng.integers(0, 2, 200)
    x_src_val = centres[y_src_val] + rng.normal(size=(200, 2))
    y_tgt = rng.integers(0, 2, 300)  # never passed to reverse_validation
    x_tgt = centres[y_tgt] + 0.5 + rng.normal(size=(300, 2))  # a shifted domain
    right = lambda x: (x.sum(1) > 5.5).astype(int)  # noqa: E731
    swapped = lambda x: 1 - right(x)  # noqa: E731
    seen = []

    def fit_reverse(x, pseudo):
        seen.append(pseudo)
        return nearest_mean(x, pseudo)

    good = reverse_validation(right, fit_reverse, x_tgt, x_src_val, y_src_val)
    bad = reverse_validation(swapped, fit_reverse, x_tgt, x_src_val, y_src_val)
    assert good > 0.9 and bad < 0.1
    np.testing.assert_array_equal(seen[0], right(x_tgt))  # trained on the pseudo-labels


def test_reverse_validation_rejects_bad_input():
    x = np.zeros((4, 2))
    fit = lambda x, y: lambda z: np.zeros(len(z), dtype=int)  # noqa: E731
    label = lambda z: np.zeros(len(z), dtype=int)  # noqa: E731
    with pytest.raises(ValueError, match="y_src_val"):
        reverse_validation(label, fit, x, x, np.zeros(3))
    with pytest.raises(ValueError, match="target images"):
        reverse_validation(label, fit, x[:0], x, np.zeros(4))
    with pytest.raises(ValueError, match="one label per image"):
        reverse_validation(lambda z: np.zeros((len(z), 2)), fit, x, x, np.zeros(4))
    with pytest.raises(ValueError, match="reverse classifier"):
        reverse_validation(label, lambda x, y: lambda z: np.zeros(2), x, x, np.zeros(4))
