"""Tests for zsl_utils.schematics: each drawing builds, is labelled, and has no overlapping text."""

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zsl_utils import schematics  # noqa: E402

EXPECTED = {
    "dann": [
        "feature\nextractor G_f",
        "label predictor G_y",
        "gradient reversal",
        "G_d",
        "domain loss",
        "source labels only",
        "−λ",
    ],
    "progressive_network": ["frozen", "trainable", "adapter U σ(V(α h))", "layer 3\n(task 2)"],
    "clip_two_towers": [
        "image encoder",
        "text encoder",
        "N × N",
        "symmetric",
        "temperature",
        "prompt",
    ],
    "translation_model": [
        "encoder GRU",
        "decoder GRU",
        "attention",
        "<2ko>",
        "zero-shot",
        "ja↔ko, de↔fr",
    ],
}


def _texts(fig):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]


@pytest.fixture(params=sorted(EXPECTED))
def drawing(request):
    with plt.rc_context({"figure.dpi": 110, "font.size": 9}):
        fig = getattr(schematics, request.param)()
        yield request.param, fig
    plt.close(fig)


def test_builds_a_small_figure(drawing):
    _, fig = drawing
    assert isinstance(fig, Figure)
    width, height = fig.get_size_inches()
    assert width <= 7.5 and height <= 3.5


def test_has_the_expected_labels(drawing):
    name, fig = drawing
    text = "\n".join(t.get_text() for t in _texts(fig))
    for label in EXPECTED[name]:
        assert label in text, f"{name}: missing {label!r}"


def test_no_two_texts_overlap_and_all_inside(drawing):
    name, fig = drawing
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    frame = fig.bbox
    for label, box in boxes:
        assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, f"{name}: {label!r} cut off"
        assert box.y0 >= frame.y0 - 1 and box.y1 <= frame.y1 + 1, f"{name}: {label!r} cut off"
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"{name}: {a!r} overlaps {b!r}"


def test_closes_cleanly():
    before = len(plt.get_fignums())
    for name in EXPECTED:
        plt.close(getattr(schematics, name)())
    assert len(plt.get_fignums()) == before


def test_overlap_check_can_fail():
    fig = plt.figure(figsize=(2, 1))
    fig.text(0.5, 0.5, "one")
    fig.text(0.5, 0.5, "two")
    fig.canvas.draw()
    a, b = (t.get_window_extent() for t in _texts(fig))
    assert a.overlaps(b)
    plt.close(fig)
