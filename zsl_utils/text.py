"""Text for contrastive image–text training (CLIP): captions, tokens, a text encoder, recall@k.

Introduced in notebook 07. Captions are written from a class's attributes and description
(`make_captions`), turned into token ids over a GloVe-initialised vocabulary (`Vocabulary`),
and encoded by mean pooling plus a projection (`TextEncoder`). `ClipModel` pairs it with a
`SmallCNN` image encoder and CLIP's learnable temperature; `fit_clip` trains both with
`losses.clip_loss`; `class_embeddings` builds zero-shot classifiers from prompts (with prompt
ensembling); `recall_at_k` scores cross-modal retrieval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .losses import clip_loss
from .models import SmallCNN

__all__ = [
    "STOPWORDS",
    "CAPTION_TEMPLATES",
    "attribute_phrase",
    "tokenize",
    "make_captions",
    "class_prompts",
    "Vocabulary",
    "TextEncoder",
    "ClipModel",
    "fit_clip",
    "encode_texts",
    "class_embeddings",
    "recall_at_k",
]

STOPWORDS = frozenset(
    "a an the and or with of that this is it its to in on for as at by are be".split()
)
"""Function words `tokenize` drops: a bag-of-words encoder cannot use them."""

CAPTION_TEMPLATES = (
    "a silhouette of {subject} with {attributes}.",
    "{subject}: {attributes}.",
    "this is {subject}, {attributes}.",
    "{attributes} - that describes {subject}.",
    "a picture of {subject}. {description}",
    "{description} {attributes}.",
)
"""Caption templates: {subject} is "an animal" or "a <class>", {attributes} a random list of
the class's attributes, {description} random clauses of its description."""


def attribute_phrase(name: str) -> str:
    """An attribute's column name as words: "long_neck" -> "long neck"."""
    if not isinstance(name, str) or not name.strip("_ "):
        raise ValueError(f"an attribute name must be a non-empty string, got {name!r}")
    return name.replace("_", " ").strip()


def tokenize(text: str) -> list[str]:
    """Lower-case words (letters only) of `text`, without the function words in `STOPWORDS`."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOPWORDS]


def _clauses(description: str) -> list[str]:
    parts = [p.strip(" .").lower() for p in re.split(r",| that ", description)]
    return [p for p in parts if p]


def make_captions(
    labels,
    attribute_names: Sequence[str],
    strengths,
    descriptions: Sequence[str],
    *,
    class_names: Sequence[str] | None = None,
    seed: int = 0,
    max_attributes: int = 6,
    templates: Sequence[str] = CAPTION_TEMPLATES,
) -> list[str]:
    """One random caption per label, written from that class's attributes and description.

    Each caption picks a template, a random subset of the class's attributes (attribute m is
    kept with probability equal to its strength, then at most `max_attributes` of them in random
    order) and random clauses of its description. With `class_names` the subject is "a <name>",
    otherwise "an animal", so the caption does not give the class away. Same seed, same captions.
    """
    labels = np.asarray(labels)
    strengths = np.asarray(strengths, dtype=float)
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(
            f"labels must be a 1-D array of class ids, got {labels.dtype} {labels.shape}"
        )
    if strengths.ndim != 2 or strengths.shape[1] != len(attribute_names):
        raise ValueError(
            f"strengths must be (classes, {len(attribute_names)} attributes), got {strengths.shape}"
        )
    if len(descriptions) != len(strengths):
        raise ValueError(f"{len(descriptions)} descriptions for {len(strengths)} classes")
    if class_names is not None and len(class_names) != len(strengths):
        raise ValueError(f"{len(class_names)} class names for {len(strengths)} classes")
    if labels.size and (labels.min() < 0 or labels.max() >= len(strengths)):
        raise ValueError(f"labels must be class ids in 0..{len(strengths) - 1}")
    if max_attributes < 1 or not templates:
        raise ValueError("need max_attributes >= 1 and at least one template")
    phrases = [attribute_phrase(a) for a in attribute_names]
    clauses = [_clauses(d) for d in descriptions]
    rng = np.random.default_rng(seed)
    captions = []
    for c in labels.tolist():
        kept = np.flatnonzero(rng.random(len(phrases)) < strengths[c])
        if kept.size == 0:  # a class with only weak attributes still gets one: its strongest
            kept = np.array([int(np.argmax(strengths[c]))])
        kept = rng.permutation(kept)[: int(rng.integers(1, max_attributes + 1))]
        words = [phrases[m] for m in kept]
        attributes = _join(words)
        n_clauses = int(rng.integers(1, len(clauses[c]) + 1))
        description = ", ".join(rng.permutation(clauses[c])[:n_clauses].tolist()) + "."
        subject = "an animal" if class_names is None else f"a {class_names[c]}"
        template = templates[int(rng.integers(len(templates)))]
        captions.append(
            template.format(subject=subject, attributes=attributes, description=description)
        )
    return captions


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def class_prompts(
    name: str,
    attribute_names: Sequence[str],
    signature,
    description: str,
    templates: Sequence[str] = CAPTION_TEMPLATES,
) -> list[str]:
    """Zero-shot prompts for one class: every template filled with "a <name>", all attributes
    whose `signature` entry is 1 (in table order) and the whole description. Their embeddings'
    average is CLIP's prompt ensemble."""
    signature = np.asarray(signature)
    if signature.shape != (len(attribute_names),):
        raise ValueError(
            f"signature must have one entry per attribute ({len(attribute_names)}), "
            f"got shape {signature.shape}"
        )
    on = [attribute_phrase(a) for a, v in zip(attribute_names, signature, strict=True) if v >= 0.5]
    if not on:
        raise ValueError(f"class {name!r} has no attribute set to 1")
    if not templates:
        raise ValueError("need at least one template")
    return [
        t.format(subject=f"a {name}", attributes=_join(on), description=description.lower())
        for t in templates
    ]


