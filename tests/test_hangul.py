"""The Hangul benchmark: jamo, the rendered data and its split, the build script, letter models."""

import numpy as np
import pytest
import torch
from conftest import ROOT, load_script

from zsl_utils import hangul as hg
from zsl_utils.data import ChecksumError, HangulData, load_hangul


@pytest.fixture(scope="module")
def data():
    return load_hangul()


@pytest.fixture(scope="module")
def build():
    return load_script("build_hangul")


def test_decompose_and_compose_round_trip_every_syllable():
    for code in range(0xAC00, 0xD7A4):
        i, v, f = hg.decompose(chr(code))
        assert code == 0xAC00 + (i * 21 + v) * 28 + f
        assert hg.compose(i, v, f) == chr(code)
    assert hg.decompose("한") == (18, 0, 4)  # ㅎ ㅏ ㄴ
    assert hg.compose(0, 0) == "가"


@pytest.mark.parametrize("bad", ["a", "ㄱ", "가나", "", 3])
def test_decompose_rejects_what_is_not_one_syllable(bad):
    with pytest.raises(ValueError, match="Hangul syllable"):
        hg.decompose(bad)


def test_compose_rejects_out_of_range_letters():
    with pytest.raises(ValueError, match="vowel must be an int in 0..20"):
        hg.compose(0, 21)


def test_attribute_table_is_one_hot_per_position():
    table = hg.attribute_table(["한", "가"])
    names = hg.attribute_names()
    assert table.shape == (2, 68) and len(names) == 68
    assert (table.sum(1) == 3).all()
    assert [names[j] for j in np.flatnonzero(table[0])] == ["initial ㅎ", "vowel ㅏ", "final ㄴ"]
    second = [names[j] for j in np.flatnonzero(table[1])]
    assert second == ["initial ㄱ", "vowel ㅏ", "final (none)"]


def test_ksx1001_has_its_2350_syllables():
    syllables = hg.ksx1001_syllables()
    assert len(syllables) == len(set(syllables)) == 2350
    assert syllables[0] == "가" and syllables[-1] == "힝"
    assert all(0xAC00 <= ord(s) <= 0xD7A3 for s in syllables)


def test_loader_shapes_dtypes_and_fields(data):
    assert isinstance(data, HangulData)
    n = len(data.labels)
    assert data.images.shape == (n, 28, 28) and data.images.dtype == np.uint8
    assert data.labels.dtype == np.int64 and data.fonts.dtype == np.int64
    assert len(data.class_names) == 400 and data.attributes.shape == (400, 68)
    assert data.attribute_names == hg.attribute_names()
    assert np.array_equal(data.attributes, hg.attribute_table(data.class_names))
    assert data.fonts.max() < len(data.font_names) and len(data.font_names) >= 30
    counts = np.bincount(data.labels, minlength=400)
    assert counts.min() >= 25 and counts.max() <= 30
    x, y = data.tensors(data.val_loc[:5])
    assert x.shape == (5, 1, 28, 28)
    assert torch.equal(y, torch.from_numpy(data.labels[data.val_loc[:5]]))


def test_no_image_is_blank_or_a_missing_glyph_box(data):
    assert (data.images.max(axis=(1, 2)) >= 128).all()
    assert ((data.images > 64).sum(axis=(1, 2)) >= 12).all()
    # A missing-glyph box is the same image for every syllable of a face: no two syllables share
    # an image.
    by_bytes = {}
    for img, label in zip(data.images, data.labels, strict=True):
        by_bytes.setdefault(img.tobytes(), set()).add(int(label))
    assert all(len(labels) == 1 for labels in by_bytes.values())


def test_split_is_a_valid_xlsa17_split_with_held_out_faces(data):
    seen, unseen, val = map(set, (data.seen_classes, data.unseen_classes, data.val_classes))
    assert len(unseen) == 100 and len(seen) == 300 and len(val) == 50
    assert not seen & unseen and seen | unseen == set(range(400)) and val <= seen
    assert set(data.labels[data.test_unseen_loc]) == unseen
    assert set(data.labels[data.trainval_loc]) == seen == set(data.labels[data.test_seen_loc])
    assert not set(data.trainval_loc) & set(data.test_seen_loc)
    assert sorted(np.concatenate([data.train_loc, data.val_loc])) == list(data.trainval_loc)
    assert set(data.labels[data.val_loc]) == val
    assert len(data.unseen_fonts) >= 3
    assert not np.isin(data.fonts[data.trainval_loc], data.unseen_fonts).any()
    held = np.isin(data.fonts[data.test_seen_loc], data.unseen_fonts)
    assert held.any() and (~held).any()
    assert len(data.test_seen_loc) + len(data.trainval_loc) + len(data.test_unseen_loc) == len(
        data.labels
    )


