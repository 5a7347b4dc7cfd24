"""Every data set of the course, generated or loaded offline.

Images come from scikit-learn's bundled handwritten digits (8x8 pixels, 16 grey levels),
which ship inside the scikit-learn package, so nothing is downloaded.

Week 1 uses the row convention: ``X`` is (m, n) with one example per row.
"""

from pathlib import Path

import numpy as np

__all__ = ["load_digits_binary", "load_dense_weights", "DIGIT_SHAPE"]

DIGIT_SHAPE = (8, 8)
_DENSE_WEIGHTS = "week1_dense_weights.npz"
_DENSE_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def load_digits_binary(digits=(0, 1), test_fraction=0.25, seed=0):
    """Two classes of handwritten digits, scaled to [0, 1], with a fixed train/test split.

    The split is stratified and reproducible: the same arguments always give the same
    examples in the same order.

    Args:
        digits: the pair ``(negative, positive)`` of distinct digits in 0..9; labels are 0
            for the first and 1 for the second.
        test_fraction: share of each class held out for testing, in (0, 1).
        seed: seed of the shuffle that makes the split.

    Returns:
        ``(X_train, y_train, X_test, y_test)``: ``X_*`` float arrays of shape (m, 64), one
        flattened 8x8 image per row with pixel values in [0, 1]; ``y_*`` int arrays of
        shape (m,) holding 0 or 1.
    """
    digits = tuple(digits)
    if len(digits) != 2 or digits[0] == digits[1] or not all(d in range(10) for d in digits):
        raise ValueError(f"digits must be two distinct digits from 0 to 9, got {digits!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")

    from sklearn.datasets import load_digits  # deferred: importing sklearn takes a while

    data = load_digits()
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for digit in digits:
        idx = rng.permutation(np.flatnonzero(data.target == digit))
        n_test = int(round(test_fraction * len(idx)))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))

    X = data.data / 16.0
    y = (data.target == digits[1]).astype(int)
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]


def load_dense_weights():
    """Pre-trained weights of week 1's three-layer sigmoid network for 0-versus-1 digits.

    The network maps a flattened 8x8 image to the probability that it shows a 1, in the
    row convention: ``a1 = sigmoid(x @ W1 + b1)`` and so on. How the weights were trained
    is shown (and re-checked) in ``grader_tests/test_datasets.py``.

    Returns:
        dict with ``W1`` (64, 25), ``b1`` (25,), ``W2`` (25, 15), ``b2`` (15,),
        ``W3`` (15, 1), ``b3`` (1,), all float arrays.
    """
    with np.load(Path(__file__).parent / "data" / _DENSE_WEIGHTS) as npz:
        return {key: npz[key].copy() for key in _DENSE_KEYS}
