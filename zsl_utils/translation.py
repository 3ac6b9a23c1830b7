"""Multilingual translation of spelled-out numbers, and zero-shot translation.

Introduced in notebook 08. The data are numbers written out by `num2words` in several
languages (2026 -> "two thousand and twenty-six", "二千二十六", "이천이십육", 97 ->
"siebenundneunzig", "quatre-vingt-dix-sept"). One small sequence-to-sequence model (a GRU
encoder and a GRU decoder with Luong attention, sharing one vocabulary) translates between all
of them; a target-language token tells it which language to write (Johnson et al. 2017).
Trained on some directions only, it can be asked for the others (zero-shot translation).

Tokens: byte-pair encoding (Sennrich et al. 2016) learned on the training texts of all
languages. Texts are cut into pieces (a run of letters with the space before it, or one other
character), each piece starts as its characters, and the most frequent adjacent pair of tokens
is merged, again and again, while it occurs at least `MIN_WORD_COUNT` times. German
"neunhundertneunundneunzig" becomes neun|hundert|neun|und|neunzig, English "ninety-nine"
ninety|-|nine. The rule needs no knowledge of the language, so the same code works for any
`num2words` language.

Scoring: `exact_match`, `value_accuracy` (the output read back as a number: right number, right
language), `chrf` (sacrebleu's chrF) and `off_target_rate` (output not in the target language).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = [
    "number_corpus",
    "alphabet",
    "is_in_language",
    "read_number",
    "learn_merges",
    "exact_match",
    "value_accuracy",
    "chrf",
    "off_target_rate",
    "Translator",
    "train_translator",
    "train_translators",
    "translate",
    "encode",
]

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
TARGET_TOKEN_PLACES = ("encoder", "decoder")
ALPHABET_NUMBERS = [*range(1000), *range(1000, 100_001, 1111)]  # 0..999 and a sample above
READ_NUMBERS = range(1000)  # the numbers `read_number` knows
MIN_WORD_COUNT = 3
MAX_MERGES = 150
_PIECE = re.compile(
    r"[ -]?[^\W\d_]+|.", re.DOTALL
)  # a word with the space or hyphen before it, or one character


def _merge(tokens: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    """`tokens` with every adjacent occurrence of `pair` joined into one token."""
    out, i = [], 0
    while i < len(tokens):
        if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == pair:
            out.append(tokens[i] + tokens[i + 1])
            i += 2
        else:
            out.append(tokens[i])
            i += 1
    return tuple(out)


def learn_merges(
    texts: Iterable[str], min_count: int = MIN_WORD_COUNT, max_merges: int = MAX_MERGES
) -> list[tuple[str, str]]:
    """Byte-pair encoding's merges learned on `texts`, in the order they were learned: the most
    frequent adjacent pair of tokens inside a piece (see the module's docstring), while it
    occurs at least `min_count` times (ties broken by the pair itself, so the result is
    deterministic). Introduced in notebook 08."""
    texts = _check_texts(texts, "texts")
    return list(_learn_merges(tuple(texts), min_count, max_merges))


@cache
def _learn_merges(texts: tuple[str, ...], min_count: int, max_merges: int):
    if min_count < 1 or max_merges < 0:
        raise ValueError(
            f"min_count must be >= 1 and max_merges >= 0, got {min_count}, {max_merges}"
        )
    counts = Counter(p for t in texts for p in _PIECE.findall(t))
    split = {piece: tuple(piece) for piece in counts}
    merges: list[tuple[str, str]] = []
    while len(merges) < max_merges:
        pairs: Counter = Counter()
        for piece, n in counts.items():
            tokens = split[piece]
            for pair in zip(tokens, tokens[1:], strict=False):
                pairs[pair] += n
        if not pairs:
            break
        pair, n = max(pairs.items(), key=lambda item: (item[1], item[0]))
        if n < min_count:
            break
        merges.append(pair)
        split = {p: _merge(t, pair) if pair[0] in t else t for p, t in split.items()}
    return tuple(merges)


def _tokenize(text: str, ranks: dict[tuple[str, str], int], cache: dict | None = None) -> list[str]:
    """Split `text` into byte-pair tokens (`ranks`: merge -> its order); "".join(tokens) == text."""
    out = []
    for piece in _PIECE.findall(text):
        if cache is not None and piece in cache:
            out.extend(cache[piece])
            continue
        tokens = tuple(piece)
        while len(tokens) > 1:
            pair = min(
                zip(tokens, tokens[1:], strict=False), key=lambda p: ranks.get(p, len(ranks))
            )
            if pair not in ranks:
                break
            tokens = _merge(tokens, pair)
        if cache is not None:
            cache[piece] = tokens
        out.extend(tokens)
    return out


def _check_languages(languages: Iterable[str]) -> list[str]:
    from num2words import CONVERTER_CLASSES

    if isinstance(languages, str):
        raise TypeError("languages must be a list of language codes, not one string")
    languages = list(languages)
    if not languages:
        raise ValueError("no languages given")
    unknown = [lang for lang in languages if lang not in CONVERTER_CLASSES]
    if unknown:
        raise ValueError(f"num2words has no language {unknown}")
    if len(set(languages)) != len(languages):
        raise ValueError(f"repeated language in {languages}")
    return languages


def number_corpus(languages: Sequence[str], numbers: Iterable[int]) -> pd.DataFrame:
    """Every number spelled out in every language: a DataFrame indexed by number, one column per
    language (`num2words` output, unchanged). Introduced in notebook 08."""
    from num2words import num2words

    languages = _check_languages(languages)
    numbers = [int(n) for n in numbers]
    if not numbers:
        raise ValueError("no numbers given")
    if min(numbers) < 0:
        raise ValueError("numbers must be non-negative")
    if len(set(numbers)) != len(numbers):
        raise ValueError("repeated numbers")
    table = {lang: [num2words(n, lang=lang) for n in numbers] for lang in languages}
    return pd.DataFrame(table, index=pd.Index(numbers, name="number"))


@cache
def alphabet(language: str) -> frozenset[str]:
    """The characters (spaces excluded) that `num2words` uses to write numbers in `language`
    (all of 0..999 and every 1111th number up to 100 000: 1000, 2111, ...)."""
    (language,) = _check_languages([language])
    corpus = number_corpus([language], ALPHABET_NUMBERS)[language]
    return frozenset("".join(corpus)) - {" "}


def is_in_language(text: str, language: str) -> bool:
    """True when `text` is non-empty and every character except spaces is in `language`'s
    alphabet (the script rule of `off_target_rate`). It tells scripts apart, not languages that
    share one."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    chars = set(text) - {" "}
    return bool(chars) and chars <= alphabet(language)


def _normalise(text: str) -> str:
    """Case, hyphens and runs of spaces do not change a number: "Twenty one" ~ "twenty-one"."""
    return " ".join(text.casefold().replace("-", " ").split())


@cache
def _number_reader(language: str) -> dict[str, int]:
    (language,) = _check_languages([language])
    corpus = number_corpus([language], READ_NUMBERS)[language]
    reader = {_normalise(text): int(n) for n, text in corpus.items()}
    if len(reader) != len(corpus):
        raise ValueError(f"two numbers read the same in {language!r} after normalising")
    return reader


def read_number(text: str, language: str) -> int | None:
    """The number (0..999) that `text` writes in `language`, or None when it writes none: the
    inverse of `num2words` over 0..999, up to case, hyphens and spacing ("Twenty one" reads as
    21 in English; "vingt et un" is not English). Introduced in notebook 08."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return _number_reader(language).get(_normalise(text))


def _check_texts(texts, name="predictions") -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, not one string")
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{name} must all be strings")
    return texts


def _check_pairs(predictions, references, name="references") -> tuple[list[str], list]:
    predictions = _check_texts(predictions)
    references = list(references) if not isinstance(references, str) else _check_texts(references)
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} {name}")
    if not predictions:
        raise ValueError("no predictions")
    return predictions, references


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Share of predictions equal to their reference after stripping surrounding whitespace."""
    predictions, references = _check_pairs(predictions, _check_texts(references, "references"))
    hits = [p.strip() == r.strip() for p, r in zip(predictions, references, strict=True)]
    return float(np.mean(hits))


def value_accuracy(predictions: Sequence[str], numbers: Sequence[int], language: str) -> float:
    """Share of predictions that write the right number in `language` (`read_number`): the
    number is right and the language is right, spelling details (case, hyphens, spaces) aside.
    Introduced in notebook 08."""
    predictions, numbers = _check_pairs(predictions, numbers, "numbers")
    if not all(isinstance(n, int | np.integer) and 0 <= n < len(READ_NUMBERS) for n in numbers):
        raise ValueError(f"numbers must be ints in 0..{len(READ_NUMBERS) - 1}")
    hits = [read_number(p, language) == n for p, n in zip(predictions, numbers, strict=True)]
    return float(np.mean(hits))


def chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu's `CHRF`, character n-grams up to 6, β = 2) on a 0..1 scale.
    Partly right outputs get partial credit, unlike exact match. Introduced in notebook 08."""
    from sacrebleu.metrics import CHRF

    predictions, references = _check_pairs(predictions, _check_texts(references, "references"))
    return CHRF().corpus_score(predictions, [references]).score / 100


def off_target_rate(
    predictions: Sequence[str], target_lang: str, languages: Sequence[str] = ()
) -> float:
    """Share of predictions that are not in `target_lang`: empty, or containing a character
    outside its alphabet (see `is_in_language`), or, for `languages` given, reading as a number
    in another of them but not in `target_lang` (German written where French was asked for:
    the two share a script, so only the words tell them apart)."""
    predictions = _check_texts(predictions)
    if not predictions:
        raise ValueError("no predictions")
    others = (
        [lang for lang in _check_languages(languages) if lang != target_lang] if languages else []
    )

    def off(p: str) -> bool:
        if not is_in_language(p, target_lang):
            return True
        return read_number(p, target_lang) is None and any(
            read_number(p, lang) is not None for lang in others
        )

    return float(np.mean([off(p) for p in predictions]))


class _Seq2Seq(nn.Module):
    """GRU encoder, GRU decoder and Luong ("general") attention, one embedding table for both
    sides. At every output step the decoder state s_t scores every encoder state h_j by
    s_t · W h_j; the softmax of the scores weighs the h_j into a context c_t, and the next
    token is predicted from tanh(W_c [s_t; c_t])."""

    def __init__(self, vocab_size: int, embed: int, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.decoder = nn.GRU(embed, hidden, batch_first=True)
        self.attention = nn.Linear(hidden, hidden, bias=False)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, vocab_size)

    def encode(self, src: torch.Tensor, lengths: torch.Tensor):
        """The encoder's states (B, S, H) and its state after the last real token (B, H)."""
        states, _ = self.encoder(self.embed(src))
        return states, states[torch.arange(len(src)), lengths - 1]

    def attend(self, dec_states, enc_states, src_mask):
        """Luong attention: the context of every decoder state and the attention weights."""
        scores = dec_states @ self.attention(enc_states).transpose(1, 2)  # (B, T, S)
        weights = scores.masked_fill(~src_mask.unsqueeze(1), -torch.inf).softmax(-1)
        return weights @ enc_states, weights

    def decode_step(self, tokens, hidden, enc_states, src_mask):
        states, hidden = self.decoder(self.embed(tokens), hidden)
        context, _ = self.attend(states, enc_states, src_mask)
        return self.out(torch.tanh(self.combine(torch.cat([states, context], -1)))), hidden

    def forward(self, src, lengths, dec_in):
        enc_states, last = self.encode(src, lengths)
        logits, _ = self.decode_step(dec_in, last.unsqueeze(0).contiguous(), enc_states, src > 0)
        return logits


@dataclass
class Translator:
    """A trained multilingual model: the network, its vocabulary and how it was trained.
    `history`: training loss per step; `dev_history`: validation exact match per evaluation;
    `best_step`: the step whose weights were kept (early stopping), or the last step;
    `dev_exact_match`: the validation exact match of the kept weights."""

    net: _Seq2Seq
    vocab: list[str]
    languages: list[str]
    directions: list[tuple[str, str]]
    target_token: str
    restrict_script: bool
    max_len: int
    merges: list[tuple[str, str]]
    history: list[float] = field(default_factory=list)
    dev_history: list[float] = field(default_factory=list)
    best_step: int = 0
    dev_exact_match: float = float("nan")

    def __post_init__(self):
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self._pieces: dict[str, tuple[str, ...]] = {}

    def tokenize(self, text: str) -> list[str]:
        return _tokenize(text, self.ranks, self._pieces)

    def lang_token(self, lang: str) -> int:
        if lang not in self.languages:
            raise ValueError(f"the model knows {self.languages}, not {lang!r}")
        return self.index[f"<2{lang}>"]

    def decoder_start(self, target_lang: str) -> int:
        """The first decoder input: the target token, or <bos> when the encoder reads it."""
        return self.lang_token(target_lang) if self.target_token == "decoder" else self.index[BOS]

    def training_example(self, source: str, target: str, target_lang: str):
        """(encoder input, decoder input, decoder target) of one pair, as lists of tokens."""
        out = self.tokenize(target)
        src = [self.vocab[i] for i in self.source_ids(source, target_lang)]
        return src, [self.vocab[self.decoder_start(target_lang)], *out], [*out, EOS]

    def source_ids(self, text: str, target_lang: str) -> list[int]:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters never seen in training: {unknown}")
        ids = [self.index[tok] for tok in self.tokenize(text)]
        return [self.lang_token(target_lang), *ids] if self.target_token == "encoder" else ids

    def language_tokens(self, language: str) -> list[int]:
        """The vocabulary of `language`: the tokens of all numbers 0..999 written in it (what
        restricted decoding may choose from, with <eos>)."""
        self.lang_token(language)
        texts = number_corpus([language], READ_NUMBERS)[language]
        found = {tok for text in texts for tok in self.tokenize(text)}
        return sorted(self.index[tok] for tok in found if tok in self.index)


def _pad(rows: list[list[int]]) -> torch.Tensor:
    out = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row)
    return out


