import numpy as np
import pytest
import torch

from zsl_utils import selftaught as st

RAMP = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6) / 59  # two 5×6 images in [0, 1]


def test_random_patches_are_slices_of_the_images():
    patches = st.random_patches(RAMP, n=20, size=3, seed=0)
    assert patches.shape == (20, 3, 3) and patches.dtype == np.float32
    slices = {
        RAMP[i, r : r + 3, c : c + 3].tobytes()
        for i in range(2)
        for r in range(3)
        for c in range(4)
    }
    assert all(patch.tobytes() in slices for patch in patches)
    assert len({patch.tobytes() for patch in patches}) > 5  # different positions and images


def test_random_patches_are_deterministic_and_accept_uint8_and_torch_layout():
    a, b = st.random_patches(RAMP, 8, 2, seed=3), st.random_patches(RAMP, 8, 2, seed=3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, st.random_patches(RAMP, 8, 2, seed=4))
    full = np.full((1, 4, 4), 255, dtype=np.uint8)
    assert np.array_equal(st.random_patches(full, 2, 4), np.ones((2, 4, 4), np.float32))
    as_torch = torch.from_numpy(RAMP).unsqueeze(1)
    assert np.array_equal(st.random_patches(as_torch, 8, 2, seed=3), a)


def test_random_patches_rejects_bad_input():
    with pytest.raises(ValueError, match="larger than the images"):
        st.random_patches(RAMP, 1, 6)
    with pytest.raises(ValueError, match="shape"):
        st.random_patches(RAMP[0], 1, 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        st.random_patches(RAMP * 2, 1, 2)
    with pytest.raises(TypeError, match="uint8 or float"):
        st.random_patches(np.zeros((1, 4, 4), dtype=np.int64), 1, 2)
    with pytest.raises(ValueError, match="n must be"):
        st.random_patches(RAMP, 0, 2)
    with pytest.raises(ValueError, match="seed"):
        st.random_patches(RAMP, 1, 2, seed=-1)
    with pytest.raises(ValueError, match="empty"):
        st.random_patches(RAMP[:0], 1, 2)


def test_natural_patches_are_grey_photo_patches():
    patches = st.natural_patches(50, size=7, seed=1)
    assert patches.shape == (50, 7, 7) and patches.dtype == np.float32
    assert 0 <= patches.min() and patches.max() <= 1 and patches.std() > 0.05
    assert np.array_equal(patches, st.natural_patches(50, size=7, seed=1))


def _edge_patches(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Patches that are each a vertical or a horizontal step edge, with random contrast."""
    vertical = np.zeros((5, 5), np.float32)
    vertical[:, 3:] = 1
    edges = np.stack([vertical, vertical.T])
    rng = np.random.default_rng(seed)
    patches = edges[rng.integers(2, size=n)] * rng.uniform(0.3, 1, size=(n, 1, 1))
    return patches, edges


def test_learn_filters_finds_the_edges_the_patches_are_made_of():
    patches, edges = _edge_patches(400, seed=0)
    filters = st.learn_filters(patches, n_filters=2, alpha=0.1, seed=0)
    assert filters.shape == (2, 5, 5) and filters.dtype == np.float32
    assert np.allclose(np.linalg.norm(filters.reshape(2, -1), axis=1), 1, atol=1e-5)
    centred = edges.reshape(2, -1) - edges.reshape(2, -1).mean(axis=1, keepdims=True)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    cosines = np.abs(filters.reshape(2, -1) @ centred.T)  # filters × edges
    assert cosines.max(axis=0).min() > 0.95  # each edge has a filter that matches it
    assert np.array_equal(filters, st.learn_filters(patches, n_filters=2, alpha=0.1, seed=0))


def test_learn_filters_rejects_bad_input():
    patches, _ = _edge_patches(20, seed=0)
    with pytest.raises(ValueError, match="size, size"):
        st.learn_filters(patches[:, :4], n_filters=2)
    with pytest.raises(ValueError, match="alpha"):
        st.learn_filters(patches, n_filters=2, alpha=0)
    with pytest.raises(ValueError, match="flat"):
        st.learn_filters(np.ones((30, 5, 5)), n_filters=2)  # no edges at all
    with pytest.raises(ValueError, match="n_filters"):
        st.learn_filters(patches, n_filters=0)


def test_contrast_normalise_equalises_contrast_and_drops_flat_patches():
    patches, _ = _edge_patches(10, seed=1)
    patches = np.concatenate([patches, np.full((3, 5, 5), 0.4, np.float32)])  # 3 flat ones
    rows = st.contrast_normalise(patches, eps=1e-6)
    assert rows.shape == (10, 25) and rows.dtype == np.float64
    assert np.allclose(rows.mean(axis=1), 0)
    assert np.allclose(rows.std(axis=1), 1, atol=1e-3)  # every contrast ends at unit spread
    faint = st.contrast_normalise(patches[:1] * 0.05, eps=1.0)  # eps damps faint patches
    assert np.linalg.norm(faint) < 0.1 * np.linalg.norm(rows[0])
    with pytest.raises(ValueError, match="eps"):
        st.contrast_normalise(patches, eps=0)
    with pytest.raises(ValueError, match="size, size"):
        st.contrast_normalise(patches[:, :4])


def test_fit_dictionary_stops_before_its_pass_limit_and_matches_learn_filters():
    patches, _ = _edge_patches(600, seed=2)
    learner = st.fit_dictionary(patches, n_filters=2, alpha=0.1, seed=0)
    assert 0 < learner.n_iter_ < learner.max_iter  # stopped by its rule, not the limit
    assert learner.n_steps_ > 1
    filters = st.learn_filters(patches, n_filters=2, alpha=0.1, seed=0)
    assert np.array_equal(filters, learner.components_.reshape(2, 5, 5).astype(np.float32))


def test_random_filters_have_zero_mean_and_unit_norm():
    filters = st.random_filters(6, 3, seed=0)
    assert filters.shape == (6, 3, 3) and filters.dtype == np.float32
    flat = filters.reshape(6, -1)
    assert np.allclose(flat.mean(axis=1), 0, atol=1e-6)
    assert np.allclose(np.linalg.norm(flat, axis=1), 1, atol=1e-6)
    assert np.array_equal(filters, st.random_filters(6, 3, seed=0))
    assert not np.array_equal(filters, st.random_filters(6, 3, seed=1))
    with pytest.raises(ValueError, match="size"):
        st.random_filters(6, 0)


def test_filter_features_by_hand():
    # a 4×4 image whose left half is 1; one filter that copies the pixel, one that negates it
    image = np.zeros((1, 4, 4), np.float32)
    image[0, :, :2] = 1
    identity = np.zeros((3, 3), np.float32)
    identity[1, 1] = 1
    features = st.filter_features(image, np.stack([identity, -identity]), grid=2)
    assert features.shape == (1, 2 * 2 * 2 * 2) and features.dtype == np.float32
    # channels: [identity+, negated+, identity-, negated-], each a 2×2 grid of region means
    positive_identity, positive_negated, negative_identity, negative_negated = features.reshape(
        4, 2, 2
    )
    assert np.allclose(positive_identity, [[1, 0], [1, 0]])
    assert np.allclose(negative_negated, [[1, 0], [1, 0]])
    assert np.allclose(positive_negated, 0) and np.allclose(negative_identity, 0)


def test_filter_features_accept_uint8_and_reject_bad_input():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 8, 8), dtype=np.uint8)
    filters = st.random_filters(2, 3, seed=0)
    assert np.allclose(
        st.filter_features(images, filters), st.filter_features(images / 255.0, filters), atol=1e-6
    )
    with pytest.raises(ValueError, match="odd size"):
        st.filter_features(images, np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="finer"):
        st.filter_features(images, filters, grid=9)
    with pytest.raises(ValueError, match="shape"):
        st.filter_features(images[0], filters)


def _two_blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n)
    return rng.normal(size=(2 * n, 2)) + 4 * labels[:, None], labels


def test_few_label_accuracy_separates_easy_classes_from_one_label_each():
    train, train_labels = _two_blobs(10, seed=0)
    test, test_labels = _two_blobs(50, seed=1)
    assert st.few_label_accuracy(train, train_labels, test, test_labels, 1, seed=0) > 0.95
    shuffled = np.random.default_rng(0).permutation(test_labels)
    assert st.few_label_accuracy(train, train_labels, test, shuffled, 5, seed=0) < 0.8


def test_few_label_accuracy_is_deterministic_and_uses_only_n_per_class():
    train, train_labels = _two_blobs(10, seed=0)
    train[0] = [100, 100]  # one bad label-0 example: a 1-label draw that takes it goes wrong
    test, test_labels = _two_blobs(50, seed=1)
    scores = [st.few_label_accuracy(train, train_labels, test, test_labels, 1, s) for s in range(8)]
    assert scores == [
        st.few_label_accuracy(train, train_labels, test, test_labels, 1, s) for s in range(8)
    ]
    assert len(set(scores)) > 1


def test_few_label_accuracy_rejects_bad_input():
    train, labels = _two_blobs(3, seed=0)
    with pytest.raises(ValueError, match="fewer than 4"):
        st.few_label_accuracy(train, labels, train, labels, 4)
    with pytest.raises(ValueError, match="one label per row"):
        st.few_label_accuracy(train, labels[:-1], train, labels, 1)
    with pytest.raises(ValueError, match="dimensions"):
        st.few_label_accuracy(train, labels, train[:, :1], labels, 1)
    with pytest.raises(ValueError, match=r"\[2\]"):
        st.few_label_accuracy(train, labels, train, labels + 1, 1)
    with pytest.raises(ValueError, match="two classes"):
        st.few_label_accuracy(train, np.zeros(6, int), train, np.zeros(6, int), 1)


def test_natural_patches_decode_the_photographs_once_and_return_own_copies():
    st._grey_photos.cache_clear()
    first = st.natural_patches(5, size=7, seed=0)
    st.natural_patches(5, size=7, seed=1)
    assert st._grey_photos.cache_info().misses == 1
    first[:] = 0  # the caller's patches are its own; the shared photographs stay unchanged
    assert np.array_equal(st.natural_patches(5, size=7, seed=1), st.natural_patches(5, 7, 1))
    assert st.natural_patches(5, size=7, seed=0).any()


def test_filter_bank_builds_each_source_like_the_functions_it_wraps():
    images = np.random.default_rng(0).uniform(size=(4, 12, 12)).astype(np.float32)
    random = st.filter_bank("random", 3, 5, seed=2)
    assert np.array_equal(random, st.random_filters(3, 5, seed=2))
    photos = st.filter_bank("photographs", 3, 5, seed=2, n_patches=200)
    assert np.array_equal(photos, st.learn_filters(st.natural_patches(200, 5, seed=2), 3, seed=2))
    learned = st.filter_bank("images", 3, 5, seed=2, n_patches=200, images=images)
    assert learned.shape == (3, 5, 5)
    assert np.array_equal(
        learned, st.learn_filters(st.random_patches(images, 200, 5, seed=2), 3, seed=2)
    )


def test_filter_bank_rejects_bad_input():
    images = np.zeros((2, 8, 8), np.float32)
    with pytest.raises(ValueError, match="unknown source"):
        st.filter_bank("noise", 3, 5)
    with pytest.raises(ValueError, match="images are needed"):
        st.filter_bank("images", 3, 5)
    with pytest.raises(ValueError, match="images are needed"):
        st.filter_bank("random", 3, 5, images=images)


def test_cluster_quality_is_one_for_separated_groups_and_near_zero_for_shuffled_labels():
    features, labels = _two_blobs(40, seed=0)
    features[labels == 1] += 10  # two far-apart groups: k-means finds them exactly
    assert st.cluster_quality(features, labels, 2, seed=0) == {"NMI": 1.0, "ARI": 1.0}
    renamed = st.cluster_quality(features, 1 - labels, 2, seed=0)
    assert renamed == {"NMI": 1.0, "ARI": 1.0}  # cluster numbers do not matter
    shuffled = np.random.default_rng(1).permutation(labels)
    scores = st.cluster_quality(features, shuffled, 2, seed=0)
    assert scores["NMI"] < 0.1 and abs(scores["ARI"]) < 0.1


def test_cluster_quality_matches_sklearn_and_is_deterministic():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, 3)), rng.integers(3, size=60)
    clusters = KMeans(3, n_init=4, random_state=5).fit_predict(features)
    expected = {
        "NMI": normalized_mutual_info_score(labels, clusters),
        "ARI": adjusted_rand_score(labels, clusters),
    }
    scores = st.cluster_quality(features, labels, 3, seed=5, n_init=4)
    assert scores == pytest.approx(expected)
    assert scores == st.cluster_quality(features, labels, 3, seed=5, n_init=4)


def test_cluster_quality_rejects_bad_input():
    features, labels = _two_blobs(5, seed=0)
    with pytest.raises(ValueError, match="one label per row"):
        st.cluster_quality(features, labels[:-1], 2)
    with pytest.raises(ValueError, match="one label per row"):
        st.cluster_quality(features[:, 0], labels, 2)
    bad = features.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        st.cluster_quality(bad, labels, 2)
    with pytest.raises(ValueError, match="n_clusters must be"):
        st.cluster_quality(features, labels, 0)
    with pytest.raises(ValueError, match="more than the 10 samples"):
        st.cluster_quality(features, labels, 11)
    with pytest.raises(ValueError, match="seed"):
        st.cluster_quality(features, labels, 2, seed=-1)
