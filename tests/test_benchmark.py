import numpy as np
import pytest
from gensim.models import KeyedVectors
from sklearn.preprocessing import StandardScaler

from zsl_utils import benchmark, zeroshot

# Four classes in 2-D feature space; attributes: a0 = "x is large", a1 = "y is large".
ATTRIBUTES = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
CENTRES = np.array([[3.0, 0.0], [0.0, 3.0], [0.0, 0.0], [3.0, 3.0]])


def toy(classes, n=40, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.asarray(classes), n)
    return CENTRES[labels] + 0.3 * rng.normal(size=(len(labels), 2)), labels


def test_dap_recognises_a_class_never_trained_from_its_attributes():
    x_train, y_train = toy([0, 1, 2])  # class 3 (both attributes) is unseen
    x_test, y_test = toy([3], seed=1)
    probs = benchmark.dap_attribute_probs(x_train, y_train, ATTRIBUTES, x_test)
    assert probs.shape == (len(x_test), 2) and (probs > 0.5).all() and probs.mean() > 0.85
    scores = benchmark.dap_on_features(x_train, y_train, ATTRIBUTES, x_test)
    assert scores.shape == (len(x_test), 4) and (scores.argmax(1) == y_test).all()


def test_dap_constant_attribute_needs_no_regression():
    table = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    x_train, y_train = toy([0, 1])  # attribute 0 is 1 for both training classes
    probs = benchmark.dap_attribute_probs(x_train, y_train, table, toy([2])[0])
    assert (probs[:, 0] == 1.0).all()


def test_eszsl_on_features_is_eszsl_on_standardised_features():
    x_train, y_train = toy([0, 1])
    x_eval, _ = toy([0, 1, 3], seed=2)
    got = benchmark.eszsl_on_features(x_train, y_train, [0, 1], x_eval, ATTRIBUTES, 1.0, 0.1)
    scaler = StandardScaler().fit(x_train)
    v = zeroshot.eszsl_fit(
        scaler.transform(x_train), zeroshot.signed_targets(y_train, [0, 1]), ATTRIBUTES[:2], 1, 0.1
    )
    np.testing.assert_allclose(got, scaler.transform(x_eval) @ v @ ATTRIBUTES.T)
    assert got.shape == (len(x_eval), 4)


def test_hinge_learns_the_seen_classes_and_is_deterministic():
    x_train, y_train = toy([0, 1, 2])
    x_eval, y_eval = toy([0, 1, 2], seed=3)
    semantics = np.eye(4) + 0.1  # three distinct directions
    scores = benchmark.hinge_on_features(
        x_train, y_train, [0, 1, 2], x_eval, semantics, seed=0, steps=200, batch_size=32
    )
    assert (scores.argmax(1) == y_eval).mean() > 0.95
    again = benchmark.hinge_on_features(
        x_train, y_train, [0, 1, 2], x_eval, semantics, seed=0, steps=200, batch_size=32
    )
    np.testing.assert_array_equal(scores, again)


def test_hinge_handles_unsorted_seen_classes():
    x_train, y_train = toy([2, 0])
    x_eval, y_eval = toy([2, 0], seed=4)
    scores = benchmark.hinge_on_features(
        x_train, y_train, [2, 0], x_eval, np.eye(4) + 0.1, steps=200, batch_size=32
    )
    assert (scores[:, [0, 2]].argmax(1) == (y_eval == 2)).mean() > 0.95


def test_conse_on_probs_by_hand():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    probs = np.array([[0.6, 0.4]])  # seen classes 0 and 1
    scores = benchmark.conse_on_probs(probs, vectors, [0, 1], top_t=2)
    embedded = np.array([0.6, 0.4])  # the convex combination
    expected = vectors @ embedded / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(embedded))
    np.testing.assert_allclose(scores[0], expected)
    top1 = benchmark.conse_on_probs(probs, vectors, [0, 1], top_t=1)
    np.testing.assert_allclose(top1[0], [1.0, 0.0, 1 / np.sqrt(2)])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, y: benchmark.dap_on_features(x, y[:-1], ATTRIBUTES, x), "one integer"),
        (lambda x, y: benchmark.dap_on_features(x, y + 5, ATTRIBUTES, x), "class ids 0..3"),
        (lambda x, y: benchmark.dap_on_features(x, y, ATTRIBUTES, x[:, :1]), "dims"),
        (lambda x, y: benchmark.dap_on_features(x[:0], y[:0], ATTRIBUTES, x), "non-empty"),
        (lambda x, y: benchmark.dap_on_features(x * np.nan, y, ATTRIBUTES, x), "NaN"),
        (lambda x, y: benchmark.dap_on_features(x, y * 1.0, ATTRIBUTES, x), "one integer"),
        (
            lambda x, y: benchmark.eszsl_on_features(x, y, [0], x, ATTRIBUTES, 1, 1),
            "at least 2 distinct",
        ),
        (
            lambda x, y: benchmark.eszsl_on_features(x, y, [0, 2], x, ATTRIBUTES, 1, 1),
            "not in seen_classes",
        ),
        (
            lambda x, y: benchmark.eszsl_on_features(x, y, [0, 1, 7], x, ATTRIBUTES, 1, 1),
            "class ids 0..3",
        ),
        (
            lambda x, y: benchmark.hinge_on_features(x, y, [0, 1], x, ATTRIBUTES * 0, steps=1),
            "all-zero row",
        ),
        (
            lambda x, y: benchmark.hinge_on_features(x, y, [0, 1], x, ATTRIBUTES, steps=0),
            "at least 1",
        ),
        (
            lambda x, y: benchmark.conse_on_probs(np.full((2, 2), 0.5), ATTRIBUTES, [0, 5], 1),
            "class ids 0..3",
        ),
    ],
)
def test_bad_input_is_named(call, message):
    x, y = toy([0, 1], n=5)
    with pytest.raises(ValueError, match=message):
        call(x, y)


def test_conse_rejects_scores_that_are_not_probabilities():
    with pytest.raises(ValueError, match="sum"):
        benchmark.conse_on_probs(np.array([[2.0, 1.0]]), ATTRIBUTES, [0, 1], 1)


def word_vectors():
    kv = KeyedVectors(4, count=0, dtype=np.float32)
    words = ["stripes", "spots", "animal", "tall"]
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32))
    return kv


def test_lit_matches_images_to_the_prompts_of_their_class():
    x_train, y_train = toy([0, 1], n=30)
    x_eval, y_eval = toy([0, 1], seed=5)
    words = np.array(["an animal with stripes", "an animal with spots"])
    captions = [list(words[y_train]), list(words[y_train])]
    prompts = [[words[0]], [words[1], "stripes spots"], ["tall animal"], ["animal"]]
    scores = benchmark.lit_on_features(
        x_train, captions, x_eval, prompts, word_vectors(), embed_dim=4, epochs=30, batch_size=8
    )
    assert scores.shape == (len(x_eval), 4)
    assert (scores[:, :2].argmax(1) == y_eval).mean() > 0.95


def test_lit_errors():
    x, y = toy([0, 1], n=3)
    with pytest.raises(ValueError, match="caption lists"):
        benchmark.lit_on_features(x, ["a"] * len(x), x, [["a"]], word_vectors())
    with pytest.raises(ValueError, match="one caption per training image"):
        benchmark.lit_on_features(x, [["stripes"] * 2], x, [["a"]], word_vectors())
    with pytest.raises(ValueError, match="dims"):
        benchmark.lit_on_features(x, [["stripes"] * len(x)], x[:, :1], [["a"]], word_vectors())