def _check_directions(directions) -> list[tuple[str, str]]:
    directions = [tuple(d) for d in directions]
    if not directions or any(len(d) != 2 for d in directions):
        raise ValueError("directions must be a non-empty list of (source, target) pairs")
    return directions


_STACKED = {  # stacked name -> the parameter of _Seq2Seq it holds, one slice per model
    "embed": "embed.weight",
    "enc_w_ih": "encoder.weight_ih_l0",
    "enc_w_hh": "encoder.weight_hh_l0",
    "enc_b_ih": "encoder.bias_ih_l0",
    "enc_b_hh": "encoder.bias_hh_l0",
    "dec_w_ih": "decoder.weight_ih_l0",
    "dec_w_hh": "decoder.weight_hh_l0",
    "dec_b_ih": "decoder.bias_ih_l0",
    "dec_b_hh": "decoder.bias_hh_l0",
    "attn_w": "attention.weight",
    "comb_w": "combine.weight",
    "comb_b": "combine.bias",
    "out_w": "out.weight",
    "out_b": "out.bias",
}


def _stacked_gru(gates_in: torch.Tensor, h: torch.Tensor, w_hh, b_hh) -> torch.Tensor:
    """nn.GRU's recurrence for K models at once. gates_in (K, B, T, 3H): the input's part of
    the gates, bias included; h (K, B, H): the first state; w_hh (K, 3H, H), b_hh (K, 3H).
    Returns the states (K, B, T, H). Gate order and formula as in torch.nn.GRU."""
    size = h.shape[-1]
    w_t, bias = w_hh.transpose(1, 2), b_hh.unsqueeze(1)
    states = []
    for g in gates_in.unbind(2):
        gh = torch.baddbmm(bias, h, w_t)
        rz = torch.sigmoid(g[..., : 2 * size] + gh[..., : 2 * size])
        r, z = rz[..., :size], rz[..., size:]
        n = torch.tanh(g[..., 2 * size :] + r * gh[..., 2 * size :])
        h = n + z * (h - n)  # (1 - z) * n + z * h
        states.append(h)
    return torch.stack(states, 2)


