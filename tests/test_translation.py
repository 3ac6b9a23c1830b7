import numpy as np
import pandas as pd
import pytest
import torch

from zsl_utils import translation as tr

SUPERVISED = [("en", "ja"), ("ja", "en"), ("en", "ko"), ("ko", "en")]


@pytest.fixture(scope="module")
def tiny_model():
    return tr.train_translator(
        SUPERVISED, range(30), seed=0, steps=3, hidden=16, embed=8, batch_size=8, progress=False
    )


def test_number_corpus_spells_out_numbers():
    corpus = tr.number_corpus(["en", "ja", "ko"], [2026, 7])
    assert isinstance(corpus, pd.DataFrame)
    assert list(corpus.columns) == ["en", "ja", "ko"] and list(corpus.index) == [2026, 7]
    assert corpus.loc[2026].tolist() == ["two thousand and twenty-six", "二千二十六", "이천이십육"]
    assert corpus.loc[7, "ja"] == "七"


def test_number_corpus_works_for_other_languages():
    corpus = tr.number_corpus(["fr", "de"], [21])
    assert corpus.loc[21].tolist() == ["vingt et un", "einundzwanzig"]


@pytest.mark.parametrize(
    ("languages", "numbers", "error", "match"),
    [
        (["en", "xx"], [1], ValueError, "no language"),
        ([], [1], ValueError, "no languages"),
        ("en", [1], TypeError, "not one string"),
        (["en", "en"], [1], ValueError, "repeated language"),
        (["en"], [], ValueError, "no numbers"),
        (["en"], [-1], ValueError, "non-negative"),
        (["en"], [3, 3], ValueError, "repeated numbers"),
    ],
)
def test_number_corpus_rejects_bad_input(languages, numbers, error, match):
    with pytest.raises(error, match=match):
        tr.number_corpus(languages, numbers)


def test_alphabet_is_the_characters_num2words_uses():
    assert tr.alphabet("ja") == frozenset("零一二三四五六七八九十百千万")
    assert "-" in tr.alphabet("en") and "," in tr.alphabet("en") and " " not in tr.alphabet("en")
    assert not tr.alphabet("ja") & tr.alphabet("ko")
    with pytest.raises(ValueError, match="no language"):
        tr.alphabet("xx")


def test_is_in_language():
    assert tr.is_in_language("二千二十六", "ja")
    assert tr.is_in_language("nine thousand, nine hundred", "en")
    assert not tr.is_in_language("二千이십육", "ja")  # mixed scripts
    assert not tr.is_in_language("이천이십육", "ja")
    assert not tr.is_in_language("", "ja") and not tr.is_in_language("  ", "en")
    assert not tr.is_in_language("2026", "en")  # digits are not how num2words writes numbers
    with pytest.raises(TypeError, match="string"):
        tr.is_in_language(5, "en")


def test_exact_match_strips_surrounding_whitespace_only():
    assert tr.exact_match([" twenty-one ", "二十"], ["twenty-one", "二十一"]) == 0.5
    assert tr.exact_match(["twenty one"], ["twenty-one"]) == 0.0
    assert tr.exact_match(["a b"], ["a  b"]) == 0.0
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        tr.exact_match(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no predictions"):
        tr.exact_match([], [])
    with pytest.raises(TypeError, match="not one string"):
        tr.exact_match("abc", "abc")
    with pytest.raises(TypeError, match="strings"):
        tr.exact_match([1], ["1"])


def test_off_target_rate():
    predictions = ["이천이십육", "二千二十六", "two thousand", "", "이천二十"]
    assert tr.off_target_rate(predictions, "ko") == pytest.approx(4 / 5)
    assert tr.off_target_rate(predictions, "ja") == pytest.approx(4 / 5)
    assert tr.off_target_rate(predictions, "en") == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="no predictions"):
        tr.off_target_rate([], "ko")
    with pytest.raises(ValueError, match="no language"):
        tr.off_target_rate(["a"], "xx")


