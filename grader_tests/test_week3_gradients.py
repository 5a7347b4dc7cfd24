"""Week 3's reference backpropagation agrees with centred numerical gradients of its cost.

The reference functions are read from the solution cells of the instructor's notebook and run
in a namespace set up by the notebook's own import cell, as the notebook runs them.
"""

import numpy as np
import pytest
from reference import load_solutions

NOTEBOOK = "source/week3/shallow_network.ipynb"
EXERCISES = ("forward_propagation", "compute_cost", "backward_propagation")
PARAMETER_KEYS = ("W1", "b1", "W2", "b2")


@pytest.fixture(scope="module")
def reference(repo):
    """The notebook's forward_propagation, compute_cost and backward_propagation."""
    namespace = load_solutions(repo / NOTEBOOK, EXERCISES)
    return {name: namespace[name] for name in EXERCISES}


def random_network(rng, n_x, n_h, m):
    parameters = {
        "W1": 0.8 * rng.standard_normal((n_h, n_x)),
        "b1": 0.5 * rng.standard_normal((n_h, 1)),
        "W2": 0.8 * rng.standard_normal((1, n_h)),
        "b2": 0.5 * rng.standard_normal((1, 1)),
    }
    X = rng.standard_normal((n_x, m))
    Y = rng.integers(0, 2, (1, m))
    return parameters, X, Y


def numerical_gradients(reference, parameters, X, Y, eps=1e-6):
    """Centred differences (J(p + eps) - J(p - eps)) / (2 eps), one parameter at a time."""

    def cost(params):
        A2, _ = reference["forward_propagation"](X, params)
        return reference["compute_cost"](A2, Y)

    grads = {}
    for key in PARAMETER_KEYS:
        grad = np.zeros_like(parameters[key])
        for index in np.ndindex(grad.shape):
            nudged = []
            for step in (eps, -eps):
                params = {k: v.copy() for k, v in parameters.items()}
                params[key][index] += step
                nudged.append(cost(params))
            grad[index] = (nudged[0] - nudged[1]) / (2 * eps)
        grads["d" + key] = grad
    return grads


@pytest.mark.parametrize(
    "n_x, n_h, m",
    [(2, 4, 400), (2, 4, 1), (1, 1, 1), (3, 1, 5), (1, 6, 2), (5, 3, 10), (4, 20, 1)],
)
def test_backward_propagation_matches_numerical_gradients(reference, n_x, n_h, m):
    rng = np.random.default_rng(1000 * n_x + 10 * n_h + m)
    parameters, X, Y = random_network(rng, n_x, n_h, m)
    _, cache = reference["forward_propagation"](X, parameters)
    grads = reference["backward_propagation"](parameters, cache, X, Y)
    numeric = numerical_gradients(reference, parameters, X, Y)
    assert sorted(grads) == ["dW1", "dW2", "db1", "db2"]
    for key in PARAMETER_KEYS:
        assert grads["d" + key].shape == parameters[key].shape, key
        np.testing.assert_allclose(
            grads["d" + key], numeric["d" + key], rtol=1e-5, atol=1e-8, err_msg=f"d{key}"
        )


def test_numerical_gradients_catch_a_wrong_tanh_derivative(reference):
    """The check is sharp enough to see the classic slip 1 - Z1**2 for 1 - A1**2."""
    parameters, X, Y = random_network(np.random.default_rng(7), 2, 4, 6)
    _, cache = reference["forward_propagation"](X, parameters)
    slipped = dict(cache, A1=cache["Z1"])  # the backward pass then computes 1 - Z1**2
    wrong = reference["backward_propagation"](parameters, slipped, X, Y)
    numeric = numerical_gradients(reference, parameters, X, Y)
    assert not np.allclose(wrong["dW1"], numeric["dW1"], rtol=1e-5, atol=1e-8)
