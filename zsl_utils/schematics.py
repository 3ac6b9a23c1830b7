"""Schematic drawings of the course's models, drawn with matplotlib (boxes, arrows, labels).

Each function returns a small `Figure` (about 7 × 2.5 inches) in one style, drawn by the shared
helpers `_box` and `_arrow`: `dann()` (notebook 03), `progressive_network()` (02),
`clip_two_towers()` (07) and `translation_model()` (08). The drawings follow the code in
`zsl_utils.layers`, `zsl_utils.progressive`, `zsl_utils.text` and `zsl_utils.translation`.
"""

from __future__ import annotations

__all__ = ["clip_two_towers", "dann", "progressive_network", "translation_model"]

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

SIZE = (7.0, 2.5)
COLOURS = {
    "data": "#e8e8e8",
    "net": "#cfe2f3",
    "loss": "#f9d9b6",
    "special": "#d9ead3",
    "frozen": "#d9d9d9",
}


def _canvas(size=SIZE) -> tuple[Figure, plt.Axes]:
    """A figure with one axis-free Axes whose data coordinates are inches (0..w, 0..h)."""
    fig = plt.figure(figsize=size)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, size[0])
    ax.set_ylim(0, size[1])
    ax.set_axis_off()
    return fig, ax


def _box(ax, x, y, text, kind="net", w=1.0, h=0.45, **style):
    """A rounded box centred at (x, y) with `text`; returns (x, y, w, h) for `_arrow`."""
    face = COLOURS[kind]
    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2),
        w,
        h,
        boxstyle="round,pad=0.02,rounding_size=0.06",
        facecolor=face,
        edgecolor=style.pop("edgecolor", "#333333"),
        linestyle=style.pop("linestyle", "-"),
        hatch=style.pop("hatch", None),
        linewidth=1,
    )
    ax.add_patch(patch)
    label = ax.text(x, y, text, ha="center", va="center", fontsize=style.pop("fontsize", 8))
    if patch.get_hatch():  # keep the text readable on a hatched box
        label.set_bbox({"facecolor": face, "edgecolor": "none", "pad": 1.5})
    return (x, y, w, h)


def _edge(box, towards):
    """The point on the border of `box` in the direction of the point `towards`."""
    x, y, w, h = box
    dx, dy = towards[0] - x, towards[1] - y
    if dx == 0 and dy == 0:
        return x, y
    sx = (w / 2) / abs(dx) if dx else float("inf")
    sy = (h / 2) / abs(dy) if dy else float("inf")
    s = min(sx, sy)
    return x + dx * s, y + dy * s


def _arrow(
    ax,
    start,
    end,
    label=None,
    dashed=False,
    colour="#333333",
    label_at=0.5,
    offset=(0, 0.1),
    rad=0.0,
    fontsize=7,
    both=False,
):
    """An arrow from box (or point) `start` to box (or point) `end`, with an optional label."""
    a = start[:2] if len(start) == 4 else start
    b = end[:2] if len(end) == 4 else end
    p = _edge(start, b) if len(start) == 4 else a
    q = _edge(end, a) if len(end) == 4 else b
    ax.add_patch(
        FancyArrowPatch(
            p,
            q,
            arrowstyle="<|-|>" if both else "-|>",
            mutation_scale=9,
            color=colour,
            linestyle="--" if dashed else "-",
            linewidth=1,
            connectionstyle=f"arc3,rad={rad}",
        )
    )
    if label:
        mx = p[0] + (q[0] - p[0]) * label_at + offset[0]
        my = p[1] + (q[1] - p[1]) * label_at + offset[1]
        ax.text(mx, my, label, ha="center", va="center", fontsize=fontsize, color=colour)


def dann() -> Figure:
    """Domain-adversarial training (Ganin & Lempitsky 2015), as `zsl_utils.layers.fit_dann`."""
    fig, ax = _canvas()
    x = _box(ax, 0.55, 1.25, "input x\n(source +\ntarget)", "data", w=0.85, h=0.7)
    gf = _box(ax, 2.0, 1.25, "feature\nextractor G_f", w=1.1, h=0.6)
    gy = _box(ax, 3.9, 1.95, "label predictor G_y", w=1.45, h=0.42)
    ly = _box(ax, 6.05, 1.95, "class loss\n(source labels only)", "loss", w=1.55, h=0.5)
    grl = _box(
        ax,
        3.9,
        0.55,
        "gradient reversal\nforward: identity\nbackward: −λ · grad",
        "special",
        w=1.6,
        h=0.72,
    )
    gd = _box(ax, 5.45, 0.55, "domain\nclassifier G_d", w=1.05, h=0.55)
    ld = _box(ax, 6.55, 0.55, "domain loss\n(source\n+ target)", "loss", w=0.82, h=0.72, fontsize=7)
    _arrow(ax, x, gf)
    _arrow(ax, gf, gy, "features f", label_at=0.35, offset=(-0.25, 0.12))
    _arrow(ax, gf, grl)
    _arrow(ax, gy, ly)
    _arrow(ax, grl, gd)
    _arrow(ax, gd, ld)
    ax.text(
        0.1,
        2.35,
        "DANN: G_f learns features that predict the class and hide the domain",
        fontsize=8,
        va="center",
    )
    return fig


