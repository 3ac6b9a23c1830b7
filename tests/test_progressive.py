import copy

import pytest
import torch
from torch import nn

from zsl_utils.models import SmallCNN
from zsl_utils.progressive import (
    LateralAdapter,
    MultiTaskNet,
    ProgressiveNet,
    fit_multitask,
    fit_multitask_together,
    small_cnn_multitask,
    task_accuracy,
    with_new_head,
)

TINY = {"channels": (2, 3, 4), "hidden": 5}


def tiny_tasks(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "a": (torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 3, (n,), generator=g)),
        "b": (torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 4, (n,), generator=g)),
    }


def tiny_multitask(shared=3):
    torch.manual_seed(0)
    return small_cnn_multitask({"a": 3, "b": 4}, shared=shared, **TINY)


# --- MultiTaskNet and small_cnn_multitask ---------------------------------------------------


@pytest.mark.parametrize("shared", range(5))
def test_small_cnn_multitask_shapes(shared):
    model = tiny_multitask(shared)
    x = torch.rand(2, 1, 28, 28)
    assert model.tasks == ["a", "b"]
    assert model(x, "a").shape == (2, 3) and model(x, "b").shape == (2, 4)
    assert len(model.trunk) == shared


def test_heads_are_separate_and_the_trunk_is_shared():
    model = tiny_multitask(3)
    trunk_ids = {id(p) for p in model.trunk.parameters()}
    a_ids = {id(p) for p in model.heads["a"].parameters()}
    b_ids = {id(p) for p in model.heads["b"].parameters()}
    assert not a_ids & b_ids and not trunk_ids & (a_ids | b_ids)
    x, y = tiny_tasks()["b"]
    nn.functional.cross_entropy(model(x, "b"), y).backward()
    assert all(p.grad is None for p in model.heads["a"].parameters())
    assert all(p.grad is not None for p in model.trunk.parameters())


def test_multitask_errors():
    model = tiny_multitask()
    with pytest.raises(KeyError, match="unknown task 'c'"):
        model(torch.rand(1, 1, 28, 28), "c")
    with pytest.raises(ValueError, match="at least one head"):
        MultiTaskNet(nn.Identity(), {})
    with pytest.raises(ValueError, match="non-empty strings"):
        MultiTaskNet(nn.Identity(), {"": nn.Identity()})
    with pytest.raises(ValueError, match="shared"):
        small_cnn_multitask({"a": 2}, shared=5)
    with pytest.raises(ValueError, match="at least one task"):
        small_cnn_multitask({})


# --- fit_multitask ---------------------------------------------------------------------------


def test_fit_multitask_first_loss_is_the_sum_of_task_losses():
    model = tiny_multitask()
    tasks = tiny_tasks()
    with torch.no_grad():
        expected = sum(nn.functional.cross_entropy(model(x, t), y) for t, (x, y) in tasks.items())
    history = fit_multitask(model, tasks, steps=1, batch_size=64, progress=False)
    assert set(history) == {"loss", "a", "b"}
    assert history["loss"][0] == pytest.approx(expected.item(), rel=1e-5)


def test_fit_multitask_weights_and_single_task_leave_other_heads_alone():
    model = tiny_multitask()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fit_multitask(model, {"b": tiny_tasks()["b"]}, steps=3, lr=0.01, progress=False)
    after = dict(model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before if n.startswith("heads.a."))
    assert not torch.equal(before["trunk.0.0.weight"], after["trunk.0.0.weight"])
    history = fit_multitask(
        model, tiny_tasks(), steps=2, weights={"a": 0.5, "b": 2.0}, progress=False
    )
    assert history["loss"][0] == pytest.approx(0.5 * history["a"][0] + 2.0 * history["b"][0])


def test_fit_multitask_is_reproducible():
    losses = []
    for _ in range(2):
        model = tiny_multitask()
        losses.append(fit_multitask(model, tiny_tasks(), steps=4, batch_size=4, progress=False))
    assert losses[0] == losses[1]


