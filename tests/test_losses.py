import pytest
import torch
from torch import nn

from zsl_utils.losses import hinge_rank_loss, l2sp_penalty


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


# hinge_rank_loss (notebook 05)


def test_hinge_rank_loss_by_hand():
    scores = torch.tensor([[2.0, 1.5, 0.0], [0.0, 1.0, 3.0]])
    targets = torch.tensor([0, 1])
    # sample 0: true 2.0; others 1.5 (inside the margin: 1 - 2 + 1.5 = 0.5) and 0.0 (1 - 2 + 0 = -1)
    # sample 1: true 1.0; others 0.0 (1 - 1 + 0 = 0) and 3.0 (1 - 1 + 3 = 3)
    assert hinge_rank_loss(scores, targets, margin=1.0).item() == pytest.approx((0.5 + 3.0) / 2)
    assert hinge_rank_loss(scores, targets, 1.0, form="sum").item() == pytest.approx(
        (0.5 + 0.0 + 0.0 + 3.0) / 2
    )
    # margin 2: sample 0 violations 1.5 and 0.0, sample 1 violations 1.0 and 4.0
    assert hinge_rank_loss(scores, targets, 2.0, form="sum").item() == pytest.approx(
        (1.5 + 0.0 + 1.0 + 4.0) / 2
    )


def test_hinge_rank_loss_zero_when_the_true_class_wins_by_the_margin():
    scores = torch.tensor([[5.0, 3.9, -1.0], [0.0, 0.0, 1.0]])
    targets = torch.tensor([0, 2])
    for form in ("max", "sum"):
        assert hinge_rank_loss(scores, targets, margin=1.0, form=form).item() == 0.0
        assert hinge_rank_loss(scores, targets, margin=1.2, form=form).item() > 0.0


def test_hinge_rank_loss_max_form_is_at_most_the_sum_form_and_equal_with_two_classes():
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(50, 6, generator=generator)
    targets = torch.randint(0, 6, (50,), generator=generator)
    largest = hinge_rank_loss(scores, targets, 0.5, form="max")
    total = hinge_rank_loss(scores, targets, 0.5, form="sum")
    assert 0 < largest.item() <= total.item()
    two = scores[:, :2]
    two_targets = targets % 2
    assert torch.isclose(
        hinge_rank_loss(two, two_targets, 0.5, "max"), hinge_rank_loss(two, two_targets, 0.5, "sum")
    )


def test_hinge_rank_loss_gradient_pushes_true_class_up_and_offender_down():
    scores = torch.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    hinge_rank_loss(scores, torch.tensor([0]), margin=1.0).backward()
    assert torch.equal(scores.grad, torch.tensor([[-1.0, 1.0, 0.0]]))  # only the worst class
    scores.grad = None
    hinge_rank_loss(scores, torch.tensor([0]), margin=1.0, form="sum").backward()
    assert torch.equal(scores.grad, torch.tensor([[-2.0, 1.0, 1.0]]))  # both violators


def test_hinge_rank_loss_rejects_bad_input():
    scores, targets = torch.zeros(3, 4), torch.tensor([0, 1, 3])
    with pytest.raises(TypeError, match="torch tensors"):
        hinge_rank_loss(scores.numpy(), targets)
    with pytest.raises(ValueError, match="at least 2 classes"):
        hinge_rank_loss(torch.zeros(3), targets)
    with pytest.raises(ValueError, match="at least 2 classes"):
        hinge_rank_loss(torch.zeros(3, 1), targets)
    with pytest.raises(ValueError, match="one class per row"):
        hinge_rank_loss(scores, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="integer"):
        hinge_rank_loss(scores, targets.float())
    with pytest.raises(ValueError, match=r"in \[0, 3\]"):
        hinge_rank_loss(scores, torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match=r"in \[0, 3\]"):
        hinge_rank_loss(scores, torch.tensor([0, -1, 2]))
    with pytest.raises(ValueError, match="margin"):
        hinge_rank_loss(scores, targets, margin=-0.1)
    with pytest.raises(ValueError, match="margin"):
        hinge_rank_loss(scores, targets, margin=float("nan"))
    with pytest.raises(ValueError, match="unknown form"):
        hinge_rank_loss(scores, targets, form="mean")
    with pytest.raises(ValueError, match="empty"):
        hinge_rank_loss(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