def test_every_letter_of_an_unseen_or_validation_syllable_occurs_in_a_training_syllable(data):
    jamo = hg.jamo_table(data.class_names)
    train = sorted(set(data.seen_classes) - set(data.val_classes))
    for held in (data.unseen_classes, data.val_classes):
        for p in range(3):
            assert set(jamo[held, p]) <= set(jamo[train, p])


def test_a_changed_file_fails_its_checksum(data_copy):
    path = data_copy / "hangul" / "split.json"
    path.write_text(path.read_text().replace('"seed": ', '"seed": 1', 1))
    with pytest.raises(ChecksumError, match="split.json: SHA-256"):
        load_hangul()


def test_choose_split_keeps_every_letter_in_training(build):
    syllables = ["가", "나", "다", "각", "낙", "닥", "거", "너", "더"]
    unseen, val = build.choose_split(syllables, 2, 1, seed=0)
    jamo = hg.jamo_table(syllables)
    train = sorted(set(range(9)) - set(unseen) - set(val))
    assert len(unseen) == 2 and len(val) == 1 and not set(unseen) & set(val)
    for p in range(3):
        assert set(jamo[unseen + val, p]) <= set(jamo[train, p])
    with pytest.raises(ValueError, match="can be held out"):
        build.choose_split(syllables, 8, 1, seed=0)


def test_build_names_the_debian_packages_when_a_font_is_missing(build, tmp_path):
    with pytest.raises(build.MissingFontsError, match="apt-get install fonts-nanum"):
        build.font_path("NoSuchFont.ttf", dirs=(str(tmp_path),))


def _one_installed_font(build):
    for name, _, _ in build.FONTS:
        try:
            return build.font_path(name)
        except build.MissingFontsError:
            continue
    return None


