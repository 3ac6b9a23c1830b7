"""Hangul syllables read from their letters: jamo, letter classifiers, composed syllable scores.

Every Hangul syllable block is an initial consonant, a vowel and an optional final consonant:
19 × 21 × 28 = 11,172 syllables, code point 0xAC00 + (initial·21 + vowel)·28 + final. The
letters (jamo) are exact, visible attributes shared by hundreds of classes: a model that reads
the letters of the syllables it saw can read syllables it never saw, by composing them (DAP with
one categorical attribute per position; notebook 04). `load_hangul()` in `zsl_utils.data`
loads the rendered benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .stopping import EarlyStopping

__all__ = [
    "INITIALS",
    "VOWELS",
    "FINALS",
    "POSITIONS",
    "INITIALS_ROMAN",
    "VOWELS_ROMAN",
    "FINALS_ROMAN",
    "decompose",
    "romanize",
    "letter_words",
    "compose",
    "jamo_table",
    "attribute_names",
    "attribute_table",
    "ksx1001_syllables",
    "LetterNets",
    "fit_letter_nets",
    "letter_log_probs",
    "letter_accuracy",
    "syllable_scores",
]

FIRST, LAST = 0xAC00, 0xD7A3
# Compatibility jamo, for display; "" is the empty final.
INITIALS = tuple("ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")
VOWELS = tuple("ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ")
FINALS = ("",) + tuple("ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
# Revised Romanization of the letters, for labels that need no Korean font ("-": silent ㅇ,
# "" no final).
# fmt: off
INITIALS_ROMAN = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "-", "j", "jj",
                  "ch", "k", "t", "p", "h")
VOWELS_ROMAN = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo",
                "u", "wo", "we", "wi", "yu", "eu", "ui", "i")
FINALS_ROMAN = ("", "g", "kk", "gs", "n", "nj", "nh", "d", "l", "lg", "lm", "lb", "ls", "lt",
                "lp", "lh", "m", "b", "bs", "s", "ss", "ng", "j", "ch", "k", "t", "p", "h")
# fmt: on
POSITIONS = ("initial", "vowel", "final")
SIZES = (len(INITIALS), len(VOWELS), len(FINALS))  # 19, 21, 28


def decompose(syllable: str) -> tuple[int, int, int]:
    """(initial, vowel, final) indices of one precomposed Hangul syllable; final 0 is none."""
    if not isinstance(syllable, str) or len(syllable) != 1:
        raise ValueError(f"expected one Hangul syllable, got {syllable!r}")
    code = ord(syllable)
    if not FIRST <= code <= LAST:
        raise ValueError(f"{syllable!r} (U+{code:04X}) is not a precomposed Hangul syllable")
    offset = code - FIRST
    return offset // (21 * 28), (offset // 28) % 21, offset % 28


def compose(initial: int, vowel: int, final: int = 0) -> str:
    """The syllable 0xAC00 + (initial·21 + vowel)·28 + final."""
    for name, value, size in zip(POSITIONS, (initial, vowel, final), SIZES, strict=True):
        if not isinstance(value, int | np.integer) or not 0 <= value < size:
            raise ValueError(f"{name} must be an int in 0..{size - 1}, got {value!r}")
    return chr(FIRST + (int(initial) * 21 + int(vowel)) * 28 + int(final))


def romanize(syllable: str, sep: str = "+") -> str:
    """The syllable's letters romanized, e.g. romanize("한") == "h+a+n", "아" -> "-+a"."""
    i, v, f = decompose(syllable)
    parts = [INITIALS_ROMAN[i], VOWELS_ROMAN[v]] + ([FINALS_ROMAN[f]] if f else [])
    return sep.join(parts)


def letter_words(syllable: str) -> list[str]:
    """One word per letter with its position fused in, e.g. letter_words("한") ==
    ["initialh", "vowela", "finaln"], letter_words("아") == ["initialieung", "vowela",
    "nofinal"]: captions for a bag-of-words text encoder, which would lose the positions of
    separate words ("initial n ... final g" and "initial g ... final n" hold the same words)."""
    i, v, f = decompose(syllable)
    initial = INITIALS_ROMAN[i] if INITIALS_ROMAN[i] != "-" else "ieung"
    final = f"final{FINALS_ROMAN[f]}" if f else "nofinal"
    return [f"initial{initial}", f"vowel{VOWELS_ROMAN[v]}", final]


