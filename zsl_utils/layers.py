"""Domain-adversarial training: the gradient reversal layer, Ganin's λ schedule, a domain
classifier and the DANN training loop.

Introduced in notebook 03 (labelled source, unlabelled target). Ganin et al., "Domain-
Adversarial Training of Neural Networks", JMLR 17 (2016): a feature extractor feeds a label
predictor and, through a gradient reversal layer, a domain classifier; the extractor learns
features that predict the labels and hide the domain.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from .stopping import EarlyStopping

__all__ = ["GradReverse", "grad_reverse", "dann_lambda", "domain_classifier", "fit_dann"]


def _check_lambda(lambd) -> float:
    if isinstance(lambd, bool) or not isinstance(lambd, int | float):
        raise TypeError(f"lambd must be a real number, got {type(lambd).__name__}")
    if not math.isfinite(lambd) or lambd < 0:
        raise ValueError(f"lambd must be finite and non-negative, got {lambd}")
    return float(lambd)


class GradReverse(torch.autograd.Function):
    """Identity on the way forward; multiplies the gradient by −λ on the way back."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lambd: float) -> torch.Tensor:
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return -ctx.lambd * grad_output, None


def grad_reverse(x: torch.Tensor, lambd: float = 1.0) -> torch.Tensor:
    """The gradient reversal layer: returns `x` unchanged, and in the backward pass hands
    −`lambd` × the incoming gradient to whatever produced `x` (λ ≥ 0)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor to carry a gradient, got {x.dtype}")
    return GradReverse.apply(x, _check_lambda(lambd))


def dann_lambda(p: float, gamma: float = 10.0) -> float:
    """Ganin's schedule λ_p = 2 / (1 + exp(−γ·p)) − 1 for training progress p in [0, 1]:
    0 at the start, when the features are still noise, rising smoothly towards 1."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"training progress p must be in [0, 1], got {p}")
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def domain_classifier(in_features: int, hidden: int = 64) -> nn.Sequential:
    """A small MLP that tells source features (logit < 0) from target features (logit > 0)."""
    if in_features < 1 or hidden < 1:
        raise ValueError(f"in_features and hidden must be positive, got {in_features}, {hidden}")
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def fit_dann(
    extractor: nn.Module,
    predictor: nn.Module,
    discriminator: nn.Module,
    x_src: torch.Tensor,
    y_src: torch.Tensor,
    x_tgt: torch.Tensor,
    *,
    steps: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    lambda_max: float = 1.0,
    label_weight: float = 1.0,
    anneal: bool = False,
    log_every: int = 25,
    monitor: Callable[[], dict[str, float]] | None = None,
    validate: Callable[[], float] | None = None,
    patience: int | None = None,
    device: torch.device | str = "cpu",
    seed: int = 0,
    progress: bool = True,
    desc: str = "DANN",
) -> dict[str, list[float]]:
    """Train a feature extractor, a label predictor and a domain classifier the DANN way.

    Ganin's three parts, trained in place: `extractor` maps images to features (flattened),
    `predictor` maps features to class logits, `discriminator` maps features to one domain
    logit (source 0, target 1). For a `models.SmallCNN`, `transfer.split_at(model, k)` gives
    the extractor (layers 1..k) and the predictor (the rest), so `model` is the classifier.

    Each step draws `batch_size` labelled source and `batch_size` unlabelled target images;
    the loss is `label_weight` × cross-entropy of the source labels + the domain classifier's
    binary cross-entropy on features passed through `grad_reverse(·, λ)`, with
    λ = `lambda_max` × `dann_lambda(step / steps)`. One Adam optimiser updates everything:
    the domain classifier learns to tell the domains apart, the reversed gradient teaches the
    features to hide them. `lambda_max=0` is source-only training (the domain classifier
    then only watches; as the reversed gradient is zero, the target images' features are then
    computed without gradient, which gives the same update and saves their backward pass);
    `label_weight=0` drops the label predictor. `anneal=True` lowers the
    learning rate as Ganin et al. do, to `lr` / (1 + 10p)^0.75 at progress p.
    Batches are drawn with replacement from a generator seeded with `seed`.

    Every `log_every` steps the history records the step, λ, the mean label and domain
    losses and the domain classifier's accuracy on the training batches since the last
    record, and whatever `monitor()` returns (called in eval mode, without gradients).

    Early stopping: with `validate` (a score to maximise, e.g. the accuracy on held-out
    labelled images, called in eval mode without gradients at every record) and `patience`,
    training stops once the score has not improved for `patience` records in a row, and the
    three parts are set back to their state at the best record. `steps` is then a cap: λ's
    schedule and the annealing still run over `steps`. The history adds "validation", and
    "best_step" (one value: the step whose weights were kept).
    """
    if len(x_src) != len(y_src):
        raise ValueError(f"x_src has {len(x_src)} samples but y_src has {len(y_src)}")
    if len(x_src) == 0 or len(x_tgt) == 0:
        raise ValueError("source and target both need training images")
    if x_src.shape[1:] != x_tgt.shape[1:]:
        raise ValueError(
            f"source images {tuple(x_src.shape[1:])} and target images "
            f"{tuple(x_tgt.shape[1:])} differ in shape"
        )
    if steps < 1 or log_every < 1 or batch_size < 1:
        raise ValueError(
            f"steps, log_every and batch_size must be at least 1, got {steps}, {log_every}, "
            f"{batch_size}"
        )
    lambda_max = _check_lambda(lambda_max)
    if label_weight < 0:
        raise ValueError(f"label_weight must be non-negative, got {label_weight}")
    if (validate is None) != (patience is None):
        raise ValueError("early stopping needs both validate and patience (or neither)")
    stopper = EarlyStopping(patience) if patience is not None else None
    parts = nn.ModuleList([extractor, predictor, discriminator]).to(device).train()
    optimiser = torch.optim.Adam([p for p in parts.parameters() if p.requires_grad], lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda i: (1 + 10 * i / steps) ** -0.75 if anneal else 1.0
    )
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {
        k: [] for k in ("step", "lambda", "label_loss", "domain_loss", "domain_acc")
    }
    sums = {"label_loss": 0.0, "domain_loss": 0.0, "domain_acc": 0.0}
    domain = torch.cat([torch.zeros(batch_size), torch.ones(batch_size)]).to(device)
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False)
    for step in bar:
        lambd = lambda_max * dann_lambda((step - 1) / steps)
        i_src = torch.randint(len(x_src), (batch_size,), generator=generator)
        i_tgt = torch.randint(len(x_tgt), (batch_size,), generator=generator)
        xs, ys = x_src[i_src].to(device), y_src[i_src].to(device)
        if lambda_max == 0.0:  # the domain classifier only watches: no gradient to the features
            source_features = extractor(xs).flatten(1)
            with torch.no_grad():
                target_features = extractor(x_tgt[i_tgt].to(device)).flatten(1)
            features = torch.cat([source_features, target_features])
            domain_input = features.detach()
        else:
            features = extractor(torch.cat([xs, x_tgt[i_tgt].to(device)])).flatten(1)
            domain_input = grad_reverse(features, lambd)
        label_loss = nn.functional.cross_entropy(predictor(features[:batch_size]), ys)
        domain_logit = discriminator(domain_input).squeeze(1)
        domain_loss = nn.functional.binary_cross_entropy_with_logits(domain_logit, domain)
        optimiser.zero_grad()
        (label_weight * label_loss + domain_loss).backward()
        optimiser.step()
        scheduler.step()
        sums["label_loss"] += label_loss.item()
        sums["domain_loss"] += domain_loss.item()
        sums["domain_acc"] += ((domain_logit > 0).float() == domain).float().mean().item()
        if step % log_every == 0 or step == steps:
            n = (step - 1) % log_every + 1
            history["step"].append(step)
            history["lambda"].append(lambd)
            for k in sums:
                history[k].append(sums[k] / n)
                sums[k] = 0.0
            if monitor is not None or validate is not None:
                parts.eval()
                with torch.no_grad():
                    if monitor is not None:
                        for k, v in monitor().items():
                            history.setdefault(k, []).append(float(v))
                    if validate is not None:
                        history.setdefault("validation", []).append(float(validate()))
                parts.train()
            bar.set_postfix(domain_acc=f"{history['domain_acc'][-1]:.2f}")
            if stopper is not None:
                stopper.update(history["validation"][-1], state=parts.state_dict())
                if stopper.all_stopped:
                    break
    if stopper is not None:
        parts.load_state_dict(stopper.best_state)
        history["best_step"] = [history["step"][int(stopper.best_evaluation[0])]]
    parts.eval()
    return history
