"""The mutation catalog: plausible wrong versions of every graded function, and their grading.

A *mutant* is the reference solution of one graded function with one mistake a student
could make (``W`` transposed, the bias missing, ``1/m`` applied twice, the inputs modified
in place, the visible answer returned as a constant, ...). Each mutant is handed in as a
copy of the release notebook whose other solution cells hold the reference, and graded by
the engine ``course grade`` uses (all mutants of an assignment in one class run). A mutant
is *caught* when it loses points on its own function's test cells; a building block's
mutant must lose no point elsewhere (a composite function is tested with the reference
blocks substituted, so one mistake is not punished twice).

The copies keep the notebook's set-up cells, the solution cells and the test cells, and
drop the demonstrations in between (this course's test cells never use their names), so
that a catalog of hundreds grades in minutes.

``make mutants`` runs this file: a table per notebook and overall, ``--show-messages`` adds
the message each mutant got; ``test_mutants.py`` fails if one escapes.
"""

import argparse
import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from course.grading import autograde
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import (
    exercises,
    fill_solutions,
    nbgrader_meta,
    read_notebook,
)

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One wrong version of a graded function.

    Attributes:
        function: the graded function.
        mistake: what is wrong, as a teacher would say it.
        old, new: the reference solution with ``old`` replaced by ``new`` (``old`` must occur).
        code: or a whole definition that replaces the solution.
    """

    function: str
    mistake: str
    old: str = ""
    new: str = ""
    code: str = ""

    @property
    def student(self):
        """A student id naming the mutant (letters, digits, dashes)."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.mistake.lower()).strip("-")[:60]
        return f"{self.function}--{slug}"


def _m(function, mistake, old="", new="", code=""):
    return Mutant(function, mistake, old, new, code)