def test_build_on_a_few_syllables_and_one_font(build, tmp_path):
    path = _one_installed_font(build)
    if path is None:
        pytest.skip(
            "no Korean font installed: apt-get install fonts-nanum (or fonts-baekmuk) to run "
            "the build test"
        )
    out = tmp_path / "hangul"
    summary = build.build(out, 24, [path.name], [], 3, 2, dirs=(str(path.parent),))
    assert summary["syllables"] == 24 and summary["dropped"] == 0
    with np.load(out / "hangul.npz", allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
        assert images.shape == (24, 28, 28) and images.dtype == np.uint8
        assert npz["font_names"].tolist() == [path.name]
    assert (images.max(axis=(1, 2)) >= 128).all() and sorted(labels) == list(range(24))
    again = tmp_path / "again"
    build.build(again, 24, [path.name], [], 3, 2, dirs=(str(path.parent),))
    assert (again / "hangul.npz").read_bytes() == (out / "hangul.npz").read_bytes()


def test_drawable_rejects_blank_and_the_missing_glyph_box(build):
    box = np.zeros((28, 28), np.uint8)
    box[4:24, 4] = box[4:24, 23] = box[4, 4:24] = box[23, 4:24] = 255
    glyph = np.zeros((28, 28), np.uint8)
    glyph[10:20, 8:20] = 200
    assert build.drawable(glyph, box)
    assert not build.drawable(box.copy(), box)
    assert not build.drawable(np.zeros((28, 28), np.uint8), box)


def test_syllable_scores_compose_letters_on_a_tiny_example():
    # One image whose letters are surely ㄱ, ㅏ and ㄴ: 간 must win over 가, 난 and 건.
    logp = torch.full((1, 68), -10.0)
    logp[0, 0] = logp[0, 19 + 0] = logp[0, 40 + 4] = 0.0
    logp[0, 40 + 0] = -1.0  # "no final" is the second guess
    classes = ["가", "간", "난", "건"]
    scores = hg.syllable_scores(logp, hg.jamo_table(classes))
    assert scores.shape == (1, 4)
    assert torch.allclose(scores[0], torch.tensor([-1.0, 0.0, -10.0, -10.0]))
    with pytest.raises(ValueError, match="class_jamo"):
        hg.syllable_scores(logp, np.zeros(3))


def test_letter_accuracy_counts_each_position():
    logp = torch.full((2, 2, 68), -5.0)
    logp[:, 0, [0, 19, 40]] = 0.0  # image 0 read as 가
    logp[:, 1, [1, 19, 41]] = 0.0  # image 1 read as 깍
    acc = hg.letter_accuracy(logp, hg.jamo_table(["가", "각"]))
    assert acc.shape == (2, 3)
    assert np.allclose(acc, [[0.5, 1.0, 1.0]] * 2)


def test_letter_nets_of_several_seeds_train_independently():
    torch.manual_seed(0)
    syllables = ["가", "나", "고", "노"]
    jamo = hg.jamo_table(syllables)
    x = torch.zeros(64, 1, 28, 28)
    labels = np.arange(64) % 4
    for c in range(4):  # a different mark per letter: initial in rows, vowel in columns
        x[labels == c, 0, 2 + 10 * (jamo[c, 0] > 0), :] = 1.0
        x[labels == c, 0, :, 2 + 10 * (jamo[c, 1] > 0)] = 1.0
    nets, epochs = hg.fit_letter_nets(
        x, jamo[labels], x, jamo[labels], [3, 4, 5], max_epochs=30, patience=5, batch_size=16
    )
    assert nets.n_models == 3 and epochs.shape == (3,) and (epochs >= 1).all()
    logp = hg.letter_log_probs(nets, x)
    assert logp.shape == (3, 64, 68)
    assert (hg.letter_accuracy(logp, jamo[labels]) == 1.0).all()
    # The seeds give different models; the same seeds give the same ones.
    assert not torch.equal(nets.w1[0], nets.w1[1])
    again, _ = hg.fit_letter_nets(
        x, jamo[labels], x, jamo[labels], [3, 4, 5], max_epochs=30, patience=5, batch_size=16
    )
    assert torch.equal(again.w1, nets.w1)
    # A model trained alone with seed 4 equals the second model of the batch.
    alone, _ = hg.fit_letter_nets(
        x, jamo[labels], x, jamo[labels], [4], max_epochs=30, patience=5, batch_size=16
    )
    assert torch.allclose(alone.w1[0], nets.w1[1], atol=1e-4)


def test_letter_nets_reject_bad_input():
    with pytest.raises(ValueError, match="n_models"):
        hg.LetterNets(0)
    with pytest.raises(ValueError, match="expected"):
        hg.LetterNets(2)(torch.zeros(3, 1, 28, 28))
    with pytest.raises(ValueError, match="one jamo row"):
        hg.fit_letter_nets(torch.zeros(3, 1, 28, 28), np.zeros((2, 3)), None, None, [0])


def test_data_readme_names_every_font_and_its_licence(data):
    readme = (ROOT / "data" / "README.md").read_text()
    for name in data.font_names:
        assert name in readme
    assert "SIL Open Font License 1.1" in readme and "Baekmuk licence" in readme
    fonts_csv = (ROOT / "data" / "hangul" / "fonts.csv").read_text()
    assert all(name in fonts_csv for name in data.font_names)


def test_romanize_names_the_letters():
    assert hg.romanize("한") == "h+a+n"
    assert hg.romanize("아") == "-+a"
    assert hg.romanize("값", sep=" ") == "g a bs"
    assert len(set(hg.INITIALS_ROMAN)) == 19 and len(set(hg.VOWELS_ROMAN)) == 21
    assert len(set(hg.FINALS_ROMAN)) == 28


def test_letter_words_fuse_each_letter_with_its_position():
    assert hg.letter_words("한") == ["initialh", "vowela", "finaln"]
    assert hg.letter_words("아") == ["initialieung", "vowela", "nofinal"]
    assert hg.letter_words("닭") == ["initiald", "vowela", "finallg"]
    # the words of a syllable name it: no two of the 2,350 common syllables share them
    words = {tuple(sorted(hg.letter_words(s))) for s in hg.ksx1001_syllables()}
    assert len(words) == 2350


def test_hangul_data_selects_classes_like_the_animals(data):
    names = [data.class_names[c] for c in data.unseen_classes[:2]]
    x, y = data.class_subset(names)
    assert set(y.tolist()) == {0, 1} and x.shape[1:] == (1, 28, 28)
