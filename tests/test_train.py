import pytest
import torch
from torch import nn

from zsl_utils.train import accuracy, fit, predict


def separable(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    return x, (x[:, 0] > 0).long()


def test_fit_learns_a_separable_problem_and_reports_losses():
    torch.manual_seed(0)
    x, y = separable()
    model = nn.Linear(2, 2)
    history = fit(model, x, y, epochs=30, lr=0.05, batch_size=16, progress=False)
    assert len(history["loss"]) == 30
    assert history["loss"][-1] < history["loss"][0]
    assert accuracy(model, x, y) > 0.95


def test_fit_is_repeatable_with_the_same_seed():
    x, y = separable()
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = nn.Linear(2, 2)
        fit(model, x, y, epochs=3, seed=7, progress=False)
        weights.append(model.weight.detach().clone())
    assert torch.equal(*weights)


def test_fit_leaves_frozen_parameters_and_adds_the_penalty():
    x, y = separable()
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    frozen = model[0].weight.detach().clone()
    calls = []

    def penalty(m):
        calls.append(1)
        return m[2].weight.pow(2).sum()

    fit(model, x, y, epochs=2, batch_size=32, penalty=penalty, progress=False)
    assert torch.equal(model[0].weight, frozen)
    assert len(calls) == 4  # two batches a epoch, two epochs


def test_fit_applies_augmentation_to_every_batch():
    x, y = separable(8)
    seen = []
    fit(
        nn.Linear(2, 2),
        x,
        y,
        epochs=1,
        batch_size=4,
        augment=lambda b: seen.append(len(b)) or b,
        progress=False,
    )
    assert seen == [4, 4]


def test_predict_and_fit_reject_bad_input():
    x, y = separable(8)
    with pytest.raises(ValueError, match="8 samples but y has 7"):
        fit(nn.Linear(2, 2), x, y[:7], epochs=1, progress=False)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        fit(nn.Linear(2, 2), x, y, epochs=0, progress=False)
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(frozen, x, y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="no samples"):
        predict(nn.Linear(2, 2), x[:0])
    assert predict(nn.Linear(2, 2), x, batch_size=3).shape == (8, 2)


def test_fit_with_validation_stops_early_and_restores_the_best_epoch():
    torch.manual_seed(0)
    x, y = separable()
    model = nn.Linear(2, 2)
    x_val, y_val = x[:16], 1 - y[:16]  # a validation set the model can only get worse on
    history = fit(
        model,
        x,
        y,
        epochs=50,
        lr=0.05,
        batch_size=16,
        progress=False,
        validation=(x_val, y_val),
        patience=2,
    )
    assert len(history["loss"]) < 50  # stopped before the cap
    best = history["best_epoch"][0]
    assert history["val_accuracy"][best - 1] == max(history["val_accuracy"])
    assert accuracy(model, x_val, y_val) == max(history["val_accuracy"])  # best weights back


def test_fit_rejects_a_validation_set_of_mismatched_size():
    x, y = separable()
    with pytest.raises(ValueError, match="samples"):
        fit(nn.Linear(2, 2), x, y, epochs=1, progress=False, validation=(x[:4], y[:3]))