def test_fit_multitask_errors():
    model = tiny_multitask()
    tasks = tiny_tasks()
    with pytest.raises(ValueError, match="tasks is empty"):
        fit_multitask(model, {}, steps=1)
    with pytest.raises(KeyError, match="unknown task 'c'"):
        fit_multitask(model, {"c": tasks["a"]}, steps=1)
    with pytest.raises(ValueError, match="x has 6 samples but y has 5"):
        fit_multitask(model, {"a": (tasks["a"][0], tasks["a"][1][:5])}, steps=1)
    with pytest.raises(ValueError, match="no training samples"):
        fit_multitask(model, {"a": (tasks["a"][0][:0], tasks["a"][1][:0])}, steps=1)
    with pytest.raises(ValueError, match="steps"):
        fit_multitask(model, tasks, steps=0)
    with pytest.raises(ValueError, match="weights name"):
        fit_multitask(model, tasks, steps=1, weights={"a": 1.0})
    with pytest.raises(TypeError, match="no `tasks`"):
        fit_multitask(nn.Linear(2, 2), tasks, steps=1)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit_multitask(model.requires_grad_(False), tasks, steps=1)


def test_fit_multitask_penalty_is_added_to_the_loss():
    tasks = tiny_tasks()
    plain = fit_multitask(tiny_multitask(), tasks, steps=1, progress=False)
    model = tiny_multitask()
    penalised = fit_multitask(
        model, tasks, steps=1, penalty=lambda m: torch.tensor(2.5), progress=False
    )
    assert penalised["loss"][0] == pytest.approx(plain["loss"][0] + 2.5)
    # a penalty with a gradient moves the weights: pulling the head bias towards 100
    model = tiny_multitask()
    bias = model.heads["a"][-1].bias
    fit_multitask(
        model,
        {"a": tasks["a"]},
        steps=20,
        lr=0.1,
        penalty=lambda m: (m.heads["a"][-1].bias - 100).pow(2).sum(),
        progress=False,
    )
    assert bias.min() > 1.0


def test_fit_multitask_evaluate_records_a_curve():
    model = tiny_multitask()
    tasks = tiny_tasks()
    calls = []

    def evaluate(m):
        calls.append(m.training)
        assert not torch.is_grad_enabled()
        return {"a accuracy": task_accuracy(m, *tasks["a"], "a"), "calls": len(calls)}

    history = fit_multitask(model, tasks, steps=7, evaluate=evaluate, eval_every=3, progress=False)
    assert history["step"] == [0, 3, 6, 7]
    assert history["calls"] == [1.0, 2.0, 3.0, 4.0]
    assert calls == [False] * 4  # evaluated in eval mode
    assert len(history["loss"]) == 7 and all(0 <= a <= 1 for a in history["a accuracy"])
    assert history["a accuracy"][-1] == task_accuracy(model, *tasks["a"], "a")
    # evaluating does not change training: same losses as without it
    plain = fit_multitask(tiny_multitask(), tasks, steps=7, progress=False)
    assert plain["loss"] == history["loss"] and "step" not in plain


def test_fit_multitask_evaluate_errors():
    tasks = tiny_tasks()
    with pytest.raises(ValueError, match="eval_every"):
        fit_multitask(tiny_multitask(), tasks, steps=1, evaluate=lambda m: {}, eval_every=0)
    with pytest.raises(ValueError, match=r"already uses: \['a'\]"):
        fit_multitask(tiny_multitask(), tasks, steps=1, evaluate=lambda m: {"a": 1.0})
    names = iter([{"x": 1.0}, {"y": 1.0}])
    with pytest.raises(ValueError, match="same names"):
        fit_multitask(tiny_multitask(), tasks, steps=1, evaluate=lambda m: next(names))


# --- task_accuracy and with_new_head ----------------------------------------------------------


def test_task_accuracy_matches_argmax_and_restores_mode():
    model = tiny_multitask()
    x, y = tiny_tasks(n=10)["b"]
    with torch.no_grad():
        expected = (model(x, "b").argmax(1) == y).float().mean().item()
    model.train()
    assert task_accuracy(model, x, y, "b", batch_size=3) == pytest.approx(expected)
    assert model.training
    with torch.no_grad():
        y_pred = model(x, "b").argmax(1)
    assert task_accuracy(model, x, y_pred, "b") == 1.0


def test_task_accuracy_errors():
    model = tiny_multitask()
    x, y = tiny_tasks()["a"]
    with pytest.raises(ValueError, match="x has 6 samples but y has 5"):
        task_accuracy(model, x, y[:5], "a")
    with pytest.raises(ValueError, match="no samples"):
        task_accuracy(model, x[:0], y[:0], "a")
    with pytest.raises(KeyError, match="unknown task 'c'"):
        task_accuracy(model, x, y, "c")
    with pytest.raises(TypeError, match="no `tasks`"):
        task_accuracy(nn.Linear(2, 2), x, y, "a")