class Vocabulary:
    """Token ids for words, with vectors initialised from word vectors (gensim KeyedVectors).

    Id 0 is padding, id 1 `<unk>`. A word missing from the word vectors still gets its own id
    and a random vector (normal, the word vectors' own scale, seeded); a word not in the
    vocabulary at all maps to `<unk>`, whose vector is zero.
    """

    PAD, UNK = 0, 1

    def __init__(self, texts: Sequence[str], word_vectors, seed: int = 0):
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        words = sorted({w for t in texts for w in tokenize(t)})
        if not words:
            raise ValueError("the texts hold no words")
        self.words = ["<pad>", "<unk>", *words]
        self.index = {w: i for i, w in enumerate(self.words)}
        dim = word_vectors.vector_size
        scale = float(np.std(word_vectors.vectors[: min(len(word_vectors.vectors), 10000)]))
        rng = np.random.default_rng(seed)
        vectors = np.zeros((len(self.words), dim), dtype=np.float32)
        self.missing = [w for w in words if w not in word_vectors.key_to_index]
        for i, w in enumerate(words, start=2):
            if w in word_vectors.key_to_index:
                vectors[i] = word_vectors[w]
            else:
                vectors[i] = rng.normal(0.0, scale, dim)
        self.vectors = torch.from_numpy(vectors)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, texts: Sequence[str], max_len: int | None = None) -> torch.Tensor:
        """A (texts, length) LongTensor of token ids, right-padded with 0 (and cut at max_len)."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        ids = [[self.index.get(w, self.UNK) for w in tokenize(t)] for t in texts]
        if not ids:
            raise ValueError("no texts to encode")
        length = max(1, max(len(i) for i in ids)) if max_len is None else max_len
        if length < 1:
            raise ValueError(f"max_len must be at least 1, got {max_len}")
        out = torch.zeros(len(ids), length, dtype=torch.long)
        for row, seq in enumerate(ids):
            seq = seq[:length] or [self.UNK]  # an empty text reads as one unknown word
            out[row, : len(seq)] = torch.tensor(seq)
        return out


class TextEncoder(nn.Module):
    """Token embeddings (initialised from `vectors`), mean pooling over the non-padding tokens,
    then a linear projection to `out_dim` (with `hidden` > 0, a one-hidden-layer MLP)."""

    def __init__(self, vectors: torch.Tensor, out_dim: int, hidden: int = 0, freeze: bool = False):
        super().__init__()
        if vectors.ndim != 2 or out_dim < 1 or hidden < 0:
            raise ValueError(
                f"need vectors (words, dim), out_dim >= 1, hidden >= 0; got {tuple(vectors.shape)},"
                f" {out_dim}, {hidden}"
            )
        self.embedding = nn.Embedding.from_pretrained(
            vectors.clone().float(), freeze=freeze, padding_idx=0
        )
        dim = vectors.shape[1]
        self.projection = (
            nn.Linear(dim, out_dim)
            if hidden == 0
            else nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim != 2 or tokens.dtype != torch.long:
            raise ValueError(f"tokens must be a (texts, length) LongTensor, got {tokens.dtype}")
        mask = (tokens != 0).unsqueeze(-1).float()
        pooled = (self.embedding(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.projection(pooled)


class ClipModel(nn.Module):
    """An image encoder (a `SmallCNN` whose head is the projection to the joint space), a text
    encoder, and CLIP's temperature: `logit_scale` stores log(1/0.07) and `scale()` is its
    exponential clamped at 100 (Radford et al. 2021; open_clip). `learn_scale=False` fixes it.

    `image_encoder` replaces the `SmallCNN` with any module that maps the "images" given to
    `fit_clip` to `embed_dim` outputs, e.g. a linear projection of frozen image features (the
    locked-image variant of notebook 09; Zhai et al. 2022, LiT).
    """

    MAX_SCALE = 100.0

    def __init__(
        self,
        text_encoder: nn.Module,
        embed_dim: int,
        channels: tuple[int, int, int] = (8, 16, 32),
        hidden: int = 64,
        init_scale: float = 1 / 0.07,
        learn_scale: bool = True,
        image_encoder: nn.Module | None = None,
    ):
        super().__init__()
        if not 0 < init_scale <= self.MAX_SCALE:
            raise ValueError(f"init_scale must be in (0, {self.MAX_SCALE}], got {init_scale}")
        if image_encoder is not None and not isinstance(image_encoder, nn.Module):
            raise TypeError(
                f"image_encoder must be an nn.Module, got {type(image_encoder).__name__}"
            )
        self.image_encoder = (
            SmallCNN(embed_dim, channels=channels, hidden=hidden)
            if image_encoder is None
            else image_encoder
        )
        self.text_encoder = text_encoder
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(init_scale)), requires_grad=learn_scale
        )

    def scale(self) -> torch.Tensor:
        """exp(logit_scale), clamped to at most 100: the multiplier `clip_loss` takes."""
        return self.logit_scale.exp().clamp(max=self.MAX_SCALE)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.image_encoder(images), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.text_encoder(tokens), dim=-1)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        return self.encode_image(images), self.encode_text(tokens), self.scale()


def fit_clip(
    model: ClipModel,
    images: torch.Tensor,
    tokens: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    device: torch.device | str = "cpu",
    seed: int = 0,
    progress: bool = True,
    desc: str = "CLIP",
) -> dict[str, list[float]]:
    """Train `model` on image–caption pairs with `clip_loss` and Adam, in place.

    `tokens` is (images, length), one caption per image, or (images, variants, length): then
    every step draws one of the image's caption variants at random. After each step the
    stored log-scale is clamped to log(100), as open_clip does. Returns per-epoch mean loss
    and the scale at the end of each epoch.
    """
    if len(images) != len(tokens) or len(images) == 0:
        raise ValueError(f"need as many captions as images, got {len(images)} and {len(tokens)}")
    if tokens.ndim not in (2, 3):
        raise ValueError(
            f"tokens must be (images, length) or (images, variants, length), got "
            f"{tuple(tokens.shape)}"
        )
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {epochs} and {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    model.to(device).train()
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    history: dict[str, list[float]] = {"loss": [], "scale": []}
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        total = 0.0
        for batch in torch.randperm(len(images), generator=generator).split(batch_size):
            if len(batch) < 2:  # a batch of one has no negatives
                continue
            captions = tokens[batch]
            if captions.ndim == 3:
                pick = torch.randint(captions.shape[1], (len(batch),), generator=generator)
                captions = captions[torch.arange(len(batch)), pick]
            image_features, text_features, scale = model(
                images[batch].to(device), captions.to(device)
            )
            loss = clip_loss(image_features, text_features, scale)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                model.logit_scale.clamp_(max=math.log(model.MAX_SCALE))
            total += loss.item() * len(batch)
        history["loss"].append(total / len(images))
        history["scale"].append(model.scale().item())
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", scale=f"{history['scale'][-1]:.1f}")
    model.eval()
    return history


@torch.no_grad()
def encode_texts(model: ClipModel, tokens: torch.Tensor, device: torch.device | str = "cpu"):
    """Normalised text embeddings of (texts, length) tokens, on the CPU."""
    model.to(device).eval()
    return model.encode_text(tokens.to(device)).cpu()


def class_embeddings(
    model: ClipModel,
    vocabulary: Vocabulary,
    prompts: Sequence[Sequence[str]],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """One zero-shot classifier row per class from its prompts: the normalised mean of the
    normalised embeddings of the class's prompts (CLIP's prompt ensembling; one prompt per class
    is the plain case). Returns (classes, embed_dim) on the CPU."""
    if isinstance(prompts, str) or not prompts:
        raise ValueError("prompts must be a non-empty list with one list of prompts per class")
    rows = []
    for i, class_prompts in enumerate(prompts):
        if isinstance(class_prompts, str) or not class_prompts:
            raise ValueError(f"class {i}: give a non-empty list of prompt strings")
        embedded = encode_texts(model, vocabulary.encode(list(class_prompts)), device)
        rows.append(nn.functional.normalize(embedded.mean(0), dim=0))
    return torch.stack(rows)


def recall_at_k(similarity, relevant, k: int) -> float:
    """Share of queries (rows of `similarity`, queries × items) with a relevant item among
    their k most similar items. `relevant` is a boolean matrix of the same shape."""
    sim = torch.as_tensor(similarity)
    rel = torch.as_tensor(relevant)
    if sim.ndim != 2 or rel.shape != sim.shape:
        raise ValueError(
            f"need similarity and relevant of the same (queries, items) shape, got "
            f"{tuple(sim.shape)} and {tuple(rel.shape)}"
        )
    if rel.dtype != torch.bool:
        raise TypeError(f"relevant must be boolean, got {rel.dtype}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= sim.shape[1]:
        raise ValueError(f"k must be an int between 1 and {sim.shape[1]}, got {k!r}")
    top = sim.topk(k, dim=1).indices
    return rel.gather(1, top).any(dim=1).float().mean().item()
