"""Week 2's reference against what its prose derives: the chain rule walked on the computation
graph gives ``propagate``'s gradients, and ``softmax`` is the sigmoid of two classes, stable
for scores of +-1000.

The reference functions are read from the solution cells of the instructor's notebook and run
in a namespace set up by the notebook's own import cell, as the notebook runs them.
"""

import numpy as np
import pytest
from reference import load_solutions

from course.activations import sigmoid

NOTEBOOK = "source/week2/logistic_regression.ipynb"


@pytest.fixture(scope="module")
def reference(repo):
    """The notebook's propagate and softmax."""
    namespace = load_solutions(repo / NOTEBOOK, ("propagate", "softmax"))
    return namespace["propagate"], namespace["softmax"]


@pytest.mark.parametrize("y", [0.0, 1.0])
def test_the_chain_rule_on_the_graph_gives_propagate(reference, y):
    propagate, _ = reference
    rng = np.random.default_rng(int(y))
    w, x, b = rng.standard_normal((3, 1)), rng.standard_normal((3, 1)), 0.3
    z = (w.T @ x).item() + b
    a = sigmoid(z).item()
    loss = -(y * np.log(a) + (1 - y) * np.log(1 - a))
    dL_dz = (-y / a + (1 - y) / (1 - a)) * a * (1 - a)  # dL/da times the local da/dz
    grads, cost = propagate(w, b, x, np.array([[y]]))
    assert dL_dz == pytest.approx(a - y)
    np.testing.assert_allclose(grads["dw"], dL_dz * x, rtol=1e-12)
    assert grads["db"] == pytest.approx(dL_dz, rel=1e-12)
    assert cost == pytest.approx(loss, rel=1e-12)


def test_softmax_of_two_classes_is_the_sigmoid(reference):
    _, softmax = reference
    z = np.linspace(-30, 30, 13)
    probabilities = softmax(np.vstack([z, np.zeros_like(z)]))
    np.testing.assert_allclose(probabilities[0], sigmoid(z), rtol=1e-12)


def test_softmax_columns_are_probabilities_even_for_huge_scores(reference):
    _, softmax = reference
    rng = np.random.default_rng(7)
    Z = 1000.0 * rng.standard_normal((10, 25))
    Z[:, 0] = [1000.0, -1000.0] * 5
    Z[:, 1] -= 3000.0  # a column far below the others
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        A = softmax(Z)
    assert A.shape == Z.shape and np.all(np.isfinite(A)) and np.all(A >= 0)
    np.testing.assert_allclose(A.sum(axis=0), 1.0)
    small = rng.standard_normal((4, 6))
    e = np.exp(small)
    np.testing.assert_allclose(softmax(small), e / e.sum(axis=0), rtol=1e-12)
