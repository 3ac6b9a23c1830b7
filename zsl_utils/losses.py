"""Losses and penalties the course writes out in its notebooks first.

`l2sp_penalty` is introduced in notebook 01 (conservative training).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["l2sp_penalty"]


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
