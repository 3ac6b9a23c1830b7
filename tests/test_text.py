import math

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from zsl_utils import text

ATTRIBUTES = ["hooves", "long_neck", "stripes", "wings"]
STRENGTHS = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 0.2, 1.0, 0.0], [0.0, 0.0, 0.0, 0.3]])
DESCRIPTIONS = [
    "A tall animal, with a long neck that eats leaves.",
    "A striped horse.",
    "It flies.",
]
NAMES = ["giraffe", "zebra", "bird"]


def tiny_vectors():
    kv = KeyedVectors(3, count=0, dtype=np.float32)
    words = ["hooves", "long", "neck", "animal", "tall", "stripes", "zebra"]
    kv.add_vectors(words, np.arange(len(words) * 3, dtype=np.float32).reshape(-1, 3) / 10)
    return kv


def test_attribute_phrase():
    assert text.attribute_phrase("long_neck") == "long neck"
    assert text.attribute_phrase("hooves") == "hooves"
    with pytest.raises(ValueError):
        text.attribute_phrase("__")
    with pytest.raises(ValueError):
        text.attribute_phrase(3)


def test_tokenize_lowercases_and_drops_function_words_and_punctuation():
    assert text.tokenize("A Silhouette of an animal, with long-neck!") == [
        "silhouette",
        "animal",
        "long",
        "neck",
    ]
    assert text.tokenize("") == []
    with pytest.raises(TypeError):
        text.tokenize(["a list"])


def test_make_captions_are_seeded_and_use_only_the_class_information():
    labels = np.array([0, 0, 1, 2, 1])
    a = text.make_captions(labels, ATTRIBUTES, STRENGTHS, DESCRIPTIONS, seed=3)
    b = text.make_captions(labels, ATTRIBUTES, STRENGTHS, DESCRIPTIONS, seed=3)
    c = text.make_captions(labels, ATTRIBUTES, STRENGTHS, DESCRIPTIONS, seed=4)
    assert a == b and a != c and len(a) == len(labels)
    many = text.make_captions(np.zeros(200, dtype=int), ATTRIBUTES, STRENGTHS, DESCRIPTIONS, seed=0)
    words = {w for caption in many for w in text.tokenize(caption)}
    assert "stripes" not in words and "wings" not in words  # strength 0 for class 0
    assert {"hooves", "long", "neck", "leaves"} <= words
    assert not any("giraffe" in caption for caption in many)  # no class names by default
    assert len(set(many)) > 20  # templates, subsets and orders vary


def test_make_captions_name_the_class_when_asked():
    named = text.make_captions(
        np.array([1] * 30), ATTRIBUTES, STRENGTHS, DESCRIPTIONS, class_names=NAMES, seed=0
    )
    with_name = [c for c in named if "zebra" in c]
    templates_with_subject = [t for t in text.CAPTION_TEMPLATES if "{subject}" in t]
    assert with_name and len(templates_with_subject) < len(text.CAPTION_TEMPLATES)
    assert all("giraffe" not in c for c in named)


def test_make_captions_errors():
    with pytest.raises(ValueError, match="labels"):
        text.make_captions(np.array([0.5]), ATTRIBUTES, STRENGTHS, DESCRIPTIONS)
    with pytest.raises(ValueError, match="class ids"):
        text.make_captions(np.array([3]), ATTRIBUTES, STRENGTHS, DESCRIPTIONS)
    with pytest.raises(ValueError, match="strengths"):
        text.make_captions(np.array([0]), ATTRIBUTES[:3], STRENGTHS, DESCRIPTIONS)
    with pytest.raises(ValueError, match="descriptions"):
        text.make_captions(np.array([0]), ATTRIBUTES, STRENGTHS, DESCRIPTIONS[:2])
    with pytest.raises(ValueError, match="class names"):
        text.make_captions(np.array([0]), ATTRIBUTES, STRENGTHS, DESCRIPTIONS, class_names=["x"])
    with pytest.raises(ValueError, match="max_attributes"):
        text.make_captions(np.array([0]), ATTRIBUTES, STRENGTHS, DESCRIPTIONS, max_attributes=0)


