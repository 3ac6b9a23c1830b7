import dataclasses
import hashlib
import io
import json
import pickle

import numpy as np
import pytest
import torch
from conftest import ROOT, load_script

from zsl_utils.data import (
    ChecksumError,
    load_animals,
    make_animals_m,
    make_split,
    sample_per_class,
    with_split,
)


@pytest.fixture(scope="module")
def animals():
    return load_animals()


def test_images_labels_and_classes(animals):
    assert animals.images.shape == (10_000, 28, 28)
    assert animals.images.dtype == np.uint8
    assert animals.class_names == [
        "bear",
        "bird",
        "cat",
        "cow",
        "dog",
        "elephant",
        "giraffe",
        "horse",
        "sheep",
        "zebra",
    ]
    assert np.bincount(animals.labels).tolist() == [1000] * 10


def test_attribute_table_shape_and_binarisation(animals):
    assert animals.attributes.shape == (10, len(animals.attribute_names))
    assert len(animals.attribute_names) >= 24
    assert set(np.unique(animals.attributes)) <= {0.0, 1.0}
    assert ((animals.attribute_strengths >= 0) & (animals.attribute_strengths <= 1)).all()
    np.testing.assert_array_equal(animals.attributes, animals.attribute_strengths >= 0.5)
    assert len(animals.descriptions) == 10 and all(animals.descriptions)


def test_no_two_classes_share_an_attribute_signature(animals):
    assert len({tuple(row) for row in animals.attributes}) == 10


def test_unseen_signatures_are_built_from_attributes_seen_classes_have(animals):
    seen_has = animals.attributes[animals.seen_classes].max(axis=0)
    seen_lacks = 1 - animals.attributes[animals.seen_classes].min(axis=0)
    assert (animals.attributes[animals.unseen_classes] <= seen_has).all()
    assert (seen_has * seen_lacks).all(), "every attribute must be learnable from seen classes"


def test_validation_classes_follow_the_same_rule(animals):
    train_classes = np.setdiff1d(animals.seen_classes, animals.val_classes)
    assert set(animals.val_classes) < set(animals.seen_classes)
    train_has = animals.attributes[train_classes].max(axis=0)
    assert (animals.attributes[animals.val_classes] <= train_has).all()


def test_proposed_split_is_a_valid_xlsa17_split(animals):
    labels = animals.labels
    assert animals.class_names[6:9] == [animals.class_names[c] for c in animals.unseen_classes]
    assert len(animals.seen_classes) == 7 and len(animals.unseen_classes) == 3
    assert not set(animals.trainval_loc) & set(animals.test_seen_loc)
    assert set(labels[animals.trainval_loc]) == set(animals.seen_classes)
    assert set(labels[animals.test_seen_loc]) == set(animals.seen_classes)
    np.testing.assert_array_equal(
        animals.test_unseen_loc, np.flatnonzero(np.isin(labels, animals.unseen_classes))
    )
    assert sorted([*animals.train_loc, *animals.val_loc]) == sorted(animals.trainval_loc)
    assert set(labels[animals.val_loc]) == set(animals.val_classes)
    assert len(animals.test_seen_loc) == pytest.approx(0.2 * 7000, abs=7)


def test_no_image_is_in_both_trainval_and_test_seen(animals):
    def digests(loc):
        return {hashlib.sha1(animals.images[i].tobytes()).digest() for i in loc}

    assert not digests(animals.trainval_loc) & digests(animals.test_seen_loc)


def test_split_file_is_reproduced_by_the_build_script(animals):
    build = load_script("build_animals")
    rebuilt = build.make_proposed_split(animals.images, animals.labels)
    stored = json.loads((ROOT / "data/animals/split_proposed.json").read_text())
    assert rebuilt == stored


def test_class_ids_and_unknown_names(animals):
    assert animals.class_ids(["zebra", "bear"]).tolist() == [9, 0]
    with pytest.raises(KeyError, match="unicorn"):
        animals.class_ids(["unicorn"])


def test_tensors(animals):
    x, y = animals.tensors(animals.test_unseen_loc[:5])
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    assert y.tolist() == animals.labels[animals.test_unseen_loc[:5]].tolist()
    with pytest.raises(IndexError, match="outside"):
        animals.tensors(np.array([10_000]))
    with pytest.raises(ValueError, match="1-D array of image indices"):
        animals.tensors(np.array([0.5]))