def test_with_new_head_copies_the_model_and_adds_a_head():
    torch.manual_seed(0)
    old = SmallCNN(3, **TINY)
    net = with_new_head(old, 4, tasks=("old", "new"))
    x = torch.rand(5, 1, 28, 28)
    assert net.tasks == ["old", "new"]
    torch.testing.assert_close(net(x, "old"), old(x))
    assert net(x, "new").shape == (5, 4)
    old_ids = {id(p) for p in old.parameters()}
    assert not old_ids & {id(p) for p in net.parameters()}  # a copy, not shared weights
    # fine-tuning on the new task moves the trunk (and so the old task's outputs), not old
    before = [p.detach().clone() for p in old.parameters()]
    head_before = net.heads["old"].weight.detach().clone()
    fit_multitask(
        net, {"new": (x, torch.tensor([0, 1, 2, 3, 0]))}, steps=5, lr=0.05, progress=False
    )
    assert all(torch.equal(a, b) for a, b in zip(before, old.parameters(), strict=True))
    assert torch.equal(head_before, net.heads["old"].weight)
    assert not torch.allclose(net(x, "old"), old(x))


def test_with_new_head_hidden_layer_adds_weights_for_the_new_task():
    torch.manual_seed(0)
    old = SmallCNN(3, **TINY)
    linear = with_new_head(old, 4)
    wide = with_new_head(old, 4, hidden=7)
    x = torch.rand(5, 1, 28, 28)
    assert wide(x, "task 2").shape == (5, 4)
    torch.testing.assert_close(wide(x, "task 1"), old(x))
    hidden_layer = [m for m in wide.heads["task 2"] if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in hidden_layer] == [(5, 7), (7, 4)]
    extra = count(wide.heads["task 2"]) - count(linear.heads["task 2"])
    assert extra == (5 * 7 + 7 + 7 * 4 + 4) - (5 * 4 + 4)


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_with_new_head_errors():
    with pytest.raises(TypeError, match="SmallCNN"):
        with_new_head(nn.Linear(2, 2), 3)
    with pytest.raises(ValueError, match="n_classes"):
        with_new_head(SmallCNN(3, **TINY), 0)
    with pytest.raises(ValueError, match="two different names"):
        with_new_head(SmallCNN(3, **TINY), 3, tasks=("a", "a"))
    with pytest.raises(ValueError, match="hidden"):
        with_new_head(SmallCNN(3, **TINY), 3, hidden=0)


# --- ProgressiveNet --------------------------------------------------------------------------


def tiny_progressive(n_classes=4):
    torch.manual_seed(0)
    column1 = SmallCNN(3, **TINY)
    return column1, ProgressiveNet(column1, n_classes, tasks=("old", "new"))


def test_progressive_shapes_and_column1_output():
    column1, net = tiny_progressive()
    x = torch.rand(2, 1, 28, 28)
    assert net.tasks == ["old", "new"]
    assert net(x).shape == (2, 4) and net(x, "new").shape == (2, 4)
    torch.testing.assert_close(net(x, "old"), column1(x))
    assert net.column1 is not column1  # a frozen copy; the caller's network is untouched
    assert all(p.requires_grad for p in column1.parameters())
    assert not any(p.requires_grad for p in net.column1.parameters())


def test_laterals_carry_column1_into_column2():
    _, net = tiny_progressive()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        for lateral in net.laterals:
            for p in lateral.parameters():
                p.zero_()
        without = net(x)
        net.column1.layers[0][0].bias.add_(1.0)  # column 1 only reaches column 2 via laterals
        assert torch.equal(net(x), without)
        torch.testing.assert_close(without, net.column2(x))  # zero laterals: a plain column


def test_training_column2_leaves_column1_bit_identical():
    column1, net = tiny_progressive()
    before = {n: p.detach().clone() for n, p in net.column1.state_dict().items()}
    trainable_before = [p.detach().clone() for p in net.parameters() if p.requires_grad]
    x = torch.rand(8, 1, 28, 28)
    fit_multitask(net, {"new": (x, torch.randint(0, 4, (8,)))}, steps=5, lr=0.05, progress=False)
    assert all(torch.equal(before[n], p) for n, p in net.column1.state_dict().items())
    trainable_after = [p for p in net.parameters() if p.requires_grad]
    # + 4 laterals, each with α and the weights and biases of V and U
    assert len(trainable_after) == len(list(net.column2.parameters())) + 4 * 5
    pairs = zip(trainable_before, trainable_after, strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)
    torch.testing.assert_close(net(x, "old"), column1(x))


