"""The torch networks. Each takes raw inputs and returns logits, with its input normalisation held
in buffers inside the module.

Why normalisation inside the module: the statistics come from the training split, and a later ONNX
export (or a reload from a checkpoint) must apply exactly the same transform. As buffers they
travel in the state_dict and in the exported graph, so nothing outside the module has to remember
them. Softmax is left out of the graph so training can use the numerically stable
cross_entropy-on-logits; predict_proba applies it.

Sizes are small on purpose: these are the "first network after the baselines" of a project, meant
to train in seconds to minutes on a CPU worker.
"""

from __future__ import annotations

import torch
from torch import nn


class Standardize(nn.Module):
    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def set_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        # Constant features (std 0, e.g. the always-black corner pixels of digits) are centred but
        # not scaled, instead of dividing by zero.
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    def __init__(self, input_dim: int, hidden_sizes: tuple[int, ...], n_classes: int, dropout: float) -> None:
        super().__init__()
        self.normalise = Standardize((input_dim,))
        layers: list[nn.Module] = []
        width = input_dim
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.normalise(x))


class SmallCNN(nn.Module):
    """Two conv blocks and a small head. The adaptive pool fixes the head's input size, so the
    same architecture fits 8×8 digits and larger images without a huge first linear layer."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        channels: tuple[int, int],
        hidden: int,
        n_classes: int,
        dropout: float,
    ) -> None:
        super().__init__()
        in_channels, height, width = image_shape
        self.image_shape = image_shape
        self.normalise = Standardize((in_channels, 1, 1))
        pooled = (min(4, max(1, height // 2)), min(4, max(1, width // 2)))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2) if min(height, width) >= 2 else nn.Identity(),
            nn.Conv2d(channels[0], channels[1], kernel_size=3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(pooled),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels[1] * pooled[0] * pooled[1], hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Rows arrive flattened (the same matrix the tabular models take); the graph reshapes them.
        x = x.reshape(-1, *self.image_shape)
        return self.head(self.features(self.normalise(x)))


class EmbeddingBagClassifier(nn.Module):
    """Mean of word embeddings, then a linear layer: fastText-style, strong for its size."""

    def __init__(self, vocab_size: int, embedding_dim: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embedding_dim, mode="mean")
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(embedding_dim, n_classes)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.output(self.dropout(self.embedding(ids, offsets)))