def progressive_network() -> Figure:
    """A two-column progressive network (Rusu et al. 2016), as `zsl_utils.progressive`."""
    fig, ax = _canvas((7.0, 3.2))
    ys = (0.8, 1.5, 2.2)
    names = ("layer 1", "layer 2", "layer 3")
    col1 = [
        _box(
            ax,
            1.2,
            y,
            f"{n} (task 1)\nfrozen",
            "frozen",
            w=1.1,
            h=0.48,
            hatch="//",
            edgecolor="#777777",
        )
        for y, n in zip(ys, names, strict=True)
    ]
    col2 = [
        _box(ax, 5.6, y, f"{n}\n(task 2)", w=1.1, h=0.48) for y, n in zip(ys, names, strict=True)
    ]
    ax.text(1.2, 2.95, "column 1: frozen (trained on task 1)", ha="center", fontsize=8)
    ax.text(5.6, 2.95, "column 2: trainable (task 2)", ha="center", fontsize=8)
    for lower, upper in zip(col1[:-1], col1[1:], strict=True):
        _arrow(ax, lower, upper)
    for lower, upper in zip(col2[:-1], col2[1:], strict=True):
        _arrow(ax, lower, upper)
    for i in range(2):
        adapter = _box(
            ax,
            3.4,
            (ys[i] + ys[i + 1]) / 2,
            "adapter U σ(V(α h))",
            "special",
            w=1.5,
            h=0.36,
            fontsize=7,
        )
        _arrow(ax, col1[i], adapter)
        _arrow(ax, adapter, col2[i + 1])
    ax.text(
        3.4,
        2.62,
        "lateral adapters: layer i of column 1 → layer i+1 of column 2\n"
        "(α: learned scale, V: projection to fewer channels, σ: ReLU, U: to the layer's width)",
        ha="center",
        va="center",
        fontsize=7,
    )
    ax.text(
        0.1,
        0.08,
        "column 1's weights never change, so task 1 is never forgotten;\nthe code's "
        "columns have 3 conv layers, a hidden and an output layer, linked the same way",
        fontsize=7,
        color="#555555",
    )
    return fig


def clip_two_towers() -> Figure:
    """CLIP-style two towers (Radford et al. 2021), as `zsl_utils.text.ClipModel`/`fit_clip`."""
    fig, ax = _canvas()
    img = _box(ax, 0.6, 1.85, "N images", "data", w=0.9, h=0.4)
    txt = _box(ax, 0.6, 0.65, "N captions", "data", w=0.9, h=0.4)
    ie = _box(ax, 2.0, 1.85, "image encoder\n(small CNN)", w=1.2, h=0.5)
    te = _box(ax, 2.0, 0.65, "text encoder\n(GloVe, mean pool)", w=1.2, h=0.5)
    ip = _box(ax, 3.45, 1.85, "project,\nL2-normalise", "special", w=1.05, h=0.5)
    tp = _box(ax, 3.45, 0.65, "project,\nL2-normalise", "special", w=1.05, h=0.5)
    sim = _box(ax, 4.85, 1.25, "N × N\nsimilarities\n× exp(t)", w=1.0, h=0.75)
    loss = _box(
        ax,
        6.3,
        1.25,
        "symmetric\ncross-entropy\n(diagonal =\npositives)",
        "loss",
        w=1.1,
        h=0.9,
        fontsize=7,
    )
    for a, b in ((img, ie), (txt, te), (ie, ip), (te, tp), (ip, sim), (tp, sim), (sim, loss)):
        _arrow(ax, a, b)
    ax.text(4.85, 2.1, "t: learned temperature", ha="center", fontsize=7)
    ax.text(
        0.1,
        0.12,
        'zero-shot: one prompt per class ("a photo of a …") through the text '
        "tower; answer the most similar class",
        fontsize=7,
        color="#555555",
    )
    return fig


def translation_model() -> Figure:
    """The multilingual translator of notebook 08, as `zsl_utils.translation._Seq2Seq`."""
    fig, ax = _canvas((7.0, 2.8))
    src = _box(ax, 0.75, 2.1, "source tokens\n(e.g. ja)", "data", w=1.15, h=0.48)
    enc = _box(ax, 2.3, 2.1, "encoder GRU", w=1.1, h=0.42)
    att = _box(ax, 3.85, 1.45, "attention\n(Luong)", "special", w=1.0, h=0.48)
    tok = _box(ax, 0.75, 0.8, "<2ko> + target\ntokens so far", "data", w=1.15, h=0.48)
    dec = _box(ax, 2.3, 0.8, "decoder GRU", w=1.1, h=0.42)
    out = _box(ax, 5.35, 0.8, "next token\n(ko)", "loss", w=0.95, h=0.48)
    _arrow(ax, src, enc)
    _arrow(ax, tok, dec)
    _arrow(ax, enc, dec, "last state", label_at=0.5, offset=(0.35, 0))
    _arrow(ax, enc, att, "states")
    _arrow(ax, dec, att)
    _arrow(ax, att, out, "context", offset=(0.3, 0.05))
    _arrow(ax, dec, out)
    # the directions: trained (solid) and zero-shot (dashed)
    langs = {"en": (6.3, 2.3), "ja": (5.7, 1.75), "ko": (6.9, 1.75)}
    for lang, (lx, ly) in langs.items():
        ax.text(lx, ly, lang, ha="center", va="center", fontsize=8, fontweight="bold")
    _arrow(ax, (6.2, 2.2), (5.8, 1.85), both=True)
    _arrow(ax, (6.4, 2.2), (6.8, 1.85), both=True)
    _arrow(ax, (5.85, 1.75), (6.75, 1.75), dashed=True, colour="#c0392b", both=True)
    ax.text(
        6.3,
        1.45,
        "trained: en↔ja/ko/de/fr\nzero-shot (dashed):\nja↔ko, de↔fr",
        ha="center",
        va="top",
        fontsize=7,
    )
    ax.text(
        0.1,
        0.15,
        "the target-language token <2ko> starts the decoder's input: one shared "
        "model writes the language it names",
        fontsize=7,
        color="#555555",
    )
    return fig
