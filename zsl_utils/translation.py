"""Multilingual translation of spelled-out numbers, and zero-shot translation.

Introduced in notebook 08. The data are numbers written out by `num2words` in several
languages (2026 -> "two thousand and twenty-six", "二千二十六", "이천이십육"). One small
character-level sequence-to-sequence model (a GRU encoder and decoder, sharing one vocabulary)
translates between all of them; a target-language token tells it which language to write
(Johnson et al. 2017). Trained on some directions only, it can be asked for the others
(zero-shot translation).

Tokens: a word (a run of letters, with the space before it) that occurs in at least
`MIN_WORD_COUNT` training texts is one token; everything else is split into characters. English
"nine hundred and ninety-nine" becomes nine|_hundred|_and|_ninety|-|nine, while Japanese and
Korean numbers, written without spaces, are split into characters. The rule needs no knowledge
of the language, so the same code works for any `num2words` language.
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
    "exact_match",
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
MIN_WORD_COUNT = 3
_PIECE = re.compile(
    r" ?[^\W\d_]+|.", re.DOTALL
)  # a word with the space before it, or one character


def _word_vocabulary(texts: Iterable[str], min_count: int = MIN_WORD_COUNT) -> list[str]:
    """Words (longer than one character) found in at least `min_count` of `texts`."""
    counts = Counter(w for t in texts for w in set(_PIECE.findall(t)) if len(w) > 1)
    return sorted(w for w, n in counts.items() if n >= min_count)


def _tokenize(text: str, words: set[str]) -> list[str]:
    """Split `text` into known words and single characters; "".join(tokens) == text."""
    return [t for piece in _PIECE.findall(text) for t in ([piece] if piece in words else piece)]


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
    alphabet (the rule behind `off_target_rate`). It tells scripts apart, not languages that
    share one script."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    chars = set(text) - {" "}
    return bool(chars) and chars <= alphabet(language)


def _check_texts(texts, name="predictions") -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, not one string")
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{name} must all be strings")
    return texts


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Share of predictions equal to their reference after stripping surrounding whitespace."""
    predictions = _check_texts(predictions)
    references = _check_texts(references, "references")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("no predictions")
    hits = [p.strip() == r.strip() for p, r in zip(predictions, references, strict=True)]
    return float(np.mean(hits))


def off_target_rate(predictions: Sequence[str], target_lang: str) -> float:
    """Share of predictions that are not written in `target_lang`: empty, or containing a
    character outside its alphabet (see `is_in_language`)."""
    predictions = _check_texts(predictions)
    if not predictions:
        raise ValueError("no predictions")
    return float(np.mean([not is_in_language(p, target_lang) for p in predictions]))


