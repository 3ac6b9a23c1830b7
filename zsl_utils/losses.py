"""Losses and penalties the course writes out in its notebooks first.

`l2sp_penalty` is introduced in notebook 01 (conservative training); `hinge_rank_loss` in
notebook 05 (attribute and word-vector embeddings); `clip_loss` in notebook 07
(contrastive image–text training).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["l2sp_penalty", "hinge_rank_loss", "clip_loss"]


def l2sp_penalty(
    model: nn.Module, reference_state: Mapping[str, torch.Tensor], alpha: float, beta: float
) -> torch.Tensor:
    """L2-SP (Li et al., ICML 2018): α/2·‖w_S − w_S⁰‖² + β/2·‖w_new‖².

    w_S are the trainable parameters that also appear, with the same shape, in
    `reference_state` (the source model's state dict, w_S⁰); w_new are the other trainable
    parameters, such as a new output layer. Frozen parameters are left out.
    """
    if alpha < 0 or beta < 0:
        raise ValueError(f"alpha and beta must be non-negative, got {alpha} and {beta}")
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if not any(n in reference_state for n, _ in params):
        raise ValueError("no trainable parameter of the model appears in reference_state")
    to_source = params[0][1].new_zeros(())
    new = params[0][1].new_zeros(())
    for name, p in params:
        ref = reference_state.get(name)
        if ref is not None and ref.shape == p.shape:
            to_source = to_source + (p - ref.to(p.device, p.dtype)).pow(2).sum()
        else:
            new = new + p.pow(2).sum()
    return alpha / 2 * to_source + beta / 2 * new


def hinge_rank_loss(
    scores: torch.Tensor, targets: torch.Tensor, margin: float = 1.0, form: str = "max"
) -> torch.Tensor:
    """The margin ranking loss of the embedding methods, averaged over the batch.

    `scores[i, c]` is the compatibility f(x_i)·g(y_c) of sample i with class c (columns =
    candidate classes) and `targets[i]` the column of sample i's true class. With
    s = scores[i] and t = targets[i]:

    - form="max" (the lecture's loss; SJE, Akata et al. 2015):
      max(0, margin − s_t + max_{c≠t} s_c), only the most offending class counts;
    - form="sum" (DeViSE, Frome et al. 2013): Σ_{c≠t} max(0, margin − s_t + s_c), every
      class inside the margin counts.

    Introduced in notebook 05.
    """
    if not isinstance(scores, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError(
            f"scores and targets must be torch tensors, got {type(scores).__name__} and "
            f"{type(targets).__name__}"
        )
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(
            f"scores must be (samples, classes) with at least 2 classes, got {tuple(scores.shape)}"
        )
    if targets.shape != (scores.shape[0],):
        raise ValueError(
            f"targets must hold one class per row of scores, shape ({scores.shape[0]},), "
            f"got {tuple(targets.shape)}"
        )
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise ValueError(f"targets must be integer class columns, got dtype {targets.dtype}")
    if targets.numel() and (targets.min() < 0 or targets.max() >= scores.shape[1]):
        raise ValueError(
            f"targets must be column indices in [0, {scores.shape[1] - 1}], got values from "
            f"{targets.min().item()} to {targets.max().item()}"
        )
    if not math.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a finite number >= 0, got {margin}")
    if form not in ("max", "sum"):
        raise ValueError(f"unknown form {form!r}; use 'max' (the lecture's) or 'sum' (DeViSE)")
    if scores.shape[0] == 0:
        raise ValueError("scores is empty: the loss of an empty batch is undefined")
    targets = targets.to(scores.device).long()
    true = scores.gather(1, targets[:, None])  # (samples, 1): s_t
    violation = (margin - true + scores).clamp(min=0)  # (samples, classes)
    others = violation.scatter(1, targets[:, None], 0.0)  # the true class does not compete
    per_sample = others.amax(dim=1) if form == "max" else others.sum(dim=1)
    return per_sample.mean()


def clip_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, logit_scale
) -> torch.Tensor:
    """CLIP's symmetric contrastive loss (Radford et al. 2021; open_clip's `ClipLoss`).

    Row i of `image_features` and row i of `text_features` are a matching pair; every other
    row of the batch is a negative. Both are L2-normalised here, logits = logit_scale ·
    image·textᵀ, and the loss is the mean of the cross-entropy over texts (per image) and over
    images (per text), the target of row i being column i. `logit_scale` is the multiplier
    itself (already exponentiated, e.g. exp(log(1/0.07)) ≈ 14.3), a float or 0-d tensor > 0.
    """
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError(
            "image_features and text_features must be (batch, dim) of the same shape, got "
            f"{tuple(image_features.shape)} and {tuple(text_features.shape)}"
        )
    if len(image_features) < 1:
        raise ValueError("the batch is empty")
    scale = torch.as_tensor(logit_scale, dtype=image_features.dtype, device=image_features.device)
    if scale.ndim != 0 or not bool(torch.isfinite(scale)) or scale.item() <= 0:
        raise ValueError(f"logit_scale must be one finite number > 0, got {logit_scale}")
    image_features = nn.functional.normalize(image_features, dim=-1)
    text_features = nn.functional.normalize(text_features, dim=-1)
    logits_per_image = scale * image_features @ text_features.T
    targets = torch.arange(len(image_features), device=image_features.device)
    return (
        nn.functional.cross_entropy(logits_per_image, targets)
        + nn.functional.cross_entropy(logits_per_image.T, targets)
    ) / 2