def jamo_table(class_names: Sequence[str]) -> np.ndarray:
    """(classes, 3) int64: the initial, vowel and final index of every syllable."""
    return np.array([decompose(s) for s in class_names], dtype=np.int64).reshape(-1, 3)


def attribute_names() -> list[str]:
    """The 68 attributes: one per letter and position, e.g. 'initial ㄱ', 'final (none)'."""
    names = [f"initial {j}" for j in INITIALS] + [f"vowel {j}" for j in VOWELS]
    return names + [f"final {j or '(none)'}" for j in FINALS]


def attribute_table(class_names: Sequence[str]) -> np.ndarray:
    """(classes, 68) float32, one-hot initial / vowel / final (the order of `attribute_names`)."""
    jamo = jamo_table(class_names)
    table = np.zeros((len(jamo), sum(SIZES)), dtype=np.float32)
    offsets = np.cumsum((0,) + SIZES[:-1])
    for p in range(3):
        table[np.arange(len(jamo)), offsets[p] + jamo[:, p]] = 1.0
    return table


def ksx1001_syllables() -> list[str]:
    """The 2,350 syllables of KS X 1001 (EUC-KR rows 0xB0-0xC8), in code order."""
    out = []
    for row in range(0xB0, 0xC9):
        for col in range(0xA1, 0xFF):
            try:
                out.append(bytes((row, col)).decode("euc_kr"))
            except UnicodeDecodeError:
                continue
    return out


