import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.io import savemat

from zsl_utils import benchmark, protocol
from zsl_utils.data import XLSA17_URL, Xlsa17Data, load_xlsa17

CLASS_NAMES = ["antelope", "grizzly+bear", "killer+whale", "beaver", "dalmatian"]
# 20 images; image i (0-based) is of class i % 5, so classes cycle 0 1 2 3 4 0 1 2 ...
LABELS = [i % 5 for i in range(20)]
# seen classes 0, 1, 3; the last image of each is held out for test_seen; unseen 2 and 4
TRAINVAL = [0, 1, 3, 5, 6, 8, 10, 11, 13]
TEST_SEEN = [15, 16, 18]
TEST_UNSEEN = [2, 4, 7, 9, 12, 14, 17, 19]
# the release's validation split: training classes 0 and 3, validation class 1
TRAIN = [0, 3, 5, 8, 10, 13]
VAL = [1, 6, 11]


def column(values, dtype=np.uint16):
    """A MATLAB column vector of 1-based indices, as the release stores them."""
    return np.array([[v + 1] for v in values], dtype=dtype)


def release_arrays() -> tuple[dict, dict]:
    """res101.mat and att_splits.mat of a tiny release, in the layout of the real files."""
    image, dim = np.meshgrid(np.arange(20), np.arange(6), indexing="ij")
    attribute, klass = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    res101 = {
        "features": (100.0 * image + dim).T,  # dims × images: feature d of image i is 100 i + d
        "labels": column(LABELS, dtype=np.float64),
        "image_files": np.array([[f"/img/{i}.jpg"] for i in range(20)], dtype=object),
    }
    att_splits = {
        "att": 10.0 * klass + attribute + 0.5,  # attributes × classes: 10 c + a + 0.5
        "original_att": 100.0 * (10 * klass + attribute),
        "allclasses_names": np.array([[n] for n in CLASS_NAMES], dtype=object),  # a cell array
        "trainval_loc": column(TRAINVAL),
        "train_loc": column(TRAIN),
        "val_loc": column(VAL),
        "test_seen_loc": column(TEST_SEEN),
        "test_unseen_loc": column(TEST_UNSEEN),
    }
    return res101, att_splits


def write_release(root, folder="AWA2", **changes):
    """Write the tiny release under root/folder; `changes` replace (or, with None, drop) keys."""
    res101, att_splits = release_arrays()
    for key, value in changes.items():
        target = res101 if key in res101 else att_splits
        if value is None:
            del target[key]
        else:
            target[key] = value
    (root / folder).mkdir()
    savemat(root / folder / "res101.mat", res101)
    savemat(root / folder / "att_splits.mat", att_splits)
    return root


def test_loads_and_converts_to_rows_and_zero_based_indices(tmp_path):
    data = load_xlsa17(write_release(tmp_path), "AWA2")
    assert isinstance(data, Xlsa17Data) and data.name == "AWA2"
    assert data.features.shape == (20, 6) and data.features.dtype == np.float32
    assert data.features[7, 3] == 703.0  # image 7, dimension 3: transposed, not reshaped
    np.testing.assert_array_equal(data.features[:, 0], 100.0 * np.arange(20))
    assert data.labels.dtype == np.int64 and data.labels.tolist() == LABELS
    assert data.class_names == CLASS_NAMES
    assert data.attributes.shape == (5, 4) and data.attributes.dtype == np.float32
    assert data.attributes[3, 1] == 31.5  # class 3, attribute 1
    for field, expected in [
        ("trainval_loc", TRAINVAL),
        ("test_seen_loc", TEST_SEEN),
        ("test_unseen_loc", TEST_UNSEEN),
        ("train_loc", TRAIN),
        ("val_loc", VAL),
    ]:
        loc = getattr(data, field)
        assert loc.dtype == np.int64 and loc.tolist() == expected, field
    assert data.seen_classes.tolist() == [0, 1, 3]
    assert data.unseen_classes.tolist() == [2, 4]
    assert data.train_classes.tolist() == [0, 3] and data.val_classes.tolist() == [1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "CUB"


def test_names_are_case_insensitive_and_map_to_the_release_folders(tmp_path):
    write_release(tmp_path, folder="CUB")
    assert load_xlsa17(tmp_path, "cub").name == "CUB"
    assert load_xlsa17(str(tmp_path), "Cub").labels.tolist() == LABELS


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float64])
def test_any_whole_number_dtype_and_optional_keys(tmp_path, dtype):
    write_release(
        tmp_path,
        labels=column(LABELS, dtype=dtype),
        trainval_loc=column(TRAINVAL, dtype=dtype).T,  # a row vector is a vector too
        train_loc=None,
        val_loc=None,
        original_att=None,
    )
    data = load_xlsa17(tmp_path, "awa2")
    assert data.labels.tolist() == LABELS and data.trainval_loc.tolist() == TRAINVAL
    assert data.train_loc is None and data.val_loc is None  # a copy without the validation split
    with pytest.raises(ValueError, match="AWA2 has no train_loc: .* lacks the release's valid"):
        _ = data.train_classes
    with pytest.raises(ValueError, match="AWA2 has no val_loc"):
        protocol.xlsa17_validation_split(dataclasses.replace(data, train_loc=np.arange(3)))


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown xlsa17 data set 'FLO'; known: AWA1, AWA2, CUB"):
        load_xlsa17(tmp_path, "FLO")
    with pytest.raises(TypeError, match="name must be a string"):
        load_xlsa17(tmp_path, 2)