def test_learn_merges_splits_compounds_into_frequent_pieces():
    texts = ["neunhundert", "achthundert", "siebenhundert", "hundert"]
    merges = tr.learn_merges(texts, min_count=3)
    ranks = {pair: i for i, pair in enumerate(merges)}
    assert tr._tokenize("neunhundert", ranks)[-1] == "hundert"
    assert "".join(tr._tokenize("zweihundert und", ranks)) == "zweihundert und"
    assert tr.learn_merges(texts, min_count=6) == []  # no pair occurs six times
    assert tr.learn_merges(texts, max_merges=2) == merges[:2]
    assert merges == tr.learn_merges(list(texts))  # deterministic
    with pytest.raises(ValueError, match="min_count"):
        tr.learn_merges(texts, min_count=0)
    with pytest.raises(TypeError, match="not one string"):
        tr.learn_merges("hundert")


def test_tokenize_keeps_hyphen_and_space_with_the_next_word():
    merges = tr.learn_merges(["vingt-deux", "vingt-trois", "trente-deux", " deux", "-deux"] * 3)
    ranks = {pair: i for i, pair in enumerate(merges)}
    tokens = tr._tokenize("vingt-deux", ranks)
    assert tokens == ["vingt", "-deux"] and "".join(tokens) == "vingt-deux"
    assert tr._tokenize("a b", {}) == ["a", " ", "b"]


def test_read_number_inverts_num2words():
    assert tr.read_number("twenty-one", "en") == 21
    assert tr.read_number("Twenty  one", "en") == 21  # case, hyphens, spacing aside
    assert tr.read_number("quatre-vingt-dix-sept", "fr") == 97
    assert tr.read_number("einundzwanzig", "de") == 21
    assert tr.read_number("九百九十九", "ja") == 999
    assert tr.read_number("vingt et un", "en") is None  # French is not English
    assert tr.read_number("twenty-twelve", "en") is None and tr.read_number("", "en") is None
    with pytest.raises(TypeError, match="string"):
        tr.read_number(21, "en")
    with pytest.raises(ValueError, match="no language"):
        tr.read_number("one", "xx")


def test_value_accuracy_counts_right_numbers_in_the_right_language():
    predictions = ["twenty one", "vingt et un", "twenty-two", "twenty-one"]
    assert tr.value_accuracy(predictions, [21, 21, 21, 21], "en") == pytest.approx(2 / 4)
    assert tr.value_accuracy(predictions, [21, 21, 21, 21], "fr") == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="2 predictions but 1 numbers"):
        tr.value_accuracy(["a", "b"], [1], "en")
    with pytest.raises(ValueError, match="ints in 0..999"):
        tr.value_accuracy(["a"], [1000], "en")
    with pytest.raises(ValueError, match="no predictions"):
        tr.value_accuracy([], [], "en")


def test_chrf_gives_partial_credit():
    refs = ["quatre-vingt-dix-sept", "einundzwanzig"]
    assert tr.chrf(refs, refs) == pytest.approx(1.0)
    partly = tr.chrf(["quatre-vingt-dix-huit", "einundzwanzig"], refs)
    assert 0.5 < partly < 1.0
    assert tr.chrf(["xyz", "qqq"], refs) < 0.05
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        tr.chrf(["a", "b"], ["a"])


def test_off_target_rate_can_tell_languages_of_one_script_apart():
    predictions = ["quatre-vingts", "achtzig", "achtzigzig"]  # fr 80, de 80, no number
    assert tr.off_target_rate(predictions, "fr") == 0.0  # one script: the alphabet cannot tell
    assert tr.off_target_rate(predictions, "fr", ["de", "fr"]) == pytest.approx(1 / 3)
    assert tr.off_target_rate(["six"], "fr", ["en", "fr"]) == 0.0  # French too
    with pytest.raises(ValueError, match="no language"):
        tr.off_target_rate(["six"], "fr", ["xx"])