class LetterNets(nn.Module):
    """`n_models` independent small CNNs with three letter heads, run as one batched model.

    Convolutions are grouped (one group per model) and the dense layers are batched matrix
    products, so the models share nothing but the forward pass: each one has its own
    initialisation and, in `fit_letter_nets`, its own minibatches. Input (batch, n_models, 28,
    28): image b of model m at [b, m]. Output (n_models, batch, 68) letter logits.
    """

    def __init__(self, n_models: int, width: int = 8, hidden: int = 64):
        super().__init__()
        if n_models < 1:
            raise ValueError(f"n_models must be at least 1, got {n_models}")
        m, w = n_models, width
        self.n_models = m
        self.features = nn.Sequential(
            nn.Conv2d(m, m * w, 5, stride=2, padding=2, groups=m),
            nn.ReLU(),
            nn.Conv2d(m * w, m * 2 * w, 3, padding=1, groups=m),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        flat = 2 * w * 7 * 7
        self.w1 = nn.Parameter(torch.randn(m, flat, hidden) / flat**0.5)
        self.b1 = nn.Parameter(torch.zeros(m, 1, hidden))
        self.w2 = nn.Parameter(torch.randn(m, hidden, sum(SIZES)) / hidden**0.5)
        self.b2 = nn.Parameter(torch.zeros(m, 1, sum(SIZES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.n_models or x.shape[2:] != (28, 28):
            raise ValueError(f"expected (batch, {self.n_models}, 28, 28), got {tuple(x.shape)}")
        h = self.features(x)  # (batch, m * 2w, 7, 7)
        h = h.view(len(x), self.n_models, -1).transpose(0, 1)  # (m, batch, flat)
        h = torch.relu(torch.baddbmm(self.b1, h, self.w1))
        return torch.baddbmm(self.b2, h, self.w2)


def _split_logits(logits: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.split(logits, SIZES, dim=-1))


def letter_log_probs(nets: LetterNets, x: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """(n_models, n, 68) log-probabilities, softmax within each position, for images x
    (n, 1, 28, 28) given to every model."""
    nets.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = x[i : i + batch].expand(-1, nets.n_models, -1, -1)
            parts = _split_logits(nets(xb))
            out.append(torch.cat([p.log_softmax(-1) for p in parts], dim=-1))
    return torch.cat(out, dim=1)


def letter_accuracy(log_probs: torch.Tensor, jamo: np.ndarray) -> np.ndarray:
    """(n_models, 3) accuracy of the most likely letter per position against `jamo` (n, 3)."""
    jamo = torch.as_tensor(np.asarray(jamo), dtype=torch.long)
    if jamo.ndim != 2 or jamo.shape[1] != 3 or len(jamo) != log_probs.shape[1]:
        raise ValueError(f"jamo must be ({log_probs.shape[1]}, 3), got {tuple(jamo.shape)}")
    parts = _split_logits(log_probs)
    acc = [(p.argmax(-1) == jamo[:, k]).float().mean(-1) for k, p in enumerate(parts)]
    return torch.stack(acc, dim=-1).numpy()


def syllable_scores(log_probs: torch.Tensor, class_jamo: np.ndarray) -> torch.Tensor:
    """Compose letter log-probabilities into syllable scores, DAP-style:
    score(image, syllable) = log p(initial) + log p(vowel) + log p(final).

    `log_probs` (..., n, 68) from `letter_log_probs`; `class_jamo` (classes, 3) from
    `jamo_table`. Returns (..., n, classes).
    """
    class_jamo = torch.as_tensor(np.asarray(class_jamo), dtype=torch.long)
    if class_jamo.ndim != 2 or class_jamo.shape[1] != 3:
        raise ValueError(f"class_jamo must be (classes, 3), got {tuple(class_jamo.shape)}")
    if log_probs.shape[-1] != sum(SIZES):
        raise ValueError(f"log_probs must end in {sum(SIZES)} letter columns")
    parts = _split_logits(log_probs)
    return sum(p[..., class_jamo[:, k]] for k, p in enumerate(parts))


def fit_letter_nets(
    x: torch.Tensor,
    jamo: np.ndarray,
    x_val: torch.Tensor,
    jamo_val: np.ndarray,
    seeds: Sequence[int],
    *,
    max_epochs: int = 20,
    patience: int = 3,
    batch_size: int = 128,
    lr: float = 3e-3,
    width: int = 8,
    hidden: int = 64,
) -> tuple[LetterNets, np.ndarray]:
    """Train one letter model per seed together, each stopping on its own validation letter
    accuracy (mean of the three positions), and return the models at their best epoch and the
    epochs each one kept. Each seed sets its model's initialisation and minibatch order.
    """
    jamo_t = torch.as_tensor(np.asarray(jamo), dtype=torch.long)
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28) or len(x) != len(jamo_t):
        raise ValueError(f"x must be (n, 1, 28, 28) with one jamo row per image, got {x.shape}")
    if len(seeds) < 1 or max_epochs < 1 or patience < 1:
        raise ValueError("need at least one seed, max_epochs >= 1 and patience >= 1")
    m = len(seeds)
    nets = LetterNets(m, width, hidden)
    # Each model gets the initialisation of its own seed: copy it into its slice of the batch.
    fresh = []
    for s in seeds:
        torch.manual_seed(int(s))
        fresh.append(LetterNets(1, width, hidden))
    with torch.no_grad():
        for name, p in nets.named_parameters():
            parts = [dict(f.named_parameters())[name] for f in fresh]
            p.copy_(torch.cat(parts, dim=0))
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    opt = torch.optim.Adam(nets.parameters(), lr=lr)
    stopper = EarlyStopping(patience, n_models=m)
    n = len(x)
    for _ in range(max_epochs):
        nets.train()
        orders = torch.stack([torch.randperm(n, generator=g) for g in gens])  # (m, n)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = orders[:, i : i + batch_size]  # (m, b)
            xb = x[idx.T.reshape(-1)].view(batch_size, m, 28, 28)
            parts = _split_logits(nets(xb))
            yb = jamo_t[idx]  # (m, b, 3)
            loss = sum(
                nn.functional.cross_entropy(p.reshape(-1, p.shape[-1]), yb[..., k].reshape(-1))
                for k, p in enumerate(parts)
            )
            opt.zero_grad()
            (loss * m).backward()
            opt.step()
        score = letter_accuracy(letter_log_probs(nets, x_val), jamo_val).mean(-1)
        stopper.update(score, state=_by_model(nets.state_dict(), m))
        if stopper.all_stopped:
            break
    best = stopper.best_state
    nets.load_state_dict({k: best[k].view_as(v) for k, v in nets.state_dict().items()})
    return nets, stopper.best_evaluation + 1


def _by_model(state: dict[str, torch.Tensor], m: int) -> dict[str, torch.Tensor]:
    """`state` with every tensor viewed as (m, -1): one row per model (grouped convolutions hold
    m groups of rows), the stacked form `EarlyStopping` keeps a best copy of."""
    return {name: value.view(m, -1) for name, value in state.items()}