def test_missing_folder_and_file_name_the_release_page(tmp_path):
    with pytest.raises(FileNotFoundError, match="SUN does not exist") as error:
        load_xlsa17(tmp_path, "sun")
    assert XLSA17_URL in str(error.value) and XLSA17_URL.endswith("the-good-the-bad-and-the-ugly")
    write_release(tmp_path)
    (tmp_path / "AWA2" / "att_splits.mat").unlink()
    with pytest.raises(FileNotFoundError, match="att_splits.mat is missing") as error:
        load_xlsa17(tmp_path, "AWA2")
    assert XLSA17_URL in str(error.value)


@pytest.mark.parametrize(
    ("key", "file"), [("test_unseen_loc", "att_splits.mat"), ("labels", "res101.mat")]
)
def test_missing_variables_are_named(tmp_path, key, file):
    write_release(tmp_path, **{key: None})
    with pytest.raises(ValueError, match=rf"{file} lacks the variables \['{key}'\]"):
        load_xlsa17(tmp_path, "AWA2")


def test_shape_mismatches(tmp_path):
    res101, _ = release_arrays()
    write_release(tmp_path, features=res101["features"][:, :19])
    with pytest.raises(ValueError, match="features has 19 columns .* 20 labels"):
        load_xlsa17(tmp_path, "AWA2")


def test_attribute_columns_must_match_the_classes(tmp_path):
    _, att_splits = release_arrays()
    write_release(tmp_path, att=att_splits["att"][:, :4])
    with pytest.raises(ValueError, match=r"att has shape \(4, 4\), but there are 5 classes"):
        load_xlsa17(tmp_path, "AWA2")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trainval_loc": np.array([[0], [1]])}, r"trainval_loc has values outside 1..20"),
        ({"test_seen_loc": column([20])}, r"test_seen_loc has values outside 1..20 .* max 21"),
        ({"labels": column([*LABELS[:-1], 5])}, r"labels has values outside 1..5"),
        ({"test_unseen_loc": np.ones((2, 3))}, r"test_unseen_loc must be a vector"),
        ({"trainval_loc": np.array([[1.5]])}, r"trainval_loc must hold whole numbers"),
        (
            {"allclasses_names": np.array([["a"], [1.0], ["c"], ["d"], ["e"]], dtype=object)},
            "allclasses_names entry 1 is not a string",
        ),
        ({"trainval_loc": column([*TRAINVAL, 2])}, r"\['killer\+whale'\] are both seen"),
        ({"val_loc": None}, "has train_loc but not its partner"),
        ({"val_loc": column([1, 5])}, r"\['antelope'\] are in both train_loc and val_loc"),
        ({"val_loc": column([1, 2])}, r"hold images of \['killer\+whale'\], which are not seen"),
        ({"train_loc": column([30])}, r"train_loc has values outside 1..20"),
        ({"val_loc": np.zeros((0, 1), dtype=np.uint16)}, "must both hold images"),
    ],
)
def test_bad_contents_are_named(tmp_path, changes, message):
    write_release(tmp_path, **changes)
    with pytest.raises(ValueError, match=message):
        load_xlsa17(tmp_path, "AWA2")


# --- the full protocol on a small learnable release (benchmark.run_xlsa17) -----------------