def test_early_stopping_on_the_dev_set_keeps_the_best_weights():
    kwargs = dict(hidden=16, embed=8, batch_size=8, progress=False, eval_every=2, patience=2)
    model = tr.train_translator(
        SUPERVISED, range(10, 30), seed=1, dev_numbers=[5, 6, 7], steps=30, **kwargs
    )
    assert 1 <= len(model.dev_history) <= 15 and len(model.history) <= 30
    assert model.best_step % 2 == 0 and model.best_step <= len(model.history)
    assert model.dev_exact_match in model.dev_history and 0 <= model.dev_exact_match <= 1
    plain = tr.train_translator(SUPERVISED, range(20), seed=1, steps=4, **kwargs)
    assert plain.dev_history == [] and plain.best_step == 4 and np.isnan(plain.dev_exact_match)
    with pytest.raises(ValueError, match="overlap"):
        tr.train_translator(SUPERVISED, range(20), seed=1, dev_numbers=[19, 30], **kwargs)
    with pytest.raises(ValueError, match="buckets"):
        tr.train_translator(SUPERVISED, range(20), seed=1, buckets=0, **kwargs)


def test_dev_scores_are_teacher_forced_exact_match():
    torch.manual_seed(0)
    net = tr._Seq2Seq(7, 4, 6)
    with torch.no_grad():
        net.out.bias[0] = -10.0  # never <pad>: every target token below is a real one
    params = {key: net.state_dict()[name].unsqueeze(0) for key, name in tr._STACKED.items()}
    src = torch.tensor([[3, 4, 0], [5, 6, 3]])
    lengths = torch.tensor([2, 3])
    dec_in = torch.tensor([[1, 3, 4], [1, 5, 0]])
    best = net(src, lengths, dec_in).argmax(-1)
    target = best.clone()
    target[1, 2] = 0  # padding is not scored
    tokens, exact = tr._dev_scores(params, src, lengths, dec_in, target)
    assert tokens.item() == pytest.approx(1.0) and exact.item() == pytest.approx(1.0)
    target[0, 0] = (best[0, 0] + 1) % 7
    tokens, exact = tr._dev_scores(params, src, lengths, dec_in, target)
    assert tokens.item() == pytest.approx(4 / 5) and exact.item() == pytest.approx(0.5)


def test_train_translator_builds_a_working_model(tiny_model):
    model = tiny_model
    assert model.languages == ["en", "ja", "ko"]
    assert set(model.directions) == {*SUPERVISED, ("en", "en"), ("ja", "ja"), ("ko", "ko")}
    assert model.target_token == "decoder" and len(model.history) == 3
    out = tr.translate(model, ["二十一", "twenty-one"], "ko")
    assert len(out) == 2 and all(isinstance(s, str) for s in out)
    restricted = tr.translate(model, ["二十一", "twenty-one"], "ko", restrict_script=True)
    assert all(set(s) <= tr.alphabet("ko") | {" "} for s in restricted)
    assert tr.translate(model, [], "ko") == []
    assert tr.translate(model, ["", "二十一"], "ko")[0] == ""  # an empty source gives ""
    fr_tokens = {model.vocab[i] for i in model.language_tokens("ja")}
    assert fr_tokens and all(set(t) <= tr.alphabet("ja") for t in fr_tokens)
    restricted_ja = tr.translate(model, ["twenty-one"], "ja", restrict_script=True)
    assert set(restricted_ja[0]) <= tr.alphabet("ja")
    with pytest.raises(ValueError, match="empty text"):
        tr.encode(model, [""])
    vectors = tr.encode(model, ["二十一", "이십일"])
    assert vectors.shape == (2, 16) and np.isfinite(vectors).all()