CATALOG = {
    "week1": [
        # my_dense: one example, a loop over the units
        _m("my_dense", "row j of W instead of column j", "W[:, j]", "W[j, :]"),
        _m("my_dense", "the bias is missing", "W[:, j]) + b[j]", "W[:, j])"),
        _m("my_dense", "the bias is added twice", "+ b[j]", "+ 2 * b[j]"),
        _m("my_dense", "the activation is not applied", "a_out[j] = g(z)", "a_out[j] = z"),
        _m("my_dense", "sigmoid instead of the activation g", "= g(z)", "= sigmoid(z)"),
        _m("my_dense", "the loop stops one unit early", "range(units)", "range(units - 1)"),
        _m("my_dense", "the weights are changed in place", "z = np.dot(a_in, W[:, j]) + b[j]",
           "W[:, j] += b[j]\n        z = np.dot(a_in, W[:, j])"),
        _m("my_dense", "the visible answer returned as a constant",
           code="def my_dense(a_in, W, b, g):\n"
                "    return np.array([0.54735762, 0.57932425, 0.61063923])"),
        # only a square W shows these two: row j and column j have the same length
        _m("my_dense", "row j of W, W[j], where W is square", "np.dot(a_in, W[:, j])",
           "np.dot(a_in, W[j] if W.shape[0] == W.shape[1] else W[:, j])"),
        _m("my_dense", "W transposed whenever its shape allows it (only a square W shows it)",
           "units = W.shape[1]",
           "if W.shape[1] == a_in.shape[0]:  # W given as (units, inputs)?\n"
           "        W = W.T\n    units = W.shape[1]"),
        # my_sequential: three layers
        _m("my_sequential", "the last layer is skipped", "return a3", "return a2"),
        _m("my_sequential", "the first layer's output is returned", "return a3", "return a1"),
        _m("my_sequential", "layer 2 is fed x instead of a1", "my_dense(a1, W2", "my_dense(x, W2"),
        _m("my_sequential", "relu in the first layer", "my_dense(x, W1, b1, sigmoid)",
           "my_dense(x, W1, b1, relu)"),
        _m("my_sequential", "no activation in the output layer", "my_dense(a2, W3, b3, sigmoid)",
           "my_dense(a2, W3, b3, linear)"),
        _m("my_sequential", "the bias of layer 2 is left out", "my_dense(a1, W2, b2,",
           "my_dense(a1, W2, 0 * b2,"),
        _m("my_sequential", "the visible answer returned as a constant",
           code="def my_sequential(x, W1, b1, W2, b2, W3, b3):\n    return np.array([0.44497598])"),
        _m("my_sequential", "W1 transposed whenever its shape allows it (only a square W1 shows it)",
           "my_dense(x, W1, b1,", "my_dense(x, W1.T if W1.shape[1] == len(x) else W1, b1,"),
        # my_dense_v: a batch in one product
        _m("my_dense_v", "the bias is missing", "A_in @ W + b", "A_in @ W"),
        _m("my_dense_v", "an elementwise product instead of the matrix product", "A_in @ W + b",
           "(A_in * W.sum(axis=1)).sum(axis=1, keepdims=True) + b"),
        _m("my_dense_v", "the activation is not applied", "A_out = g(Z)", "A_out = Z"),
        _m("my_dense_v", "sigmoid instead of the activation g", "A_out = g(Z)",
           "A_out = sigmoid(Z)"),
        _m("my_dense_v", "only the first example is computed", "Z = A_in @ W + b",
           "Z = A_in[:1] @ W + b"),
        _m("my_dense_v", "the output is transposed", "return A_out", "return A_out.T"),
        _m("my_dense_v", "the input is changed in place", "Z = A_in @ W + b",
           "A_in *= 2\n    Z = A_in @ W / 2 + b"),
        _m("my_dense_v", "W transposed whenever its shape allows it (only a square W shows it)",
           "Z = A_in @ W + b", "Z = A_in @ (W.T if W.shape[1] == A_in.shape[1] else W) + b"),
        # my_sequential_v: three layers on a batch
        _m("my_sequential_v", "the last layer is skipped", "return A3", "return A2"),
        _m("my_sequential_v", "layer 2 is fed X instead of A1", "my_dense_v(A1, W2",
           "my_dense_v(X, W2"),
        _m("my_sequential_v", "relu in the first layer", "my_dense_v(X, W1, b1, sigmoid)",
           "my_dense_v(X, W1, b1, relu)"),
        _m("my_sequential_v", "no activation in the output layer",
           "my_dense_v(A2, W3, b3, sigmoid)", "my_dense_v(A2, W3, b3, linear)"),
        _m("my_sequential_v", "the output is flattened to a rank-1 array", "return A3",
           "return A3.ravel()"),
        _m("my_sequential_v", "only the first example is computed", "my_dense_v(X, W1",
           "my_dense_v(X[:1], W1"),
        _m("my_sequential_v", "W1 transposed whenever its shape allows it (only a square W1 shows "
           "it)", "my_dense_v(X, W1,", "my_dense_v(X, W1.T if W1.shape[1] == X.shape[1] else W1,"),
    ],
    "week2": [
        # normalize_rows
        _m("normalize_rows", "the columns are normalized (axis=0)", "axis=1", "axis=0"),
        _m("normalize_rows", "keepdims is missing", ", keepdims=True", ""),
        _m("normalize_rows", "the square root is missing", "np.linalg.norm(x, axis=1, keepdims=True)",
           "np.sum(x ** 2, axis=1, keepdims=True)"),
        _m("normalize_rows", "the L1 norm instead of the L2 norm",
           "np.linalg.norm(x, axis=1, keepdims=True)", "np.sum(np.abs(x), axis=1, keepdims=True)"),
        _m("normalize_rows", "multiplied by the norms", "return x / norms", "return x * norms"),
        _m("normalize_rows", "x is divided in place", "return x / norms", "x /= norms\n    return x"),
        _m("normalize_rows", "the visible answer returned as a constant",
           code="def normalize_rows(x):\n"
                "    return np.array([[0.0, 0.6, 0.8], [0.2857142857, -0.8571428571, 0.4285714286]])"),
        # L1
        _m("L1", "the mean instead of the sum", "np.sum(", "np.mean("),
        _m("L1", "the absolute value is missing", "np.sum(np.abs(y - yhat))", "np.sum(y - yhat)"),
        _m("L1", "squared errors instead of absolute ones", "np.abs(y - yhat)", "(y - yhat) ** 2"),
        _m("L1", "the largest error instead of the sum", "np.sum(", "np.max("),
        _m("L1", "an array instead of a float", "return float(np.sum(np.abs(y - yhat)))",
           "return np.abs(y - yhat).sum(keepdims=True)"),
        _m("L1", "the last example is left out", "np.abs(y - yhat)", "np.abs(y - yhat).ravel()[:-1]"),
        _m("L1", "the visible answer returned as a constant", code="def L1(yhat, y):\n    return 1.05"),
        # L2
        _m("L2", "the mean instead of the sum", "np.sum(", "np.mean("),
        _m("L2", "the square root of the sum", "float(np.sum((y - yhat) ** 2))",
           "float(np.sqrt(np.sum((y - yhat) ** 2)))"),
        _m("L2", "absolute errors instead of squared ones", "(y - yhat) ** 2", "np.abs(y - yhat)"),
        _m("L2", "np.dot of the errors, which fails on row vectors", "np.sum((y - yhat) ** 2)",
           "np.dot(y - yhat, y - yhat)"),
        _m("L2", "the square of the sum", "np.sum((y - yhat) ** 2)", "np.sum(y - yhat) ** 2"),
        _m("L2", "the visible answer returned as a constant", code="def L2(yhat, y):\n    return 0.3025"),
        # initialize_with_zeros
        _m("initialize_with_zeros", "w is a rank-1 array", "np.zeros((dim, 1))", "np.zeros(dim)"),
        _m("initialize_with_zeros", "w is a row", "np.zeros((dim, 1))", "np.zeros((1, dim))"),
        _m("initialize_with_zeros", "b is the int 0", "b = 0.0", "b = 0"),
        _m("initialize_with_zeros", "b is an array", "b = 0.0", "b = np.zeros((1, 1))"),
        _m("initialize_with_zeros", "w holds ints", "np.zeros((dim, 1))",
           "np.zeros((dim, 1), dtype=int)"),
        _m("initialize_with_zeros", "w and b are returned the other way round", "return w, b",
           "return b, w"),
        _m("initialize_with_zeros", "small random weights instead of zeros", "np.zeros((dim, 1))",
           "np.random.randn(dim, 1) * 0.01"),
        # propagate
        _m("propagate", "1/m is missing in dw", "dw = (X @ dZ.T) / m", "dw = X @ dZ.T"),
        _m("propagate", "1/m is applied twice in dw", "dw = (X @ dZ.T) / m", "dw = X @ dZ.T / m / m"),
        _m("propagate", "the cost has the wrong sign", "cost = -float(", "cost = float("),
        _m("propagate", "Y - A instead of A - Y", "dZ = A - Y", "dZ = Y - A"),
        _m("propagate", "db is a (1, 1) array", "db = float(np.sum(dZ)) / m",
           "db = np.sum(dZ, keepdims=True) / m"),
        _m("propagate", "dw is transposed", "dw = (X @ dZ.T) / m", "dw = (dZ @ X.T) / m"),
        _m("propagate", "the sigmoid is not applied", "A = sigmoid(w.T @ X + b)", "A = w.T @ X + b"),
        _m("propagate", "m taken from the wrong axis", "m = X.shape[1]", "m = X.shape[0]"),
        _m("propagate", "the (1 - Y) log(1 - A) term is missing", " + (1 - Y) * np.log(1 - A)", ""),
        # optimize
        _m("optimize", "the caller's w is changed in place", 'w = w - learning_rate * grads["dw"]',
           'w -= learning_rate * grads["dw"]'),
        _m("optimize", "gradient ascent instead of descent", "w = w - learning_rate",
           "w = w + learning_rate"),
        _m("optimize", "b is never updated", 'b = b - learning_rate * grads["db"]', "b = b"),
        _m("optimize", "the cost is recorded at every iteration", "if i % 100 == 0:", "if True:"),
        _m("optimize", "one iteration too few", "range(num_iterations)", "range(num_iterations - 1)"),
        _m("optimize", "the learning rate argument is ignored", 'w = w - learning_rate * grads["dw"]',
           'w = w - 0.009 * grads["dw"]'),
        _m("optimize", "the cost is recorded one iteration late", "if i % 100 == 0:",
           "if i % 100 == 1:"),
        # predict
        _m("predict", "a probability of exactly 0.5 counts as 1", "(A > 0.5)", "(A >= 0.5)"),
        _m("predict", "booleans instead of floats", "(A > 0.5).astype(float)", "(A > 0.5)"),
        _m("predict", "the probabilities are returned", "return (A > 0.5).astype(float)", "return A"),
        _m("predict", "ints instead of floats", ".astype(float)", ".astype(int)"),
        _m("predict", "a rank-1 array", "return (A > 0.5).astype(float)",
           "return (A > 0.5).astype(float).ravel()"),
        _m("predict", "the bias is ignored", "sigmoid(w.T @ X + b)", "sigmoid(w.T @ X)"),
        _m("predict", "the threshold is 0 instead of 0.5", "(A > 0.5)", "(A > 0)"),
        # model
        _m("model", "trained on the test set", "optimize(w, b, X_train, Y_train,",
           "optimize(w, b, X_test, Y_test,"),
        _m("model", "the test predictions are made on the training set",
           '"Y_prediction_test": predict(w, b, X_test)', '"Y_prediction_test": predict(w, b, X_train)'),
        _m("model", "the arguments are ignored (the defaults are used)",
           "num_iterations, learning_rate,\n", "2000, 0.5,\n"),
        _m("model", "predictions from the untrained weights", 'w, b = params["w"], params["b"]',
           "pass"),
        _m("model", "the learning rate is not the argument", '"learning_rate": learning_rate',
           '"learning_rate": 0.5'),
        _m("model", "only the last cost is kept", '"costs": costs', '"costs": costs[-1:]'),
        _m("model", "w sized by the number of examples", "initialize_with_zeros(X_train.shape[0])",
           "initialize_with_zeros(X_train.shape[1])"),
        # softmax (keepdims=True left out is no mistake: a max or sum over axis 0 without it
        # has shape (m,), which lines up with the columns of a (K, m) array all the same; and
        # subtracting the whole array's maximum is one only where a column underflows)
        _m("softmax", "each row is normalized (axis=1 instead of axis=0)", "axis=0", "axis=1"),
        _m("softmax", "the columns' maximum is not subtracted",
           "Z - np.max(Z, axis=0, keepdims=True)", "Z"),
        _m("softmax", "the whole array's maximum is subtracted (a column far below it underflows)",
           "np.max(Z, axis=0, keepdims=True)", "np.max(Z)"),
        _m("softmax", "the exponentials are not normalized",
           "return E / np.sum(E, axis=0, keepdims=True)", "return E"),
        _m("softmax", "the whole array is divided by one sum", "np.sum(E, axis=0, keepdims=True)",
           "np.sum(E)"),
        _m("softmax", "each entry divided by its row's sum", "np.sum(E, axis=0, keepdims=True)",
           "np.sum(E, axis=1, keepdims=True)"),
        _m("softmax", "log-probabilities are returned",
           "return E / np.sum(E, axis=0, keepdims=True)",
           "return shifted - np.log(np.sum(E, axis=0, keepdims=True))"),
        _m("softmax", "the sigmoid of every score", "return E / np.sum(E, axis=0, keepdims=True)",
           "return sigmoid(Z)"),
        _m("softmax", "the output is transposed", "return E / np.sum(E, axis=0, keepdims=True)",
           "return (E / np.sum(E, axis=0, keepdims=True)).T"),
        _m("softmax", "Z is shifted in place", "shifted = Z - np.max(Z, axis=0, keepdims=True)",
           "Z -= np.max(Z, axis=0, keepdims=True)\n    shifted = Z"),
        _m("softmax", "the visible answer returned as a constant",
           code="def softmax(Z):\n"
                "    return np.array([[0.0900305732, 0.7869860422], [0.2447284711, 0.1065069789],"
                " [0.6652409558, 0.1065069789]])"),
    ],
    "week3": [
        # layer_sizes
        _m("layer_sizes", "n_x from the number of examples", "n_x = X.shape[0]", "n_x = X.shape[1]"),
        _m("layer_sizes", "n_y from the number of examples", "n_y = Y.shape[0]", "n_y = Y.shape[1]"),
        _m("layer_sizes", "the hidden layer as wide as the input", "n_h = 4", "n_h = X.shape[0]"),
        _m("layer_sizes", "a list instead of a tuple", "return (n_x, n_h, n_y)", "return [n_x, n_h, n_y]"),
        _m("layer_sizes", "the sizes in the wrong order", "return (n_x, n_h, n_y)", "return (n_x, n_y, n_h)"),
        _m("layer_sizes", "n_y always 1", "n_y = Y.shape[0]", "n_y = 1"),
        # initialize_parameters
        _m("initialize_parameters", "W2 is drawn before W1",
           "W1 = np.random.randn(n_h, n_x) * 0.01\n    b1 = np.zeros((n_h, 1))\n    W2 = np.random.randn(n_y, n_h) * 0.01",
           "W2 = np.random.randn(n_y, n_h) * 0.01\n    b1 = np.zeros((n_h, 1))\n    W1 = np.random.randn(n_h, n_x) * 0.01"),
        _m("initialize_parameters", "the weights are not scaled by 0.01",
           "W1 = np.random.randn(n_h, n_x) * 0.01", "W1 = np.random.randn(n_h, n_x)"),
        _m("initialize_parameters", "W1 drawn transposed", "np.random.randn(n_h, n_x)",
           "np.random.randn(n_x, n_h).T"),
        _m("initialize_parameters", "random biases", "b1 = np.zeros((n_h, 1))",
           "b1 = np.random.randn(n_h, 1) * 0.01"),
        _m("initialize_parameters", "b2 is a rank-1 array", "b2 = np.zeros((n_y, 1))", "b2 = np.zeros(n_y)"),
        _m("initialize_parameters", "the random generator is seeded inside",
           "W1 = np.random.randn", "np.random.seed(2)\n    W1 = np.random.randn"),
        _m("initialize_parameters", "uniform instead of normal draws",
           "W1 = np.random.randn(n_h, n_x)", "W1 = np.random.rand(n_h, n_x)"),
        # forward_propagation
        _m("forward_propagation", "sigmoid in the hidden layer", "A1 = np.tanh(Z1)", "A1 = sigmoid(Z1)"),
        _m("forward_propagation", "tanh in the output layer", "A2 = sigmoid(Z2)", "A2 = np.tanh(Z2)"),
        _m("forward_propagation", "the bias b1 is missing", "Z1 = W1 @ X + b1", "Z1 = W1 @ X"),
        _m("forward_propagation", "Z2 computed from Z1 instead of A1", "Z2 = W2 @ A1 + b2",
           "Z2 = W2 @ Z1 + b2"),
        _m("forward_propagation", "the cache holds Z1 as A1", '"A1": A1', '"A1": Z1'),
        _m("forward_propagation", "b2 is added twice", "+ b2", "+ 2 * b2"),
        _m("forward_propagation", "Z2 is returned instead of A2", "return A2, cache", "return Z2, cache"),
        # compute_cost
        _m("compute_cost", "1/m is missing", "cost = -np.sum(log_likelihood) / m",
           "cost = -np.sum(log_likelihood)"),
        _m("compute_cost", "the cost has the wrong sign", "cost = -np.sum", "cost = np.sum"),
        _m("compute_cost", "the (1 - Y) log(1 - A2) term is missing", " + (1 - Y) * np.log(1 - A2)", ""),
        _m("compute_cost", "an array instead of a float", "return float(cost)",
           "return np.array(cost).reshape(1, 1)"),
        _m("compute_cost", "m taken from the wrong axis", "m = Y.shape[1]", "m = Y.shape[0]"),
        _m("compute_cost", "log base 10", "np.log(A2)", "np.log10(A2)"),
        _m("compute_cost", "1/m is applied twice", "-np.sum(log_likelihood) / m",
           "-np.mean(log_likelihood) / m"),
        # backward_propagation
        _m("backward_propagation", "tanh's derivative from Z1 instead of A1", "(1 - A1**2)",
           '(1 - cache["Z1"] ** 2)'),
        _m("backward_propagation", "keepdims is missing in db1",
           "db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)", "db1 = (1 / m) * np.sum(dZ1, axis=1)"),
        _m("backward_propagation", "1/m is applied twice", "dZ2 = A2 - Y", "dZ2 = (A2 - Y) / m"),
        _m("backward_propagation", "dW2 uses A2 instead of A1", "dZ2 @ A1.T", "dZ2 @ A2.T"),
        _m("backward_propagation", "tanh's derivative taken as 1 - A1", "(1 - A1**2)", "(1 - A1)"),
        _m("backward_propagation", "1/m is missing in dW1", "dW1 = (1 / m) * dZ1 @ X.T", "dW1 = dZ1 @ X.T"),
        _m("backward_propagation", "db2 summed over the wrong axis",
           "np.sum(dZ2, axis=1, keepdims=True)", "np.sum(dZ2, axis=0, keepdims=True)"),
        # update_parameters
        _m("update_parameters", "the parameters are changed in place",
           'updated[key] = parameters[key] - learning_rate * grads["d" + key]',
           'parameters[key] -= learning_rate * grads["d" + key]\n        updated[key] = parameters[key]'),
        _m("update_parameters", "the gradient is added", "parameters[key] - learning_rate",
           "parameters[key] + learning_rate"),
        _m("update_parameters", "the learning rate argument is ignored", "- learning_rate *", "- 1.2 *"),
        _m("update_parameters", "the biases are dropped", 'for key in ("W1", "b1", "W2", "b2"):',
           'for key in ("W1", "W2"):'),
        _m("update_parameters", "the biases are not updated", 'grads["d" + key]\n',
           'grads["d" + key] * key.startswith("W")\n'),
        _m("update_parameters", "the default learning rate is not 1.2", "learning_rate=1.2)",
           "learning_rate=0.12)"),
        _m("update_parameters", "the learning rate is squared", "learning_rate *", "learning_rate ** 2 *"),
        # nn_model
        _m("nn_model", "n_h is ignored", "initialize_parameters(n_x, n_h, n_y)",
           "initialize_parameters(n_x, 4, n_y)"),
        _m("nn_model", "learning rate 0.5 instead of 1.2", "learning_rate=1.2)", "learning_rate=0.5)"),
        _m("nn_model", "one iteration too few", "range(num_iterations)", "range(num_iterations - 1)"),
        _m("nn_model", "the updated parameters are thrown away",
           "parameters = update_parameters(parameters, grads, learning_rate=1.2)",
           "update_parameters(parameters, grads, learning_rate=1.2)"),
        _m("nn_model", "the labels are inverted in backprop", "backward_propagation(parameters, cache, X, Y)",
           "backward_propagation(parameters, cache, X, 1 - Y)"),
        _m("nn_model", "the parameters are initialized twice",
           "parameters = initialize_parameters(n_x, n_h, n_y)\n",
           "parameters = initialize_parameters(n_x, n_h, n_y)\n    parameters = initialize_parameters(n_x, n_h, n_y)\n"),
        _m("nn_model", "n_x from the number of examples", "n_x, n_y = X.shape[0], Y.shape[0]",
           "n_x, n_y = X.shape[1], Y.shape[0]"),
        # predict
        _m("predict", "a probability of exactly 0.5 counts as 1", "A2 > 0.5", "A2 >= 0.5"),
        _m("predict", "the probabilities are returned", "predictions = (A2 > 0.5).astype(int)",
           "predictions = A2"),
        _m("predict", "the predictions are inverted", "(A2 > 0.5)", "(A2 < 0.5)"),
        _m("predict", "the threshold is 0 instead of 0.5", "(A2 > 0.5)", "(A2 > 0)"),
        _m("predict", "a rank-1 array", "return predictions", "return predictions.ravel()"),
        _m("predict", "the threshold is applied to Z2", "A2, _ = forward_propagation(X, parameters)",
           '_, cache = forward_propagation(X, parameters)\n    A2 = cache["Z2"]'),
    ],
    "week4": [
        # initialize_parameters_deep
        _m("initialize_parameters_deep", "the weights are scaled by 0.01 (week 3's scale)", "* np.sqrt(2 / n_prev)", "* 0.01"),
        _m("initialize_parameters_deep", "the scale uses n[l] instead of n[l-1]", "np.sqrt(2 / n_prev)", "np.sqrt(2 / n)"),
        _m("initialize_parameters_deep", "Xavier's factor sqrt(1 / n[l-1])", "np.sqrt(2 / n_prev)", "np.sqrt(1 / n_prev)"),
        _m("initialize_parameters_deep", "W drawn transposed", "np.random.randn(n, n_prev)", "np.random.randn(n_prev, n).T"),
        _m("initialize_parameters_deep", "the last layer is missing (off-by-one loop)", "range(1, len(layer_dims))",
           "range(1, len(layer_dims) - 1)"),
        _m("initialize_parameters_deep", "the random generator is seeded inside", "    parameters = {}\n",
           "    np.random.seed(1)\n    parameters = {}\n"),
        _m("initialize_parameters_deep", "b is a rank-1 array", "np.zeros((n, 1))", "np.zeros(n)"),
        # linear_forward
        _m("linear_forward", "the bias is missing", "Z = W @ A + b", "Z = W @ A"),
        _m("linear_forward", "the bias is added twice", "Z = W @ A + b", "Z = W @ A + 2 * b"),
        _m("linear_forward", "W transposed", "Z = W @ A + b", "Z = W.T @ A + b"),
        _m("linear_forward", "* instead of @", "Z = W @ A + b", "Z = W * A + b"),
        _m("linear_forward", "the cache holds Z instead of A", "linear_cache = (A, W, b)", "linear_cache = (Z, W, b)"),
        _m("linear_forward", "the cache in the order (W, A, b)", "linear_cache = (A, W, b)", "linear_cache = (W, A, b)"),
        _m("linear_forward", "the visible answer returned as a constant",
           code="def linear_forward(A, W, b):\n    return np.array([[-0.1, -1.55], [1.5, -0.6]]), (A, W, b)"),
        # linear_activation_forward
        _m("linear_activation_forward", "relu and sigmoid swapped", 'relu(Z) if activation == "relu" else sigmoid(Z)',
           'sigmoid(Z) if activation == "relu" else relu(Z)'),
        _m("linear_activation_forward", "no activation is applied", 'A = relu(Z) if activation == "relu" else sigmoid(Z)',
           "A = Z"),
        _m("linear_activation_forward", "the cache holds A instead of Z", "return A, (linear_cache, Z)",
           "return A, (linear_cache, A)"),
        _m("linear_activation_forward", "the cache is one flat tuple (A_prev, W, b, Z)", "return A, (linear_cache, Z)",
           "return A, (*linear_cache, Z)"),
        _m("linear_activation_forward", "no ValueError for an unknown activation",
           '    if activation not in ("relu", "sigmoid"):\n        raise ValueError(f"activation must be \'relu\' or \'sigmoid\', got {activation!r}")\n',
           ""),
        _m("linear_activation_forward", "the ValueError does not name the activation",
           'raise ValueError(f"activation must be \'relu\' or \'sigmoid\', got {activation!r}")',
           'raise ValueError("unknown activation")'),
        _m("linear_activation_forward", "an activation in capitals is accepted", "if activation not in",
           "activation = activation.lower()\n    if activation not in"),
        # L_model_forward
        _m("L_model_forward", "the last layer uses relu", 'parameters[f"b{L}"], "sigmoid")', 'parameters[f"b{L}"], "relu")'),
        _m("L_model_forward", "every layer uses sigmoid", 'parameters[f"b{l}"], "relu")', 'parameters[f"b{l}"], "sigmoid")'),
        _m("L_model_forward", "the relu loop runs over all L layers (range(1, L + 1))", "range(1, L)", "range(1, L + 1)"),
        _m("L_model_forward", "the last layer's cache is not appended", "    caches.append(cache)\n    return AL",
           "    return AL"),
        _m("L_model_forward", "L is the number of keys", "L = len(parameters) // 2", "L = len(parameters)"),
        _m("L_model_forward", "every layer is fed X", "linear_activation_forward(A, parameters[f\"W{l}\"]",
           "linear_activation_forward(X, parameters[f\"W{l}\"]"),
        _m("L_model_forward", "the caches in reverse order", "caches.append(cache)", "caches.insert(0, cache)"),
        # compute_cost
        _m("compute_cost", "1/m is missing", "np.log(1 - AL)) / m", "np.log(1 - AL))"),
        _m("compute_cost", "the minus sign is missing", "cost = -np.sum", "cost = np.sum"),
        _m("compute_cost", "the (1 - Y) log(1 - AL) term is missing", " + (1 - Y) * np.log(1 - AL)", ""),
        _m("compute_cost", "an array instead of a float", "return float(cost)", "return np.array(cost).reshape(1, 1)"),
        _m("compute_cost", "m taken from the wrong axis", "m = Y.shape[1]", "m = Y.shape[0]"),
        _m("compute_cost", "log base 10", "np.log(AL)", "np.log10(AL)"),
        _m("compute_cost", "1/m is applied twice", "cost = -np.sum(", "cost = -np.mean("),
        _m("compute_cost", "the visible answer returned as a constant", code="def compute_cost(AL, Y):\n    return 0.341366052"),
        # linear_backward
        _m("linear_backward", "1/m is missing in dW", "dW = dZ @ A_prev.T / m", "dW = dZ @ A_prev.T"),
        _m("linear_backward", "1/m is applied twice in dW", "dW = dZ @ A_prev.T / m", "dW = dZ @ A_prev.T / m / m"),
        _m("linear_backward", "keepdims is missing in db", "np.sum(dZ, axis=1, keepdims=True)", "np.sum(dZ, axis=1)"),
        _m("linear_backward", "db summed over the wrong axis", "np.sum(dZ, axis=1, keepdims=True)",
           "np.sum(dZ, axis=0, keepdims=True)"),
        _m("linear_backward", "dA_prev is divided by m", "dA_prev = W.T @ dZ", "dA_prev = W.T @ dZ / m"),
        _m("linear_backward", "dW is transposed", "dW = dZ @ A_prev.T / m", "dW = A_prev @ dZ.T / m"),
        _m("linear_backward", "m taken from the wrong axis", "m = A_prev.shape[1]", "m = A_prev.shape[0]"),
        # linear_activation_backward
        _m("linear_activation_backward", "sigmoid_backward for a relu layer", "dZ = relu_backward(dA, Z)",
           "dZ = sigmoid_backward(dA, Z)"),
        _m("linear_activation_backward", "relu_backward for a sigmoid layer", "dZ = sigmoid_backward(dA, Z)",
           "dZ = relu_backward(dA, Z)"),
        _m("linear_activation_backward", "the activation's derivative is skipped (dZ = dA)",
           "return linear_backward(dZ, linear_cache)", "return linear_backward(dA, linear_cache)"),
        _m("linear_activation_backward", "sigmoid_backward given A instead of Z", "dZ = sigmoid_backward(dA, Z)",
           "dZ = sigmoid_backward(dA, sigmoid(Z))"),
        _m("linear_activation_backward", "dA is modified in place", "dZ = relu_backward(dA, Z)",
           "dA[Z <= 0] = 0\n        dZ = dA"),
        _m("linear_activation_backward", "the cache unpacked in the wrong order", "linear_cache, Z = cache",
           "Z, linear_cache = cache"),
        # L_model_backward
        _m("L_model_backward", "dAL has the wrong sign", "dA = -(Y / AL - (1 - Y) / (1 - AL))",
           "dA = Y / AL - (1 - Y) / (1 - AL)"),
        _m("L_model_backward", "dAL = AL - Y", "dA = -(Y / AL - (1 - Y) / (1 - AL))", "dA = AL - Y"),
        _m("L_model_backward", "the last layer uses relu_backward", '"sigmoid" if l == L else "relu"', '"relu"'),
        _m("L_model_backward", "every layer uses sigmoid_backward", '"sigmoid" if l == L else "relu"', '"sigmoid"'),
        _m("L_model_backward", "grads keys off by one (dA{l} for dA_prev)", 'grads[f"dA{l - 1}"]', 'grads[f"dA{l}"]'),
        _m("L_model_backward", "the loop stops before layer 1", "range(L, 0, -1)", "range(L, 1, -1)"),
        _m("L_model_backward", "the caches taken in the wrong order", "caches[l - 1]", "caches[L - l]"),
        # update_parameters
        _m("update_parameters", "the gradient is added", "] - learning_rate", "] + learning_rate"),
        _m("update_parameters", "b is never updated", 'params[f"b{l}"] - learning_rate * grads[f"db{l}"]',
           'params[f"b{l}"]'),
        _m("update_parameters", "the learning rate is not used", "learning_rate * grads", "grads"),
        _m("update_parameters", "the learning rate is squared", "learning_rate * grads", "learning_rate**2 * grads"),
        _m("update_parameters", "the last layer is not updated (range(1, L))", "range(1, L + 1)", "range(1, L)"),
        _m("update_parameters", "the parameters are changed in place",
           'new_params[f"W{l}"] = params[f"W{l}"] - learning_rate * grads[f"dW{l}"]',
           'params[f"W{l}"] -= learning_rate * grads[f"dW{l}"]\n        new_params[f"W{l}"] = params[f"W{l}"]'),
        _m("update_parameters", "L is the number of keys", "L = len(params) // 2", "L = len(params)"),
        # two_layer_model
        _m("two_layer_model", "the parameters are never updated",
           "parameters = update_parameters(parameters, grads, learning_rate)",
           "update_parameters(parameters, grads, learning_rate)"),
        _m("two_layer_model", "one iteration too few", "range(num_iterations)", "range(num_iterations - 1)"),
        _m("two_layer_model", "the costs recorded at iterations 99, 199, ...", "if i % 100 == 0:",
           "if (i + 1) % 100 == 0:"),
        _m("two_layer_model", "dA2 has the wrong sign", "dA2 = -(Y / A2 - (1 - Y) / (1 - A2))",
           "dA2 = Y / A2 - (1 - Y) / (1 - A2)"),
        _m("two_layer_model", "the hidden layer uses sigmoid", 'parameters["b1"], "relu")', 'parameters["b1"], "sigmoid")'),
        _m("two_layer_model", "the default learning rate is not 0.0075", "learning_rate=0.0075,", "learning_rate=0.01,"),
        _m("two_layer_model", "db1 and db2 swapped", '"db1": db1, "dW2": dW2, "db2": db2', '"db1": db2, "dW2": dW2, "db2": db1'),
        # L_layer_model
        _m("L_layer_model", "the parameters are never updated",
           "parameters = update_parameters(parameters, grads, learning_rate)",
           "update_parameters(parameters, grads, learning_rate)"),
        _m("L_layer_model", "one iteration too many", "range(num_iterations)", "range(num_iterations + 1)"),
        _m("L_layer_model", "the costs recorded at iterations 99, 199, ...", "if i % 100 == 0:",
           "if (i + 1) % 100 == 0:"),
        _m("L_layer_model", "the costs recorded after the update", "            costs.append(cost)\n",
           "            costs.append(compute_cost(L_model_forward(X, parameters)[0], Y))\n"),
        _m("L_layer_model", "the labels are inverted in backprop", "L_model_backward(AL, Y, caches)",
           "L_model_backward(AL, 1 - Y, caches)"),
        _m("L_layer_model", "the default number of iterations is not 3000", "num_iterations=3000,", "num_iterations=2500,"),
        _m("L_layer_model", "the parameters are initialized twice",
           "parameters = initialize_parameters_deep(layers_dims)\n",
           "parameters = initialize_parameters_deep(layers_dims)\n    parameters = initialize_parameters_deep(layers_dims)\n"),
    ],
    "week5": [
        # initialize_parameters_he
        _m("initialize_parameters_he", "Xavier's factor sqrt(1 / n[l-1])", "np.sqrt(2 / layer_dims[l - 1])",
           "np.sqrt(1 / layer_dims[l - 1])"),
        _m("initialize_parameters_he", "scaled with the layer's own size n[l]", "np.sqrt(2 / layer_dims[l - 1])",
           "np.sqrt(2 / layer_dims[l])"),
        _m("initialize_parameters_he", "the square root is missing", "np.sqrt(2 / layer_dims[l - 1])",
           "2 / layer_dims[l - 1]"),
        _m("initialize_parameters_he", "uniform instead of normal draws", "np.random.randn(", "np.random.rand("),
        _m("initialize_parameters_he", "the random generator is seeded inside", "parameters = {}\n",
           "parameters = {}\n    np.random.seed(3)\n"),
        _m("initialize_parameters_he", "the layers are drawn from the last to the first",
           "range(1, len(layer_dims))", "range(len(layer_dims) - 1, 0, -1)"),
        _m("initialize_parameters_he", "W drawn transposed", "np.random.randn(layer_dims[l], layer_dims[l - 1])",
           "np.random.randn(layer_dims[l - 1], layer_dims[l]).T"),
        _m("initialize_parameters_he", "the last layer is skipped", "range(1, len(layer_dims))",
           "range(1, len(layer_dims) - 1)"),
        _m("initialize_parameters_he", "the visible answer returned as a constant",
           code="def initialize_parameters_he(layer_dims):\n"
                "    return {\"W1\": np.array([[1.460409033, 0.3564088005, 0.07878985275],\n"
                "                            [-1.521535421, -0.2264865189, -0.2896594936],\n"
                "                            [-0.06755813673, -0.5119439089, -0.03577738515],\n"
                "                            [-0.3896468901, -1.072766079, 0.7222911491],\n"
                "                            [0.7195931682, 1.395860561, 0.04085229777]]),\n"
                "            \"b1\": np.zeros((5, 1)),\n"
                "            \"W2\": np.array([[-0.2559404696, -0.3449159158, -0.9780781334, 0.6213037183, -0.6963763138]]),\n"
                "            \"b2\": np.zeros((1, 1))}"),
        # initialize_parameters_xavier
        _m("initialize_parameters_xavier", "He's factor sqrt(2 / n[l-1])", "np.sqrt(1 / layer_dims[l - 1])",
           "np.sqrt(2 / layer_dims[l - 1])"),
        _m("initialize_parameters_xavier", "scaled with the layer's own size n[l]", "np.sqrt(1 / layer_dims[l - 1])",
           "np.sqrt(1 / layer_dims[l])"),
        _m("initialize_parameters_xavier", "the square root is missing", "np.sqrt(1 / layer_dims[l - 1])",
           "1 / layer_dims[l - 1]"),
        _m("initialize_parameters_xavier", "Glorot's sqrt(2 / (n[l-1] + n[l])) instead of the contract's",
           "np.sqrt(1 / layer_dims[l - 1])", "np.sqrt(2 / (layer_dims[l - 1] + layer_dims[l]))"),
        _m("initialize_parameters_xavier", "the random generator is seeded inside", "parameters = {}\n",
           "parameters = {}\n    np.random.seed(4)\n"),
        _m("initialize_parameters_xavier", "the layers are drawn from the last to the first",
           "range(1, len(layer_dims))", "range(len(layer_dims) - 1, 0, -1)"),
        _m("initialize_parameters_xavier", "the weights are not scaled", " * scale\n", "\n"),
        _m("initialize_parameters_xavier", "b is a rank-1 array", "np.zeros((layer_dims[l], 1))",
           "np.zeros(layer_dims[l])"),
        # standardize
        _m("standardize", "the standard deviation divides by m - 1 (ddof=1)",
           "np.std(X_train, axis=1, keepdims=True)", "np.std(X_train, axis=1, keepdims=True, ddof=1)"),
        _m("standardize", "the test set standardized with its own statistics", "(X_test - mu) / sigma,",
           "(X_test - np.mean(X_test, axis=1, keepdims=True)) / np.std(X_test, axis=1, keepdims=True),"),
        _m("standardize", "a constant feature is divided by 0", "    sigma = np.where(sigma == 0, 1.0, sigma)\n", ""),
        _m("standardize", "epsilon added to sigma instead of 1.0 where it is 0",
           "sigma = np.where(sigma == 0, 1.0, sigma)", "sigma = sigma + 1e-8"),
        _m("standardize", "the statistics over the examples (axis=0)", "axis=1", "axis=0"),
        _m("standardize", "keepdims is missing", ", keepdims=True", ""),
        _m("standardize", "the variance instead of the standard deviation", "np.std(", "np.var("),
        _m("standardize", "mu and sigma over the training and test sets together",
           "mu = np.mean(X_train, axis=1, keepdims=True)\n    sigma = np.std(X_train, axis=1, keepdims=True)",
           "X_all = np.hstack([X_train, X_test])\n    mu = np.mean(X_all, axis=1, keepdims=True)\n"
           "    sigma = np.std(X_all, axis=1, keepdims=True)"),
        _m("standardize", "X_train is standardized in place",
           "return (X_train - mu) / sigma, (X_test - mu) / sigma, mu, sigma",
           "X_train -= mu\n    X_train /= sigma\n    return X_train, (X_test - mu) / sigma, mu, sigma"),
        # batchnorm_forward
        _m("batchnorm_forward", "each example normalized (axis=0)", "axis=1", "axis=0"),
        _m("batchnorm_forward", "the variance divides by m - 1 (ddof=1)", "np.var(Z, axis=1, keepdims=True)",
           "np.var(Z, axis=1, keepdims=True, ddof=1)"),
        _m("batchnorm_forward", "epsilon added to the standard deviation", "np.sqrt(var + epsilon)",
           "(np.sqrt(var) + epsilon)"),
        _m("batchnorm_forward", "gamma and beta are swapped", "gamma * Z_norm + beta", "beta * Z_norm + gamma"),
        _m("batchnorm_forward", "beta is not added", "gamma * Z_norm + beta", "gamma * Z_norm"),
        _m("batchnorm_forward", "beta is left out of the cache", "(Z, Z_norm, mu, var, gamma, beta, epsilon)",
           "(Z, Z_norm, mu, var, gamma, epsilon)"),
        _m("batchnorm_forward", "the argument epsilon is not used", "np.sqrt(var + epsilon)",
           "np.sqrt(var + 1e-8)"),
        _m("batchnorm_forward", "the standard deviation instead of the variance", "var = np.var(", "var = np.std("),
        _m("batchnorm_forward", "Z is centred in place", "Z_norm = (Z - mu) / np.sqrt(var + epsilon)",
           "Z -= mu\n    Z_norm = Z / np.sqrt(var + epsilon)"),
        # clip_by_global_norm
        _m("clip_by_global_norm", "each array clipped by its own norm",
           "    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))\n"
           "    scale = threshold / norm if norm > threshold else 1.0\n"
           "    return {key: g * scale for key, g in grads.items()}",
           "    return {key: g * min(1.0, threshold / np.linalg.norm(g)) for key, g in grads.items()}"),
        _m("clip_by_global_norm", "each entry clipped with np.clip", "return {key: g * scale for key, g in grads.items()}",
           "return {key: np.clip(g, -threshold, threshold) for key, g in grads.items()}"),
        _m("clip_by_global_norm", "the gradients are scaled in place",
           "    return {key: g * scale for key, g in grads.items()}",
           "    for g in grads.values():\n        g *= scale\n    return dict(grads)"),
        _m("clip_by_global_norm", "multiplied by norm / threshold", "threshold / norm if", "norm / threshold if"),
        _m("clip_by_global_norm", "scaled to the threshold even below it",
           "threshold / norm if norm > threshold else 1.0", "threshold / norm"),
        _m("clip_by_global_norm", "the global norm as the sum of the arrays' norms",
           "np.sqrt(sum(np.sum(g**2) for g in grads.values()))", "sum(np.linalg.norm(g) for g in grads.values())"),
        _m("clip_by_global_norm", "the square root of the global norm is missing",
           "np.sqrt(sum(np.sum(g**2) for g in grads.values()))", "sum(np.sum(g**2) for g in grads.values())"),
        # gradient_check
        _m("gradient_check", "divided by epsilon instead of 2 epsilon", "/ (2 * epsilon)", "/ epsilon"),
        _m("gradient_check", "a one-sided difference",
           "for step in (epsilon, -epsilon):\n"
           "                    nudged = dict(parameters)\n"
           "                    nudged[name] = parameters[name].copy()\n"
           "                    nudged[name][index] += step\n"
           "                    costs.append(network_cost_of(nudged, X, Y))\n"
           "                g_approx.append((costs[0] - costs[1]) / (2 * epsilon))",
           "for step in (epsilon, 0.0):\n"
           "                    nudged = dict(parameters)\n"
           "                    nudged[name] = parameters[name].copy()\n"
           "                    nudged[name][index] += step\n"
           "                    costs.append(network_cost_of(nudged, X, Y))\n"
           "                g_approx.append((costs[0] - costs[1]) / epsilon)"),
        _m("gradient_check", "only the weights are checked", 'for name in (f"W{l}", f"b{l}"):',
           'for name in (f"W{l}",):'),
        _m("gradient_check", "the argument epsilon is not used", "    L = len(parameters) // 2\n",
           "    L = len(parameters) // 2\n    epsilon = 1e-7\n"),
        _m("gradient_check", "g in the order of the grads dict's keys",
           "g, g_approx = np.concatenate(g), np.array(g_approx)",
           "g, g_approx = np.concatenate([v.ravel() for v in grads.values()]), np.array(g_approx)"),
        _m("gradient_check", "the parameter array is nudged without a copy",
           "nudged[name] = parameters[name].copy()", "nudged[name] = parameters[name]"),
        _m("gradient_check", "the parameters dict itself is nudged", "nudged = dict(parameters)",
           "nudged = parameters"),
        _m("gradient_check", "not divided by ||g|| + ||g_approx||",
           "np.linalg.norm(g - g_approx) / (np.linalg.norm(g) + np.linalg.norm(g_approx))",
           "np.linalg.norm(g - g_approx)"),
        _m("gradient_check", "divided by ||g|| alone", "/ (np.linalg.norm(g) + np.linalg.norm(g_approx))",
           "/ np.linalg.norm(g)"),
        # random_mini_batches
        _m("random_mini_batches", "the last, smaller batch is dropped", "range(0, m, mini_batch_size)",
           "range(0, m - mini_batch_size + 1, mini_batch_size)"),
        _m("random_mini_batches", "Y shuffled with another permutation", "Y[:, permutation]",
           "Y[:, np.random.permutation(m)]"),
        _m("random_mini_batches", "np.random.default_rng instead of the contract's shuffle",
           "    np.random.seed(seed)\n    permutation = np.random.permutation(m)",
           "    permutation = np.random.default_rng(seed).permutation(m)"),
        _m("random_mini_batches", "the examples are not shuffled",
           "X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]", "X_shuffled, Y_shuffled = X, Y"),
        _m("random_mini_batches", "Y is not shuffled", "Y[:, permutation]", "Y"),
        _m("random_mini_batches", "X and Y are shuffled in place",
           "X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]",
           "X[:, :], Y[:, :] = X[:, permutation], Y[:, permutation]\n    X_shuffled, Y_shuffled = X, Y"),
        _m("random_mini_batches", "the seed argument is ignored", "np.random.seed(seed)", "np.random.seed(0)"),
        _m("random_mini_batches", "each batch one example short", "end = start + mini_batch_size",
           "end = start + mini_batch_size - 1"),
        _m("random_mini_batches", "m taken from the wrong axis", "m = X.shape[1]", "m = X.shape[0]"),
        _m("random_mini_batches", "the default batch size is 32", "mini_batch_size=64,", "mini_batch_size=32,"),
        _m("random_mini_batches", "the last batch is filled from the end",
           "        end = start + mini_batch_size\n",
           "        end = start + mini_batch_size\n"
           "        start = min(start, m - mini_batch_size) if m >= mini_batch_size else 0\n"),
        # initialize_velocity
        _m("initialize_velocity", "the keys named after the parameters",
           'v[f"dW{l}"] = np.zeros(parameters[f"W{l}"].shape)\n        v[f"db{l}"]',
           'v[f"W{l}"] = np.zeros(parameters[f"W{l}"].shape)\n        v[f"b{l}"]'),
        _m("initialize_velocity", "the weights copied instead of zeros", 'np.zeros(parameters[f"W{l}"].shape)',
           'parameters[f"W{l}"].copy()'),
        _m("initialize_velocity", "the last layer is left out", "range(1, L + 1)", "range(1, L)"),
        _m("initialize_velocity", "L is the number of entries", "L = len(parameters) // 2", "L = len(parameters)"),
        _m("initialize_velocity", "db is a rank-1 array", 'np.zeros(parameters[f"b{l}"].shape)',
           'np.zeros(parameters[f"b{l}"].shape[0])'),
        _m("initialize_velocity", "int zeros", 'np.zeros(parameters[f"W{l}"].shape)',
           'np.zeros(parameters[f"W{l}"].shape, dtype=int)'),
        _m("initialize_velocity", "db shaped like W", 'np.zeros(parameters[f"b{l}"].shape)',
           'np.zeros(parameters[f"W{l}"].shape)'),
        _m("initialize_velocity", "the weights are zeroed in place",
           'v[f"dW{l}"] = np.zeros(parameters[f"W{l}"].shape)',
           'parameters[f"W{l}"][:] = 0\n        v[f"dW{l}"] = parameters[f"W{l}"]'),
        # update_parameters_with_momentum
        _m("update_parameters_with_momentum", "the parameters updated with the old velocity",
           'parameters[name] - learning_rate * new_v["d" + name]', 'parameters[name] - learning_rate * v["d" + name]'),
        _m("update_parameters_with_momentum", "the velocity is updated in place",
           'new_v["d" + name] = beta * v["d" + name] + (1 - beta) * grads["d" + name]',
           'v["d" + name] = beta * v["d" + name] + (1 - beta) * grads["d" + name]\n'
           '            new_v["d" + name] = v["d" + name]'),
        _m("update_parameters_with_momentum", "the factor (1 - beta) is missing", "(1 - beta) * grads", "grads"),
        _m("update_parameters_with_momentum", "beta and 1 - beta are swapped",
           'beta * v["d" + name] + (1 - beta) * grads["d" + name]',
           '(1 - beta) * v["d" + name] + beta * grads["d" + name]'),
        _m("update_parameters_with_momentum", "the step uses the gradient instead of the velocity",
           '- learning_rate * new_v["d" + name]', '- learning_rate * grads["d" + name]'),
        _m("update_parameters_with_momentum", "the velocity is added", "parameters[name] - learning_rate",
           "parameters[name] + learning_rate"),
        _m("update_parameters_with_momentum", "the parameters are changed in place",
           'new_parameters[name] = parameters[name] - learning_rate * new_v["d" + name]',
           'parameters[name] -= learning_rate * new_v["d" + name]\n'
           '            new_parameters[name] = parameters[name]'),
        _m("update_parameters_with_momentum", "the biases are dropped", 'for name in (f"W{l}", f"b{l}"):',
           'for name in (f"W{l}",):'),
        _m("update_parameters_with_momentum", "the learning rate hard-coded to the visible 0.1",
           'learning_rate * new_v["d" + name]', '0.1 * new_v["d" + name]'),
        # initialize_adam
        _m("initialize_adam", "the keys named after the parameters", 'v["d" + name] = np.zeros',
           "v[name] = np.zeros"),
        _m("initialize_adam", "v copies the parameters instead of zeros",
           'v["d" + name] = np.zeros(parameters[name].shape)', 'v["d" + name] = parameters[name].copy()'),
        _m("initialize_adam", "the last layer is left out", "range(1, L + 1)", "range(1, L)"),
        _m("initialize_adam", "L is the number of entries", "L = len(parameters) // 2", "L = len(parameters)"),
        _m("initialize_adam", "s holds int zeros", 's["d" + name] = np.zeros(parameters[name].shape)',
           's["d" + name] = np.zeros(parameters[name].shape, dtype=int)'),
        _m("initialize_adam", "rank-1 zeros", "np.zeros(parameters[name].shape)", "np.zeros(parameters[name].size)"),
        _m("initialize_adam", "s starts at ones", 's["d" + name] = np.zeros(', 's["d" + name] = np.ones('),
        _m("initialize_adam", "a dict instead of a tuple", "return v, s", 'return {"v": v, "s": s}'),
        _m("initialize_adam", "the biases are left out", 'for name in (f"W{l}", f"b{l}"):', 'for name in (f"W{l}",):'),
        # update_parameters_with_adam
        _m("update_parameters_with_adam", "the bias correction is missing",
           "v_corrected[d] = new_v[d] / (1 - beta1**t)\n            s_corrected[d] = new_s[d] / (1 - beta2**t)",
           "v_corrected[d] = new_v[d]\n            s_corrected[d] = new_s[d]"),
        _m("update_parameters_with_adam", "epsilon added under the square root",
           "(np.sqrt(s_corrected[d]) + epsilon)", "np.sqrt(s_corrected[d] + epsilon)"),
        _m("update_parameters_with_adam", "the correction uses t plus 1",
           "(1 - beta1**t)\n            s_corrected[d] = new_s[d] / (1 - beta2**t)",
           "(1 - beta1 ** (t + 1))\n            s_corrected[d] = new_s[d] / (1 - beta2 ** (t + 1))"),
        _m("update_parameters_with_adam", "the correction uses t minus 1",
           "(1 - beta1**t)\n            s_corrected[d] = new_s[d] / (1 - beta2**t)",
           "(1 - beta1 ** (t - 1))\n            s_corrected[d] = new_s[d] / (1 - beta2 ** (t - 1))"),
        _m("update_parameters_with_adam", "the parameters are changed in place",
           "new_parameters[name] = parameters[name] - learning_rate * step",
           "parameters[name] -= learning_rate * step\n            new_parameters[name] = parameters[name]"),
        _m("update_parameters_with_adam", "v divided by beta1 ** t instead of 1 - beta1 ** t",
           "new_v[d] / (1 - beta1**t)", "new_v[d] / beta1**t"),
        _m("update_parameters_with_adam", "the gradient is not squared in s", "(1 - beta2) * grads[d] ** 2",
           "(1 - beta2) * grads[d]"),
        _m("update_parameters_with_adam", "the square root of s_corrected is missing",
           "(np.sqrt(s_corrected[d]) + epsilon)", "(s_corrected[d] + epsilon)"),
        _m("update_parameters_with_adam", "the step uses v and s without the correction",
           "step = v_corrected[d] / (np.sqrt(s_corrected[d]) + epsilon)",
           "step = new_v[d] / (np.sqrt(new_s[d]) + epsilon)"),
        _m("update_parameters_with_adam", "v is updated in place",
           "new_v[d] = beta1 * v[d] + (1 - beta1) * grads[d]",
           "v[d] *= beta1\n            v[d] += (1 - beta1) * grads[d]\n            new_v[d] = v[d]"),
        _m("update_parameters_with_adam", "the step is added", "parameters[name] - learning_rate * step",
           "parameters[name] + learning_rate * step"),
        _m("update_parameters_with_adam", "the default learning rate is 0.001", "learning_rate=0.01,",
           "learning_rate=0.001,"),
        _m("update_parameters_with_adam", "beta1 used for s", "new_s[d] = beta2 * s[d] + (1 - beta2)",
           "new_s[d] = beta1 * s[d] + (1 - beta1)"),
        # exponential_decay
        _m("exponential_decay", "beta raised to t + 1", "beta**t", "beta ** (t + 1)"),
        _m("exponential_decay", "an array instead of a float", "float(alpha0 * beta**t)", "np.array([alpha0 * beta**t])"),
        _m("exponential_decay", "the visible answer returned as a constant",
           code="def exponential_decay(alpha0, beta, t):\n    return 0.3645"),
        _m("exponential_decay", "beta * t instead of beta ** t", "beta**t", "beta * t"),
        _m("exponential_decay", "the schedule alpha0 / (1 + beta t)", "float(alpha0 * beta**t)",
           "float(alpha0 / (1 + beta * t))"),
        _m("exponential_decay", "(1 - beta) ** t instead of beta ** t", "beta**t", "(1 - beta) ** t"),
        _m("exponential_decay", "exp(-beta t) instead of beta ** t", "alpha0 * beta**t", "alpha0 * np.exp(-beta * t)"),
        _m("exponential_decay", "a NumPy float32 instead of a float", "float(alpha0 * beta**t)",
           "np.float32(alpha0 * beta**t)"),
        _m("exponential_decay", "the rate rounded to 4 decimals", "float(alpha0 * beta**t)",
           "round(float(alpha0 * beta**t), 4)"),
    ],
    "week6": [
        # split_train_dev_test
        _m("split_train_dev_test", "int() instead of round()", "round(dev_fraction * m), round(test_fraction * m)",
           "int(dev_fraction * m), int(test_fraction * m)"),
        _m("split_train_dev_test", "the examples are not shuffled", "permutation = np.random.default_rng(seed).permutation(m)",
           "permutation = np.arange(m)"),
        _m("split_train_dev_test", "Y is not shuffled with X",
           "Y[:, train], X[:, dev], Y[:, dev], X[:, test], Y[:, test]",
           "Y[:, :n_train], X[:, dev], Y[:, n_train:n_train + n_dev], X[:, test], Y[:, n_train + n_dev:]"),
        _m("split_train_dev_test", "the dev and test sets are swapped", "X[:, dev], Y[:, dev], X[:, test], Y[:, test]",
           "X[:, test], Y[:, test], X[:, dev], Y[:, dev]"),
        _m("split_train_dev_test", "the global np.random.permutation instead of the seeded generator",
           "np.random.default_rng(seed).permutation(m)", "np.random.permutation(m)"),
        _m("split_train_dev_test", "m taken from the wrong axis", "m = X.shape[1]", "m = X.shape[0]"),
        _m("split_train_dev_test", "the test set taken first",
           "train = permutation[:n_train]\n    dev = permutation[n_train:n_train + n_dev]\n    test = permutation[n_train + n_dev:]",
           "test = permutation[:n_test]\n    dev = permutation[n_test:n_test + n_dev]\n    train = permutation[n_test + n_dev:]"),
        _m("split_train_dev_test", "the seed argument is ignored", "default_rng(seed)", "default_rng(0)"),
        # diagnose
        _m("diagnose", "a gap equal to the tolerance counts as high (>=)",
           "> tolerance\n    high_variance = dev_error - train_error > tolerance",
           ">= tolerance\n    high_variance = dev_error - train_error >= tolerance"),
        _m("diagnose", "variance measured against the base error", "dev_error - train_error > tolerance",
           "dev_error - base_error > tolerance"),
        _m("diagnose", "the base error is ignored", "train_error - base_error > tolerance", "train_error > tolerance"),
        _m("diagnose", "the tolerance is fixed at 0.02",
           "> tolerance\n    high_variance = dev_error - train_error > tolerance",
           "> 0.02\n    high_variance = dev_error - train_error > 0.02"),
        _m("diagnose", "both at once is never reported",
           '    if high_bias and high_variance:\n        return "high bias and high variance"\n', ""),
        _m("diagnose", "the absolute value of the dev gap", "dev_error - train_error > tolerance",
           "abs(dev_error - train_error) > tolerance"),
        _m("diagnose", "bias and variance swapped",
           'return "high bias"\n    if high_variance:\n        return "high variance"',
           'return "high variance"\n    if high_variance:\n        return "high bias"'),
        # compute_cost_with_regularization
        _m("compute_cost_with_regularization", "the L2 term without the 1/2", "lambd / (2 * m)", "lambd / m"),
        _m("compute_cost_with_regularization", "the L2 term without 1/m", "lambd / (2 * m)", "lambd / 2"),
        _m("compute_cost_with_regularization", "the biases are penalized too",
           'sum(np.sum(parameters[f"W{l}"] ** 2) for l in range(1, L + 1))',
           "sum(np.sum(value**2) for value in parameters.values())"),
        _m("compute_cost_with_regularization", "the last layer's weights are left out", "range(1, L + 1)", "range(1, L)"),
        _m("compute_cost_with_regularization", "L is the number of keys", "L = len(parameters) // 2", "L = len(parameters)"),
        _m("compute_cost_with_regularization", "m taken from the wrong axis", "m = Y.shape[1]", "m = Y.shape[0]"),
        _m("compute_cost_with_regularization", "the norm instead of its square",
           'np.sum(parameters[f"W{l}"] ** 2)', 'np.sqrt(np.sum(parameters[f"W{l}"] ** 2))'),
        _m("compute_cost_with_regularization", "an array instead of a float",
           "return float(compute_cost(AL, Y) + lambd / (2 * m) * squares)",
           "return np.array([compute_cost(AL, Y) + lambd / (2 * m) * squares])"),
        # L_model_backward_with_regularization
        _m("L_model_backward_with_regularization", "the term without 1/m", "(lambd / m) * W", "lambd * W"),
        _m("L_model_backward_with_regularization", "the cost's 1/2 kept in the gradient", "(lambd / m) * W",
           "lambd / (2 * m) * W"),
        _m("L_model_backward_with_regularization", "the term added to db too",
           'grads[f"dW{l}"] = grads[f"dW{l}"] + (lambd / m) * W',
           'grads[f"dW{l}"] = grads[f"dW{l}"] + (lambd / m) * W\n'
           '        grads[f"db{l}"] = grads[f"db{l}"] + (lambd / m) * caches[l - 1][0][2]'),
        _m("L_model_backward_with_regularization", "the last layer is not regularized", "range(1, len(caches) + 1)",
           "range(1, len(caches))"),
        _m("L_model_backward_with_regularization", "the term is subtracted", 'grads[f"dW{l}"] + (lambd / m) * W',
           'grads[f"dW{l}"] - (lambd / m) * W'),
        _m("L_model_backward_with_regularization", "m taken from the wrong axis", "m = Y.shape[1]", "m = Y.shape[0]"),
        _m("L_model_backward_with_regularization", "lambd squared", "(lambd / m) * W", "(lambd**2 / m) * W"),
        # dropout_forward
        _m("dropout_forward", "no division by keep_prob", "A_dropped = A * D / keep_prob", "A_dropped = A * D"),
        _m("dropout_forward", "multiplied by keep_prob instead of divided", "A * D / keep_prob", "A * D * keep_prob"),
        _m("dropout_forward", "the mask keeps the units where the draw is >= keep_prob",
           "rng.random(A.shape) < keep_prob", "rng.random(A.shape) >= keep_prob"),
        _m("dropout_forward", "a new generator inside", "D = rng.random(A.shape) < keep_prob",
           "D = np.random.default_rng(0).random(A.shape) < keep_prob"),
        _m("dropout_forward", "NumPy's global generator instead of rng", "rng.random(A.shape)", "np.random.rand(*A.shape)"),
        _m("dropout_forward", "the mask as floats", "D = rng.random(A.shape) < keep_prob",
           "D = (rng.random(A.shape) < keep_prob).astype(float)"),
        _m("dropout_forward", "A is changed in place", "A_dropped = A * D / keep_prob",
           "A *= D / keep_prob\n    A_dropped = A"),
        _m("dropout_forward", "one mask per unit, shared by all examples", "rng.random(A.shape)",
           "rng.random((A.shape[0], 1))"),
        # dropout_backward
        _m("dropout_backward", "no division by keep_prob", "return dA * D / keep_prob", "return dA * D"),
        _m("dropout_backward", "multiplied by keep_prob instead of divided", "return dA * D / keep_prob",
           "return dA * D * keep_prob"),
        _m("dropout_backward", "the mask is not applied", "return dA * D / keep_prob", "return dA / keep_prob"),
        _m("dropout_backward", "the mask is inverted", "return dA * D / keep_prob", "return dA * ~D / keep_prob"),
        _m("dropout_backward", "dA is changed in place", "return dA * D / keep_prob",
           "dA *= D / keep_prob\n    return dA"),
        _m("dropout_backward", "divided by 1 - keep_prob", "return dA * D / keep_prob",
           "return dA * D / (1 - keep_prob)"),
        _m("dropout_backward", "the mask is redrawn in the backward pass", "return dA * D / keep_prob",
           "return dA * (np.random.rand(*dA.shape) < keep_prob) / keep_prob"),
        # L_model_forward_with_dropout
        _m("L_model_forward_with_dropout", "dropout on the output layer too", "            A, D = sigmoid(Z), None",
           "            A, D = dropout_forward(sigmoid(Z), keep_prob, rng)"),
        _m("L_model_forward_with_dropout", "dropout on the input", "    A, caches = X, []",
           "    A, caches = dropout_forward(X, keep_prob, rng)[0], []"),
        _m("L_model_forward_with_dropout", "no dropout at all", "A, D = dropout_forward(relu(Z), keep_prob, rng)",
           "A, D = relu(Z), np.ones(Z.shape, dtype=bool)"),
        _m("L_model_forward_with_dropout", "no mask drawn when keep_prob is 1",
           "        if l < L:\n            A, D = dropout_forward(relu(Z), keep_prob, rng)\n",
           "        if l < L and keep_prob == 1:\n            A, D = relu(Z), np.ones(Z.shape, dtype=bool)\n"
           "        elif l < L:\n            A, D = dropout_forward(relu(Z), keep_prob, rng)\n"),
        _m("L_model_forward_with_dropout", "the next layer reads the activation before dropout",
           "A, D = dropout_forward(relu(Z), keep_prob, rng)",
           "_, D = dropout_forward(relu(Z), keep_prob, rng)\n            A = relu(Z)"),
        _m("L_model_forward_with_dropout", "the cache holds the layer's output instead of its input",
           "caches.append((linear_cache, Z, D))", "caches.append(((A, W, b), Z, D))"),
        _m("L_model_forward_with_dropout", "the cache in the order (Z, linear_cache, D)",
           "caches.append((linear_cache, Z, D))", "caches.append((Z, linear_cache, D))"),
        _m("L_model_forward_with_dropout", "the output layer's mask is ones instead of None",
           "A, D = sigmoid(Z), None", "A, D = sigmoid(Z), np.ones(Z.shape, dtype=bool)"),
        # L_model_backward_with_dropout
        _m("L_model_backward_with_dropout", "the mask is not applied backward",
           "relu_backward(dropout_backward(dA, D, keep_prob), Z)", "relu_backward(dA, Z)"),
        _m("L_model_backward_with_dropout", "no division by keep_prob backward",
           "relu_backward(dropout_backward(dA, D, keep_prob), Z)", "relu_backward(dA * D, Z)"),
        _m("L_model_backward_with_dropout", "the mask is redrawn in the backward pass",
           "dropout_backward(dA, D, keep_prob)", "dropout_backward(dA, np.random.rand(*dA.shape) < keep_prob, keep_prob)"),
        _m("L_model_backward_with_dropout", "grads keys off by one (dA{l} for dA_prev)",
           '        grads[f"dA{l - 1}"] = dA\n    return grads', '        grads[f"dA{l}"] = dA\n    return grads'),
        _m("L_model_backward_with_dropout", "the output layer starts from Y - AL", "linear_backward(AL - Y,",
           "linear_backward(Y - AL,"),
        _m("L_model_backward_with_dropout", "the ReLU's derivative is skipped",
           "dZ = relu_backward(dropout_backward(dA, D, keep_prob), Z)", "dZ = dropout_backward(dA, D, keep_prob)"),
        _m("L_model_backward_with_dropout", "the loop stops before layer 1", "range(L - 1, 0, -1)", "range(L - 1, 1, -1)"),
        _m("L_model_backward_with_dropout", "the output layer's dZ divided by m", "linear_backward(AL - Y, linear_cache)",
           "linear_backward((AL - Y) / Y.shape[1], linear_cache)"),
        # early_stopping
        _m("early_stopping", "a tie counts as an improvement", "dev_costs[i] < dev_costs[best]",
           "dev_costs[i] <= dev_costs[best]"),
        _m("early_stopping", "stops one evaluation late", "i - best >= patience", "i - best > patience"),
        _m("early_stopping", "stops one evaluation early", "i - best >= patience", "i - best >= patience - 1"),
        _m("early_stopping", "compared with the previous cost instead of the best", "dev_costs[i] < dev_costs[best]",
           "dev_costs[i] < dev_costs[i - 1]"),
        _m("early_stopping", "the length instead of the last index", "return best, len(dev_costs) - 1",
           "return best, len(dev_costs)"),
        _m("early_stopping", "the patience counted from the start", "i - best >= patience", "i >= patience"),
        _m("early_stopping", "the global minimum instead of the best so far", "return best, i",
           "return int(np.argmin(dev_costs)), i"),
        _m("early_stopping", "the visible answer returned as a constant",
           code="def early_stopping(dev_costs, patience):\n    return (2, 5)"),
        # regularized_model
        _m("regularized_model", "the costs recorded after the update",
           "        parameters = update_parameters(parameters, grads, learning_rate)\n",
           "        parameters = update_parameters(parameters, grads, learning_rate)\n"
           "        if i % eval_every == 0:\n"
           "            train_costs[-1] = compute_cost(L_model_forward(X, parameters)[0], Y)\n"
           "            dev_costs[-1] = compute_cost(L_model_forward(X_dev, parameters)[0], Y_dev)\n"),
        _m("regularized_model", "the parameters are never updated",
           "parameters = update_parameters(parameters, grads, learning_rate)",
           "update_parameters(parameters, grads, learning_rate)"),
        _m("regularized_model", "a new dropout generator at every step",
           "L_model_forward_with_dropout(X, parameters, keep_prob, rng)",
           "L_model_forward_with_dropout(X, parameters, keep_prob, np.random.default_rng(seed))"),
        _m("regularized_model", "the dev cost measured on the training set",
           "compute_cost(L_model_forward(X_dev, parameters)[0], Y_dev)", "compute_cost(L_model_forward(X, parameters)[0], Y)"),
        _m("regularized_model", "lambd is ignored", "grads = L_model_backward_with_regularization(AL, Y, caches, lambd)",
           "grads = L_model_backward(AL, Y, caches)"),
        _m("regularized_model", "the training cost includes the L2 term",
           "train_costs.append(compute_cost(L_model_forward(X, parameters)[0], Y))",
           "train_costs.append(compute_cost_with_regularization(L_model_forward(X, parameters)[0], Y, parameters, lambd))"),
        _m("regularized_model", "no ValueError for L2 and dropout at once",
           '    if lambd > 0 and keep_prob < 1:\n'
           '        raise ValueError("use L2 (lambd > 0) or dropout (keep_prob < 1), not both at once")\n', ""),
        _m("regularized_model", "the dropout generator is not seeded", "rng = np.random.default_rng(seed)",
           "rng = np.random.default_rng()"),
        _m("regularized_model", "one iteration too few", "range(num_iterations)", "range(num_iterations - 1)"),
    ],
}  # fmt: skip


