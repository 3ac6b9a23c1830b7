import numpy as np
import pytest
import torch

import zsl_utils as zu
from zsl_utils import protocol
from zsl_utils.models import SmallCNN


@pytest.fixture(scope="module")
def data():
    return zu.load_animals()


def test_validation_split_keeps_test_and_unseen_classes_out(data):
    split = protocol.validation_split(data)
    assert set(split.unseen_classes.tolist()) == set(data.val_classes.tolist())
    assert not set(split.seen_classes.tolist()) & set(split.unseen_classes.tolist())
    used = np.concatenate([split.fit_loc, split.val_loc])
    assert len(np.unique(used)) == len(used)
    assert set(used.tolist()) == set(data.train_loc.tolist()) | set(data.val_loc.tolist())
    assert not np.isin(data.labels[used], data.unseen_classes).any()
    assert set(np.unique(data.labels[split.fit_loc]).tolist()) == set(split.seen_classes.tolist())


def test_validation_split_holds_out_about_the_fraction_without_shared_images(data):
    split = protocol.validation_split(data, held_fraction=0.2, seed=0)
    held = split.val_loc[np.isin(data.labels[split.val_loc], split.seen_classes)]
    assert 0.15 < len(held) / (len(held) + len(split.fit_loc)) < 0.25
    fit_bytes = {data.images[i].tobytes() for i in split.fit_loc}
    assert not any(data.images[i].tobytes() in fit_bytes for i in held)


def test_validation_split_is_deterministic_per_seed(data):
    a, b = protocol.validation_split(data, seed=1), protocol.validation_split(data, seed=1)
    c = protocol.validation_split(data, seed=2)
    assert np.array_equal(a.fit_loc, b.fit_loc)
    assert not np.array_equal(a.fit_loc, c.fit_loc)


def test_validation_split_with_other_classes_playing_unseen(data):
    chosen = [c for c in data.seen_classes if c not in data.val_classes][:2]
    split = protocol.validation_split(data, seed=0, val_classes=chosen)
    assert split.unseen_classes.tolist() == sorted(chosen)
    assert set(split.seen_classes.tolist()) == set(data.seen_classes.tolist()) - set(chosen)
    used = np.concatenate([split.fit_loc, split.val_loc])
    assert sorted(used.tolist()) == sorted(data.trainval_loc.tolist())  # no test image
    assert not np.isin(data.labels[split.fit_loc], chosen).any()
    unseen_part = split.val_loc[np.isin(data.labels[split.val_loc], chosen)]
    assert len(unseen_part) == np.isin(data.labels[data.trainval_loc], chosen).sum()


def test_validation_split_default_classes_are_the_splits_own(data):
    default = protocol.validation_split(data, seed=4)
    named = protocol.validation_split(data, seed=4, val_classes=data.val_classes)
    assert np.array_equal(default.fit_loc, named.fit_loc)
    assert np.array_equal(default.val_loc, named.val_loc)


@pytest.mark.parametrize(
    ("val_classes", "message"),
    [([], "empty"), ("unseen", "not seen classes"), ("all but one", "at least two")],
)
def test_validation_split_rejects_bad_val_classes(data, val_classes, message):
    if val_classes == "unseen":
        val_classes = data.unseen_classes[:1]
    elif val_classes == "all but one":
        val_classes = data.seen_classes[1:]
    with pytest.raises(ValueError, match=message):
        protocol.validation_split(data, val_classes=val_classes)


def test_validation_class_sets_are_distinct_seen_subsets_fixed_by_seed():
    seen = [0, 1, 2, 3, 4, 5, 9]
    sets = protocol.validation_class_sets(seen, 6, size=2, seed=3)
    assert len({tuple(s) for s in sets}) == 6
    assert all(len(s) == 2 and set(s) <= set(seen) and list(s) == sorted(s) for s in sets)
    again = protocol.validation_class_sets(seen, 6, size=2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(sets, again, strict=True))
    other = protocol.validation_class_sets(seen, 6, size=2, seed=4)
    assert any(not np.array_equal(a, b) for a, b in zip(sets, other, strict=True))
    assert len(protocol.validation_class_sets(seen, 21, size=2)) == 21  # all pairs of 7


@pytest.mark.parametrize(("n", "size"), [(0, 2), (22, 2), (1, 0), (1, 6)])
def test_validation_class_sets_reject_impossible_requests(n, size):
    with pytest.raises(ValueError, match="must be between"):
        protocol.validation_class_sets([0, 1, 2, 3, 4, 5, 9], n, size=size)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_validation_split_rejects_bad_fraction(data, fraction):
    with pytest.raises(ValueError, match="held_fraction"):
        protocol.validation_split(data, held_fraction=fraction)


def test_train_backbone_columns_follow_classes(data, monkeypatch):
    monkeypatch.setitem(protocol.BACKBONE, "epochs", 3)
    classes = [3, 0]  # cow, then bear
    loc = np.flatnonzero(np.isin(data.labels, classes))[::2]
    model = protocol.train_backbone(data, loc, classes, progress=False)
    assert isinstance(model, SmallCNN) and model.head.out_features == 2
    x, y = data.tensors(loc)
    predicted = np.array(classes)[zu.train.predict(model, x).argmax(1).numpy()]
    assert (predicted == y.numpy()).mean() > 0.7


