"""The supervised head: a new fully connected layer trained on frozen features.

The head is ``Linear(d, width) -> ReLU -> Linear(width, n_classes)`` trained
with cross-entropy by Adam on mini-batches, in float64 on the CPU (it is small;
this keeps it exact and deterministic wherever the backbone ran). Its
parameters live as NumPy arrays, so a fitted featurizer pickles without torch
objects and applies the head without torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["head_forward", "init_head", "train_head"]

# The study halves the learning rate at these optimiser steps.
LR_MILESTONES = (2000, 4000)


def init_head(
    n_in: int, width: int, n_classes: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """PyTorch's default ``nn.Linear`` initialisation, drawn from ``rng``.

    Weights and biases are uniform on :math:`\\pm 1/\\sqrt{\\text{fan-in}}`.
    """
    bound_in = 1.0 / np.sqrt(n_in)
    bound_hidden = 1.0 / np.sqrt(width)
    return {
        "weight": rng.uniform(-bound_in, bound_in, size=(width, n_in)),
        "bias": rng.uniform(-bound_in, bound_in, size=width),
        "classifier_weight": rng.uniform(
            -bound_hidden, bound_hidden, size=(n_classes, width)
        ),
        "classifier_bias": rng.uniform(-bound_hidden, bound_hidden, size=n_classes),
    }


def head_forward(features: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """The FC layer's outputs (before its ReLU): ``features @ W.T + b``."""
    return features @ params["weight"].T + params["bias"]


def train_head(
    features: np.ndarray,
    labels: np.ndarray,
    params: dict[str, np.ndarray],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Train a copy of the head; return its parameters and the loss curve.

    Parameters
    ----------
    features : ndarray of shape (n_samples, d)
        Frozen backbone activations (original and augmented views).
    labels : ndarray of int, shape (n_samples,)
        Class indices.
    params : dict of ndarray
        The initial parameters (:func:`init_head`).
    epochs : int
        Passes over the samples, reshuffled by ``rng`` each time.
    lr : float
        Adam's learning rate, halved at optimiser steps 2000 and 4000.
    batch_size : int
        Mini-batch size (the last batch of an epoch may be smaller).
    rng : numpy.random.Generator
        Shuffles the samples.

    Returns
    -------
    params : dict of ndarray
        The trained parameters.
    loss_curve : ndarray of shape (epochs,)
        Mean cross-entropy over each epoch's mini-batches (weighted by size).
    """
    import torch
    from torch.nn import functional as F

    x = torch.from_numpy(np.asarray(features, dtype=np.float64))
    t = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    tensors = {
        name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
        for name, value in params.items()
    }
    optimizer = torch.optim.Adam(tensors.values(), lr=lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(LR_MILESTONES), gamma=0.5
    )
    n = len(t)
    curve = np.empty(epochs)
    for epoch in range(epochs):
        order = torch.from_numpy(rng.permutation(n))
        total = 0.0
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            hidden = F.relu(F.linear(x[batch], tensors["weight"], tensors["bias"]))
            logits = F.linear(
                hidden, tensors["classifier_weight"], tensors["classifier_bias"]
            )
            loss = F.cross_entropy(logits, t[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
        curve[epoch] = total / n
    trained = {name: value.detach().numpy().copy() for name, value in tensors.items()}
    return trained, curve