def test_unknown_split_is_named():
    with pytest.raises(ValueError, match="unknown split 'nope'; available: \\['proposed'\\]"):
        load_animals("nope")


def test_a_changed_file_fails_its_checksum(data_copy):
    path = data_copy / "animals" / "attributes.csv"
    path.write_text(path.read_text().replace("bear,0,1", "bear,1,1", 1))
    with pytest.raises(ChecksumError, match="attributes.csv: SHA-256"):
        load_animals()


def test_a_missing_file_is_named(data_copy):
    (data_copy / "animals" / "animals.npz").unlink()
    with pytest.raises(FileNotFoundError, match="animals.npz is missing"):
        load_animals()


def test_checksums_cover_every_data_file():
    listed = {line.split()[1] for line in (ROOT / "data/SHA256SUMS").read_text().splitlines()}
    on_disk = {
        str(p.relative_to(ROOT / "data"))
        for folder in ("animals", "hangul")
        for p in (ROOT / "data" / folder).iterdir()
        if p.suffix in {".npz", ".csv", ".json"}
    }
    assert listed == on_disk


def test_build_script_only_unpickles_numpy_arrays():
    build = load_script("build_animals")
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(
        build.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(array))).load(), array
    )

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError, match="refusing to load builtins.print"):
        build.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()


def test_build_script_writes_reproducible_npz(tmp_path):
    build = load_script("build_animals")
    arrays = {"a": np.arange(5), "names": np.array(["x", "yy"])}
    build.write_npz(tmp_path / "one.npz", **arrays)
    build.write_npz(tmp_path / "two.npz", **arrays)
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with np.load(tmp_path / "one.npz", allow_pickle=False) as npz:
        assert npz["names"].tolist() == ["x", "yy"]


def test_class_subset_relabels_in_the_given_order(animals):
    x, y = animals.class_subset(["zebra", "bear"], loc=animals.test_seen_loc)
    assert len(x) == 400 and set(y.tolist()) == {0, 1}
    zebra_first = animals.labels[animals.test_seen_loc][animals.labels[animals.test_seen_loc] == 9]
    assert (y == 0).sum().item() == len(zebra_first)
    with pytest.raises(ValueError, match="repeat"):
        animals.class_subset(["cat", "cat"])
    with pytest.raises(KeyError, match="unicorn"):
        animals.class_subset(["unicorn"])


def test_sample_per_class():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    chosen = sample_per_class(labels, 2, seed=0)
    assert np.bincount(labels[chosen]).tolist() == [2, 2, 2]
    np.testing.assert_array_equal(chosen, sample_per_class(torch.from_numpy(labels), 2, seed=0))
    with pytest.raises(ValueError, match="class 1 has 2 samples, fewer than 3"):
        sample_per_class(labels, 3, seed=0)
    with pytest.raises(ValueError, match="at least 1"):
        sample_per_class(labels, 0, seed=0)


def tiny_silhouettes():
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    images[:, 8:20, 10:18] = 255  # a white block on black
    images[1, 0, 0] = 100
    return images


def test_make_animals_m_shape_dtype_and_determinism():
    images = tiny_silhouettes()
    out = make_animals_m(images, seed=3)
    assert out.shape == (5, 3, 28, 28) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, make_animals_m(images, seed=3))
    assert not np.array_equal(out, make_animals_m(images, seed=4))
    assert make_animals_m(images[:0], seed=0).shape == (0, 3, 28, 28)


def test_make_animals_m_is_the_absolute_difference_with_a_patch():
    # one photo whose pixel (r, c) has colour (r, c, 200): every patch shows where it came from
    rows, cols = np.meshgrid(np.arange(40), np.arange(50), indexing="ij")
    photo = np.stack([rows, cols, np.full_like(rows, 200)], axis=-1).astype(np.uint8)
    images = tiny_silhouettes()
    out = make_animals_m(images, seed=0, photos=[photo]).astype(int)
    for blended, image in zip(out, images.astype(int), strict=True):
        # pixels (1, 0) and (0, 1) are black in every image, so they show the photo itself
        top, left = blended[0, 1, 0] - 1, blended[1, 0, 1] - 1
        patch = photo[top : top + 28, left : left + 28].astype(int).transpose(2, 0, 1)
        np.testing.assert_array_equal(blended, np.abs(patch - image))
    assert (out[:, 2, 10, 12] == 55).all()  # |200 − 255| inside the white block
    assert (out[:, 2, 0, 5] == 200).all()  # |200 − 0| on the black background


