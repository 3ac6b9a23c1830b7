"""Multitask learning and progressive neural networks.

Introduced in notebook 02. `MultiTaskNet` is a shared trunk with one head per task, built
from `SmallCNN` pieces by `small_cnn_multitask`; `fit_multitask` trains it on several tasks
at once, one mini-batch of every task per step and the sum of their losses (with a single
task it is an ordinary training loop with the same budget, the fair baseline).
`fit_multitask_together` is the same training for several models at once (one per seed, in
one vectorised loop), each stopped early on its own validation accuracy.
`ProgressiveNet` (Rusu et al., 2016) keeps the network of task 1 as a frozen first column
and learns task 2 in a new column that also reads column 1's activations through
`LateralAdapter`s (the paper's non-linear lateral connections), so task 1 cannot be
forgotten. `with_new_head` turns a trained `SmallCNN` into a two-head `MultiTaskNet` (its
own head for the old task, a new one, linear or with a hidden layer, for the new task): the
plain fine-tuning baseline, whose old-task accuracy shows catastrophic forgetting.
`task_accuracy` measures any of these models on one task.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from .models import SmallCNN
from .stopping import EarlyStopping
from .transfer import stackable_parameters

__all__ = [
    "MultiTaskNet",
    "small_cnn_multitask",
    "with_new_head",
    "fit_multitask",
    "fit_multitask_together",
    "task_accuracy",
    "LateralAdapter",
    "ProgressiveNet",
]


class MultiTaskNet(nn.Module):
    """A shared `trunk` followed by one head per task: `model(x, task)` = heads[task](trunk(x)).

    Introduced in notebook 02. Gradients of every task's loss reach the trunk; a head only
    learns from its own task.
    """

    def __init__(self, trunk: nn.Module, heads: Mapping[str, nn.Module]):
        super().__init__()
        if not heads:
            raise ValueError("a MultiTaskNet needs at least one head")
        if bad := [name for name in heads if not isinstance(name, str) or not name]:
            raise ValueError(f"task names must be non-empty strings, got {bad}")
        self.trunk = trunk
        self.heads = nn.ModuleDict(dict(heads))

    @property
    def tasks(self) -> list[str]:
        """The task names, in the order the heads were given."""
        return list(self.heads.keys())

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        if task not in self.heads:
            raise KeyError(f"unknown task {task!r}; this model has heads for {self.tasks}")
        return self.heads[task](self.trunk(x))


def small_cnn_multitask(
    n_classes: Mapping[str, int],
    shared: int = 4,
    channels: tuple[int, int, int] = (16, 32, 64),
    hidden: int = 128,
) -> MultiTaskNet:
    """A `MultiTaskNet` cut from `SmallCNN`s: layers 1..`shared` form the trunk, and each task
    gets its own copy of the remaining layers plus an output layer with `n_classes[task]` units.

    `shared=4` shares all four layers (the heads are linear); `shared=3` shares the
    convolutional layers and gives every task its own hidden layer. Introduced in notebook 02.
    """
    if not n_classes:
        raise ValueError("n_classes must name at least one task")
    if isinstance(shared, bool) or not isinstance(shared, int) or not 0 <= shared <= 4:
        raise ValueError(f"shared must be an int between 0 and 4, got {shared!r}")
    nets = {task: SmallCNN(k, channels=channels, hidden=hidden) for task, k in n_classes.items()}
    first = next(iter(nets.values()))
    trunk = nn.Sequential(*first.layers[:shared])
    heads = {task: nn.Sequential(*net.layers[shared:], net.head) for task, net in nets.items()}
    return MultiTaskNet(trunk, heads)


def with_new_head(
    model: SmallCNN,
    n_classes: int,
    tasks: tuple[str, str] = ("task 1", "task 2"),
    hidden: int | None = None,
) -> MultiTaskNet:
    """A copy of the trained `model` as a `MultiTaskNet` with two heads: `tasks[0]` keeps
    `model`'s own head, `tasks[1]` gets a new head with `n_classes` outputs; all four layers
    form the shared trunk.

    The new head is one linear layer, or with `hidden=h` a hidden layer of h ReLU units and
    then the output layer (more trainable weights for the new task: notebook 02 uses it to
    match the progressive network's trainable weights). Training the copy on the new task
    only (`fit_multitask(net, {tasks[1]: ...})`) is plain fine-tuning: the trunk moves, the
    old head does not, and `net(x, tasks[0])` shows how much of the old task is left.
    `model` itself is not changed. Introduced in notebook 02.
    """
    if not isinstance(model, SmallCNN):
        raise TypeError(f"model must be a SmallCNN, got {type(model).__name__}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    if len(tasks) != 2 or len(set(tasks)) != 2:
        raise ValueError(f"tasks must be two different names (old, new), got {tasks!r}")
    bad_hidden = isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1
    if hidden is not None and bad_hidden:
        raise ValueError(f"hidden must be None or a positive int, got {hidden!r}")
    copied = copy.deepcopy(model)
    if hidden is None:
        new_head: nn.Module = nn.Linear(copied.feature_dim, n_classes)
    else:
        new_head = nn.Sequential(
            nn.Linear(copied.feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )
    heads = {tasks[0]: copied.head, tasks[1]: new_head}
    return MultiTaskNet(nn.Sequential(*copied.layers), heads)


def _check_task_data(model: nn.Module, tasks: Mapping[str, tuple[torch.Tensor, torch.Tensor]]):
    if not tasks:
        raise ValueError("tasks is empty: give at least one task's (x, y)")
    known = getattr(model, "tasks", None)
    if known is None:
        raise TypeError(
            f"{type(model).__name__} has no `tasks`: use a MultiTaskNet or a ProgressiveNet"
        )
    for name, pair in tasks.items():
        if name not in known:
            raise KeyError(f"unknown task {name!r}; this model has heads for {list(known)}")
        x, y = pair
        if len(x) != len(y):
            raise ValueError(f"task {name!r}: x has {len(x)} samples but y has {len(y)}")
        if len(x) == 0:
            raise ValueError(f"task {name!r} has no training samples")


def fit_multitask(
    model: nn.Module,
    tasks: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    weights: Mapping[str, float] | None = None,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None,
    eval_every: int = 10,
    device: torch.device | str = "cpu",
    seed: int = 0,
    progress: bool = True,
    desc: str = "multitask training",
) -> dict[str, list[float]]:
    """Train `model` with Adam for `steps` steps on the tasks in `tasks` (name → (x, y)).

    `model` is a `MultiTaskNet` or a `ProgressiveNet`: anything called as `model(x, task)`
    with a `tasks` list.
    Every step takes one mini-batch of up to `batch_size` samples from *each* task (walking
    through a fresh random order of that task's samples, epoch after epoch) and minimises
    Σ_task weights[task] · cross-entropy(model(x_task, task), y_task) (weights default to 1).
    Only parameters with `requires_grad` are optimised, and only the heads of the tasks given
    (and the trunk) receive gradients: training with one task is plain single-task training.
    `penalty(model)`, if given, is added to the loss at every step (e.g. EWC).
    Returns the per-step loss of each task and their weighted sum ("loss").

    `evaluate(model)`, if given, is called (in eval mode, without gradients) before the first
    step, after every `eval_every` steps and after the last; it returns a few named numbers
    (e.g. {"task 1 accuracy": ...}), which are recorded under their names, with the number of
    steps taken so far under "step". This is how notebook 02 draws its forgetting curves.
    Introduced in notebook 02.
    """
    _check_task_data(model, tasks)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    weights = {name: 1.0 for name in tasks} if weights is None else dict(weights)
    if set(weights) != set(tasks):
        raise ValueError(f"weights name {sorted(weights)} but the tasks are {sorted(tasks)}")
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1:
        raise ValueError(f"eval_every must be a positive int, got {eval_every!r}")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters")
    optimiser = torch.optim.Adam(trainable, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    queues: dict[str, list[torch.Tensor]] = {name: [] for name in tasks}

    def next_batch(name: str) -> torch.Tensor:
        if not queues[name]:  # a new epoch of this task, in a new random order
            n = len(tasks[name][1])
            queues[name] = list(torch.randperm(n, generator=generator).split(batch_size))
        return queues[name].pop(0)

    history: dict[str, list[float]] = {"loss": [], **{name: [] for name in tasks}}

    def record(step: int) -> None:
        model.eval()
        with torch.no_grad():
            values = dict(evaluate(model))
        model.train()
        if clash := sorted(set(values) & ({"loss", "step"} | set(tasks))):
            raise ValueError(f"evaluate returned names that history already uses: {clash}")
        if "step" not in history:
            history["step"] = []
            history.update({key: [] for key in values})
        if set(values) != set(history) - {"loss", "step", *tasks}:
            raise ValueError("evaluate must return the same names at every call")
        history["step"].append(step)
        for key, value in values.items():
            history[key].append(float(value))

    model.to(device).train()
    if evaluate is not None:
        record(0)
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        total = torch.zeros((), device=device)
        for name, (x, y) in tasks.items():
            batch = next_batch(name)
            logits = model(x[batch].to(device), name)
            loss = nn.functional.cross_entropy(logits, y[batch].to(device))
            history[name].append(loss.item())
            total = total + weights[name] * loss
        if not total.requires_grad:
            raise ValueError(f"no trainable parameter affects the loss of tasks {list(tasks)}")
        if penalty is not None:
            total = total + penalty(model)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        history["loss"].append(total.item())
        if evaluate is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            record(step + 1)
    model.eval()
    return history


def _stack_task_data(tasks, name: str):
    """One task's (x, y) for all models: kept once when every model trains on the same
    tensors, otherwise stacked along a new first (model) axis. Returns (x, y, shared)."""
    xs = [t[name][0] for t in tasks]
    ys = [t[name][1] for t in tasks]
    if all(x is xs[0] for x in xs) and all(y is ys[0] for y in ys):
        return xs[0], ys[0], True
    if len({len(y) for y in ys}) != 1:
        raise ValueError(f"task {name!r}: every model needs the same number of samples")
    return torch.stack(xs), torch.stack(ys), False


def fit_multitask_together(
    models: Sequence[nn.Module],
    tasks: Sequence[Mapping[str, tuple[torch.Tensor, torch.Tensor]]],
    validation: tuple[str, torch.Tensor, torch.Tensor],
    *,
    seeds: Sequence[int],
    max_steps: int,
    patience: int = 5,
    eval_every: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    weights: Mapping[str, float] | None = None,
    monitor: Mapping[str, tuple[str, torch.Tensor, torch.Tensor]] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "training together",
) -> dict:
    """Train `models[i]` on the tasks `tasks[i]` (name → (x, y)) with shuffling seed
    `seeds[i]`, all models in one vectorised loop, each stopped on its validation accuracy.

    The step is `fit_multitask`'s (Adam; one mini-batch of up to `batch_size` samples of every
    task, the sum of the tasks' cross-entropies, each times `weights[task]` (default 1); only
    parameters with `requires_grad`), done
    for every model at once with `torch.func.vmap` over their stacked weights. The models
    must share one architecture (a `MultiTaskNet` or `ProgressiveNet`, called as
    `model(x, task)`, or a plain network called as `model(x)` when it has a single task) and
    give every task the same number of samples for every model.

    Early stopping: every `eval_every` steps (and before the first) each model's accuracy on
    `validation` = (task, x, y), images carved from the training data, is computed; a model
    whose accuracy has not improved for `patience` evaluations in a row is stopped, and
    training ends when all are stopped or after `max_steps` steps. Each model is left with its
    weights at its best validation accuracy (in eval mode). `monitor` (name → (task, x, y))
    adds accuracies that are only recorded, e.g. a forgetting curve; nothing is chosen on them.

    Returns a history: "step" (the steps of the evaluations), "val_accuracy" and every
    monitor name (an array evaluations × models), "best_step" (each model's chosen step) and
    "stopped" (whether each model ran out of patience before `max_steps`). Introduced in
    notebook 02.
    """
    models, tasks = list(models), list(tasks)
    n_models = len(models)
    if n_models == 0:
        raise ValueError("no models to train")
    if len(tasks) != n_models or len(seeds) != n_models:
        raise ValueError(
            f"need one task dict and one seed per model: {n_models} models, "
            f"{len(tasks)} task dicts, {len(seeds)} seeds"
        )
    names = list(tasks[0])
    if any(list(t) != names for t in tasks):
        raise ValueError("every model must train on the same tasks, in the same order")
    for model, model_tasks in zip(models, tasks, strict=True):
        if getattr(model, "tasks", None) is None and len(names) != 1:
            raise ValueError(f"{type(model).__name__} has no `tasks`: it can learn one task only")
        if getattr(model, "tasks", None) is not None:
            _check_task_data(model, model_tasks)
        for name, (x, y) in model_tasks.items():
            if len(x) != len(y) or len(y) == 0:
                raise ValueError(f"task {name!r}: x has {len(x)} samples and y has {len(y)}")
    for name, value in (
        ("max_steps", max_steps),
        ("patience", patience),
        ("eval_every", eval_every),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if clash := sorted(set(monitor or {}) & {"step", "val_accuracy", "best_step", "stopped"}):
        raise ValueError(f"monitor names that the history already uses: {clash}")
    checks = {"val_accuracy": validation, **dict(monitor or {})}
    for label, (_task, x, y) in checks.items():
        if len(x) != len(y) or len(y) == 0:
            raise ValueError(f"{label}: x has {len(x)} samples and y has {len(y)}")
    trainable = stackable_parameters(models)
    weights = {name: 1.0 for name in names} if weights is None else dict(weights)
    if set(weights) != set(names):
        raise ValueError(f"weights name {sorted(weights)} but the tasks are {sorted(names)}")

    template = models[0].to(device)
    multitask = getattr(template, "tasks", None) is not None
    for model in models:
        model.to(device).train()
    stacked, buffers = stack_module_state(models)
    params = {n: p.detach().clone().requires_grad_(n in trainable) for n, p in stacked.items()}
    optimiser = torch.optim.Adam([params[n] for n in trainable], lr=lr)

    def logits(p, b, x, task):
        args = (x, task) if multitask else (x,)
        return functional_call(template, (p, b), args)

    data = {name: _stack_task_data(tasks, name) for name in names}
    data = {name: (x.to(device), y.to(device), shared) for name, (x, y, shared) in data.items()}
    losses = {
        name: vmap(
            lambda p, b, x, y, task=name: nn.functional.cross_entropy(logits(p, b, x, task), y)
        )
        for name in names
    }
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    queues: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    rows = torch.arange(n_models, device=device)[:, None]

    def next_batch(name: str) -> torch.Tensor:
        if not queues[name]:  # a new epoch of this task, a new random order for every model
            n = len(data[name][1]) if data[name][2] else data[name][1].shape[1]
            order = torch.stack([torch.randperm(n, generator=g) for g in generators])
            queues[name] = list(order.to(device).split(batch_size, dim=1))
        return queues[name].pop(0)

    @torch.no_grad()
    def accuracies(task: str, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        template.eval()
        out = vmap(lambda p, b: logits(p, b, x.to(device), task))(params, buffers)
        template.train()
        return (out.argmax(-1) == y.to(device)).float().mean(1).cpu().numpy()

    stopper = EarlyStopping(patience, n_models=n_models)
    history: dict = {"step": [], **{label: [] for label in checks}}

    def evaluate(step: int) -> None:
        history["step"].append(step)
        for label, (task, x, y) in checks.items():
            history[label].append(accuracies(task, x, y))
        stopper.update(history["val_accuracy"][-1], state={n: params[n] for n in trainable})

    evaluate(0)
    step = 0
    bar = tqdm(total=max_steps, desc=desc, disable=not progress, leave=False)
    while step < max_steps and not stopper.all_stopped:
        total = torch.zeros(n_models, device=device)
        for name in names:
            x, y, shared = data[name]
            batch = next_batch(name)
            xb, yb = (x[batch], y[batch]) if shared else (x[rows, batch], y[rows, batch])
            total = total + weights[name] * losses[name](params, buffers, xb, yb)
        optimiser.zero_grad()
        total.sum().backward()  # each model's loss depends on its own weights only
        optimiser.step()
        step += 1
        bar.update(1)
        if step % eval_every == 0 or step == max_steps:
            evaluate(step)
    bar.close()
    best = stopper.best_state
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(best[name][i] if name in best else params[name][i])
            model.eval()
    steps = np.asarray(history["step"])
    history = {k: (np.stack(v) if k in checks else v) for k, v in history.items()}
    history["best_step"] = steps[stopper.best_evaluation]
    history["stopped"] = stopper.stopped.copy()
    return history


@torch.no_grad()
def task_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    batch_size: int = 1024,
    device: torch.device | str = "cpu",
) -> float:
    """Top-1 accuracy of `model(x, task)` on (x, y), in eval mode, in batches.

    The multitask counterpart of `zsl_utils.train.accuracy`, for a `MultiTaskNet` or a
    `ProgressiveNet`. Introduced in notebook 02.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError("no samples to evaluate")
    known = getattr(model, "tasks", None)
    if known is None:
        raise TypeError(
            f"{type(model).__name__} has no `tasks`: use a MultiTaskNet or a ProgressiveNet"
        )
    if task not in known:
        raise KeyError(f"unknown task {task!r}; this model has heads for {list(known)}")
    was_training = model.training
    model.to(device).eval()
    correct = sum(
        (model(xb.to(device), task).argmax(1).cpu() == yb).sum().item()
        for xb, yb in zip(x.split(batch_size), y.split(batch_size), strict=True)
    )
    model.train(was_training)
    return correct / len(y)


def _split_at_relu(block: nn.Sequential) -> tuple[nn.Sequential, nn.Sequential]:
    """(the part of a SmallCNN layer before its ReLU, the ReLU and what follows)."""
    for i, module in enumerate(block):
        if isinstance(module, nn.ReLU):
            return block[:i], block[i:]
    raise ValueError("a SmallCNN layer without a ReLU")


class LateralAdapter(nn.Module):
    """Rusu et al.'s (2016) non-linear lateral connection: a(h) = U σ(V (α h)).

    h is a column-1 activation; α is a learned scalar that starts at `alpha` (it adjusts the
    scale of the lateral input); V (`project`) maps h to fewer dimensions (a 1×1 convolution
    with fewer output channels for feature maps, a narrower linear layer for vectors); σ is
    a ReLU; U (`expand`) maps the result to the size of the column-2 layer it feeds.
    Introduced in notebook 02.
    """

    def __init__(self, project: nn.Module, expand: nn.Module, alpha: float = 0.1):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))
        self.project = project
        self.expand = expand

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.expand(torch.relu(self.project(self.alpha * h)))


