import pytest
import torch
from torch import nn

from zsl_utils.models import SmallCNN
from zsl_utils.progressive import (
    MultiTaskNet,
    ProgressiveNet,
    fit_multitask,
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


def test_with_new_head_errors():
    with pytest.raises(TypeError, match="SmallCNN"):
        with_new_head(nn.Linear(2, 2), 3)
    with pytest.raises(ValueError, match="n_classes"):
        with_new_head(SmallCNN(3, **TINY), 0)
    with pytest.raises(ValueError, match="two different names"):
        with_new_head(SmallCNN(3, **TINY), 3, tasks=("a", "a"))


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
    assert len(trainable_after) == len(list(net.column2.parameters())) + 8  # + 4 laterals
    pairs = zip(trainable_before, trainable_after, strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)
    torch.testing.assert_close(net(x, "old"), column1(x))


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
    with pytest.raises(KeyError, match="unknown task"):
        net(torch.rand(1, 1, 28, 28), "other")
    with pytest.raises(ValueError, match=r"\(n, c, 28, 28\)"):
        net(torch.rand(1, 1, 32, 32))
    x = torch.rand(4, 1, 28, 28)
    with pytest.raises(ValueError, match="no trainable parameter affects"):
        fit_multitask(net, {"old": (x, torch.zeros(4, dtype=torch.long))}, steps=1)