def test_train_backbone_refuses_images_of_other_classes(data):
    loc = np.concatenate([np.flatnonzero(data.labels == c)[:10] for c in (0, 6)])
    with pytest.raises(ValueError, match="giraffe"):
        protocol.train_backbone(data, loc, [0], progress=False)


def test_image_features_are_the_hidden_layer():
    model = SmallCNN(3, channels=(2, 2, 2), hidden=5)
    x = torch.rand(4, 1, 28, 28)
    features = protocol.image_features(model, x)
    assert features.shape == (4, 5) and features.dtype == np.float32
    assert np.allclose(features, model.features(x).detach().numpy(), atol=1e-6)
    with pytest.raises(TypeError, match="SmallCNN"):
        protocol.image_features(torch.nn.Linear(2, 2), x)


# two seen classes (0, 1) and one unseen class (2); the unseen image is only right after γ > 1
SCORES = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 2.0, 1.0]])
LABELS = np.array([0, 1, 2])


def test_choose_gamma_takes_the_best_validation_h():
    gamma = protocol.choose_gamma(SCORES, LABELS, [0, 1], [2])
    assert 1 < gamma < 3  # the unseen image switches at 1, the seen ones at 3
    with_cs = zu.gzsl_scores(
        LABELS, zu.calibrated_stacking(SCORES, [0, 1], gamma).argmax(1), [0, 1], [2]
    )
    assert with_cs["H"] == 1.0


def test_choose_gamma_ignores_other_columns():
    wider = np.hstack([SCORES, np.full((3, 1), 100.0)])  # a class that takes no part
    assert protocol.choose_gamma(wider, LABELS, [0, 1], [2]) == protocol.choose_gamma(
        SCORES, LABELS, [0, 1], [2]
    )


def test_evaluate_by_hand():
    row = protocol.evaluate(SCORES, LABELS, [0, 1], [2], gamma=2.0)
    assert row["ZSL"] == 1.0  # among unseen classes only, the unseen image is right
    assert (row["U"], row["S"], row["H"]) == (0.0, 1.0, 0.0)
    assert (row["U+CS"], row["S+CS"], row["H+CS"]) == (1.0, 1.0, 1.0)
    assert 0 < row["AUSUC"] <= 1
    assert set(row) == {"ZSL", "U", "S", "H", "U+CS", "S+CS", "H+CS", "AUSUC"}


def test_evaluate_accepts_tensors():
    row = protocol.evaluate(torch.tensor(SCORES), torch.tensor(LABELS), [0, 1], [2], gamma=2.0)
    assert row["H+CS"] == 1.0


def test_evaluate_rejects_bad_input():
    with pytest.raises(ValueError, match="one label per image"):
        protocol.evaluate(SCORES, LABELS[:2], [0, 1], [2], gamma=0.0)
    with pytest.raises(ValueError, match="seen and of unseen"):
        protocol.evaluate(SCORES[:2], LABELS[:2], [0, 1], [2], gamma=0.0)


def test_train_backbone_with_held_out_images_stops_on_them(data, monkeypatch):
    classes = [3, 0]
    loc = np.flatnonzero(np.isin(data.labels, classes))
    fit_loc, held = loc[::4], loc[1::8]
    settings = dict(protocol.BACKBONE, epochs=15, patience=1)
    model = protocol.train_backbone(
        data, fit_loc, classes, settings=settings, held_loc=held, progress=False
    )
    history = model.history
    assert len(history["loss"]) == len(history["val_accuracy"]) <= 15
    assert history["best_epoch"][0] == 1 + int(np.argmax(history["val_accuracy"]))


def test_train_backbone_needs_every_setting(data):
    loc = np.flatnonzero(data.labels == 0)[:10]
    with pytest.raises(ValueError, match="epochs"):
        protocol.train_backbone(
            data,
            loc,
            [0],
            settings={"channels": (4, 4, 4), "hidden": 8, "lr": 1e-3, "batch_size": 8},
        )


@pytest.fixture(scope="module")
def hangul():
    return zu.load_hangul()


def test_per_class_validation_split_holds_out_images_of_every_seen_class(hangul):
    split = protocol.per_class_validation_split(hangul, seed=3)
    assert set(split.unseen_classes) == set(hangul.val_classes)
    assert not set(split.seen_classes) & set(hangul.val_classes)
    assert not set(split.fit_loc) & set(split.val_loc)
    held = split.val_loc[np.isin(hangul.labels[split.val_loc], split.seen_classes)]
    for loc in (split.fit_loc, held):  # every seen syllable on both sides
        assert set(hangul.labels[loc]) == set(split.seen_classes)
    assert set(split.val_loc) - set(held) == set(hangul.val_loc)
    assert set(split.fit_loc) | set(held) == set(hangul.train_loc)  # nothing else is used
    other = protocol.per_class_validation_split(hangul, seed=4)
    assert len(other.fit_loc) == len(split.fit_loc)  # the same count per class for any seed
    assert not np.array_equal(other.fit_loc, split.fit_loc)


def test_per_class_validation_split_rejects_bad_fraction(hangul):
    with pytest.raises(ValueError, match="held_fraction"):
        protocol.per_class_validation_split(hangul, held_fraction=1.0)
