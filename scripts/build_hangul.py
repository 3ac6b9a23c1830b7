"""Build data/hangul/: Hangul syllables rendered in Korean fonts, with a zero-shot split.

    python scripts/build_hangul.py                  # the full benchmark into data/hangul/
    python scripts/build_hangul.py --out DIR --syllables 12 --fonts NanumGothic.ttf

Needs the Debian font packages fonts-nanum, fonts-nanum-extra (SIL OFL 1.1) and fonts-baekmuk
(Baekmuk licence, MIT-like): `apt-get install fonts-nanum fonts-nanum-extra fonts-baekmuk`.
Steps (deterministic for a given FreeType/Pillow; every random draw comes from SEED):
1. draw SYLLABLES syllables from the 2,350 of KS X 1001;
2. render each in every font face of FONTS: white on black, 28×28 uint8, a little random scale,
   shift and rotation; IMAGES_SEEN_FONTS images per syllable in faces drawn from the training
   faces and one in each held-out face (HELD_OUT_FONTS);
3. drop every image a face cannot draw: a syllable missing from the face's cmap, a blank
   image, or one equal to the face's missing-glyph box;
4. choose the unseen and validation syllables so that every letter of each occurs in some
   training syllable (`choose_split`), and write the index splits (xlsa17 form);
5. write hangul.npz, split.json, fonts.csv and the SHA-256 lines of data/SHA256SUMS.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zsl_utils.hangul import jamo_table, ksx1001_syllables

SEED = 1443  # the year Hangul was created
SYLLABLES = 400
N_UNSEEN = 100
N_VAL = 50
IMAGES_SEEN_FONTS = 25
TEST_SEEN_PER_SYLLABLE = 5  # of the seen-font images of every seen syllable
DEBIAN_PACKAGES = ("fonts-nanum", "fonts-nanum-extra", "fonts-baekmuk")
FONT_DIRS = ("/usr/share/fonts/truetype/nanum", "/usr/share/fonts/truetype/baekmuk")
NANUM = ("Nanum fonts © 2010 NAVER Corporation", "SIL OFL 1.1", "fonts-nanum")
NANUM_X = ("Nanum fonts © 2010 NAVER Corporation", "SIL OFL 1.1", "fonts-nanum-extra")
BAEKMUK = ("Baekmuk fonts © 1986-2002 Kim Jeong-Hwan", "Baekmuk (MIT-like)", "fonts-baekmuk")
# file, style, (copyright, licence, Debian package)
FONTS = (
    ("NanumGothic.ttf", "gothic", NANUM),
    ("NanumGothicBold.ttf", "gothic", NANUM),
    ("NanumGothicExtraBold.ttf", "gothic", NANUM_X),
    ("NanumGothicLight.ttf", "gothic", NANUM_X),
    ("NanumGothicEcoR.ttf", "gothic", NANUM_X),
    ("NanumGothicCoding.ttf", "gothic", NANUM_X),
    ("NanumGothicCodingBold.ttf", "gothic", NANUM_X),
    ("NanumBarunGothic.ttf", "gothic", NANUM),
    ("NanumBarunGothicBold.ttf", "gothic", NANUM),
    ("NanumBarunGothicLight.ttf", "gothic", NANUM_X),
    ("NanumBarunGothicUltraLight.ttf", "gothic", NANUM_X),
    ("NanumMyeongjo.ttf", "myeongjo", NANUM_X),
    ("NanumMyeongjoBold.ttf", "myeongjo", NANUM_X),
    ("NanumMyeongjoExtraBold.ttf", "myeongjo", NANUM_X),
    ("NanumMyeongjoEcoR.ttf", "myeongjo", NANUM_X),
    ("NanumSquareR.ttf", "square", NANUM_X),
    ("NanumSquareB.ttf", "square", NANUM_X),
    ("NanumSquareEB.ttf", "square", NANUM_X),
    ("NanumSquareL.ttf", "square", NANUM_X),
    ("NanumSquare_acR.ttf", "square", NANUM_X),
    ("NanumSquare_acB.ttf", "square", NANUM_X),
    ("NanumSquare_acL.ttf", "square", NANUM_X),
    ("NanumSquareRoundR.ttf", "square round", NANUM_X),
    ("NanumSquareRoundB.ttf", "square round", NANUM_X),
    ("NanumSquareRoundEB.ttf", "square round", NANUM_X),
    ("NanumSquareRoundL.ttf", "square round", NANUM_X),
    ("NanumBarunpenR.ttf", "pen", NANUM_X),
    ("NanumBarunpenB.ttf", "pen", NANUM_X),
    ("NanumPen.ttf", "pen handwriting", NANUM_X),
    ("NanumBrush.ttf", "brush handwriting", NANUM_X),
    ("batang.ttf", "myeongjo", BAEKMUK),
    ("dotum.ttf", "gothic", BAEKMUK),
    ("gulim.ttf", "gothic", BAEKMUK),
    ("hline.ttf", "headline", BAEKMUK),
)
# Faces never trained on: one of each kind the others have, so "a hand never seen" is measured.
HELD_OUT_FONTS = ("NanumPen.ttf", "NanumMyeongjoBold.ttf", "NanumSquareRoundB.ttf", "gulim.ttf")

ROOT = Path(__file__).resolve().parent.parent
CANVAS = 64  # rendered at this size, then reduced to 28×28


class MissingFontsError(RuntimeError):
    """A font file of FONTS is not installed."""


def font_path(name: str, dirs=FONT_DIRS) -> Path:
    """The installed path of font file `name`, with the Debian packages to install if absent."""
    for d in dirs:
        if (Path(d) / name).is_file():
            return Path(d) / name
    raise MissingFontsError(
        f"font {name} not found in {', '.join(dirs)}: install the Debian packages "
        f"{' '.join(DEBIAN_PACKAGES)} (apt-get install {' '.join(DEBIAN_PACKAGES)})"
    )


def font_cmap(path: Path) -> set[int]:
    """Code points the face maps to a glyph (its cmap; fontTools when installed, else the
    code points whose glyph differs from the missing-glyph box)."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fontTools comes with matplotlib
        return set(range(0xAC00, 0xD7A4))
    with TTFont(str(path), lazy=True) as font:
        return set(font.getBestCmap())


