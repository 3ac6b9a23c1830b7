import numpy as np
import pytest
import torch
from torch import nn

from zsl_utils.losses import l2sp_penalty
from zsl_utils.models import SmallCNN, copy_layers, freeze_layers
from zsl_utils.train import fit
from zsl_utils.transfer import (
    epochs_for_steps,
    fit_together,
    holdout_split,
    l2sp_together,
    split_at,
    stackable_parameters,
)


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


def test_holdout_split_keeps_duplicates_of_test_images_out_of_the_pool():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(30, 1, 28, 28, generator=g)
    y = torch.arange(30) % 3
    x[20] = x[2]  # three identical images of class 2
    x[23] = x[2]
    test_loc, pool_loc = holdout_split(x, y, 4, seed=0)  # this seed puts image 20 in the test set
    assert (np.bincount(y[test_loc].numpy()) == 4).all()
    assert not set(test_loc) & set(pool_loc)
    test_images = {img.numpy().tobytes() for img in x[test_loc]}
    assert not {img.numpy().tobytes() for img in x[pool_loc]} & test_images
    assert {2, 20, 23} & set(test_loc.tolist()) == {20}
    assert 30 - len(test_loc) - len(pool_loc) == 2  # images 2 and 23 left the pool
    assert 2 not in pool_loc and 23 not in pool_loc
    assert (np.diff(pool_loc) > 0).all() and (np.diff(test_loc) > 0).all()
    again = holdout_split(x, y, 4, seed=0)
    assert np.array_equal(again[0], test_loc) and np.array_equal(again[1], pool_loc)


def test_holdout_split_errors():
    x, y = torch.rand(6, 1, 28, 28), torch.tensor([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="x has 6 samples but y has 5"):
        holdout_split(x, y[:5], 1, seed=0)
    with pytest.raises(ValueError, match="fewer than 3"):
        holdout_split(x, y, 3, seed=0)


def _copies(n, donor=None, frozen=0):
    models = []
    for seed in range(n):
        torch.manual_seed(seed)
        model = SmallCNN(3, channels=(2, 2, 2), hidden=4)
        if donor is not None:
            copy_layers(donor, model, 4)
        models.append(freeze_layers(model, frozen))
    return models


def _data(n_models, n):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n_models, n, 1, 28, 28, generator=g)
    y = torch.randint(0, 3, (n_models, n), generator=g)
    return x, y


@pytest.mark.parametrize("frozen, with_penalty", [(0, False), (2, False), (0, True)])
def test_fit_together_trains_each_model_as_fit_would(frozen, with_penalty):
    donor = tiny_cnn()
    reference = {n: w.detach().clone() for n, w in donor.named_parameters() if "head" not in n}
    penalty = (lambda m: l2sp_penalty(m, reference, 0.5, 0.1)) if with_penalty else None
    x, y = _data(3, 7)
    seeds = [11, 12, 13]
    alone, together = _copies(3, donor, frozen), _copies(3, donor, frozen)
    losses = []
    for model, xi, yi, seed in zip(alone, x, y, seeds, strict=True):
        history = fit(
            model,
            xi,
            yi,
            epochs=3,
            lr=1e-2,
            batch_size=4,
            penalty=penalty,
            seed=seed,
            progress=False,
        )
        losses.append(history["loss"])
    history = fit_together(
        together, x, y, epochs=3, lr=1e-2, batch_size=4, penalty=penalty, seeds=seeds
    )
    for a, b in zip(alone, together, strict=True):
        assert not b.training
        for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-5, msg=name)
    assert len(history["loss"]) == 3 and len(history["loss"][0]) == 3
    np.testing.assert_allclose(np.array(history["loss"]).T, np.array(losses), rtol=1e-4)
    if frozen:
        start = _copies(1, donor, frozen)[0]
        torch.testing.assert_close(together[2].layers[1][0].weight, start.layers[1][0].weight)


def test_fit_together_takes_lists_and_split_models():
    x, y = _data(2, 5)
    tops = [split_at(model, 1)[1] for model in _copies(2)]
    before = [top[-1].weight.detach().clone() for top in tops]
    maps = list(x[:, :, :, :14, :14].repeat(1, 1, 2, 1, 1))  # layer 2 takes 2 maps of 14×14
    history = fit_together(tops, maps, list(y), epochs=1, seeds=[0, 1])
    assert all(not torch.equal(top[-1].weight, w) for top, w in zip(tops, before, strict=True))
    assert np.isfinite(history["loss"]).all()