def _stacked_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None):
    """x (K, B, T, in) @ w (K, out, in).T + b (K, out) for K models at once."""
    flat = x.flatten(1, 2)
    y = torch.bmm(flat, w.mT) if b is None else torch.baddbmm(b.unsqueeze(1), flat, w.mT)
    return y.view(*x.shape[:3], -1)


def _stacked_logits(p: dict[str, torch.Tensor], src, lengths, dec_in) -> torch.Tensor:
    """The logits of K `_Seq2Seq` networks whose parameters are stacked in `p` (see _STACKED),
    each on its own batch: src (K, B, S), lengths (K, B), dec_in (K, B, T) -> (K, B, T, V)."""
    k, b, _ = src.shape
    vocab, embed = p["embed"].shape[1:]
    table = p["embed"].reshape(k * vocab, embed)  # model i's token t is row i * vocab + t
    offset = (torch.arange(k, device=src.device) * vocab).view(k, 1, 1)
    x = nn.functional.embedding(src + offset, table)
    hidden = p["enc_w_hh"].shape[2]
    enc = _stacked_gru(
        _stacked_linear(x, p["enc_w_ih"], p["enc_b_ih"]),
        x.new_zeros(k, b, hidden),
        p["enc_w_hh"],
        p["enc_b_hh"],
    )
    last = (lengths - 1).view(k, b, 1, 1).expand(-1, -1, 1, hidden)
    y = nn.functional.embedding(dec_in + offset, table)
    dec = _stacked_gru(
        _stacked_linear(y, p["dec_w_ih"], p["dec_b_ih"]),
        enc.gather(2, last).squeeze(2),  # the state after the last source token
        p["dec_w_hh"],
        p["dec_b_hh"],
    )
    keys = _stacked_linear(enc, p["attn_w"])  # (K, B, S, H)
    scores = torch.einsum("kbth,kbsh->kbts", dec, keys)
    weights = scores.masked_fill((src == 0).unsqueeze(2), -torch.inf).softmax(-1)
    context = torch.einsum("kbts,kbsh->kbth", weights, enc)
    mixed = torch.tanh(_stacked_linear(torch.cat([dec, context], -1), p["comb_w"], p["comb_b"]))
    return _stacked_linear(mixed, p["out_w"], p["out_b"])


