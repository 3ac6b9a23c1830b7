import time

import gensim.downloader
import numpy as np
import pytest
from gensim.models import KeyedVectors

from zsl_utils.wordvec import load_glove


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSL_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_embedded_glove_is_the_real_6b_50d(private_cache):
    kv = load_glove()
    assert isinstance(kv, KeyedVectors)
    assert kv.vectors.shape == (400_000, 50)
    assert kv.index_to_key[:3] == ["the", ",", "."]
    assert kv.most_similar("cat", topn=1)[0][0] == "dog"
    np.testing.assert_allclose(kv["the"][:3], [0.418, 0.24968, -0.41242], rtol=1e-5)


def test_second_load_uses_the_cache_and_is_fast(private_cache):
    load_glove()
    assert (private_cache / "glove-6b-50d.vocab.txt").is_file()
    start = time.perf_counter()
    kv = load_glove()
    assert time.perf_counter() - start < 2.0
    assert kv.key_to_index["zebra"] == kv.index_to_key.index("zebra")


def test_a_truncated_cache_is_rebuilt(private_cache):
    (private_cache / "glove-6b-50d.vocab.txt").write_text("the\ncat")
    assert len(load_glove().index_to_key) == 400_000
    assert len((private_cache / "glove-6b-50d.vocab.txt").read_text().split("\n")) == 400_000


def test_other_models_go_through_gensim_downloader(monkeypatch):
    fake = KeyedVectors(3)
    monkeypatch.setattr(gensim.downloader, "load", lambda name: fake)
    assert load_glove("word2vec-google-news-300") is fake


def test_download_failures_get_a_clear_error(monkeypatch):
    def offline(name):
        raise OSError("no network")

    monkeypatch.setattr(gensim.downloader, "load", offline)
    with pytest.raises(ValueError, match="could not load 'fasttext-wiki' .*offline default"):
        load_glove("fasttext-wiki")


def test_a_corpus_is_not_a_word_vector_model(monkeypatch):
    monkeypatch.setattr(gensim.downloader, "load", lambda name: iter(["a corpus"]))
    with pytest.raises(TypeError, match="not a word-vector model"):
        load_glove("text8")
