"""The data sets, and the recipe that made week 1's pre-trained weights.

Run this file as a script to rebuild ``course/data/week1_dense_weights.npz``:
``.venv/bin/python grader_tests/test_datasets.py --write``.
"""

import subprocess
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


def test_digits_are_scikit_learns_read_without_importing_it():
    """The course reads scikit-learn's bundled digits file itself (importing scikit-learn
    costs every grading server most of a second): the same images and labels as
    ``sklearn.datasets.load_digits``, and scikit-learn is not imported to get them."""
    code = (
        "import sys; from course import datasets; images, target = datasets._digit_images(); "
        "print(images.shape, target.shape, images.dtype, target.dtype, 'sklearn' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["(1797,", "64)", "(1797,)", "float64", "int64", "False"]
    from sklearn.datasets import load_digits

    images, target = datasets._digit_images()
    expected = load_digits()
    np.testing.assert_array_equal(images, expected.data)
    np.testing.assert_array_equal(target, expected.target)
    assert target.dtype == expected.target.dtype


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


def assert_two_balanced_classes(X, Y, m):
    assert X.shape == (2, m) and Y.shape == (1, m)
    assert X.dtype == float and np.issubdtype(Y.dtype, np.integer)
    assert np.isfinite(X).all()
    assert np.bincount(Y[0], minlength=2).tolist() == [m // 2, m // 2]


def test_planar_flower_shapes_classes_and_seeds():
    X, Y = datasets.load_planar_dataset()
    assert_two_balanced_classes(X, Y, 400)
    # the petals reach about 4 from the centre, and the classes take turns around it
    radius = np.hypot(X[0], X[1])
    assert 3.5 < radius.max() < 5 and np.median(radius) < 3.5
    again = datasets.load_planar_dataset()
    assert np.array_equal(X, again[0]) and np.array_equal(Y, again[1])
    other = datasets.load_planar_dataset(seed=1)
    assert not np.allclose(X, other[0])
    small = datasets.load_planar_dataset(m=10, noise=0.0, seed=3)
    assert_two_balanced_classes(*small, 10)


def test_planar_flower_petals_follow_the_colour_pattern():
    X, Y = datasets.load_planar_dataset(m=800, noise=0.0)
    # without noise every point lies on its petal: the angle's eighth of the circle (counted
    # from the positive x axis) is the petal, and the petal's class is the pattern's
    angle = np.mod(np.arctan2(X[1], X[0]), 2 * np.pi)
    petal = np.floor(angle / (np.pi / 4)).astype(int) % 8
    pattern = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    assert np.array_equal(pattern[petal], Y[0])
    # an XOR of the quadrants: class 1 where x1 and x2 have opposite signs
    assert np.array_equal(Y[0], (X[0] * X[1] < 0).astype(int))
    # every petal gets its share: 100 points on each of the eight
    assert np.bincount(petal, minlength=8).tolist() == [100] * 8
    radius = np.hypot(X[0], X[1])
    assert radius.max() <= 4.0 + 1e-12 and radius.max() > 3.99
    # the petal is the arch r = 4 sin(pi u), u being the position along the petal
    u = angle / (np.pi / 4) - petal
    assert np.allclose(radius, 4.0 * np.sin(np.pi * u))


def test_planar_flower_classes_are_symmetric_about_the_centre():
    # a half turn maps each petal onto one of the same class: without noise, the points of a
    # class turned by a half turn lie on that class's petals again
    X, Y = datasets.load_planar_dataset(m=800, noise=0.0)
    turned = -X
    angle = np.mod(np.arctan2(turned[1], turned[0]), 2 * np.pi)
    petal = np.floor(angle / (np.pi / 4)).astype(int) % 8
    assert np.array_equal(np.array([0, 0, 1, 1, 0, 0, 1, 1])[petal], Y[0])


def test_planar_flower_defeats_logistic_regression():
    # the default flower: balanced classes, and a logistic regression (the best line by its
    # cost) does worse than a coin toss, what the week 3 notebook's baseline shows
    from sklearn.linear_model import LogisticRegression

    X, Y = datasets.load_planar_dataset()
    assert np.bincount(Y[0], minlength=2).tolist() == [200, 200]
    baseline = LogisticRegression().fit(X.T, Y.ravel())
    assert baseline.score(X.T, Y.ravel()) < 0.5
    # a least-squares linear classifier is near chance too
    design = np.vstack([X, np.ones((1, X.shape[1]))]).T
    w, *_ = np.linalg.lstsq(design, 2.0 * Y[0] - 1.0, rcond=None)
    assert np.mean((design @ w > 0) == Y[0]) < 0.55
    # while the two axes, an XOR of the quadrants, get most points right
    assert np.mean(Y[0] == (X[0] * X[1] < 0)) > 0.85


def test_2d_datasets_shapes_classes_and_seeds():
    sets = datasets.load_2d_datasets()
    assert sorted(sets) == ["blobs", "circles", "gaussian_quantiles", "moons"]
    for X, Y in sets.values():
        assert_two_balanced_classes(X, Y, 200)
    again, other = datasets.load_2d_datasets(), datasets.load_2d_datasets(seed=1)
    for name, (X, Y) in sets.items():
        assert np.array_equal(X, again[name][0]) and np.array_equal(Y, again[name][1])
        assert not np.allclose(X, other[name][0]), name
    for X, Y in datasets.load_2d_datasets(m=6, seed=2).values():
        assert_two_balanced_classes(X, Y, 6)


def test_2d_blobs_are_an_xor_pattern():
    X, Y = datasets.load_2d_datasets(m=400)["blobs"]
    same_sign = np.sign(X[0]) == np.sign(X[1])
    assert np.mean(same_sign == (Y[0] == 0)) > 0.95


@pytest.mark.parametrize("m", [0, 3, 401, -2, 2.0, "400", True])
def test_planar_data_sets_reject_bad_m(m):
    with pytest.raises(ValueError, match="m must be an even integer"):
        datasets.load_planar_dataset(m=m)
    with pytest.raises(ValueError, match="m must be an even integer"):
        datasets.load_2d_datasets(m=m)


@pytest.mark.parametrize("noise", [-0.1, float("nan"), "a lot", None])
def test_planar_flower_rejects_bad_noise(noise):
    with pytest.raises(ValueError, match="noise must be a number >= 0"):
        datasets.load_planar_dataset(noise=noise)


def test_digits_low_high_shapes_labels_and_column_convention():
    X_train, Y_train, X_test, Y_test = datasets.load_digits_low_high()
    assert X_train.shape == (64, 1347) and Y_train.shape == (1, 1347)
    assert X_test.shape == (64, 450) and Y_test.shape == (1, 450)
    for array in (X_train, Y_train, X_test, Y_test):
        assert array.dtype == float
    assert X_train.min() == 0 and X_train.max() == 1
    assert set(np.unique(Y_train)) == set(np.unique(Y_test)) == {0.0, 1.0}
    # one image per column, labelled by whether its digit is 5 or more
    from sklearn.datasets import load_digits

    data = load_digits()
    digit_of = {(row / 16.0).tobytes(): digit for row, digit in zip(data.data, data.target)}
    digits_test = np.array([digit_of[X_test[:, i].tobytes()] for i in range(450)])
    np.testing.assert_array_equal(Y_test[0], digits_test >= 5)
    # stratified by digit: each digit's test share is a quarter of its images
    assert np.bincount(digits_test).tolist() == [44, 46, 44, 46, 45, 46, 45, 45, 44, 45]


def test_digits_low_high_split_is_fixed_and_disjoint():
    X_train, Y_train, X_test, Y_test = datasets.load_digits_low_high()
    train_columns = {X_train[:, i].tobytes() for i in range(X_train.shape[1])}
    assert not any(X_test[:, i].tobytes() in train_columns for i in range(X_test.shape[1]))
    again = datasets.load_digits_low_high()
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_train, Y_train, X_test, Y_test)))
    other = datasets.load_digits_low_high(seed=1)
    assert other[2].shape == (64, 450) and not np.array_equal(other[2], X_test)
    half = datasets.load_digits_low_high(test_fraction=0.5)
    assert abs(half[0].shape[1] - half[2].shape[1]) <= 10


