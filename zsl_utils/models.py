"""A small CNN whose layers can be copied and frozen by index (layer transfer).

Introduced in notebook 01 (fine-tuning, layer transfer); reused as the image encoder of
later notebooks. Layers are numbered from the input: 1–3 are convolutional blocks, 4 is the
fully connected hidden layer, and the output layer (`head`) is always task-specific.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["SmallCNN", "copy_layers", "freeze_layers", "count_trainable"]


def _conv_block(in_channels: int, out_channels: int, norm: bool) -> nn.Sequential:
    convolution = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
    if not norm:
        return nn.Sequential(convolution, nn.ReLU(), nn.MaxPool2d(2))
    return nn.Sequential(convolution, nn.BatchNorm2d(out_channels), nn.ReLU(), nn.MaxPool2d(2))


class SmallCNN(nn.Module):
    """Three conv blocks (28→14→7→3 pixels), a hidden layer, and a linear head.

    `layers[i]` is layer i + 1; `features(x)` is the hidden layer's output, the representation
    the later notebooks embed or transfer. `norm=True` adds batch normalisation after each
    convolution: with many classes the plain network is slow to start learning.
    `channels_last=True` keeps the weights and the images channels-last in memory, which makes
    the convolutions on a CPU about 1.7 times faster; the function computed is the same (up to
    floating-point rounding).
    """

    def __init__(
        self,
        n_classes: int,
        channels: tuple[int, int, int] = (16, 32, 64),
        hidden: int = 128,
        in_channels: int = 1,
        norm: bool = False,
        channels_last: bool = False,
    ):
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"n_classes must be at least 1, got {n_classes}")
        c1, c2, c3 = channels
        self.layers = nn.ModuleList(
            [
                _conv_block(in_channels, c1, norm),
                _conv_block(c1, c2, norm),
                _conv_block(c2, c3, norm),
                nn.Sequential(nn.Flatten(), nn.Linear(c3 * 3 * 3, hidden), nn.ReLU()),
            ]
        )
        self.head = nn.Linear(hidden, n_classes)
        self.feature_dim = hidden
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.to(memory_format=self.memory_format)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-2:] != (28, 28):
            raise ValueError(f"expected images of shape (n, c, 28, 28), got {tuple(x.shape)}")
        x = x.contiguous(memory_format=self.memory_format)
        for layer in self.layers:
            x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _check_depth(model: SmallCNN, k: int) -> None:
    if not 0 <= k <= len(model.layers):
        raise ValueError(f"k must be between 0 and {len(model.layers)}, got {k}")


def copy_layers(source: SmallCNN, target: SmallCNN, k: int) -> SmallCNN:
    """Copy the weights of layers 1..k from `source` into `target` (in place; returns it)."""
    _check_depth(source, k)
    for i in range(k):
        try:
            target.layers[i].load_state_dict(copy.deepcopy(source.layers[i].state_dict()))
        except RuntimeError as err:
            raise ValueError(f"layer {i + 1} differs in shape between source and target") from err
    return target


def freeze_layers(model: SmallCNN, k: int) -> SmallCNN:
    """Stop gradients to layers 1..k and let the rest train (in place; returns the model)."""
    _check_depth(model, k)
    for i, layer in enumerate(model.layers):
        layer.requires_grad_(i >= k)
    return model


def count_trainable(model: nn.Module) -> int:
    """Number of parameters that receive gradients."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