def render(font: ImageFont.FreeTypeFont, text: str, rng: np.random.Generator) -> np.ndarray:
    """`text` drawn white on black at a random scale, shift and rotation, as 28×28 uint8."""
    img = Image.new("L", (CANVAS, CANVAS), 0)
    dx, dy = rng.uniform(-4, 4, size=2)
    ImageDraw.Draw(img).text((CANVAS / 2 + dx, CANVAS / 2 + dy), text, fill=255, font=font,
                             anchor="mm")
    img = img.rotate(float(rng.uniform(-8, 8)), resample=Image.BILINEAR)
    return np.asarray(img.resize((28, 28), Image.BOX), dtype=np.uint8)


def load_font(path: Path, scale: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size=round(CANVAS * 0.78 * scale))


def drawable(image: np.ndarray, box: np.ndarray) -> bool:
    """False for a blank image or the face's missing-glyph box."""
    return int(image.max()) >= 128 and int((image > 64).sum()) >= 12 and not np.array_equal(
        image, box
    )


def render_all(syllables: list[str], fonts: list[str], held_out: list[str], n_seen_fonts: int,
               seed: int, dirs=FONT_DIRS):
    """Images, labels, font ids of every drawable rendering, and how many were dropped."""
    rng = np.random.default_rng(seed)
    paths = [font_path(f, dirs) for f in fonts]
    cmaps = [font_cmap(p) for p in paths]
    scales = np.round(np.linspace(0.8, 1.05, 6), 3)
    cache: dict[tuple[int, float], ImageFont.FreeTypeFont] = {}
    train_fonts = [i for i, f in enumerate(fonts) if f not in held_out]
    test_fonts = [i for i, f in enumerate(fonts) if f in held_out]
    images, labels, font_ids, dropped = [], [], [], 0
    for c, s in enumerate(syllables):
        k = min(n_seen_fonts, len(train_fonts))
        chosen = list(rng.choice(train_fonts, size=k, replace=False)) + test_fonts
        for f in chosen:
            scale = float(rng.choice(scales))
            if (f, scale) not in cache:
                cache[f, scale] = load_font(paths[f], scale)
            font = cache[f, scale]
            state = rng.bit_generator.state
            image = render(font, s, rng)
            rng.bit_generator.state = state
            box = render(font, "\uffff", rng)  # a code point no face maps: the missing glyph
            if ord(s) not in cmaps[f] or not drawable(image, box):
                dropped += 1
                continue
            images.append(image)
            labels.append(c)
            font_ids.append(int(f))
    return (np.stack(images), np.array(labels, dtype=np.int64),
            np.array(font_ids, dtype=np.int64), dropped)


def choose_split(syllables: list[str], n_unseen: int, n_val: int, seed: int):
    """Unseen and validation syllables (indices), drawn in random order, each accepted only if
    every one of its letters still occurs in some remaining training syllable."""
    jamo = jamo_table(syllables)
    counts = [dict() for _ in range(3)]
    for row in jamo:
        for p, j in enumerate(row):
            counts[p][j] = counts[p].get(j, 0) + 1
    order = np.random.default_rng(seed).permutation(len(syllables))
    held: list[int] = []
    for c in order:
        if len(held) == n_unseen + n_val:
            break
        if all(counts[p][j] >= 2 for p, j in enumerate(jamo[c])):
            held.append(int(c))
            for p, j in enumerate(jamo[c]):
                counts[p][j] -= 1
    if len(held) < n_unseen + n_val:
        raise ValueError(f"only {len(held)} syllables can be held out under the letter rule")
    return sorted(held[:n_unseen]), sorted(held[n_unseen:])