def test_vocabulary_initialises_from_word_vectors_with_a_rule_for_missing_words():
    kv = tiny_vectors()
    vocab = text.Vocabulary(["a tall zebra", "long neck, woolly"], kv)
    assert vocab.words[:2] == ["<pad>", "<unk>"] and len(vocab) == 7
    assert vocab.missing == ["woolly"]
    assert torch.equal(vocab.vectors[vocab.index["zebra"]], torch.tensor(kv["zebra"]))
    assert torch.all(vocab.vectors[vocab.PAD] == 0) and torch.all(vocab.vectors[vocab.UNK] == 0)
    assert vocab.vectors[vocab.index["woolly"]].abs().sum() > 0  # random, not zero
    again = text.Vocabulary(["a tall zebra", "long neck, woolly"], kv)
    assert torch.equal(vocab.vectors, again.vectors)  # seeded
    tokens = vocab.encode(["tall zebra", "neck", "the unicorn"])
    assert tokens.dtype == torch.long and tokens.shape == (3, 2)
    assert tokens[0].tolist() == [vocab.index["tall"], vocab.index["zebra"]]
    assert tokens[1].tolist() == [vocab.index["neck"], 0]
    assert tokens[2].tolist() == [vocab.UNK, 0]
    assert vocab.encode(["tall zebra long"], max_len=2).shape == (1, 2)
    assert vocab.encode(["the"]).tolist() == [[vocab.UNK]]  # no words: one unknown token


def test_vocabulary_errors():
    kv = tiny_vectors()
    with pytest.raises(TypeError):
        text.Vocabulary("one string", kv)
    with pytest.raises(ValueError, match="no words"):
        text.Vocabulary(["the a"], kv)
    vocab = text.Vocabulary(["tall"], kv)
    with pytest.raises(TypeError):
        vocab.encode("tall")
    with pytest.raises(ValueError):
        vocab.encode([])
    with pytest.raises(ValueError, match="max_len"):
        vocab.encode(["tall"], max_len=0)


def test_text_encoder_mean_pools_non_padding_tokens_then_projects():
    vectors = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 3.0], [3.0, 5.0]])
    encoder = text.TextEncoder(vectors, out_dim=2)
    with torch.no_grad():
        encoder.projection.weight.copy_(torch.eye(2))
        encoder.projection.bias.zero_()
    out = encoder(torch.tensor([[2, 3, 0], [3, 0, 0]]))
    assert torch.allclose(out, torch.tensor([[2.0, 4.0], [3.0, 5.0]]))
    assert text.TextEncoder(vectors, out_dim=4, hidden=5)(torch.tensor([[2]])).shape == (1, 4)
    frozen = text.TextEncoder(vectors, out_dim=2, freeze=True)
    assert not frozen.embedding.weight.requires_grad
    with pytest.raises(ValueError):
        encoder(torch.tensor([2, 3]))
    with pytest.raises(ValueError):
        text.TextEncoder(vectors[0], out_dim=2)
    with pytest.raises(ValueError):
        text.TextEncoder(vectors, out_dim=0)


def tiny_model(**kwargs):
    torch.manual_seed(0)
    vectors = torch.randn(6, 3)
    vectors[0] = 0
    return text.ClipModel(text.TextEncoder(vectors, out_dim=4), embed_dim=4, **kwargs)


def test_clip_model_temperature_and_normalised_outputs():
    model = tiny_model()
    assert model.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    assert model.scale().item() == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.scale().item() == pytest.approx(100.0)  # clamped
    image, txt, scale = model(torch.rand(3, 1, 28, 28), torch.tensor([[2, 3], [4, 0], [5, 5]]))
    assert image.shape == txt.shape == (3, 4)
    assert torch.allclose(image.norm(dim=1), torch.ones(3)) and scale.ndim == 0
    assert not tiny_model(learn_scale=False).logit_scale.requires_grad
    with pytest.raises(ValueError, match="init_scale"):
        tiny_model(init_scale=200.0)


def test_fit_clip_lowers_the_loss_and_keeps_a_fixed_scale_fixed():
    torch.manual_seed(0)
    images = torch.rand(16, 1, 28, 28)
    images[8:] = 0.0
    tokens = torch.tensor([[2, 3]] * 8 + [[4, 5]] * 8)
    model = tiny_model()
    history = text.fit_clip(model, images, tokens, epochs=10, batch_size=8, lr=1e-2, progress=False)
    assert len(history["loss"]) == len(history["scale"]) == 10
    assert history["loss"][-1] < history["loss"][0]
    assert all(0 < s <= 100 for s in history["scale"])
    variants = torch.stack([tokens, tokens], dim=1)  # (images, variants, length)
    fixed = tiny_model(learn_scale=False)
    history = text.fit_clip(fixed, images, variants, epochs=2, batch_size=5, progress=False)
    assert history["scale"] == pytest.approx([1 / 0.07] * 2, rel=1e-5)