def _check_seeds(seeds) -> list[int]:
    seeds = [seeds] if isinstance(seeds, int | np.integer) else list(seeds)
    if not seeds:
        raise ValueError("no seeds given")
    if any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be non-negative ints, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"repeated seed in {seeds}")
    return [int(s) for s in seeds]


def _examples(model: Translator, corpus: pd.DataFrame, directions):
    """Padded (encoder input, decoder input, decoder target) ids and source lengths of every
    number of `corpus` in every direction."""
    src_rows, dec_rows, tgt_rows = [], [], []
    for src, tgt in directions:
        for a, b in zip(corpus[src], corpus[tgt], strict=True):
            example = model.training_example(a, b, tgt)
            for rows, ids in zip((src_rows, dec_rows, tgt_rows), example, strict=True):
                rows.append([model.index[tok] for tok in ids])
    lengths = torch.tensor([len(r) for r in src_rows])
    return _pad(src_rows), _pad(dec_rows), _pad(tgt_rows), lengths


def _losses(params, src, lengths, dec_in, target) -> torch.Tensor:
    """Each of the K stacked models' mean next-token cross-entropy on its own batch (K, B, .)."""
    logits = _stacked_logits(params, src, lengths, dec_in)
    token_loss = nn.functional.cross_entropy(
        logits.flatten(0, 2), target.flatten(), ignore_index=0, reduction="none"
    ).view(len(src), -1)
    return token_loss.sum(1) / (target > 0).flatten(1).sum(1)


