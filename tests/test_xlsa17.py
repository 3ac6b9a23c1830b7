import dataclasses

import numpy as np
import pytest
from scipy.io import savemat

from zsl_utils.data import XLSA17_URL, Xlsa17Data, load_xlsa17

CLASS_NAMES = ["antelope", "grizzly+bear", "killer+whale", "beaver", "dalmatian"]
# 20 images; image i (0-based) is of class i % 5, so classes cycle 0 1 2 3 4 0 1 2 ...
LABELS = [i % 5 for i in range(20)]
# seen classes 0, 1, 3; the last image of each is held out for test_seen; unseen 2 and 4
TRAINVAL = [0, 1, 3, 5, 6, 8, 10, 11, 13]
TEST_SEEN = [15, 16, 18]
TEST_UNSEEN = [2, 4, 7, 9, 12, 14, 17, 19]


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
        "train_loc": column([0, 3, 5, 8, 10, 13]),
        "val_loc": column([1, 6, 11]),
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
    ]:
        loc = getattr(data, field)
        assert loc.dtype == np.int64 and loc.tolist() == expected, field
    assert data.seen_classes.tolist() == [0, 1, 3]
    assert data.unseen_classes.tolist() == [2, 4]
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
    ],
)
def test_bad_contents_are_named(tmp_path, changes, message):
    write_release(tmp_path, **changes)
    with pytest.raises(ValueError, match=message):
        load_xlsa17(tmp_path, "AWA2")