def make_hangul_split(labels, font_ids, unseen, val, held_out_ids, test_seen_per_class, seed):
    """The xlsa17-form index split: unseen syllables' images all test; of every seen syllable,
    the held-out faces' images and `test_seen_per_class` of its other images are test."""
    rng = np.random.default_rng(seed)
    held_face = np.isin(font_ids, held_out_ids)
    trainval, test_seen = [], []
    for c in sorted(set(range(labels.max() + 1)) - set(unseen)):
        own = np.flatnonzero((labels == c) & ~held_face)
        test = set(rng.choice(own, size=min(test_seen_per_class, len(own) - 1), replace=False))
        test |= set(np.flatnonzero((labels == c) & held_face).tolist())
        test_seen += sorted(int(i) for i in test)
        trainval += [int(i) for i in own if i not in test]
    trainval.sort()
    return {
        "seed": int(seed),
        "trainval_loc": trainval,
        "test_seen_loc": sorted(test_seen),
        "test_unseen_loc": np.flatnonzero(np.isin(labels, unseen)).tolist(),
        "train_loc": [i for i in trainval if labels[i] not in val],
        "val_loc": [i for i in trainval if labels[i] in val],
    }


def build(out: Path, n_syllables: int, fonts: list[str], held_out: list[str], n_unseen: int,
          n_val: int, dirs=FONT_DIRS) -> dict:
    """Write hangul.npz, split.json and fonts.csv into `out`; return a summary."""
    rng = np.random.default_rng(SEED)
    pool = ksx1001_syllables()
    syllables = sorted(pool[i] for i in rng.choice(len(pool), size=n_syllables, replace=False))
    images, labels, font_ids, dropped = render_all(
        syllables, fonts, held_out, IMAGES_SEEN_FONTS, SEED + 1, dirs
    )
    unseen, val = choose_split(syllables, n_unseen, n_val, SEED + 2)
    held_ids = [fonts.index(f) for f in held_out]
    split = {
        "seen_classes": [syllables[c] for c in range(len(syllables)) if c not in unseen],
        "unseen_classes": [syllables[c] for c in unseen],
        "val_classes": [syllables[c] for c in val],
        "unseen_fonts": list(held_out),
        **make_hangul_split(labels, font_ids, unseen, val, held_ids, TEST_SEEN_PER_SYLLABLE,
                            SEED + 3),
    }
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images, labels=labels, fonts=font_ids,
                        class_names=np.array(syllables), font_names=np.array(fonts))
    (out / "hangul.npz").write_bytes(_zero_zip_times(buffer.getvalue()))
    (out / "split.json").write_text(json.dumps(split, ensure_ascii=False) + "\n")
    info = {f: (style, lic) for f, style, lic in FONTS}
    with (out / "fonts.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", "style", "held_out", "copyright", "licence", "debian_package"])
        for f in fonts:
            style, (copyright_, licence, package) = info.get(f, ("?", ("?", "?", "?")))
            w.writerow([f, style, int(f in held_out), copyright_, licence, package])
    return {"images": len(images), "dropped": dropped, "syllables": len(syllables)}


def _zero_zip_times(data: bytes) -> bytes:
    """np.savez stamps the current time into the zip: rewrite it with fixed times."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    dst_buf = io.BytesIO()
    with zipfile.ZipFile(dst_buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for item in sorted(src.infolist(), key=lambda i: i.filename):
            info = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, src.read(item.filename))
    return dst_buf.getvalue()


def write_checksums(data_root: Path, files: list[Path]) -> None:
    """Replace the lines of `files` in data_root/SHA256SUMS, keeping every other line."""
    sums = data_root / "SHA256SUMS"
    names = {f.relative_to(data_root).as_posix(): f for f in files}
    lines = [ln for ln in sums.read_text().splitlines() if ln.split(maxsplit=1)[1] not in names]
    for name, f in sorted(names.items()):
        lines.append(f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {name}")
    sums.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "hangul")
    parser.add_argument("--syllables", type=int, default=SYLLABLES)
    parser.add_argument("--fonts", nargs="+", default=[f for f, _, _ in FONTS])
    args = parser.parse_args(argv)
    held_out = [f for f in HELD_OUT_FONTS if f in args.fonts]
    n_unseen = N_UNSEEN if args.syllables == SYLLABLES else max(1, args.syllables // 4)
    n_val = N_VAL if args.syllables == SYLLABLES else max(1, args.syllables // 8)
    try:
        summary = build(args.out, args.syllables, args.fonts, held_out, n_unseen, n_val)
    except MissingFontsError as err:
        print(f"build_hangul: {err}", file=sys.stderr)
        return 2
    if args.out.resolve() == (ROOT / "data" / "hangul").resolve():
        write_checksums(ROOT / "data", [args.out / n for n in ("hangul.npz", "split.json",
                                                               "fonts.csv")])
    print(f"wrote {args.out}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