@pytest.fixture
def one_thread():
    """Tiny models train faster on one thread than on several that wait on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


N_CLASSES, PER_CLASS, DIMS = 8, 25, 24
SEEN, TRAIN_CLASSES, VAL_CLASSES, UNSEEN = range(6), [0, 1, 2, 3], [4, 5], [6, 7]


def learnable_release(root, folder="CUB", **changes):
    """A release in the real files' format whose features follow the class attributes.

    8 classes × 25 images; features (24 × 200, float64) = ReLU(M a_c + noise) + 0.1, so a
    linear map from attributes to features exists. Seen classes 0-5 (20 images each in
    trainval, 5 in test_seen), unseen 6 and 7. As in the release, train_loc (classes 0-3)
    and val_loc (4, 5) list every image of their classes, the test_seen images included.
    """
    rng = np.random.default_rng(0)
    att = rng.uniform(0, 1, size=(5, N_CLASSES))
    att /= np.linalg.norm(att, axis=0, keepdims=True)  # the release's att: unit columns
    labels = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    mixing = rng.normal(size=(DIMS, 5)) * 4
    features = np.maximum(mixing @ att[:, labels] + 0.3 * rng.normal(size=(DIMS, len(labels))), 0)
    position = np.tile(np.arange(PER_CLASS), N_CLASSES)  # the image's rank within its class
    seen = np.isin(labels, SEEN)
    images = np.arange(len(labels))
    att_splits = {
        "att": att,
        "original_att": 100 * att,
        "allclasses_names": np.array([[f"class{c}"] for c in range(N_CLASSES)], dtype=object),
        "trainval_loc": column(images[seen & (position < 20)]),
        "test_seen_loc": column(images[seen & (position >= 20)]),
        "test_unseen_loc": column(images[~seen]),
        "train_loc": column(images[np.isin(labels, TRAIN_CLASSES)]),
        "val_loc": column(images[np.isin(labels, VAL_CLASSES)]),
    }
    res101 = {
        "features": features + 0.1,
        "labels": column(labels, dtype=np.float64),
        "image_files": np.array([[f"/img/{i}.jpg"] for i in images], dtype=object),
    }
    for key, value in changes.items():
        (res101 if key in res101 else att_splits)[key] = value
    (root / folder).mkdir()
    savemat(root / folder / "res101.mat", res101)
    savemat(root / folder / "att_splits.mat", att_splits)
    return load_xlsa17(root, folder)


def images_of(data, features):
    """The image indices whose feature rows `features` are (each row matches exactly one)."""
    match = (np.asarray(features)[:, None, :] == data.features[None]).all(axis=2)
    assert (match.sum(axis=1) == 1).all()
    return match.argmax(axis=1)


def test_validation_split_uses_the_release_classes_and_no_test_image(tmp_path):
    data = learnable_release(tmp_path)
    split = protocol.xlsa17_validation_split(data, held_fraction=0.2, seed=3)
    assert split.seen_classes.tolist() == TRAIN_CLASSES
    assert split.unseen_classes.tolist() == VAL_CLASSES
    used = np.concatenate([split.fit_loc, split.val_loc])
    assert len(np.unique(used)) == len(used)  # fit and validation images are disjoint
    assert set(used) <= set(data.trainval_loc.tolist())  # never a test image
    assert not set(used) & set(data.test_seen_loc.tolist())
    held = split.val_loc[np.isin(data.labels[split.val_loc], TRAIN_CLASSES)]
    for c in TRAIN_CLASSES:  # 4 of each class's 20 trainval images held out
        assert (data.labels[held] == c).sum() == 4
    assert np.isin(data.labels[split.fit_loc], TRAIN_CLASSES).all()
    again = protocol.xlsa17_validation_split(data, held_fraction=0.2, seed=3)
    np.testing.assert_array_equal(split.val_loc, again.val_loc)
    other = protocol.xlsa17_validation_split(data, held_fraction=0.2, seed=4)
    assert not np.array_equal(split.fit_loc, other.fit_loc)
    with pytest.raises(ValueError, match="held_fraction must be between 0 and 1"):
        protocol.xlsa17_validation_split(data, held_fraction=1.0)
    with pytest.raises(TypeError, match="must be an Xlsa17Data"):
        protocol.xlsa17_validation_split("CUB")


class Spy:
    """A GridMethod score that records what it trained and scored on: ESZSL times `sign`."""

    def __init__(self):
        self.calls = []

    def __call__(self, x_train, y_train, seen, unseen, x_eval, attributes, *, seed, device, sign):
        self.calls.append((np.array(x_train), np.array(seen), np.array(unseen), np.array(x_eval)))
        scores = benchmark.eszsl_on_features(x_train, y_train, seen, x_eval, attributes, 1.0, 1.0)
        return sign * scores


def test_run_xlsa17_chooses_on_validation_and_tests_on_the_test_images(tmp_path):
    data = learnable_release(tmp_path)
    spy = Spy()
    result = benchmark.run_xlsa17(
        data, {"spy": benchmark.GridMethod(spy, ({"sign": -1.0}, {"sign": 1.0}))}, seed=1
    )
    (val_minus, val_plus, test) = spy.calls
    test_images = set(np.concatenate([data.test_seen_loc, data.test_unseen_loc]).tolist())
    for x_train, seen, unseen, x_eval in (val_minus, val_plus):  # validation: no test image
        assert seen.tolist() == TRAIN_CLASSES and unseen.tolist() == VAL_CLASSES
        used = np.concatenate([images_of(data, x_train), images_of(data, x_eval)])
        assert not set(used.tolist()) & test_images
    x_train, seen, unseen, x_eval = test
    assert seen.tolist() == list(SEEN) and unseen.tolist() == UNSEEN
    assert sorted(images_of(data, x_train).tolist()) == data.trainval_loc.tolist()
    assert set(images_of(data, x_eval).tolist()) == test_images
    row = result.table.loc["spy"]
    assert row["setting"] == {"sign": 1.0}  # negated scores lose on validation AUSUC
    search = result.search.set_index(result.search["setting"].map(str))["validation AUSUC"]
    assert search["{'sign': 1.0}"] > search["{'sign': -1.0}"] == pytest.approx(0, abs=0.05)
    assert row["validation AUSUC"] == search["{'sign': 1.0}"] and np.isfinite(row["γ"])
    every_measure = {f"validation {k}" for k in ("ZSL", "U", "S", "H", "H+CS", "AUSUC")}
    assert every_measure <= set(result.search.columns) and "γ" in result.search
    assert row["seconds"] >= 0
    assert result.test_scores == {}  # kept only when asked for
    grid = benchmark.GridMethod(Spy(), ({"sign": 1.0},))
    kept = benchmark.run_protocol(
        *problems_of(data), data.attributes, {"spy": grid}, seed=1, keep_scores=True
    )
    assert kept.test_scores["spy"].shape == (len(test_images), len(data.attributes))


def test_run_xlsa17_runs_every_default_method_end_to_end(tmp_path, one_thread):
    data = learnable_release(tmp_path)
    # every default method, with the first setting of its grid (choosing is tested above)
    methods = {
        name: benchmark.GridMethod(m.score, m.grid[:1])
        for name, m in benchmark.XLSA17_METHODS.items()
    }
    result = benchmark.run_xlsa17(data, methods, seed=0)
    table = result.table
    assert list(table.index) == list(benchmark.XLSA17_METHODS)
    assert len(result.search) == sum(len(m.grid) for m in methods.values())
    for name, method in methods.items():
        assert table.loc[name, "setting"] in method.grid
    for column in ("ZSL", "U", "S", "H", "U+CS", "S+CS", "H+CS", "AUSUC"):
        assert table[column].between(0, 1).all(), column
    assert np.isfinite(table["γ"]).all()
    # the attributes determine the features, so the methods that map features to attributes
    # transfer to the 2 unseen classes (chance 0.5). (The CVAE trains for a fixed number of
    # epochs, a handful of steps on 120 images: here only its plumbing is checked.)
    learners = ["ESZSL", "SJE (max hinge)", "DeViSE (sum hinge)", "ConSE"]
    assert (table.loc[learners, "ZSL"] > 0.75).all(), table["ZSL"]
    assert (table.loc[learners, "S"] > 0.75).all(), table["S"]


def test_run_xlsa17_rejects_bad_arguments(tmp_path):
    data = learnable_release(tmp_path)
    with pytest.raises(ValueError, match="unknown criterion 'accuracy'"):
        benchmark.run_xlsa17(data, criterion="accuracy")
    with pytest.raises(ValueError, match="methods is empty"):
        benchmark.run_xlsa17(data, {})
    with pytest.raises(ValueError, match=r"methods \['x'\] must be GridMethods"):
        benchmark.run_xlsa17(data, {"x": benchmark.GridMethod(Spy(), ())})
    bare = dataclasses.replace(data, train_loc=None, val_loc=None)
    with pytest.raises(ValueError, match="CUB has no train_loc"):
        benchmark.run_xlsa17(bare)


# --- run_protocol on two feature problems, and the pieces it is made of ------------------


def problems_of(data):
    """The validation and test problems run_xlsa17 builds, by hand."""
    split = protocol.xlsa17_validation_split(data, 0.2, 1)
    test_loc = np.concatenate([data.test_seen_loc, data.test_unseen_loc])

    def problem(train, seen, unseen, evaluation):
        f, y = data.features, data.labels
        return benchmark.Problem(f[train], y[train], seen, unseen, f[evaluation], y[evaluation])

    return (
        problem(split.fit_loc, split.seen_classes, split.unseen_classes, split.val_loc),
        problem(data.trainval_loc, data.seen_classes, data.unseen_classes, test_loc),
    )


def test_run_protocol_on_problems_equals_run_xlsa17(tmp_path):
    data = learnable_release(tmp_path)
    grid = benchmark.GridMethod(Spy(), ({"sign": -1.0}, {"sign": 1.0}))
    by_hand = benchmark.run_protocol(*problems_of(data), data.attributes, {"spy": grid}, seed=1)
    packaged = benchmark.run_xlsa17(data, {"spy": grid}, seed=1)
    timing = ["seconds"]  # the only column that may differ: wall-clock time
    pd.testing.assert_frame_equal(
        by_hand.table.drop(columns=timing), packaged.table.drop(columns=timing)
    )
    pd.testing.assert_frame_equal(by_hand.search, packaged.search)


def test_problem_rejects_inconsistent_classes_and_sizes():
    x, y = np.zeros((4, 3)), np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="not in `seen`"):
        benchmark.Problem(x, y, [0], [2], x, y)
    with pytest.raises(ValueError, match="both seen and unseen"):
        benchmark.Problem(x, y, [0, 1], [1], x, y)
    with pytest.raises(ValueError, match="one class id"):
        benchmark.Problem(x, y[:3], [0, 1], [2], x, y)


def test_conse_fits_its_seen_class_softmax_once_per_search(tmp_path, monkeypatch):
    data = learnable_release(tmp_path)
    fits = []
    original = benchmark.LogisticRegression.fit

    def counted_fit(self, *args, **kwargs):
        fits.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(benchmark.LogisticRegression, "fit", counted_fit)
    validation, test = problems_of(data)
    conse = benchmark.XLSA17_METHODS["ConSE"]
    result = benchmark.run_protocol(validation, test, data.attributes, {"ConSE": conse})
    assert len(fits) == 2  # one for the whole validation grid, one for the test problem
    assert result.table.loc["ConSE", "setting"] in conse.grid


@pytest.fixture
def recipe_keywords(monkeypatch):
    """The keywords that `generative.generative_zsl_scores` is called with (it returns zeros)."""
    seen_kwargs = {}

    def recipe(*args, **kwargs):
        seen_kwargs.update(kwargs)
        return np.zeros((2, 3))

    monkeypatch.setattr(benchmark.generative, "generative_zsl_scores", recipe)
    return seen_kwargs


def test_cvae_method_passes_its_searched_settings_to_the_recipe(recipe_keywords):
    seen_kwargs = recipe_keywords
    score = benchmark.XLSA17_METHODS["CVAE feature generator"].score
    x, y = np.ones((2, 4)), np.array([0, 1])
    score(x, y, [0, 1], [2], x, np.eye(3), seed=5, device="cpu", n_per_class=7, beta=10.0)
    assert seen_kwargs["n_per_class"] == 7 and seen_kwargs["beta"] == 10.0
    score(x, y, [0, 1], [2], x, np.eye(3), seed=5, device="cpu", n_per_class=7)
    assert seen_kwargs["beta"] == 3.0  # the recipe's default when β is not searched


def test_wgan_method_passes_its_settings_to_the_recipe(recipe_keywords):
    seen_kwargs = recipe_keywords
    score = benchmark.XLSA17_METHODS["f-CLSWGAN feature generator"].score
    x, y = np.ones((2, 4)), np.array([0, 1])
    score(x, y, [0, 1], [2], x, np.eye(3), seed=5, device="cpu", n_per_class=7)
    assert seen_kwargs["generator"] == "wgan" and seen_kwargs["n_per_class"] == 7
    assert seen_kwargs["cls_weight"] == 1.0  # fixed unless a grid searches it
    score(x, y, [0, 1], [2], x, np.eye(3), seed=5, device="cpu", n_per_class=7, cls_weight=0.1)
    assert seen_kwargs["cls_weight"] == 0.1


def test_grid_method_names_the_settings_at_an_edge_of_its_grid():
    grid = tuple({"n": n, "beta": b} for b in (1.0, 3.0, 10.0) for n in (100, 300, 1000))
    method = benchmark.GridMethod(lambda *a, **k: None, grid)
    assert method.at_edge({"n": 300, "beta": 3.0}) == []
    assert method.at_edge({"n": 100, "beta": 3.0}) == ["n"]
    assert method.at_edge({"n": 1000, "beta": 10.0}) == ["n", "beta"]
    assert benchmark.GridMethod(lambda *a, **k: None, ({"t": 1},)).at_edge({"t": 1}) == []
