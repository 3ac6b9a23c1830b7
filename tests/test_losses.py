import pytest
import torch
from torch import nn

from zsl_utils.losses import l2sp_penalty


def tiny(out_features=2):
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, out_features, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        model[1].weight.fill_(1.0)
    return model


def test_by_hand():
    reference = {"0.weight": torch.tensor([[1.0, 2.0], [3.0, 2.0]])}  # differs by 2 in one entry
    # alpha/2 * 2² + beta/2 * (four ones of the new layer) = 0.5 * 4 * 1.0 + 0.5 * 4 * 0.1
    assert l2sp_penalty(tiny(), reference, alpha=1.0, beta=0.1).item() == pytest.approx(2.2)


def test_zero_at_the_source_weights_and_a_reshaped_head_counts_as_new():
    source = tiny()
    target = tiny(out_features=3)
    penalty = l2sp_penalty(target, source.state_dict(), alpha=5.0, beta=0.0)
    assert penalty.item() == 0.0
    assert l2sp_penalty(target, source.state_dict(), alpha=0.0, beta=2.0).item() == pytest.approx(
        6.0
    )


def test_frozen_parameters_are_left_out_and_gradient_pulls_towards_source():
    model = tiny()
    reference = {k: v.clone() - 1 for k, v in model.state_dict().items()}
    model[1].requires_grad_(False)
    penalty = l2sp_penalty(model, reference, alpha=1.0, beta=1.0)
    assert penalty.item() == pytest.approx(0.5 * 4)
    penalty.backward()
    assert torch.equal(model[0].weight.grad, torch.ones(2, 2))  # d/dw of 1/2 (w - w0)²


def test_rejects_bad_input():
    model = tiny()
    with pytest.raises(ValueError, match="non-negative"):
        l2sp_penalty(model, model.state_dict(), alpha=-1.0, beta=0.0)
    with pytest.raises(ValueError, match="appears in reference_state"):
        l2sp_penalty(model, {"other.weight": torch.zeros(1)}, alpha=1.0, beta=0.0)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        l2sp_penalty(model, {}, alpha=1.0, beta=0.0)