def test_lateral_adapter_is_u_relu_v_of_alpha_h():
    torch.manual_seed(0)
    project, expand = nn.Linear(6, 2), nn.Linear(2, 3)
    adapter = LateralAdapter(project, expand, alpha=0.5)
    h = torch.randn(4, 6)
    expected = expand(torch.relu(project(0.5 * h)))
    torch.testing.assert_close(adapter(h), expected)
    assert adapter.alpha.requires_grad and adapter.alpha.item() == 0.5
    adapter(h).sum().backward()
    assert adapter.alpha.grad is not None  # α is learned
    with torch.no_grad():
        adapter.project.bias.fill_(-100.0)  # every unit below 0: the ReLU passes nothing
    torch.testing.assert_close(adapter(h), expand.bias.expand(4, 3))


def test_progressive_adapters_reduce_the_width():
    torch.manual_seed(0)
    column1 = SmallCNN(3, channels=(8, 16, 32), hidden=64)
    net = ProgressiveNet(column1, 5, reduction=4, alpha=0.25)
    widths = [lateral.project.out_channels for lateral in net.laterals[:3]]
    assert widths == [2, 4, 8] and net.laterals[3].project.out_features == 16
    assert all(lateral.alpha.item() == 0.25 for lateral in net.laterals)
    wider = ProgressiveNet(column1, 5, reduction=1)
    assert count(wider.laterals) > count(net.laterals)
    assert count(net.laterals) < count(net.column2) / 2  # small beside a column


def test_column1_stays_in_eval_mode():
    _, net = tiny_progressive()
    net.train()
    assert net.training and net.column2.training and not net.column1.training


def test_progressive_errors():
    column1, net = tiny_progressive()
    with pytest.raises(TypeError, match="SmallCNN"):
        ProgressiveNet(nn.Linear(2, 2), 3)
    with pytest.raises(ValueError, match="n_classes"):
        ProgressiveNet(column1, 0)
    with pytest.raises(ValueError, match="two different names"):
        ProgressiveNet(column1, 3, tasks=("same", "same"))
    with pytest.raises(ValueError, match="reduction"):
        ProgressiveNet(column1, 3, reduction=0)
    with pytest.raises(KeyError, match="unknown task"):
        net(torch.rand(1, 1, 28, 28), "other")
    with pytest.raises(ValueError, match=r"\(n, c, 28, 28\)"):
        net(torch.rand(1, 1, 32, 32))
    x = torch.rand(4, 1, 28, 28)
    with pytest.raises(ValueError, match="no trainable parameter affects"):
        fit_multitask(net, {"old": (x, torch.zeros(4, dtype=torch.long))}, steps=1)


# --- fit_multitask_together ------------------------------------------------------------------


def tiny_pair(seed_a=0, seed_b=1):
    models = []
    for seed in (seed_a, seed_b):
        torch.manual_seed(seed)
        models.append(small_cnn_multitask({"a": 3, "b": 4}, shared=3, **TINY))
    data = [tiny_tasks(n=10, seed=0), tiny_tasks(n=10, seed=1)]
    return models, data


def test_fit_multitask_together_matches_separate_training_up_to_the_best_step():
    models, data = tiny_pair()
    copies = [copy.deepcopy(m) for m in models]
    validation = ("a", *data[0]["a"])  # model 0's own training images of task a
    history = fit_multitask_together(
        models,
        data,
        validation,
        seeds=[3, 4],
        max_steps=8,
        eval_every=2,
        patience=100,
        lr=0.03,
        batch_size=4,
        progress=False,
    )
    assert history["step"] == [0, 2, 4, 6, 8] and history["val_accuracy"].shape == (5, 2)
    assert not history["stopped"].any()  # the cap ended training, not patience
    assert history["best_step"][0] > 0  # model 0 improved, so its weights moved
    for model, twin, task_data, seed, best in zip(
        models, copies, data, [3, 4], history["best_step"], strict=True
    ):
        if best > 0:  # the same batches and the same Adam steps as fit_multitask
            fit_multitask(
                twin, task_data, steps=int(best), lr=0.03, batch_size=4, seed=seed, progress=False
            )
        for p, q in zip(model.parameters(), twin.parameters(), strict=True):
            torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)
        best_row = history["step"].index(best)
        accuracy = task_accuracy(model, validation[1], validation[2], "a")
        column = models.index(model)
        assert accuracy == pytest.approx(history["val_accuracy"][best_row, column])
        assert history["val_accuracy"][best_row, column] == history["val_accuracy"][:, column].max()