def test_digits_low_high_is_hard_for_logistic_regression():
    # what weeks 2 and 4 promise: logistic regression (week 2's model) is good, not perfect
    X_train, Y_train, X_test, Y_test = datasets.load_digits_low_high()
    w, b, m = np.zeros((64, 1)), 0.0, X_train.shape[1]
    for _ in range(2000):
        dZ = sigmoid(w.T @ X_train + b) - Y_train
        w -= 0.5 * (X_train @ dZ.T) / m
        b -= 0.5 * float(np.sum(dZ)) / m
    test_accuracy = np.mean((sigmoid(w.T @ X_test + b) > 0.5) == Y_test)
    assert 0.85 < test_accuracy < 0.96


def test_digits_ten_are_the_low_high_images_labelled_by_digit():
    X_train, y_train, X_test, y_test = datasets.load_digits_ten()
    low_high = datasets.load_digits_low_high()
    assert np.array_equal(X_train, low_high[0]) and np.array_equal(X_test, low_high[2])
    assert y_train.shape == (1, 1347) and y_test.shape == (1, 450)
    assert y_train.dtype.kind == "i" and set(np.unique(y_train)) == set(range(10))
    assert np.array_equal(y_train >= 5, low_high[1] == 1.0)
    assert np.array_equal(y_test >= 5, low_high[3] == 1.0)
    assert np.bincount(y_test[0]).min() >= 40  # every digit keeps its share of the test set
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        datasets.load_digits_ten(seed=-1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"test_fraction": 0}, "between 0 and 1"),
        ({"test_fraction": 1.5}, "between 0 and 1"),
        ({"test_fraction": float("nan")}, "between 0 and 1"),
        ({"test_fraction": "0.3"}, "between 0 and 1"),
        ({"test_fraction": None}, "between 0 and 1"),
        ({"test_fraction": 0.001}, "leaves no test image of digit 0"),
        ({"test_fraction": 0.999}, "leaves no training image of digit 0"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"seed": 1.5}, "seed must be a non-negative integer"),
        ({"seed": None}, "seed must be a non-negative integer"),
    ],
)
def test_digits_low_high_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.load_digits_low_high(**kwargs)


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


def test_noisy_wave_shapes_labels_and_seeds():
    X, Y = datasets.load_noisy_wave()
    assert X.shape == (2, 400) and Y.shape == (1, 400) and Y.dtype.kind == "i"
    assert X.min() >= -1 and X.max() <= 1 and set(np.unique(Y)) == {0, 1}
    again, _ = datasets.load_noisy_wave()
    other, _ = datasets.load_noisy_wave(seed=2)
    assert np.array_equal(X, again) and not np.array_equal(X, other)


@pytest.mark.parametrize("flip", [0.0, 0.1, 0.3])
def test_noisy_wave_flips_about_the_share_of_labels_asked_for(flip):
    X, Y = datasets.load_noisy_wave(m=4000, flip=flip)
    above = X[1] > 0.4 * np.sin(2.5 * X[0])
    flipped = np.mean(Y[0] != above)
    assert abs(flipped - flip) < 0.02
    assert flip > 0 or flipped == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"m": 1}, "m must be"),
        ({"m": 3.0}, "m must be"),
        ({"flip": 0.5}, "flip must be"),
        ({"flip": -0.1}, "flip must be"),
        ({"flip": True}, "flip must be"),
    ],
)
def test_noisy_wave_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.load_noisy_wave(**kwargs)