@torch.no_grad()
def _dev_scores(params, src, lengths, dec_in, target, chunk: int = 512):
    """Each stacked model's next-token accuracy and exact match on the given pairs, with the
    right prefix fed in (teacher forcing). A pair is an exact match when every next token is
    the model's first choice: exactly when greedy decoding gets it right."""
    k = params["embed"].shape[0]
    right_tokens, right_pairs = [], []
    for i in range(0, len(src), chunk):
        rows = slice(i, i + chunk)
        stack = [t[rows].unsqueeze(0).expand(k, *t[rows].shape) for t in (src, lengths, dec_in)]
        tgt = target[rows]
        ok = (_stacked_logits(params, *stack).argmax(-1) == tgt) | (tgt == 0)
        right_tokens.append((ok & (tgt > 0)).sum((1, 2)))
        right_pairs.append(ok.all(-1))
    tokens = torch.stack(right_tokens).sum(0) / (target > 0).sum()
    return tokens, torch.cat(right_pairs, 1).float().mean(1)


def train_translators(
    directions: Sequence[tuple[str, str]],
    numbers: Iterable[int],
    *,
    seeds: Sequence[int],
    dev_numbers: Iterable[int] | None = None,
    target_token: str = "decoder",
    monolingual: bool = True,
    restrict_script: bool = False,
    steps: int = 1500,
    eval_every: int = 50,
    patience: int = 3,
    batch_size: int = 64,
    buckets: int = 3,
    embed: int = 32,
    hidden: int = 128,
    lr: float = 1e-2,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "training",
) -> list[Translator]:
    """Train one shared model per seed in `seeds` on `directions` (pairs of num2words
    languages) over `numbers`; all models are trained together, one list entry per seed.

    target_token: "decoder" starts the output with the target-language token (our best);
    "encoder" prepends it to the source instead (Johnson et al. 2017's setup).
    monolingual: also train every language into itself (ja -> ja, ...), copying the input.
    restrict_script: when translating, allow only the target language's tokens.
    dev_numbers: validation numbers (disjoint from `numbers`). Every `eval_every` steps each
    model's next-token accuracy and exact match on them (teacher forcing, in the translation
    directions of `directions`, never a zero-shot one) are measured; each model keeps the
    weights of its best accuracy, and training ends when no model has improved for `patience`
    evaluations, or after `steps` steps. Without dev_numbers every model trains for `steps` steps.
    buckets: the training pairs are sorted by length and cut into this many equal buckets;
    step i draws every model's batch from bucket i mod buckets, so a batch holds pairs of
    similar length and the recurrent loops run over fewer padded positions.

    A seed fixes a model's initial weights and its random batches: the model for seed s is the
    one `train_translator(..., seed=s)` returns. The networks are stacked along a first axis
    and trained with batched matrix products (the same GRU formula as torch.nn.GRU, checked in
    the tests), which costs less than training them one after another. Each model has its own
    loss (mean next-token cross-entropy over its batch); their sum is minimised with Adam, which
    updates each weight from its own gradient only, so the models do not interact.
    Deterministic on the CPU for given seeds. Introduced in notebook 08.
    """
    from .stopping import EarlyStopping

    directions = _check_directions(directions)
    seeds = _check_seeds(seeds)
    if target_token not in TARGET_TOKEN_PLACES:
        raise ValueError(f"target_token must be one of {TARGET_TOKEN_PLACES}, got {target_token!r}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if eval_every < 1 or patience < 1 or buckets < 1:
        raise ValueError(
            f"eval_every, patience and buckets must be >= 1, got "
            f"{eval_every}, {patience}, {buckets}"
        )
    languages = _check_languages(dict.fromkeys(lang for d in directions for lang in d))
    translation_directions = [(a, b) for a, b in directions if a != b]
    if monolingual:
        directions = list(dict.fromkeys([*directions, *((lang, lang) for lang in languages)]))
    numbers = [int(n) for n in numbers]
    corpus = number_corpus(languages, numbers)
    dev = None
    if dev_numbers is not None:
        dev_numbers = [int(n) for n in dev_numbers]
        if set(dev_numbers) & set(numbers):
            raise ValueError("dev_numbers overlap the training numbers")
        dev = number_corpus(languages, dev_numbers)
    texts = corpus.to_numpy().ravel().tolist()
    merges = learn_merges(texts)
    ranks = {pair: i for i, pair in enumerate(merges)}
    pieces: dict = {}
    tokens = sorted(dict.fromkeys(a + b for a, b in merges))  # every token a merge can make
    chars = sorted(set("".join(texts)) - set(tokens))
    vocab = [PAD, BOS, EOS, *(f"<2{lang}>" for lang in languages), *chars, *tokens]
    max_len = max(len(_tokenize(t, ranks, pieces)) for t in texts) + 2

    def new_model(net):
        return Translator(
            net, vocab, languages, directions, target_token, restrict_script, max_len, merges
        )

    model = new_model(None)
    src, dec_in, tgt, lengths = _examples(model, corpus, directions)
    out_lengths = (tgt > 0).sum(1)
    by_length = torch.argsort(torch.maximum(lengths, out_lengths), stable=True)
    bucket_rows = torch.tensor_split(by_length, min(buckets, len(src)))
    if dev is not None:
        dev_data = [t.to(device) for t in _examples(model, dev, translation_directions)]
        stopper = EarlyStopping(patience, n_models=len(seeds))

    initial = []
    for seed in seeds:  # each seed's initial weights, as nn.Module's initialisation draws them
        torch.manual_seed(seed)
        initial.append(_Seq2Seq(len(vocab), embed, hidden).state_dict())
    params = {
        key: torch.stack([weights[name] for weights in initial]).to(device).requires_grad_()
        for key, name in _STACKED.items()
    }
    optimiser = torch.optim.Adam(params.values(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=steps, pct_start=0.1)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    histories = [[] for _ in seeds]
    dev_histories = [[] for _ in seeds]
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False, mininterval=1.0)
    for step in bar:  # mininterval: few updates, so nbval and slow front ends keep up
        rows = bucket_rows[step % len(bucket_rows)]
        batch = torch.stack(
            [rows[torch.randint(len(rows), (batch_size,), generator=g)] for g in generators]
        )
        width, out_width = int(lengths[batch].max()), int(out_lengths[batch].max())
        losses = _losses(
            params,
            src[batch, :width].to(device),
            lengths[batch].to(device),
            dec_in[batch, :out_width].to(device),
            tgt[batch, :out_width].to(device),
        )
        optimiser.zero_grad()
        losses.sum().backward()
        params["embed"].grad[:, 0] = 0  # <pad>'s embedding stays zero (padding_idx=0)
        optimiser.step()
        schedule.step()
        for history, loss in zip(histories, losses.tolist(), strict=True):
            history.append(loss)
        if dev is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            d_src, d_dec, d_tgt, d_len = dev_data
            token_accuracy, exact = _dev_scores(params, d_src, d_len, d_dec, d_tgt)
            for dev_history, score in zip(dev_histories, exact.tolist(), strict=True):
                dev_history.append(score)
            stopper.update(token_accuracy, state={k: v.detach() for k, v in params.items()})
            if stopper.all_stopped:
                break
    final = {k: v.detach() for k, v in params.items()}
    if dev is not None:
        final = {k: v.to(device) for k, v in stopper.best_state.items()}
        best = stopper.best_evaluation
        best_steps = [(int(e) + 1) * eval_every for e in best]
        dev_scores = [history[e] for history, e in zip(dev_histories, best, strict=True)]
    else:
        best_steps, dev_scores = [steps] * len(seeds), [float("nan")] * len(seeds)
    models = []
    for i, seed_history in enumerate(histories):
        net = _Seq2Seq(len(vocab), embed, hidden).to(device)
        net.load_state_dict({name: final[key][i].clone() for key, name in _STACKED.items()})
        model = new_model(net.eval())
        model.history, model.dev_history = seed_history, dev_histories[i]
        model.best_step = min(best_steps[i], len(seed_history))
        model.dev_exact_match = dev_scores[i]
        models.append(model)
    return models


def train_translator(
    directions: Sequence[tuple[str, str]],
    numbers: Iterable[int],
    *,
    seed: int,
    **options,
) -> Translator:
    """Train one shared model on `directions` (pairs of num2words languages) over `numbers`:
    `train_translators` with one seed (see there for the options: dev_numbers for early
    stopping, target_token, monolingual, sizes, steps, learning rate). Adam on next-token
    cross-entropy over random batches of all training pairs, with a one-cycle learning-rate
    schedule. Deterministic on the CPU for a given seed. Introduced in notebook 08.
    """
    if "seeds" in options:
        raise TypeError("train_translator takes one seed; use train_translators for several")
    (model,) = train_translators(directions, numbers, seeds=[seed], **options)
    return model


def _batch(model: Translator, texts: list[str], target_lang: str):
    rows = [model.source_ids(t, target_lang) for t in texts]
    device = next(model.net.parameters()).device
    return _pad(rows).to(device), torch.tensor([len(r) for r in rows], device=device)


def _allowed(model: Translator, target_lang: str, restrict: bool) -> torch.Tensor:
    """An additive mask over the vocabulary: 0 where a token may be written, -inf elsewhere."""
    mask = torch.zeros(len(model.vocab))
    if restrict:  # only the target language's tokens, and <eos>
        mask[:] = -torch.inf
        mask[[*model.language_tokens(target_lang), model.index[EOS]]] = 0
    else:  # never <pad>, <bos> or a language token
        mask[: model.index[EOS]] = -torch.inf
        mask[model.index[EOS] + 1 : model.index[EOS] + 1 + len(model.languages)] = -torch.inf
    return mask


@torch.no_grad()
def translate(
    model: Translator,
    texts: Sequence[str],
    target_lang: str,
    *,
    restrict_script: bool | None = None,
) -> list[str]:
    """Greedy translation of `texts` (any language the model knows) into `target_lang`: at
    every step the most likely token. restrict_script=True allows only the target language's
    tokens (`Translator.language_tokens`); None uses the model's own setting."""
    texts = _check_texts(texts, "texts")
    if not all(texts):  # an empty source (e.g. an empty first step of a pivot) gives ""
        done = iter(
            translate(model, [t for t in texts if t], target_lang, restrict_script=restrict_script)
        )
        return [next(done) if t else "" for t in texts]
    if not texts:
        return []
    restrict = model.restrict_script if restrict_script is None else restrict_script
    net = model.net.eval()
    src, lengths = _batch(model, texts, target_lang)
    enc_states, last = net.encode(src, lengths)
    hidden = last.unsqueeze(0).contiguous()
    tokens = torch.full((len(texts), 1), model.decoder_start(target_lang), device=src.device)
    mask = _allowed(model, target_lang, restrict).to(src.device)
    out = []
    for _ in range(model.max_len):
        logits, hidden = net.decode_step(tokens, hidden, enc_states, src > 0)
        tokens = (logits[:, -1] + mask).argmax(-1, keepdim=True)
        out.append(tokens)
    ids = torch.cat(out, 1).tolist()
    eos = model.index[EOS]
    return [
        "".join(model.vocab[i] for i in row[: row.index(eos) if eos in row else None])
        for row in ids
    ]


@torch.no_grad()
def encode(model: Translator, texts: Sequence[str], target_lang: str | None = None) -> np.ndarray:
    """Each text's pooled encoder states (n, hidden): the mean of the encoder's states over its
    tokens, the representation shared by all languages. Models with the target token on the
    encoder side need `target_lang`."""
    texts = _check_texts(texts, "texts")
    if model.target_token == "encoder" and target_lang is None:
        raise ValueError("this model's encoder reads a target token: give target_lang")
    if not texts or not all(texts):
        raise ValueError("no texts, or an empty text: nothing to encode")
    src, lengths = _batch(model, texts, target_lang or model.languages[0])
    states, _ = model.net.encode(src, lengths)
    mask = (src > 0).unsqueeze(-1).float()
    return ((states * mask).sum(1) / mask.sum(1)).cpu().numpy()