# A sample of mutants and words the message of their first failing test cell must contain:
# messages name the likely mistake, found by comparing with the reference and known mutants.
TEACHES = {
    ("week1", "my_dense", "the bias is missing"): "the bias b is not added",
    ("week1", "my_dense", "row j of W, W[j], where W is square"): "W is used transposed",
    (
        "week1",
        "my_dense_v",
        "W transposed whenever its shape allows it (only a square W shows it)",
    ): "W is used transposed",
    ("week1", "my_dense_v", "the output is transposed"): "looks transposed",
    ("week1", "my_sequential_v", "the output is flattened to a rank-1 array"): "rank-1 array",
    ("week2", "normalize_rows", "the columns are normalized (axis=0)"): "axis=0 instead of axis=1",
    ("week2", "L1", "the mean instead of the sum"): "the mean was taken instead of the sum",
    ("week2", "initialize_with_zeros", "b is the int 0"): "write b = 0.0",
    ("week2", "propagate", "1/m is missing in dw"): "the 1/m factor is missing",
    ("week2", "propagate", "the cost has the wrong sign"): "the minus sign",
    ("week2", "optimize", "the caller's w is changed in place"): "modified in place",
    ("week2", "predict", "a probability of exactly 0.5 counts as 1"): "not >= 0.5",
    ("week2", "model", "trained on the test set"): "trained on the test set",
    (
        "week2",
        "softmax",
        "each row is normalized (axis=1 instead of axis=0)",
    ): "axis=1 instead of axis=0",
    ("week2", "softmax", "the columns' maximum is not subtracted"): "own maximum",
    ("week3", "initialize_parameters", "W2 is drawn before W1"): "drawn before W1",
    (
        "week3",
        "forward_propagation",
        "sigmoid in the hidden layer",
    ): "sigmoid is used in the hidden",
    ("week3", "compute_cost", "1/m is missing"): "not divided by m",
    ("week3", "backward_propagation", "tanh's derivative from Z1 instead of A1"): "1 - A1**2",
    ("week3", "backward_propagation", "keepdims is missing in db1"): "keepdims=True",
    ("week3", "backward_propagation", "1/m is applied twice"): "1/m is applied twice",
    ("week3", "update_parameters", "the gradient is added"): "added instead of subtracted",
    ("week3", "predict", "a probability of exactly 0.5 counts as 1"): "A2 >= 0.5",
    (
        "week4",
        "initialize_parameters_deep",
        "the weights are scaled by 0.01 (week 3's scale)",
    ): "multiplied by 0.01",
    (
        "week4",
        "linear_activation_forward",
        "the cache holds A instead of Z",
    ): "holds A instead of Z",
    ("week4", "L_model_forward", "the last layer uses relu"): "it must use sigmoid",
    ("week4", "linear_backward", "dA_prev is divided by m"): "only dW and db take the 1/m",
    (
        "week4",
        "linear_activation_backward",
        "sigmoid_backward for a relu layer",
    ): "sigmoid_backward is used for a relu layer",
    ("week4", "L_model_backward", "dAL = AL - Y"): "dZ of the sigmoid layer",
    ("week5", "standardize", "the test set standardized with its own statistics"): "its own mean",
    (
        "week5",
        "batchnorm_forward",
        "epsilon added to the standard deviation",
    ): "np.sqrt(var + epsilon)",
    ("week5", "clip_by_global_norm", "each array clipped by its own norm"): "by its own norm",
    (
        "week5",
        "random_mini_batches",
        "the last, smaller batch is dropped",
    ): "the last, smaller batch",
    (
        "week5",
        "update_parameters_with_momentum",
        "the parameters updated with the old velocity",
    ): "old velocity",
    (
        "week5",
        "update_parameters_with_adam",
        "the bias correction is missing",
    ): "v is not corrected",
    ("week6", "split_train_dev_test", "int() instead of round()"): "use round(), not int()",
    ("week6", "compute_cost_with_regularization", "the L2 term without the 1/2"): "without the 1/2",
    ("week6", "dropout_forward", "no division by keep_prob"): "not divided by keep_prob",
    ("week6", "dropout_backward", "the mask is not applied"): "the mask is not applied",
    ("week6", "L_model_forward_with_dropout", "dropout on the input"): "applied to the input X",
    (
        "week6",
        "L_model_backward_with_dropout",
        "the mask is not applied backward",
    ): "masks are not applied",
    ("week6", "early_stopping", "a tie counts as an improvement"): "a tie",
    (
        "week6",
        "regularized_model",
        "the costs recorded after the update",
    ): "recorded after the update",
}