def test_fit_multitask_together_stops_when_validation_does_not_improve():
    models, data = tiny_pair()
    before = [copy.deepcopy(m.state_dict()) for m in models]
    x_val = tiny_tasks(n=8, seed=7)["a"][0]
    with torch.no_grad():
        y_val = models[0](x_val, "a").argmax(1)  # model 0 starts perfect: it cannot improve
    history = fit_multitask_together(
        models,
        data,
        ("a", x_val, y_val),
        seeds=[0, 1],
        max_steps=200,
        eval_every=2,
        patience=3,
        lr=0.05,
        batch_size=4,
        progress=False,
    )
    assert history["stopped"][0] and history["best_step"][0] == 0
    assert history["val_accuracy"][0, 0] == 1.0
    assert all(torch.equal(p, before[0][n]) for n, p in models[0].state_dict().items())
    assert history["step"][-1] < 200 or not history["stopped"][1]


def test_fit_multitask_together_monitor_single_task_and_progressive():
    torch.manual_seed(0)
    plain = [SmallCNN(3, **TINY) for _ in range(2)]
    x, y = tiny_tasks(n=6)["a"]
    history = fit_multitask_together(
        plain,
        [{"only": (x, y)}] * 2,
        ("only", x, y),
        seeds=[0, 1],
        max_steps=3,
        eval_every=1,
        monitor={"train accuracy": ("only", x, y)},
        progress=False,
    )
    assert history["train accuracy"].shape == (4, 2)
    torch.testing.assert_close(
        torch.as_tensor(history["train accuracy"]), torch.as_tensor(history["val_accuracy"])
    )
    column1, _ = tiny_progressive()
    nets = [ProgressiveNet(column1, 4, tasks=("old", "new")) for _ in range(2)]
    x2, y2 = tiny_tasks(n=6)["b"]
    history = fit_multitask_together(
        nets,
        [{"new": (x2, y2)}] * 2,
        ("new", x2, y2),
        seeds=[0, 1],
        max_steps=4,
        patience=10,
        eval_every=2,
        lr=0.05,
        batch_size=3,
        monitor={"old": ("old", x, y)},
        progress=False,
    )
    assert (history["old"] == history["old"][0]).all()  # column 1 never changes
    for net in nets:
        torch.testing.assert_close(net(x, "old"), column1(x))


def test_fit_multitask_together_errors():
    models, data = tiny_pair()
    validation = ("a", *data[0]["a"])
    kwargs = {"seeds": [0, 1], "max_steps": 2, "progress": False}
    with pytest.raises(ValueError, match="no models"):
        fit_multitask_together([], [], validation, seeds=[], max_steps=1)
    with pytest.raises(ValueError, match="one task dict and one seed per model"):
        fit_multitask_together(models, data[:1], validation, **kwargs)
    with pytest.raises(ValueError, match="same tasks"):
        fit_multitask_together(models, [data[0], {"a": data[1]["a"]}], validation, **kwargs)
    with pytest.raises(ValueError, match="same number of samples"):
        short = {"a": data[1]["a"], "b": (data[1]["b"][0][:5], data[1]["b"][1][:5])}
        fit_multitask_together(models, [data[0], short], validation, **kwargs)
    with pytest.raises(ValueError, match="max_steps"):
        fit_multitask_together(models, data, validation, seeds=[0, 1], max_steps=0)
    with pytest.raises(ValueError, match="weights name"):
        fit_multitask_together(models, data, validation, weights={"a": 1.0}, **kwargs)
    with pytest.raises(ValueError, match="val_accuracy: x has 10 samples and y has 3"):
        fit_multitask_together(models, data, ("a", data[0]["a"][0], data[0]["a"][1][:3]), **kwargs)
    other = small_cnn_multitask({"a": 3, "b": 4}, shared=2, **TINY)
    with pytest.raises(ValueError, match="model 1 differs"):
        fit_multitask_together([models[0], other], data, validation, **kwargs)
    with pytest.raises(ValueError, match="one task only"):
        fit_multitask_together([SmallCNN(3, **TINY)] * 2, data, validation, **kwargs)
    with pytest.raises(KeyError, match="unknown task"):
        fit_multitask_together(models, [{"c": data[0]["a"]}] * 2, validation, **kwargs)
    with pytest.raises(ValueError, match="already uses"):
        fit_multitask_together(models, data, validation, monitor={"step": validation}, **kwargs)
    frozen = [m.requires_grad_(False) for m in models]
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit_multitask_together(frozen, data, validation, **kwargs)