def test_clip_model_with_a_locked_image_side_trains_only_what_it_is_given():
    features = torch.rand(16, 5)  # frozen image features, as in notebook 09 (LiT)
    tokens = torch.tensor([[2, 3]] * 8 + [[4, 5]] * 8)
    features[8:] += 2.0
    model = tiny_model(image_encoder=torch.nn.Linear(5, 4))
    image, _, _ = model(features, tokens)
    assert image.shape == (16, 4) and torch.allclose(image.norm(dim=1), torch.ones(16))
    history = text.fit_clip(
        model, features, tokens, epochs=10, batch_size=8, lr=1e-2, progress=False
    )
    assert history["loss"][-1] < history["loss"][0]
    with pytest.raises(TypeError, match="image_encoder"):
        tiny_model(image_encoder=lambda x: x)


def test_fit_clip_errors():
    model = tiny_model()
    images, tokens = torch.rand(4, 1, 28, 28), torch.ones(4, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="captions"):
        text.fit_clip(model, images, tokens[:3], epochs=1)
    with pytest.raises(ValueError, match="tokens"):
        text.fit_clip(model, images, torch.ones(4, dtype=torch.long), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        text.fit_clip(model, images, tokens, epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        text.fit_clip(model, images, tokens, epochs=1, batch_size=1)


def test_encode_texts_and_class_embeddings_ensemble_prompts():
    kv = tiny_vectors()
    vocab = text.Vocabulary(["tall animal", "zebra stripes", "long neck hooves"], kv)
    model = tiny_model()
    model.text_encoder = text.TextEncoder(vocab.vectors, out_dim=4)
    single = text.encode_texts(model, vocab.encode(["tall animal", "zebra stripes"]))
    assert torch.allclose(single.norm(dim=1), torch.ones(2))
    rows = text.class_embeddings(model, vocab, [["tall animal"], ["tall animal", "zebra stripes"]])
    assert rows.shape == (2, 4)
    assert torch.allclose(rows[0], single[0], atol=1e-6)
    expected = torch.nn.functional.normalize(single.mean(0), dim=0)
    assert torch.allclose(rows[1], expected, atol=1e-6)
    with pytest.raises(ValueError):
        text.class_embeddings(model, vocab, [])
    with pytest.raises(ValueError, match="class 1"):
        text.class_embeddings(model, vocab, [["tall"], []])
    with pytest.raises(ValueError, match="class 0"):
        text.class_embeddings(model, vocab, ["tall animal"])


def test_recall_at_k():
    similarity = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.7, 0.6, 0.1]])
    relevant = torch.eye(3, dtype=torch.bool)
    # query 0: top-1 item 0 (hit); query 1: top-1 item 2 (miss), top-2 {2, 1} (hit);
    # query 2: top-1 item 0 (miss), top-2 {0, 1} (miss)
    assert text.recall_at_k(similarity, relevant, 1) == pytest.approx(1 / 3)
    assert text.recall_at_k(similarity, relevant, 2) == pytest.approx(2 / 3)
    assert text.recall_at_k(similarity.numpy(), relevant.numpy(), 3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        text.recall_at_k(similarity, relevant[:2], 1)
    with pytest.raises(TypeError):
        text.recall_at_k(similarity, relevant.int(), 1)
    for k in (0, 4, 1.0, True):
        with pytest.raises(ValueError, match="k must"):
            text.recall_at_k(similarity, relevant, k)


def test_class_prompts_fill_every_template_with_the_whole_class_information():
    prompts = text.class_prompts("giraffe", ATTRIBUTES, [1, 1, 0, 0], DESCRIPTIONS[0])
    assert len(prompts) == len(text.CAPTION_TEMPLATES)
    assert prompts[0] == "a silhouette of a giraffe with hooves and long neck."
    assert all("stripes" not in p for p in prompts)
    assert any("eats leaves" in p for p in prompts)
    single = text.class_prompts(
        "bird", ATTRIBUTES, [0, 0, 0, 1], "It flies.", templates=["{attributes}"]
    )
    assert single == ["wings"]
    with pytest.raises(ValueError, match="one entry per attribute"):
        text.class_prompts("bird", ATTRIBUTES, [0, 1], "It flies.")
    with pytest.raises(ValueError, match="no attribute"):
        text.class_prompts("bird", ATTRIBUTES, [0, 0, 0, 0], "It flies.")
    with pytest.raises(ValueError, match="template"):
        text.class_prompts("bird", ATTRIBUTES, [0, 0, 0, 1], "It flies.", templates=[])