@dataclass
class Verdict:
    """How the grader treated one mutant."""

    mutant: Mutant
    own: float  # points on its own function's test cells
    own_max: float
    elsewhere_lost: dict  # {other function: points lost}
    messages: list  # the own cells' messages

    @property
    def caught(self):
        return self.own < self.own_max


def slim(nb):
    """The notebook without the demonstration cells after the set-up cells."""
    cells, started = [], False
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        started = started or bool(meta.get("solution"))
        if not started or meta.get("solution") or meta.get("grade"):
            cells.append(cell)
    nb.cells = cells
    return nb


def submission(mutant, source, release):
    """The release notebook with every reference filled in and ``mutant`` in its cell."""
    if mutant.code:
        nb = fill_solutions(release, source)
        for cell in nb.cells:
            if nbgrader_meta(cell).get("grade_id") == mutant.function:
                cell.source = mutant.code
    else:
        nb = fill_solutions(release, source, replace={mutant.function: (mutant.old, mutant.new)})
    return slim(nb)


def sample(catalog=CATALOG):
    """The mutants ``make test`` grades: of every graded function, the mutants whose messages
    :data:`TEACHES` checks, or its first mutant in the catalog when it has none of those
    (``make mutants`` grades the whole catalog)."""
    chosen = {}
    for assignment, mutants in catalog.items():
        taught = [m for m in mutants if (assignment, m.function, m.mistake) in TEACHES]
        with_taught = {m.function for m in taught}
        first = {}
        for mutant in mutants:
            if mutant.function not in with_taught:
                first.setdefault(mutant.function, mutant)
        chosen[assignment] = [m for m in mutants if m in taught or m in first.values()]
    return chosen


