"""Week 4's reference L_model_backward agrees with centred numerical gradients of its cost.

The reference functions are read from the solution cells of the instructor's notebook and run
in a namespace set up by the notebook's own import cell (numpy, course.activations, ...), as
the notebook runs them.
"""

import numpy as np
import pytest
from reference import load_solutions

NOTEBOOK = "source/week4/deep_network.ipynb"
EXERCISES = (
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
)


def load_reference(repo, **rebind):
    """The notebook's solutions, exec'd after its import cell; ``rebind`` then overrides names."""
    namespace = load_solutions(repo / NOTEBOOK, EXERCISES)
    namespace.update(rebind)
    return namespace


@pytest.fixture(scope="module")
def reference(repo):
    return load_reference(repo)


def random_network(rng, dims, m):
    parameters = {}
    for layer in range(1, len(dims)):
        parameters[f"W{layer}"] = 0.9 * rng.standard_normal((dims[layer], dims[layer - 1]))
        parameters[f"b{layer}"] = 0.5 * rng.standard_normal((dims[layer], 1))
    X = rng.standard_normal((dims[0], m))
    Y = rng.integers(0, 2, (1, m)).astype(float)
    return parameters, X, Y


def numerical_gradients(reference, parameters, X, Y, eps=1e-6):
    """Centred differences (J(p + eps) - J(p - eps)) / (2 eps), one number at a time.

    Also dA0: the gradient with respect to the inputs, of each example's own loss (m times
    the gradient of the mean cost, since L_model_backward's dA carry no 1/m).
    """

    def cost(params, inputs):
        AL, _ = reference["L_model_forward"](inputs, params)
        return reference["compute_cost"](AL, Y)

    grads = {}
    for key, value in parameters.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(grad.shape):
            nudged = []
            for step in (eps, -eps):
                params = {k: v.copy() for k, v in parameters.items()}
                params[key][index] += step
                nudged.append(cost(params, X))
            grad[index] = (nudged[0] - nudged[1]) / (2 * eps)
        grads["d" + key] = grad
    grad = np.zeros_like(X)
    for index in np.ndindex(X.shape):
        nudged = []
        for step in (eps, -eps):
            inputs = X.copy()
            inputs[index] += step
            nudged.append(cost(parameters, inputs))
        grad[index] = (nudged[0] - nudged[1]) / (2 * eps)
    grads["dA0"] = X.shape[1] * grad
    return grads


ARCHITECTURES = [
    ([3, 1], 1),  # 1 layer: logistic regression
    ([3, 1], 7),
    ([2, 4, 1], 1),  # 2 layers
    ([2, 4, 1], 6),
    ([3, 5, 4, 2, 1], 1),  # 4 layers
    ([3, 5, 4, 2, 1], 9),
    ([2, 1, 1, 1, 1], 4),  # 4 layers of one unit
]


@pytest.mark.parametrize("dims, m", ARCHITECTURES)
def test_L_model_backward_matches_numerical_gradients(reference, dims, m):
    rng = np.random.default_rng(1000 * len(dims) + 10 * dims[1] + m)
    parameters, X, Y = random_network(rng, dims, m)
    AL, caches = reference["L_model_forward"](X, parameters)
    grads = reference["L_model_backward"](AL, Y, caches)
    L = len(dims) - 1
    expected_keys = {f"dA{layer}" for layer in range(L)}
    expected_keys |= {f"d{p}{layer}" for p in "Wb" for layer in range(1, L + 1)}
    assert set(grads) == expected_keys
    numeric = numerical_gradients(reference, parameters, X, Y)
    for key, value in numeric.items():
        assert grads[key].shape == value.shape, key
        np.testing.assert_allclose(grads[key], value, rtol=1e-5, atol=1e-8, err_msg=key)


def test_numerical_gradients_catch_a_relu_output_layer(repo):
    """The check is sharp enough to see the slip of backpropagating the sigmoid layer as ReLU."""
    slipped = load_reference(repo)
    slipped["sigmoid_backward"] = slipped["relu_backward"]
    reference = load_reference(repo)
    parameters, X, Y = random_network(np.random.default_rng(7), [3, 4, 2, 1], 5)
    AL, caches = reference["L_model_forward"](X, parameters)
    wrong = slipped["L_model_backward"](AL, Y, caches)
    numeric = numerical_gradients(reference, parameters, X, Y)
    assert not np.allclose(wrong["dW3"], numeric["dW3"], rtol=1e-5, atol=1e-8)
    assert not np.allclose(wrong["dW1"], numeric["dW1"], rtol=1e-5, atol=1e-8)