def test_fit_together_errors():
    x, y = _data(2, 5)
    with pytest.raises(ValueError, match="no models"):
        fit_together([], x, y, epochs=1, seeds=[])
    with pytest.raises(ValueError, match="one training set and one seed per model"):
        fit_together(_copies(2), x, y, epochs=1, seeds=[0])
    with pytest.raises(ValueError, match="one training set and one seed per model"):
        fit_together(_copies(3), x, y, epochs=1, seeds=[0, 1, 2])
    with pytest.raises(ValueError, match="samples per model"):
        fit_together(_copies(2), x, y[:, :4], epochs=1, seeds=[0, 1])
    with pytest.raises(ValueError, match="epochs"):
        fit_together(_copies(2), x, y, epochs=0, seeds=[0, 1])
    mixed = [_copies(1)[0], _copies(1, frozen=1)[0]]
    with pytest.raises(ValueError, match="model 1 differs"):
        fit_together(mixed, x, y, epochs=1, seeds=[0, 1])
    with pytest.raises(ValueError, match="no trainable"):
        fit_together([m.requires_grad_(False) for m in _copies(2)], x, y, epochs=1, seeds=[0, 1])


def test_fit_together_stops_on_validation_and_keeps_each_models_best_weights():
    x, y = _data(3, 12)
    models = _copies(3)
    history = fit_together(
        models,
        x,
        y,
        seeds=[0, 1, 2],
        lr=1e-2,
        batch_size=4,
        validation=(x, y),
        max_steps=200,
        eval_every=3,
        patience=2,
    )
    steps = history["step"]
    assert steps[0] == 3 and all(s % 3 == 0 for s in steps[:-1])
    assert history["steps_run"] == steps[-1] <= 200
    val = np.array(history["val_accuracy"])  # (evaluations, models)
    assert val.shape == (len(steps), 3)
    np.testing.assert_allclose(history["best_val_accuracy"], val.max(axis=0))
    first_best = [steps[int(np.argmax(val[:, i]))] for i in range(3)]  # the earliest best
    assert history["best_step"] == first_best
    # each model ends with the weights of its best evaluation: its validation accuracy is the best
    for i, model in enumerate(models):
        with torch.no_grad():
            acc = (model(x[i]).argmax(1) == y[i]).float().mean().item()
        assert acc == pytest.approx(history["best_val_accuracy"][i])
        assert not model.training
    if history["steps_run"] < 200:  # stopped early: every model missed `patience` evaluations
        last = len(steps) - 1
        assert all(last - steps.index(s) >= 2 for s in history["best_step"])


def test_fit_together_with_validation_trains_as_with_epochs_up_to_the_cap():
    # with a patience larger than the cap allows, early stopping never fires: the last
    # evaluation is at the cap, and the weights are those of the best evaluation
    x, y = _data(2, 8)
    a, b = _copies(2), _copies(2)
    fit_together(a, x, y, epochs=3, seeds=[5, 6], lr=1e-2, batch_size=4)  # 6 steps
    history = fit_together(
        b,
        x,
        y,
        seeds=[5, 6],
        lr=1e-2,
        batch_size=4,
        validation=(x, y),
        max_steps=6,
        eval_every=6,
        patience=10,
    )
    assert history["step"] == [6] and history["steps_run"] == 6
    for ma, mb in zip(a, b, strict=True):
        for pa, pb in zip(ma.parameters(), mb.parameters(), strict=True):
            torch.testing.assert_close(pa, pb)


def test_fit_together_validation_errors():
    x, y = _data(2, 5)
    with pytest.raises(ValueError, match="either epochs or validation"):
        fit_together(_copies(2), x, y, seeds=[0, 1])
    with pytest.raises(ValueError, match="either epochs or validation"):
        fit_together(_copies(2), x, y, epochs=1, validation=(x, y), max_steps=5, seeds=[0, 1])
    with pytest.raises(ValueError, match="max_steps"):
        fit_together(_copies(2), x, y, validation=(x, y), seeds=[0, 1])
    with pytest.raises(ValueError, match="one validation set per model"):
        fit_together(_copies(2), x, y, validation=(x[:1], y[:1]), max_steps=5, seeds=[0, 1])
    with pytest.raises(ValueError, match="x_val has 5 samples per model but y_val has 4"):
        fit_together(_copies(2), x, y, validation=(x, y[:, :4]), max_steps=5, seeds=[0, 1])
    with pytest.raises(ValueError, match="one penalty per model"):
        fit_together(_copies(2), x, y, epochs=1, seeds=[0, 1], penalty=[lambda m: 0.0])
    with pytest.raises(ValueError, match="not both"):
        fit_together(
            _copies(2),
            x,
            y,
            epochs=1,
            seeds=[0, 1],
            penalty=lambda m: 0.0,
            stacked_penalty=lambda p: torch.zeros(2),
        )
    with pytest.raises(ValueError, match="one value per model"):
        fit_together(
            _copies(2), x, y, epochs=1, seeds=[0, 1], stacked_penalty=lambda p: torch.zeros(3)
        )