def hand_in(root, assignment, mutants, stamp):
    """Hand in ``mutants`` of ``assignment`` (released in the course ``root``), one student
    each, with the timestamp ``stamp``; ``{student: mutant}``."""
    (notebook,) = driver.source_notebooks(root, assignment)  # the course's have one each
    source = read_notebook(root / "source" / assignment / f"{notebook}.ipynb")
    release = read_notebook(root / "release" / assignment / f"{notebook}.ipynb")
    names = exercises(source)
    students = {}
    for mutant in mutants:
        if mutant.function not in names:
            raise ValueError(f"{mutant.function} is not an exercise of {assignment}: {names}")
        if mutant.student in students:
            raise ValueError(f"two mutants of {mutant.function} are both named {mutant.mistake!r}")
        folder = root / "submitted" / mutant.student / assignment
        folder.mkdir(parents=True)
        nbformat.write(submission(mutant, source, release), folder / f"{notebook}.ipynb")
        (folder / "timestamp.txt").write_text(stamp)
        students[mutant.student] = mutant
    return students


def verdicts(results, students):
    """``{student: Verdict}`` of the mutants ``students`` (``{student: mutant}``), from their
    ``results`` (``{student: AssignmentResult}``, more students allowed)."""
    found = {}
    for student, mutant in students.items():
        result = results[student]
        per = result.by_exercise()
        own, own_max = per[mutant.function]
        elsewhere = {
            f: hi - got for f, (got, hi) in per.items() if f != mutant.function and got < hi
        }
        own_cells = result.cells_by_exercise()[mutant.function]
        messages = [c.message for c in own_cells if c.status != "passed"]
        found[student] = Verdict(mutant, own, own_max, elsewhere, messages)
    return found


