import math

import pytest
import torch
from torch import nn

from zsl_utils.losses import clip_loss


def test_by_hand_2x2():
    # orthonormal features: image·textᵀ = [[1, 0], [0, 1]], logits = 2·that
    image = torch.eye(2)
    text = torch.eye(2)
    # every row and column: cross-entropy = -log(e² / (e² + e⁰)) = log(1 + e⁻²)
    expected = math.log(1 + math.exp(-2.0))
    assert clip_loss(image, text, 2.0).item() == pytest.approx(expected, rel=1e-6)


def test_by_hand_asymmetric_2x2():
    # image 0 = (1, 0), image 1 = (0, 1); text 0 = (1, 0), text 1 = (0.6, 0.8)
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    s = 1.0  # similarities [[1, 0.6], [0, 0.8]]
    per_image = [
        -math.log(math.exp(1) / (math.exp(1) + math.exp(0.6))),
        -math.log(math.exp(0.8) / (math.exp(0) + math.exp(0.8))),
    ]
    per_text = [
        -math.log(math.exp(1) / (math.exp(1) + math.exp(0))),
        -math.log(math.exp(0.8) / (math.exp(0.6) + math.exp(0.8))),
    ]
    expected = (sum(per_image) / 2 + sum(per_text) / 2) / 2
    assert clip_loss(image, text, s).item() == pytest.approx(expected, rel=1e-6)


def test_symmetric_in_images_and_texts():
    torch.manual_seed(0)
    a, b = torch.randn(5, 8), torch.randn(5, 8)
    assert clip_loss(a, b, 10.0).item() == pytest.approx(clip_loss(b, a, 10.0).item(), rel=1e-6)


def test_features_are_normalised_inside():
    torch.manual_seed(1)
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    scales = torch.tensor([[3.0], [0.5], [7.0], [2.0]])
    assert clip_loss(a * scales, b * 11.0, 5.0).item() == pytest.approx(
        clip_loss(a, b, 5.0).item(), rel=1e-5
    )


def test_perfect_alignment_with_a_large_scale_is_near_zero():
    features = torch.eye(6)
    assert clip_loss(features, features, 100.0).item() < 1e-12
    # and a batch in the wrong order is expensive
    assert clip_loss(features, features.flip(0), 100.0).item() > 50


def test_uniform_similarity_gives_log_batch():
    features = torch.ones(4, 3)
    assert clip_loss(features, features, 14.0).item() == pytest.approx(math.log(4))


def test_the_scale_gets_a_gradient_and_a_tensor_scale_works():
    torch.manual_seed(2)
    log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    a = torch.randn(3, 4, requires_grad=True)
    loss = clip_loss(a, torch.randn(3, 4), log_scale.exp())
    loss.backward()
    assert log_scale.grad is not None and a.grad is not None
    assert torch.isfinite(log_scale.grad)


def test_matches_open_clip_formulation():
    torch.manual_seed(3)
    a = nn.functional.normalize(torch.randn(8, 5), dim=-1)
    b = nn.functional.normalize(torch.randn(8, 5), dim=-1)
    logits_per_image = 14.3 * a @ b.T
    logits_per_text = 14.3 * b @ a.T
    labels = torch.arange(8)
    reference = (
        nn.functional.cross_entropy(logits_per_image, labels)
        + nn.functional.cross_entropy(logits_per_text, labels)
    ) / 2
    assert clip_loss(a, b, 14.3).item() == pytest.approx(reference.item(), rel=1e-6)


@pytest.mark.parametrize(
    ("image", "text"),
    [
        (torch.zeros(3, 4), torch.zeros(2, 4)),  # batch sizes differ
        (torch.zeros(3, 4), torch.zeros(3, 5)),  # dimensions differ
        (torch.zeros(4), torch.zeros(4)),  # not (batch, dim)
        (torch.zeros(0, 4), torch.zeros(0, 4)),  # empty batch
    ],
)
def test_shape_errors(image, text):
    with pytest.raises(ValueError):
        clip_loss(image, text, 1.0)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf"), torch.ones(2)])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="logit_scale"):
        clip_loss(torch.eye(2), torch.eye(2), scale)