def test_make_animals_m_uses_scikit_learns_photos_by_default():
    from sklearn.datasets import load_sample_images

    images = np.zeros((3, 28, 28), dtype=np.uint8)  # black: the blend is the patch itself
    photos = list(load_sample_images().images)
    np.testing.assert_array_equal(make_animals_m(images, 1), make_animals_m(images, 1, photos))
    patches = make_animals_m(images, 1).transpose(0, 2, 3, 1)
    for patch in patches:
        found = [
            (photo[r : r + 28, c : c + 28] == patch).all()
            for photo in photos
            for r, c in zip(*np.nonzero((photo[:-27, :-27] == patch[0, 0]).all(-1)), strict=True)
        ]
        assert any(found)


def test_make_animals_m_rejects_bad_input():
    images = tiny_silhouettes()
    with pytest.raises(TypeError, match="uint8"):
        make_animals_m(images.astype(np.float32) / 255, seed=0)
    with pytest.raises(ValueError, match=r"\(n, 28, 28\)"):
        make_animals_m(images[0], seed=0)
    with pytest.raises(ValueError, match=r"\(n, 28, 28\)"):
        make_animals_m(np.zeros((2, 32, 32), dtype=np.uint8), seed=0)
    with pytest.raises(ValueError, match="seed"):
        make_animals_m(images, seed=-1)
    with pytest.raises(ValueError, match="empty"):
        make_animals_m(images, seed=0, photos=[])
    with pytest.raises(ValueError, match="photo 0"):
        make_animals_m(images, seed=0, photos=[np.zeros((20, 40, 3), dtype=np.uint8)])
    with pytest.raises(ValueError, match="photo 0"):
        make_animals_m(images, seed=0, photos=[np.zeros((40, 40), dtype=np.uint8)])
    with pytest.raises(TypeError, match="photo 0"):
        make_animals_m(images, seed=0, photos=[np.zeros((40, 40, 3))])


def test_with_split_reproduces_the_shipped_split(animals):
    rebuilt = with_split(
        load_animals(), ("giraffe", "horse", "sheep"), ("bear", "dog"), seed=2018, name="proposed"
    )
    for field in dataclasses.fields(animals):
        expected, actual = getattr(animals, field.name), getattr(rebuilt, field.name)
        if isinstance(expected, np.ndarray):
            assert actual.dtype == expected.dtype, field.name
            np.testing.assert_array_equal(actual, expected, err_msg=field.name)
        else:
            assert actual == expected, field.name


def test_another_split_is_a_valid_xlsa17_split(animals):
    other = with_split(animals, ["dog", "giraffe", "cat"], ["sheep", "horse"], seed=0, name="alt-1")
    labels = other.labels
    assert other.split == "alt-1" and other.images is animals.images
    assert other.unseen_classes.tolist() == [2, 4, 6]  # sorted by class id, like the file
    assert other.val_classes.tolist() == [7, 8]
    assert other.seen_classes.tolist() == [0, 1, 3, 5, 7, 8, 9]
    assert not set(other.trainval_loc) & set(other.test_seen_loc)
    seen_images = np.flatnonzero(np.isin(labels, other.seen_classes))
    np.testing.assert_array_equal(
        np.sort(np.concatenate([other.trainval_loc, other.test_seen_loc])), seen_images
    )
    np.testing.assert_array_equal(other.test_unseen_loc, np.flatnonzero(np.isin(labels, [2, 4, 6])))
    np.testing.assert_array_equal(np.sort([*other.train_loc, *other.val_loc]), other.trainval_loc)
    assert set(labels[other.val_loc]) == {7, 8}
    assert set(labels[other.train_loc]) == {0, 1, 3, 5, 9}
    for c in other.seen_classes:  # 20 % of each class, give or take one group of duplicates
        held = np.sum(labels[other.test_seen_loc] == c)
        assert 200 <= held <= 210, (c, held)

    def digests(loc):
        return {hashlib.sha1(other.images[i].tobytes()).digest() for i in loc}

    assert not digests(other.trainval_loc) & digests(other.test_seen_loc)


def test_with_split_depends_on_the_seed_only_through_the_test_seen_draw(animals):
    one = with_split(animals, ("cow", "horse", "sheep"), ("bear", "dog"), seed=1, name="a")
    again = with_split(animals, ("sheep", "cow", "horse"), ("dog", "bear"), seed=1, name="a")
    other_seed = with_split(animals, ("cow", "horse", "sheep"), ("bear", "dog"), seed=2, name="a")
    np.testing.assert_array_equal(one.test_seen_loc, again.test_seen_loc)
    assert not np.array_equal(one.test_seen_loc, other_seed.test_seen_loc)
    np.testing.assert_array_equal(one.test_unseen_loc, other_seed.test_unseen_loc)