def grade(assignment, mutants, workdir):
    """Grade ``mutants`` of ``assignment`` in one class run; ``{student: Verdict}``."""
    root = Path(workdir) / assignment
    root.mkdir(parents=True)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "source" / assignment, root / "source" / assignment)
    driver.release(root, [assignment])
    stamp = datetime.now(UTC).strftime(driver.TIMESTAMP_FORMAT)
    students = hand_in(root, assignment, mutants, stamp)
    summary = autograde.autograde(root, assignment, list(students))
    if summary.errors:
        raise RuntimeError(f"mutants that could not be graded: {summary.errors}")
    return verdicts(summary.results, students)


def report(verdicts_by_assignment, show_messages=False):
    """The table ``make mutants`` prints."""
    lines = []
    total = caught = 0
    for assignment, verdicts in verdicts_by_assignment.items():
        lines.append(f"\n{assignment}")
        by_function = {}
        for v in verdicts.values():
            by_function.setdefault(v.mutant.function, []).append(v)
        for function, group in by_function.items():
            n = sum(v.caught for v in group)
            lines.append(f"  {function:<28} {n:>3} of {len(group):<3} mutants caught")
            for v in group:
                mark = "caught " if v.caught else "ESCAPED"
                extra = f"; also lost {v.elsewhere_lost}" if v.elsewhere_lost else ""
                lines.append(f"    {mark} {v.mutant.mistake} ({v.own:g}/{v.own_max:g}){extra}")
                if show_messages and v.messages:
                    lines.append(f"            message: {v.messages[0].splitlines()[0][:300]}")
        n = sum(v.caught for v in verdicts.values())
        lines.append(f"  {assignment}: {n} of {len(verdicts)} mutants caught")
        total, caught = total + len(verdicts), caught + n
    lines.append(f"\noverall: {caught} of {total} mutants caught")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade the mutation catalog and print it.")
    parser.add_argument("assignments", nargs="*", help="default: every assignment in the catalog")
    parser.add_argument(
        "--show-messages", action="store_true", help="print the message each mutant got"
    )
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    args = parser.parse_args(argv)
    unknown = set(args.assignments) - set(CATALOG)
    if unknown:
        parser.error(f"no mutants for {sorted(unknown)}; the catalog has {sorted(CATALOG)}")
    chosen = args.assignments or list(CATALOG)
    results = {}
    with tempfile.TemporaryDirectory(prefix="course-mutants-") as tmp:
        for assignment in chosen:
            print(
                f"grading {len(CATALOG[assignment])} mutants of {assignment} ...", file=sys.stderr
            )
            results[assignment] = grade(assignment, CATALOG[assignment], tmp)
    if args.json:
        print(json.dumps({
            a: [{"function": v.mutant.function, "mistake": v.mutant.mistake, "caught": v.caught,
                 "own": v.own, "own_max": v.own_max, "elsewhere_lost": v.elsewhere_lost,
                 "messages": v.messages} for v in verdicts.values()]
            for a, verdicts in results.items()
        }, indent=2))  # fmt: skip
    else:
        print(report(results, args.show_messages))
    escaped = [v for verdicts in results.values() for v in verdicts.values() if not v.caught]
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
