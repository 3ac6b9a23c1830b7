import pytest
import torch
from torch import nn

from zsl_utils.models import SmallCNN, freeze_layers
from zsl_utils.transfer import epochs_for_steps, split_at


def tiny_cnn():
    torch.manual_seed(0)
    return SmallCNN(3, channels=(2, 2, 2), hidden=4)


@pytest.mark.parametrize("k", range(5))
def test_split_at_recomposes_the_model(k):
    model = tiny_cnn().eval()
    x = torch.rand(3, 1, 28, 28)
    bottom, top = split_at(model, k)
    assert len(bottom) == k and len(top) == 5 - k
    torch.testing.assert_close(top(bottom(x)), model(x))


def test_split_at_shares_parameters_and_training_top_trains_the_model():
    model = tiny_cnn()
    freeze_layers(model, 2)
    bottom, top = split_at(model, 2)
    assert top[-1] is model.head and bottom[0] is model.layers[0]
    before = model.head.weight.detach().clone()
    features = bottom(torch.rand(4, 1, 28, 28)).detach()
    optimiser = torch.optim.SGD([p for p in top.parameters() if p.requires_grad], lr=1.0)
    nn.functional.cross_entropy(top(features), torch.tensor([0, 1, 2, 0])).backward()
    optimiser.step()
    assert not torch.equal(model.head.weight, before)
    assert all(p.grad is None for p in bottom.parameters())


def test_split_at_rejects_bad_depths_and_models():
    with pytest.raises(ValueError, match="between 0 and 4"):
        split_at(tiny_cnn(), 5)
    with pytest.raises(ValueError, match="between 0 and 4"):
        split_at(tiny_cnn(), -1)
    with pytest.raises(ValueError, match="int"):
        split_at(tiny_cnn(), 1.0)
    with pytest.raises(TypeError, match="SmallCNN"):
        split_at(nn.Linear(2, 2), 1)


def test_epochs_for_steps():
    assert epochs_for_steps(5, 32, 100) == 100  # one batch per epoch
    assert epochs_for_steps(64, 32, 100) == 50
    assert epochs_for_steps(500, 32, 100) == 7  # 16 batches per epoch: 112 steps
    assert epochs_for_steps(10_000, 32, 5) == 1


@pytest.mark.parametrize(
    "args, name",
    [
        ((0, 32, 10), "n_samples"),
        ((5, 0, 10), "batch_size"),
        ((5, 32, -1), "steps"),
        ((5, 32, 2.5), "steps"),
        ((True, 32, 10), "n_samples"),
    ],
)
def test_epochs_for_steps_rejects_bad_input(args, name):
    with pytest.raises(ValueError, match=name):
        epochs_for_steps(*args)