def _reduced(width: int, reduction: int) -> int:
    return max(1, width // reduction)


class ProgressiveNet(nn.Module):
    """A two-column progressive network (Rusu et al., 2016), built from `SmallCNN`s.

    Column 1 is a frozen copy of `column1`, the network trained on the old task (its head
    included). Column 2 is a new `SmallCNN` of the same shape with `n_classes` outputs for
    the new task. Each layer i ≥ 2 of column 2, and its output layer, also receives column
    1's activation from layer i − 1 through a trainable non-linear `LateralAdapter`, added
    before the nonlinearity (the paper's Eq. 2):

        h2_i = f(W_i h2_{i−1} + U_i σ(V_i α_i h1_{i−1})).

    V_i divides the width of h1_{i−1} by `reduction` (1×1 convolutions for the feature maps,
    a linear layer for the hidden layer's output); U_i is a 1×1 convolution into the
    convolutional layers and a linear map into the hidden and output layers. `alpha` is the
    starting value of every α_i.

    `model(x, new_task)` (also `model(x)`) is column 2's output; `model(x, old_task)` is
    column 1's, which no training of column 2 can change. Introduced in notebook 02.
    """

    def __init__(
        self,
        column1: SmallCNN,
        n_classes: int,
        tasks: tuple[str, str] = ("task 1", "task 2"),
        reduction: int = 4,
        alpha: float = 0.1,
    ):
        super().__init__()
        if not isinstance(column1, SmallCNN):
            raise TypeError(f"column1 must be a SmallCNN, got {type(column1).__name__}")
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
            raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
        if len(tasks) != 2 or len(set(tasks)) != 2 or not all(isinstance(t, str) for t in tasks):
            raise ValueError(f"tasks must be two different names (old, new), got {tasks!r}")
        if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f"reduction must be a positive int, got {reduction!r}")
        self.old_task, self.new_task = tasks
        self.column1 = copy.deepcopy(column1).requires_grad_(False).eval()
        c1, c2, c3 = (layer[0].out_channels for layer in column1.layers[:3])
        hidden = column1.feature_dim
        self.column2 = SmallCNN(
            n_classes,
            channels=(c1, c2, c3),
            hidden=hidden,
            in_channels=column1.layers[0][0].in_channels,
        )
        r1, r2, r3, r4 = (_reduced(w, reduction) for w in (c1, c2, c3, hidden))
        self.laterals = nn.ModuleList(
            [  # column 1's layer 1 → column 2's layer 2, 2 → 3, 3 → 4, 4 → the output layer
                LateralAdapter(nn.Conv2d(c1, r1, 1), nn.Conv2d(r1, c2, 1), alpha),
                LateralAdapter(nn.Conv2d(c2, r2, 1), nn.Conv2d(r2, c3, 1), alpha),
                LateralAdapter(
                    nn.Conv2d(c3, r3, 1),
                    nn.Sequential(nn.Flatten(), nn.Linear(r3 * 9, hidden)),
                    alpha,
                ),
                LateralAdapter(nn.Linear(hidden, r4), nn.Linear(r4, n_classes), alpha),
            ]
        )

    @property
    def tasks(self) -> list[str]:
        """[old task, new task]."""
        return [self.old_task, self.new_task]

    def train(self, mode: bool = True) -> ProgressiveNet:
        super().train(mode)
        self.column1.eval()  # the frozen column always runs in evaluation mode
        return self

    def forward(self, x: torch.Tensor, task: str | None = None) -> torch.Tensor:
        task = self.new_task if task is None else task
        if task not in self.tasks:
            raise KeyError(f"unknown task {task!r}; this model has columns for {self.tasks}")
        if x.ndim != 4 or x.shape[-2:] != (28, 28):
            raise ValueError(f"expected images of shape (n, c, 28, 28), got {tuple(x.shape)}")
        if task == self.old_task:
            return self.column1(x)
        h1, h2 = x, x
        columns = zip(self.column1.layers, self.column2.layers, strict=True)
        for i, (layer1, layer2) in enumerate(columns):
            if i == 0:  # the first layer of each column sees only the image
                h1, h2 = layer1(h1), layer2(h2)
                continue
            before, after = _split_at_relu(layer2)
            h2 = after(before(h2) + self.laterals[i - 1](h1))  # own input + lateral, then ReLU
            h1 = layer1(h1)
        return self.column2.head(h2) + self.laterals[-1](h1)