def test_l2sp_together_equals_l2sp_penalty_model_by_model():
    from torch.func import stack_module_state

    donor = tiny_cnn()
    reference = {n: w.detach().clone() for n, w in donor.named_parameters() if "head" not in n}
    models = _copies(3, donor, frozen=1)
    for model in models:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
    stacked, _ = stack_module_state(models)
    params = {
        n: p.detach().requires_grad_(models[0].get_parameter(n).requires_grad)
        for n, p in stacked.items()
    }
    alphas, betas = [0.0, 0.5, 2.0], [0.1, 0.0, 0.3]
    together = l2sp_together(reference, alphas, betas)(params)
    alone = torch.stack(
        [l2sp_penalty(m, reference, a, b) for m, a, b in zip(models, alphas, betas, strict=True)]
    )
    torch.testing.assert_close(together, alone)
    # one strength for all models, and a reference of zeros is L2 towards zero
    zeros = {n: torch.zeros_like(w) for n, w in reference.items()}
    weight_decay = l2sp_together(zeros, 0.2, 0.2)(params)
    by_hand = torch.stack(
        [0.1 * sum(p.pow(2).sum() for p in m.parameters() if p.requires_grad) for m in models]
    )
    torch.testing.assert_close(weight_decay, by_hand)


def test_l2sp_together_trains_in_fit_together_as_the_per_model_penalty():
    donor = tiny_cnn()
    reference = {n: w.detach().clone() for n, w in donor.named_parameters() if "head" not in n}
    x, y = _data(2, 6)
    a, b = _copies(2, donor), _copies(2, donor)
    penalties = [
        lambda m: l2sp_penalty(m, reference, 0.5, 0.1),
        lambda m: l2sp_penalty(m, reference, 2.0, 0.1),
    ]
    fit_together(a, x, y, epochs=2, seeds=[3, 4], lr=1e-2, batch_size=3, penalty=penalties)
    fit_together(
        b,
        x,
        y,
        epochs=2,
        seeds=[3, 4],
        lr=1e-2,
        batch_size=3,
        stacked_penalty=l2sp_together(reference, [0.5, 2.0], 0.1),
    )
    for ma, mb in zip(a, b, strict=True):
        for pa, pb in zip(ma.parameters(), mb.parameters(), strict=True):
            torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-5)


def test_l2sp_together_errors():
    reference = {n: w.detach() for n, w in tiny_cnn().named_parameters() if "head" not in n}
    with pytest.raises(ValueError, match="alpha must be non-negative"):
        l2sp_together(reference, -1.0, 0.1)
    with pytest.raises(ValueError, match="beta must be non-negative"):
        l2sp_together(reference, 1.0, float("nan"))
    from torch.func import stack_module_state

    stacked, _ = stack_module_state(_copies(2))
    params = {n: p.detach().requires_grad_() for n, p in stacked.items()}
    with pytest.raises(ValueError, match="alpha has 3 values for 2 models"):
        l2sp_together(reference, [1.0, 1.0, 1.0], 0.1)(params)
    with pytest.raises(ValueError, match="no trainable parameter"):
        l2sp_together({"other": torch.zeros(1)}, 1.0, 0.1)(params)


def test_stackable_parameters_names_what_trains_and_refuses_mismatched_models():
    models = [tiny_cnn() for _ in range(2)]
    models[0].layers[0].requires_grad_(False)
    with pytest.raises(ValueError, match="model 1 differs from model 0"):
        stackable_parameters(models)
    models[1].layers[0].requires_grad_(False)
    names = stackable_parameters(models)
    assert names and not any(name.startswith("layers.0.") for name in names)
    for model in models:
        model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        stackable_parameters(models)