def tiny_split_inputs():
    """4 classes x 5 images (2 x 2 pixels); images 0-2 of class 0 are identical."""
    labels = np.repeat(np.arange(4), 5)
    images = np.zeros((20, 2, 2), dtype=np.uint8)
    images[:, 0, 0] = np.arange(20)
    images[:3, 0, 0] = 0
    return images, labels, ["a", "b", "c", "d"]


def test_make_split_on_a_tiny_case():
    images, labels, names = tiny_split_inputs()
    for seed in range(10):
        split = make_split(
            images, labels, names, ["d"], ["c"], seed, name="tiny", test_seen_fraction=0.4
        )
        assert split["name"] == "tiny" and split["seed"] == seed
        assert split["seen_classes"] == ["a", "b", "c"] and split["unseen_classes"] == ["d"]
        assert split["test_unseen_loc"] == [15, 16, 17, 18, 19]
        assert split["val_loc"] == [i for i in split["trainval_loc"] if i >= 10]
        assert split["train_loc"] == [i for i in split["trainval_loc"] if i < 10]
        assert sorted(split["trainval_loc"] + split["test_seen_loc"]) == list(range(15))
        held_a = [i for i in split["test_seen_loc"] if i < 5]
        assert {0, 1, 2} <= set(held_a) or not {0, 1, 2} & set(held_a)  # duplicates together
        # round(0.4 * 5) = 2 images: two single ones, the group of 3, or a single one then the group
        assert len(held_a) in (2, 3, 4) and (len(held_a) == 2) == (0 not in held_a)
        assert len([i for i in split["test_seen_loc"] if 5 <= i < 10]) == 2


@pytest.mark.parametrize(
    ("unseen", "val", "error", "message"),
    [
        (["d", "x"], ["c"], ValueError, r"unknown unseen_classes \['x'\]; known: \['a'"),
        (["d"], ["c", "c"], ValueError, "val_classes repeat a class"),
        ([], ["c"], ValueError, "unseen_classes is empty"),
        (["d"], ["d"], ValueError, r"\['d'\] are both unseen and validation classes"),
        (["d"], ["b", "c"], ValueError, "only 1 seen classes besides the validation classes"),
        ("d", ["c"], TypeError, "not the string 'd'"),
    ],
)
def test_make_split_rejects_bad_class_choices(unseen, val, error, message):
    images, labels, names = tiny_split_inputs()
    with pytest.raises(error, match=message):
        make_split(images, labels, names, unseen, val, 0, name="tiny")


def test_make_split_rejects_bad_arguments():
    images, labels, names = tiny_split_inputs()

    def split(**changes):
        arguments = dict(images=images, labels=labels, class_names=names, unseen_classes=["d"])
        arguments |= dict(val_classes=["c"], seed=0, name="tiny") | changes
        return make_split(**arguments)

    with pytest.raises(ValueError, match="one entry per label"):
        split(images=images[:19])
    with pytest.raises(ValueError, match=r"labels must lie in 0..3"):
        split(labels=np.repeat(np.arange(1, 5), 5))
    with pytest.raises(ValueError, match="1-D integer array"):
        split(labels=labels.astype(float))
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        split(seed=-1)
    with pytest.raises(ValueError, match="name must be letters"):
        split(name="a/b")
    with pytest.raises(ValueError, match="test_seen_fraction must be between 0 and 1"):
        split(test_seen_fraction=1.0)
    with pytest.raises(ValueError, match=r"classes \['e'\] have no images"):
        split(class_names=[*names, "e"])
    same = images.copy()
    same[5:10] = same[5]  # class b: five identical images, one group, one side
    with pytest.raises(ValueError, match="'b' has too few distinct images"):
        split(images=same)


def test_with_split_rejects_a_validation_class_that_is_unseen(animals):
    with pytest.raises(ValueError, match="both unseen and validation"):
        with_split(animals, ("giraffe", "horse", "sheep"), ("horse", "dog"), seed=0, name="bad")
    with pytest.raises(ValueError, match="unknown unseen_classes"):
        with_split(animals, ("unicorn", "horse", "sheep"), ("bear", "dog"), seed=0, name="bad")