def test_train_translator_is_deterministic():
    kwargs = dict(seed=3, steps=4, hidden=16, embed=8, batch_size=8, progress=False)
    a = tr.train_translator(SUPERVISED, range(20), **kwargs)
    b = tr.train_translator(SUPERVISED, range(20), **kwargs)
    assert a.history == b.history
    for p, q in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.equal(p, q)


def test_naive_setup_puts_the_target_token_on_the_encoder():
    model = tr.train_translator(
        SUPERVISED,
        range(20),
        seed=0,
        steps=2,
        hidden=8,
        embed=4,
        batch_size=4,
        target_token="encoder",
        monolingual=False,
        progress=False,
    )
    assert set(model.directions) == set(SUPERVISED)
    assert model.source_ids("二十", "ko")[0] == model.index["<2ko>"]
    with pytest.raises(ValueError, match="target_lang"):
        tr.encode(model, ["二十"])
    assert tr.encode(model, ["二十"], "ko").shape == (1, 8)


def test_train_translator_rejects_bad_options():
    with pytest.raises(ValueError, match="target_token"):
        tr.train_translator(SUPERVISED, range(5), seed=0, target_token="middle")
    with pytest.raises(ValueError, match="steps"):
        tr.train_translator(SUPERVISED, range(5), seed=0, steps=0)
    with pytest.raises(ValueError, match="pairs"):
        tr.train_translator([("en", "ja", "ko")], range(5), seed=0)
    with pytest.raises(ValueError, match="no language"):
        tr.train_translator([("en", "xx")], range(5), seed=0)


def test_translate_rejects_unknown_language_and_characters(tiny_model):
    with pytest.raises(ValueError, match="not 'fr'"):
        tr.translate(tiny_model, ["twenty"], "fr")
    with pytest.raises(ValueError, match="never seen"):
        tr.translate(tiny_model, ["ß"], "ja")
    with pytest.raises(TypeError, match="not one string"):
        tr.translate(tiny_model, "twenty", "ja")


def test_stacked_networks_compute_what_nn_gru_computes():
    nets = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        nets.append(tr._Seq2Seq(11, 4, 6))
    params = {
        key: torch.stack([net.state_dict()[name] for net in nets])
        for key, name in tr._STACKED.items()
    }
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 8, (2, 5), generator=g)
    src = torch.randint(1, 11, (2, 5, 7), generator=g)
    src[torch.arange(7).expand(2, 5, 7) >= lengths.unsqueeze(-1)] = 0  # padded sources
    dec_in = torch.randint(1, 11, (2, 5, 4), generator=g)
    logits = tr._stacked_logits(params, src, lengths, dec_in)
    assert logits.shape == (2, 5, 4, 11)
    for i, net in enumerate(nets):
        assert torch.allclose(logits[i], net(src[i], lengths[i], dec_in[i]), atol=1e-5)


def test_train_translators_trains_each_seed_as_train_translator_does():
    kwargs = dict(steps=5, hidden=16, embed=8, batch_size=8, progress=False)
    models = tr.train_translators(SUPERVISED, range(20), seeds=[3, 5], **kwargs)
    alone = tr.train_translator(SUPERVISED, range(20), seed=5, **kwargs)
    assert len(models) == 2 and all(len(m.history) == 5 for m in models)
    assert models[0].history != models[1].history  # other seed: other weights, other batches
    assert np.allclose(models[1].history, alone.history, atol=1e-5)
    for p, q in zip(models[1].net.parameters(), alone.net.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)
    assert torch.equal(models[0].net.embed.weight[0], torch.zeros(8))  # <pad> stays zero
    assert isinstance(tr.translate(models[0], ["二十一"], "ko")[0], str)


@pytest.mark.parametrize(
    ("seeds", "match"),
    [([], "no seeds"), ([1, 1], "repeated seed"), ([-1], "non-negative"), ([1.5], "non-negative")],
)
def test_train_translators_rejects_bad_seeds(seeds, match):
    with pytest.raises(ValueError, match=match):
        tr.train_translators(SUPERVISED, range(5), seeds=seeds)