class _Seq2Seq(nn.Module):
    """GRU encoder -> one vector -> GRU decoder, with one embedding table for both sides."""

    def __init__(self, vocab_size: int, embed: int, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.decoder = nn.GRU(embed + hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        states, _ = self.encoder(self.embed(src))
        return states[torch.arange(len(src)), lengths - 1]  # state after the last real token

    def decode_step(self, tokens, hidden, context):
        inputs = torch.cat(
            [self.embed(tokens), context.unsqueeze(1).expand(-1, tokens.shape[1], -1)], -1
        )
        states, hidden = self.decoder(inputs, hidden)
        return self.out(states), hidden

    def forward(self, src, lengths, dec_in):
        context = self.encode(src, lengths)
        logits, _ = self.decode_step(dec_in, context.unsqueeze(0).contiguous(), context)
        return logits


@dataclass
class Translator:
    """A trained multilingual model: the network, its vocabulary and how it was trained."""

    net: _Seq2Seq
    vocab: list[str]
    languages: list[str]
    directions: list[tuple[str, str]]
    target_token: str
    restrict_script: bool
    max_len: int
    history: list[float] = field(default_factory=list)

    def __post_init__(self):
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        self.words = {tok for tok in self.vocab if len(tok) > 1 and not tok.startswith("<")}

    def tokenize(self, text: str) -> list[str]:
        return _tokenize(text, self.words)

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


def _stacked_logits(p: dict[str, torch.Tensor], src, lengths, dec_in) -> torch.Tensor:
    """The logits of K `_Seq2Seq` networks whose parameters are stacked in `p` (see _STACKED),
    each on its own batch: src (K, B, S), lengths (K, B), dec_in (K, B, T) -> (K, B, T, V)."""
    k, b, _ = src.shape
    vocab, embed = p["embed"].shape[1:]
    table = p["embed"].reshape(k * vocab, embed)  # model i's token t is row i * vocab + t
    offset = (torch.arange(k, device=src.device) * vocab).view(k, 1, 1)
    x = nn.functional.embedding(src + offset, table)
    gates = torch.baddbmm(p["enc_b_ih"].unsqueeze(1), x.flatten(1, 2), p["enc_w_ih"].mT)
    states = _stacked_gru(
        gates.view(*src.shape, -1),
        x.new_zeros(k, b, p["enc_w_hh"].shape[2]),
        p["enc_w_hh"],
        p["enc_b_hh"],
    )
    last = (lengths - 1).view(k, b, 1, 1).expand(-1, -1, 1, states.shape[-1])
    context = states.gather(2, last).squeeze(2)  # (K, B, H): the state after the last token
    y = nn.functional.embedding(dec_in + offset, table)
    w = p["dec_w_ih"]  # the decoder reads [embedding, context] at every step
    from_context = torch.baddbmm(p["dec_b_ih"].unsqueeze(1), context, w[:, :, embed:].mT)
    gates = torch.bmm(y.flatten(1, 2), w[:, :, :embed].mT).view(*dec_in.shape, -1)
    out = _stacked_gru(gates + from_context.unsqueeze(2), context, p["dec_w_hh"], p["dec_b_hh"])
    logits = torch.baddbmm(p["out_b"].unsqueeze(1), out.flatten(1, 2), p["out_w"].mT)
    return logits.view(*dec_in.shape, -1)


def _check_seeds(seeds) -> list[int]:
    seeds = [seeds] if isinstance(seeds, int | np.integer) else list(seeds)
    if not seeds:
        raise ValueError("no seeds given")
    if any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be non-negative ints, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"repeated seed in {seeds}")
    return [int(s) for s in seeds]


def train_translators(
    directions: Sequence[tuple[str, str]],
    numbers: Iterable[int],
    *,
    seeds: Sequence[int],
    target_token: str = "decoder",
    monolingual: bool = True,
    restrict_script: bool = False,
    steps: int = 600,
    batch_size: int = 32,
    embed: int = 32,
    hidden: int = 128,
    lr: float = 6e-3,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "training",
) -> list[Translator]:
    """Train one shared model per seed in `seeds` on `directions` (pairs of num2words
    languages) over `numbers`; all models are trained together, one list entry per seed.

    target_token: "decoder" starts the output with the target-language token (our best);
    "encoder" prepends it to the source instead (Johnson et al. 2017's setup).
    monolingual: also train every language into itself (ja -> ja, ...), copying the input.
    restrict_script: when translating, allow only the target language's characters.

    A seed fixes a model's initial weights and its random batches: the model for seed s is the
    one `train_translator(..., seed=s)` returns. The networks are stacked along a first axis
    and trained with batched matrix products (the same GRU formula as torch.nn.GRU, checked in
    the tests), which costs less than training them one after another. Each model has its own
    loss (mean next-token cross-entropy over its batch); their sum is minimised with Adam, which
    updates each weight from its own gradient only, so the models do not interact.
    Deterministic on the CPU for given seeds. Introduced in notebook 08.
    """
    directions = _check_directions(directions)
    seeds = _check_seeds(seeds)
    if target_token not in TARGET_TOKEN_PLACES:
        raise ValueError(f"target_token must be one of {TARGET_TOKEN_PLACES}, got {target_token!r}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    languages = _check_languages(dict.fromkeys(lang for d in directions for lang in d))
    if monolingual:
        directions = list(dict.fromkeys([*directions, *((lang, lang) for lang in languages)]))
    corpus = number_corpus(languages, numbers)
    texts = corpus.to_numpy().ravel().tolist()
    chars = sorted(set("".join(texts)))
    words = _word_vocabulary(texts)
    vocab = [PAD, BOS, EOS, *(f"<2{lang}>" for lang in languages), *chars, *words]
    max_len = max(len(_tokenize(t, set(words))) for t in texts) + 1
    models = [
        Translator(
            _Seq2Seq(len(vocab), embed, hidden),
            vocab,
            languages,
            directions,
            target_token,
            restrict_script,
            max_len,
        )
        for _ in seeds
    ]
    model = models[0]
    src_rows, dec_rows, tgt_rows = [], [], []
    for src, tgt in directions:
        for a, b in zip(corpus[src], corpus[tgt], strict=True):
            example = model.training_example(a, b, tgt)
            for rows, ids in zip((src_rows, dec_rows, tgt_rows), example, strict=True):
                rows.append([model.index[tok] for tok in ids])
    src, dec_in, tgt = _pad(src_rows), _pad(dec_rows), _pad(tgt_rows)
    lengths = torch.tensor([len(r) for r in src_rows])
    out_lengths = (tgt > 0).sum(1)

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
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False, mininterval=1.0)
    for _ in bar:  # mininterval: few updates, so nbval and slow front ends keep up
        batch = torch.stack(
            [torch.randint(len(src), (batch_size,), generator=g) for g in generators]
        )
        width, out_width = int(lengths[batch].max()), int(out_lengths[batch].max())
        target = tgt[batch, :out_width].to(device)
        logits = _stacked_logits(
            params,
            src[batch, :width].to(device),
            lengths[batch].to(device),
            dec_in[batch, :out_width].to(device),
        )
        token_loss = nn.functional.cross_entropy(
            logits.flatten(0, 2), target.flatten(), ignore_index=0, reduction="none"
        ).view(len(seeds), -1)
        losses = token_loss.sum(1) / (target > 0).flatten(1).sum(1)  # each model's mean
        optimiser.zero_grad()
        losses.sum().backward()
        params["embed"].grad[:, 0] = 0  # <pad>'s embedding stays zero (padding_idx=0)
        optimiser.step()
        schedule.step()
        for history, loss in zip(histories, losses.tolist(), strict=True):
            history.append(loss)
    for i, (model, history) in enumerate(zip(models, histories, strict=True)):
        model.net = _Seq2Seq(len(vocab), embed, hidden).to(device)
        model.net.load_state_dict({name: params[key][i].detach() for key, name in _STACKED.items()})
        model.net.eval()
        model.history = history
    return models


def train_translator(
    directions: Sequence[tuple[str, str]],
    numbers: Iterable[int],
    *,
    seed: int,
    target_token: str = "decoder",
    monolingual: bool = True,
    restrict_script: bool = False,
    steps: int = 600,
    batch_size: int = 32,
    embed: int = 32,
    hidden: int = 128,
    lr: float = 6e-3,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "training",
) -> Translator:
    """Train one shared model on `directions` (pairs of num2words languages) over `numbers`:
    `train_translators` with one seed (see there for the options). Adam on next-token
    cross-entropy over random batches of all training pairs, with a one-cycle learning-rate
    schedule. Deterministic on the CPU for a given seed. Introduced in notebook 08.
    """
    (model,) = train_translators(
        directions,
        numbers,
        seeds=[seed],
        target_token=target_token,
        monolingual=monolingual,
        restrict_script=restrict_script,
        steps=steps,
        batch_size=batch_size,
        embed=embed,
        hidden=hidden,
        lr=lr,
        device=device,
        progress=progress,
        desc=desc,
    )
    return model


def _batch(model: Translator, texts: list[str], target_lang: str):
    rows = [model.source_ids(t, target_lang) for t in texts]
    device = next(model.net.parameters()).device
    return _pad(rows).to(device), torch.tensor([len(r) for r in rows], device=device)


@torch.no_grad()
def translate(
    model: Translator,
    texts: Sequence[str],
    target_lang: str,
    *,
    restrict_script: bool | None = None,
) -> list[str]:
    """Greedy translation of `texts` (any language the model knows) into `target_lang`.
    restrict_script=None uses the model's own setting."""
    texts = _check_texts(texts, "texts")
    if not texts:
        return []
    restrict = model.restrict_script if restrict_script is None else restrict_script
    net = model.net.eval()
    src, lengths = _batch(model, texts, target_lang)
    context = net.encode(src, lengths)
    hidden = context.unsqueeze(0).contiguous()
    tokens = torch.full((len(texts), 1), model.decoder_start(target_lang), device=src.device)
    mask = torch.zeros(len(model.vocab), device=src.device)
    if restrict:
        letters = alphabet(target_lang) | {" "}
        first = model.index[EOS] + 1 + len(model.languages)  # the first text token
        allowed = [i for i, tok in enumerate(model.vocab) if i >= first and set(tok) <= letters]
        mask[:] = -torch.inf
        mask[[*allowed, model.index[EOS]]] = 0
    else:
        mask[: model.index[EOS]] = -torch.inf  # never <pad> or <bos>
        mask[model.index[EOS] + 1 : model.index[EOS] + 1 + len(model.languages)] = -torch.inf
    out = []
    for _ in range(model.max_len):
        logits, hidden = net.decode_step(tokens, hidden, context)
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
    """The encoder's vector for each text (n, hidden): the representation shared by all languages.
    Models with the target token on the encoder side need `target_lang`."""
    texts = _check_texts(texts, "texts")
    if model.target_token == "encoder" and target_lang is None:
        raise ValueError("this model's encoder reads a target token: give target_lang")
    src, lengths = _batch(model, texts, target_lang or model.languages[0])
    return model.net.encode(src, lengths).cpu().numpy()
