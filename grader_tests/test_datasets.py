"""The data sets, and the recipe that made week 1's pre-trained weights.

Run this file as a script to rebuild ``course/data/week1_dense_weights.npz``:
``.venv/bin/python grader_tests/test_datasets.py --write``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from course import datasets
from course.activations import sigmoid

WEIGHTS_FILE = Path(datasets.__file__).parent / "data" / "week1_dense_weights.npz"
LAYER_SIZES = (64, 25, 15, 1)


def train_dense_weights(iterations=600, learning_rate=2.0, seed=1):
    """Full-batch gradient descent on the binary cross-entropy, row convention."""
    X, y, _, _ = datasets.load_digits_binary()
    Y = y.reshape(-1, 1).astype(float)
    m = X.shape[0]
    rng = np.random.default_rng(seed)
    params = {}
    for layer, (n_in, n_out) in enumerate(zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]), start=1):
        params[f"W{layer}"] = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        params[f"b{layer}"] = np.zeros(n_out)
    for _ in range(iterations):
        activations = [X]
        for layer in (1, 2, 3):
            z = activations[-1] @ params[f"W{layer}"] + params[f"b{layer}"]
            activations.append(sigmoid(z))
        dZ = (activations[3] - Y) / m
        for layer in (3, 2, 1):
            A_prev = activations[layer - 1]
            dW = A_prev.T @ dZ
            db = dZ.sum(axis=0)
            dA_prev = dZ @ params[f"W{layer}"].T
            params[f"W{layer}"] -= learning_rate * dW
            params[f"b{layer}"] -= learning_rate * db
            dZ = dA_prev * A_prev * (1 - A_prev)
    return params


def accuracy(params, X, y):
    a = X
    for layer in (1, 2, 3):
        a = sigmoid(a @ params[f"W{layer}"] + params[f"b{layer}"])
    return float(np.mean((a[:, 0] >= 0.5) == y))


def test_digits_split_is_fixed_stratified_and_disjoint():
    X_train, y_train, X_test, y_test = datasets.load_digits_binary()
    assert X_train.shape == (270, 64) and X_test.shape == (90, 64)
    assert y_train.shape == (270,) and y_test.shape == (90,)
    assert X_train.min() >= 0 and X_train.max() <= 1
    assert set(np.unique(y_train)) == {0, 1}
    # stratified: both classes in the test set in their overall proportion (178 zeros, 182 ones)
    assert np.bincount(y_test).tolist() == [44, 46]
    # no image is both a training and a test example
    train_rows = {row.tobytes() for row in X_train}
    assert not any(row.tobytes() in train_rows for row in X_test)
    again = datasets.load_digits_binary()
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_train, y_train, X_test, y_test)))


def test_digits_other_pair_and_bad_arguments():
    X_train, y_train, X_test, _ = datasets.load_digits_binary(digits=(3, 8), test_fraction=0.5)
    assert X_train.shape[1] == 64 and abs(len(X_train) - len(X_test)) <= 2
    with pytest.raises(ValueError, match="two distinct digits"):
        datasets.load_digits_binary(digits=(1, 1))
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.load_digits_binary(test_fraction=1.5)


def test_shipped_weights_have_the_documented_shapes():
    weights = datasets.load_dense_weights()
    expected = {"W1": (64, 25), "b1": (25,), "W2": (25, 15), "b2": (15,), "W3": (15, 1), "b3": (1,)}
    assert {k: v.shape for k, v in weights.items()} == expected


def test_shipped_weights_come_from_the_recipe_and_still_work():
    shipped = datasets.load_dense_weights()
    retrained = train_dense_weights()
    for key, value in shipped.items():
        np.testing.assert_allclose(retrained[key], value, rtol=1e-6, atol=1e-8, err_msg=key)
    _, _, X_test, y_test = datasets.load_digits_binary()
    assert accuracy(shipped, X_test, y_test) >= 0.98


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python grader_tests/test_datasets.py --write")
    weights = train_dense_weights()
    np.savez(WEIGHTS_FILE, **weights)
    X_train, y_train, X_test, y_test = datasets.load_digits_binary()
    print(
        f"wrote {WEIGHTS_FILE}: train accuracy {accuracy(weights, X_train, y_train):.4f}, "
        f"test accuracy {accuracy(weights, X_test, y_test):.4f}"
    )
