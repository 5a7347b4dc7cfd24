"""Activations against their formulas, at extreme inputs, and backward against numerics."""

import math

import numpy as np
import pytest

from course import activations as act

Z = np.linspace(-6, 6, 25).reshape(5, 5)


def numerical_derivative(g, z, eps=1e-6):
    """Centred difference (g(z + eps) - g(z - eps)) / (2 eps), elementwise."""
    return (g(z + eps) - g(z - eps)) / (2 * eps)


@pytest.mark.parametrize(
    "g, formula",
    [
        (act.sigmoid, lambda x: 1 / (1 + math.exp(-x))),
        (act.relu, lambda x: max(0.0, x)),
        (act.leaky_relu, lambda x: x if x > 0 else 0.01 * x),
        (act.tanh, math.tanh),
        (act.linear, lambda x: x),
    ],
)
def test_activation_matches_its_formula(g, formula):
    out = g(Z)
    assert out.shape == Z.shape
    expected = np.vectorize(formula)(Z)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


def test_leaky_relu_slope_and_bad_alpha():
    np.testing.assert_allclose(act.leaky_relu(np.array([-2.0, 3.0]), alpha=0.2), [-0.4, 3.0])
    with pytest.raises(ValueError, match="alpha"):
        act.leaky_relu(1.0, alpha=1.5)


@pytest.mark.parametrize("big", [1000.0, -1000.0])
def test_stable_at_plus_minus_1000(big):
    z = np.array([big, -big, 0.0, big / 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        outs = [act.sigmoid(z), act.tanh(z), act.relu(z), act.leaky_relu(z)]
    for out in outs:
        assert np.all(np.isfinite(out))
    np.testing.assert_allclose(act.sigmoid(np.array([1000.0, -1000.0])), [1.0, 0.0])
    np.testing.assert_allclose(act.sigmoid_backward(np.ones(2), np.array([1000.0, -1000.0])), 0)


@pytest.mark.parametrize(
    "backward, forward",
    [
        (act.sigmoid_backward, act.sigmoid),
        (act.relu_backward, act.relu),
        (act.tanh_backward, act.tanh),
        (act.leaky_relu_backward, act.leaky_relu),
    ],
)
def test_backward_helpers_match_centred_differences(backward, forward):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 6))
    z[np.abs(z) < 1e-3] = 0.5  # keep away from the kink of relu and leaky relu
    dA = rng.standard_normal(z.shape)
    dZ = backward(dA, z)
    assert dZ.shape == z.shape
    np.testing.assert_allclose(dZ, dA * numerical_derivative(forward, z), rtol=1e-6, atol=1e-9)


def test_leaky_relu_backward_uses_alpha():
    z = np.array([-1.0, 2.0])
    np.testing.assert_allclose(act.leaky_relu_backward(np.ones(2), z, alpha=0.3), [0.3, 1.0])


def test_backward_rejects_mismatched_shapes_and_non_numbers():
    with pytest.raises(ValueError, match=r"dA has shape \(3,\) but Z has shape \(2,\)"):
        act.relu_backward(np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="z must be a number or an array"):
        act.sigmoid("not a number")
