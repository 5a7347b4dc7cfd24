"""Activation functions and their backward helpers.

Every forward function takes an array ``z`` of any shape and returns an array of the
same shape. Every backward helper takes the upstream gradient ``dA`` and the
pre-activation ``Z`` (same shape) and returns ``dZ = dA * g'(Z)``, the gradient of the
loss with respect to ``Z``.

These are given to students: they are tools, not graded exercises (softmax is one: week 2's
students write it, so the package does not hold it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "sigmoid",
    "relu",
    "leaky_relu",
    "tanh",
    "linear",
    "sigmoid_backward",
    "relu_backward",
    "tanh_backward",
    "leaky_relu_backward",
]


def _as_float_array(z, name="z"):
    """Return ``z`` as a float ndarray, or raise a TypeError naming the problem."""
    try:
        arr = np.asarray(z, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a number or an array of numbers, got {type(z).__name__}"
        ) from exc
    return arr


def _check_same_shape(dA, Z):
    dA = _as_float_array(dA, "dA")
    Z = _as_float_array(Z, "Z")
    if dA.shape != Z.shape:
        raise ValueError(
            f"dA has shape {dA.shape} but Z has shape {Z.shape}; they must match "
            "(pass the Z saved in this layer's cache)"
        )
    return dA, Z


def sigmoid(z: ArrayLike) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-z))``, computed without overflow.

    Args:
        z: scalar or array of any shape.

    Returns:
        Array of the same shape as ``z`` with values in [0, 1].
    """
    z = _as_float_array(z)
    # exp of a non-positive number never overflows; pick the form that uses one.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(z: ArrayLike) -> np.ndarray:
    """Rectified linear unit ``max(0, z)``.

    Args:
        z: scalar or array of any shape.

    Returns:
        Array of the same shape as ``z``.
    """
    z = _as_float_array(z)
    return np.maximum(0.0, z)


def leaky_relu(z: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: ``z`` where ``z > 0``, else ``alpha * z``.

    Args:
        z: scalar or array of any shape.
        alpha: slope for negative inputs, a number in [0, 1).

    Returns:
        Array of the same shape as ``z``.
    """
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must be in [0, 1), got {alpha!r}")
    z = _as_float_array(z)
    return np.where(z > 0, z, alpha * z)


def tanh(z: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent.

    Args:
        z: scalar or array of any shape.

    Returns:
        Array of the same shape as ``z`` with values in [-1, 1].
    """
    return np.tanh(_as_float_array(z))


def linear(z: ArrayLike) -> np.ndarray:
    """Identity activation ``g(z) = z`` (a copy, so callers may modify it).

    Args:
        z: scalar or array of any shape.

    Returns:
        Array of the same shape as ``z``.
    """
    return _as_float_array(z).copy()


def sigmoid_backward(dA: ArrayLike, Z: ArrayLike) -> np.ndarray:
    """Backward pass of a sigmoid unit.

    Args:
        dA: upstream gradient, any shape.
        Z: pre-activation saved in the forward pass, same shape as ``dA``.

    Returns:
        dZ: ``dA * s * (1 - s)`` with ``s = sigmoid(Z)``, same shape as ``Z``.
    """
    dA, Z = _check_same_shape(dA, Z)
    s = sigmoid(Z)
    return dA * s * (1.0 - s)


def relu_backward(dA: ArrayLike, Z: ArrayLike) -> np.ndarray:
    """Backward pass of a ReLU unit.

    Args:
        dA: upstream gradient, any shape.
        Z: pre-activation saved in the forward pass, same shape as ``dA``.

    Returns:
        dZ: ``dA`` where ``Z > 0``, else 0; same shape as ``Z``.
    """
    dA, Z = _check_same_shape(dA, Z)
    return np.where(Z > 0, dA, 0.0)


def tanh_backward(dA: ArrayLike, Z: ArrayLike) -> np.ndarray:
    """Backward pass of a tanh unit.

    Args:
        dA: upstream gradient, any shape.
        Z: pre-activation saved in the forward pass, same shape as ``dA``.

    Returns:
        dZ: ``dA * (1 - tanh(Z)**2)``, same shape as ``Z``.
    """
    dA, Z = _check_same_shape(dA, Z)
    return dA * (1.0 - np.tanh(Z) ** 2)


def leaky_relu_backward(dA: ArrayLike, Z: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    """Backward pass of a leaky ReLU unit.

    Args:
        dA: upstream gradient, any shape.
        Z: pre-activation saved in the forward pass, same shape as ``dA``.
        alpha: the slope used in the forward pass, in [0, 1).

    Returns:
        dZ: ``dA`` where ``Z > 0``, else ``alpha * dA``; same shape as ``Z``.
    """
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must be in [0, 1), got {alpha!r}")
    dA, Z = _check_same_shape(dA, Z)
    return np.where(Z > 0, dA, alpha * dA)
