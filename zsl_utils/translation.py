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
    """Train one shared model on `directions` (pairs of num2words languages) over `numbers`.

    target_token: "decoder" starts the output with the target-language token (our best);
    "encoder" prepends it to the source instead (Johnson et al. 2017's setup).
    monolingual: also train every language into itself (ja -> ja, ...), copying the input.
    restrict_script: when translating, allow only the target language's characters.
    Deterministic on the CPU for a given seed. Introduced in notebook 08.
    """
    directions = _check_directions(directions)
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
    model = Translator(
        _Seq2Seq(len(vocab), embed, hidden),
        vocab,
        languages,
        directions,
        target_token,
        restrict_script,
        max_len,
    )
    src_rows, dec_rows, tgt_rows = [], [], []
    for src, tgt in directions:
        for a, b in zip(corpus[src], corpus[tgt], strict=True):
            example = model.training_example(a, b, tgt)
            for rows, ids in zip((src_rows, dec_rows, tgt_rows), example, strict=True):
                rows.append([model.index[tok] for tok in ids])
    src, dec_in, tgt = _pad(src_rows), _pad(dec_rows), _pad(tgt_rows)
    lengths = torch.tensor([len(r) for r in src_rows])

    torch.manual_seed(seed)
    model.net = _Seq2Seq(len(vocab), embed, hidden).to(device)
    optimiser = torch.optim.Adam(model.net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=steps, pct_start=0.1)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss(ignore_index=0)
    model.net.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False, mininterval=1.0)
    for _ in bar:  # mininterval: few updates, so nbval and slow front ends keep up
        batch = torch.randint(len(src), (batch_size,), generator=generator)
        width, out_width = int(lengths[batch].max()), int((tgt[batch] > 0).sum(1).max())
        logits = model.net(
            src[batch, :width].to(device),
            lengths[batch].to(device),
            dec_in[batch, :out_width].to(device),
        )
        loss = loss_fn(logits.flatten(0, 1), tgt[batch, :out_width].flatten().to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        model.history.append(loss.item())
    model.net.eval()
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
