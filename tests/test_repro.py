import random

import numpy as np
import pytest
import torch

from zsl_utils.repro import base_seed, get_device, seeds, set_seed, setup


def draw():
    return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002


def test_set_seed_makes_every_generator_repeat():
    set_seed(3)
    first = draw()
    set_seed(3)
    assert draw() == first
    set_seed(4)
    assert draw() != first


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_set_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="non-negative int"):
        set_seed(seed)


def test_get_device():
    assert get_device(prefer_cuda=False) == torch.device("cpu")
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_base_seed_reads_the_environment(monkeypatch):
    monkeypatch.delenv("ZSL_SEED", raising=False)
    assert base_seed() == 0
    monkeypatch.setenv("ZSL_SEED", "")
    assert base_seed() == 0
    monkeypatch.setenv("ZSL_SEED", " 17 ")
    assert base_seed() == 17


@pytest.mark.parametrize("text", ["-1", "1.5", "one", "0x10", "1e3"])
def test_base_seed_rejects_anything_but_a_non_negative_integer(monkeypatch, text):
    monkeypatch.setenv("ZSL_SEED", text)
    with pytest.raises(ValueError, match="ZSL_SEED must be a non-negative integer"):
        base_seed()


def test_seeds_are_distinct_repeatable_and_follow_the_base(monkeypatch):
    monkeypatch.setenv("ZSL_SEED", "0")
    five = seeds(5)
    assert len(set(five)) == 5 and all(isinstance(s, int) and s >= 0 for s in five)
    assert seeds(5) == five
    assert seeds(5, base=0) == five
    assert seeds(3) == five[:3]
    monkeypatch.setenv("ZSL_SEED", "1")
    assert not set(seeds(5)) & set(five)
    assert not set(seeds(5, "test split", base=0)) & set(five)


def test_seeds_over_many_bases_never_repeat_a_base():
    drawn = [tuple(seeds(3, "runs", base=b)) for b in range(200)]
    assert len(set(drawn)) == 200


@pytest.mark.parametrize(
    ("n", "purpose", "base"), [(0, "", 0), (2.0, "", 0), (2, 3, 0), (2, "", -1)]
)
def test_seeds_rejects_bad_arguments(n, purpose, base):
    with pytest.raises((ValueError, TypeError)):
        seeds(n, purpose, base=base)


def test_setup_seeds_with_the_base_and_prints_it(monkeypatch, capsys):
    monkeypatch.setenv("ZSL_SEED", "5")
    device = setup(prefer_cuda=False)
    assert device == torch.device("cpu")
    assert "base seed: 5" in capsys.readouterr().out
    first = draw()
    set_seed(5)
    assert draw() == first


def test_setup_applies_the_display_style_and_threads(monkeypatch, capsys):
    import matplotlib as mpl
    import pandas as pd

    from zsl_utils import style
    from zsl_utils.style import FIGURE_STYLE, TABLE_DECIMALS

    monkeypatch.delenv("ZSL_SEED", raising=False)
    before = torch.get_num_threads()
    mpl.rcParams["figure.dpi"] = 50
    try:
        setup(prefer_cuda=False, threads=1)
        assert mpl.rcParams["figure.dpi"] == FIGURE_STYLE["figure.dpi"]
        assert pd.get_option("display.precision") == TABLE_DECIMALS
        assert torch.get_num_threads() == 1
        assert "CPU threads: 1" in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)
        style._thread_limits[0].restore_original_limits()


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_setup_rejects_bad_thread_counts(threads):
    with pytest.raises(ValueError, match="threads"):
        setup(prefer_cuda=False, threads=threads)
