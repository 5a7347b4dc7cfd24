"""Every data set of the course, generated or loaded offline.

Images come from scikit-learn's bundled handwritten digits (8x8 pixels, 16 grey levels),
which ship inside the scikit-learn package, so nothing is downloaded.

Week 1 uses the row convention: ``X`` is (m, n) with one example per row.
"""

import gzip
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "load_digits_binary",
    "load_digits_low_high",
    "load_digits_ten",
    "load_dense_weights",
    "load_planar_dataset",
    "load_2d_datasets",
    "load_noisy_wave",
]

_DENSE_WEIGHTS = "week1_dense_weights.npz"
_DENSE_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def load_digits_binary(
    digits: Sequence[int] = (0, 1), test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
    X, target, train_idx, test_idx = _split_digits(digits, test_fraction, seed)
    y = (target == digits[1]).astype(int)
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]


def _split_digits(digits, test_fraction, seed):
    """The digit images scaled to [0, 1], and a split stratified by digit.

    Args:
        digits: the digits (0..9) whose images are kept.
        test_fraction: share of each digit's images held out for testing, in (0, 1).
        seed: seed of the shuffle that makes the split.

    Returns:
        ``(X, target, train_idx, test_idx)``: ``X`` float array of shape (1797, 64), every
        image of the data set as a row; ``target`` int array of shape (1797,), the digits;
        ``train_idx`` and ``test_idx`` int arrays of row numbers, each shuffled.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")

    images, target = _digit_images()
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for digit in digits:
        idx = rng.permutation(np.flatnonzero(target == digit))
        n_test = int(round(test_fraction * len(idx)))
        if not 0 < n_test < len(idx):
            raise ValueError(
                f"test_fraction={test_fraction!r} leaves no {'test' if n_test == 0 else 'training'}"
                f" image of digit {digit} (it has {len(idx)} images); choose a fraction nearer 0.5"
            )
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return images / 16.0, target, train_idx, test_idx


def _digit_images():
    """scikit-learn's digits: ``(images, target)``, float (1797, 64) and int (1797,).

    Read from the file scikit-learn ships, as its ``load_digits`` reads it, without importing
    scikit-learn: that import takes most of a second in every process that loads the digits
    (a notebook's kernel, nbgrader's for each submission, the grader's judge).
    """
    spec = importlib.util.find_spec("sklearn")  # finds the package, does not import it
    for folder in (spec and spec.submodule_search_locations) or []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, mode="rt", encoding="utf-8") as text:
                table = np.loadtxt(text, delimiter=",")
            return table[:, :-1], table[:, -1].astype(int, copy=False)
    from sklearn.datasets import load_digits  # a scikit-learn that keeps it elsewhere

    data = load_digits()
    return data.data, data.target


def load_dense_weights() -> dict[str, np.ndarray]:
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


# The flower's colour pattern, petal by petal counter-clockwise from the positive x axis: two
# petals of one class, two of the other, and again. Petal k + 4 is petal k turned by half a
# turn and has its class, so each class is symmetric about the centre (see the docstring).
_FLOWER_PATTERN = (0, 0, 1, 1, 0, 0, 1, 1)
_FLOWER_RADIUS = 4.0
# Standard deviation of the angle's noise, in radians per unit of ``noise``.
_FLOWER_ANGLE_NOISE = 0.9


def _check_even_m(m):
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 4 or m % 2:
        raise ValueError(f"m must be an even integer of at least 4 (two equal classes), got {m!r}")


def load_planar_dataset(
    m: int = 400, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The "flower": two classes of points on eight petals around the origin (week 3).

    Each petal is an arch of the polar curve ``r = 4 sin(pi u)``: a point at position
    ``u`` in (0, 1) along petal ``k`` (k = 0, ..., 7) has angle ``(k + u) * pi/4`` and radius
    ``4 sin(pi u)``, so it starts at the centre, reaches a tip at distance 4 and comes back.
    Going round, the petals' classes are 0, 0, 1, 1, 0, 0, 1, 1: class 0 fills the first and
    third quadrants, class 1 the second and fourth, an XOR pattern drawn as a flower.

    No straight line separates the classes, and none does better than a coin toss: a half
    turn about the centre maps petal ``k`` onto petal ``k + 4``, of the same class, so each
    class is symmetric about the centre. Every line through the centre leaves as much of
    each class on one side as on the other, and moving the line off the centre gains nothing
    on the whole. Logistic regression scores about 50% (49.5% with the default arguments,
    under a coin toss); two lines through the centre, the axes, separate the classes.

    Gaussian noise is added to every radius (standard deviation ``noise``) and every angle
    (``0.9 * noise`` radians). Each class has ``m / 2`` points, spread evenly over its four
    petals; the columns are shuffled.

    Args:
        m: number of points, an even integer of at least 4.
        noise: standard deviation of the radial noise, a number >= 0.
        seed: seed of the generator; the same arguments always give the same points.

    Returns:
        ``(X, Y)`` in the column convention: ``X`` float array of shape (2, m), one point per
        column; ``Y`` int array of shape (1, m) holding 0 or 1.
    """
    _check_even_m(m)
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.number)) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    width = 2 * np.pi / len(_FLOWER_PATTERN)
    per_class = m // 2
    X, Y = np.zeros((2, m)), np.zeros((1, m), dtype=int)
    for label in (0, 1):
        # the class's four petals in turn, so that each gets (almost) the same number of points
        petals = np.flatnonzero(np.array(_FLOWER_PATTERN) == label)
        petal = petals[np.arange(per_class) % len(petals)]
        u = rng.uniform(0.0, 1.0, per_class)
        angle = (petal + u) * width + _FLOWER_ANGLE_NOISE * noise * rng.standard_normal(per_class)
        radius = _FLOWER_RADIUS * np.sin(np.pi * u) + noise * rng.standard_normal(per_class)
        columns = slice(label * per_class, (label + 1) * per_class)
        X[:, columns] = radius * np.cos(angle), radius * np.sin(angle)
        Y[0, columns] = label
    order = rng.permutation(m)
    return X[:, order], Y[:, order]


def load_2d_datasets(m: int = 200, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Four more two-class data sets in the plane, to try a small network on (week 3).

    Made with scikit-learn's generators (nothing is downloaded):

    * ``"moons"``: two interleaved half circles (``make_moons``, noise 0.2);
    * ``"circles"``: a ring around a disc (``make_circles``, factor 0.5, noise 0.08);
    * ``"blobs"``: four Gaussian blobs at the corners of a square, opposite corners in the
      same class, an XOR pattern (``make_blobs``, standard deviation 0.8);
    * ``"gaussian_quantiles"``: one Gaussian cloud, class 1 outside the circle that holds
      half of the points (``make_gaussian_quantiles``).

    Args:
        m: number of points of each data set, an even integer of at least 4.
        seed: seed of the generators; the same arguments always give the same points.

    Returns:
        dict mapping each name above to ``(X, Y)`` in the column convention: ``X`` float
        array of shape (2, m), ``Y`` int array of shape (1, m) with ``m / 2`` zeros and
        ``m / 2`` ones.
    """
    _check_even_m(m)
    from sklearn import datasets as sk  # deferred: importing sklearn takes a while

    half = m // 2
    corners = np.array([[-2.0, -2.0], [2.0, 2.0], [-2.0, 2.0], [2.0, -2.0]])
    counts = [half - half // 2, half // 2, half - half // 2, half // 2]
    made = {
        "moons": sk.make_moons(n_samples=m, noise=0.2, random_state=seed),
        "circles": sk.make_circles(n_samples=m, factor=0.5, noise=0.08, random_state=seed),
        "blobs": sk.make_blobs(
            n_samples=counts, centers=corners, cluster_std=0.8, random_state=seed
        ),
        "gaussian_quantiles": sk.make_gaussian_quantiles(
            n_samples=m, n_features=2, n_classes=2, random_state=seed
        ),
    }
    sets = {}
    for name, (points, labels) in made.items():
        if name == "blobs":
            labels = labels // 2  # corners 0, 1 are class 0; corners 2, 3 class 1
        sets[name] = (points.T.astype(float), labels.reshape(1, -1).astype(int))
    return sets


def load_digits_low_high(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All ten digits, labelled by size: 0 for a digit from 0 to 4, 1 for one from 5 to 9.

    The images are scikit-learn's 1797 handwritten digits, scaled to [0, 1], in the column
    convention (weeks 2 to 5): one flattened 8x8 image per column. The split is stratified by
    digit (each digit keeps its share in both sets) and reproducible: the same arguments
    always give the same images in the same order. With the defaults there are 1347 training
    images and 450 test images. Weeks 2 and 4 use this task and split to compare logistic
    regression with a deep network.

    Args:
        test_fraction: share of each digit's images held out for testing, in (0, 1).
        seed: seed of the shuffle that makes the split, a non-negative integer.

    Returns:
        ``(X_train, Y_train, X_test, Y_test)``: ``X_*`` float arrays of shape (64, m), pixel
        values in [0, 1], where ``X[:, i].reshape(8, 8)`` is image ``i``; ``Y_*`` float
        arrays of shape (1, m) holding 0.0 (digits 0-4) or 1.0 (digits 5-9).
    """
    X_train, digits_train, X_test, digits_test = load_digits_ten(test_fraction, seed)
    return (
        X_train,
        (digits_train >= 5).astype(float),
        X_test,
        (digits_test >= 5).astype(float),
    )


def load_digits_ten(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All ten digits, labelled by the digit itself: ten classes.

    The same images, convention and split as :func:`load_digits_low_high` with the same
    arguments (image ``i`` of either set is the same in both); only the labels differ.

    Args:
        test_fraction: share of each digit's images held out for testing, in (0, 1).
        seed: seed of the shuffle that makes the split, a non-negative integer.

    Returns:
        ``(X_train, y_train, X_test, y_test)``: ``X_*`` float arrays of shape (64, m), pixel
        values in [0, 1], one image per column; ``y_*`` int arrays of shape (1, m) holding
        the digit (0 to 9) each image shows.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (it fixes the split), got {seed!r}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.number)):
        raise ValueError(f"test_fraction must be a number between 0 and 1, got {test_fraction!r}")
    X, target, train_idx, test_idx = _split_digits(range(10), test_fraction, seed)
    digits = target.astype(int).reshape(1, -1)
    X_train, X_test = np.ascontiguousarray(X[train_idx].T), np.ascontiguousarray(X[test_idx].T)
    return X_train, digits[:, train_idx], X_test, digits[:, test_idx]


# The wave that separates the classes of ``load_noisy_wave``: x2 = amplitude * sin(frequency * x1).
_WAVE_AMPLITUDE = 0.4
_WAVE_FREQUENCY = 2.5


def load_noisy_wave(
    m: int = 400, flip: float = 0.1, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Points in a square split by a wave, with some labels flipped: made to overfit (week 6).

    The points are uniform in the square [-1, 1] x [-1, 1]. A point is of class 1 when it
    lies above the wave ``x2 = 0.4 sin(2.5 x1)`` and of class 0 below it; then each label is
    flipped with probability ``flip``, independently, as if a share of the examples had been
    labelled by mistake. The best any classifier can do on new points is therefore to get
    the wave right and miss the flipped labels: about ``1 - flip`` accuracy.

    Why it overfits: with a few hundred points and a network of thousands of weights, gradient
    descent can also fit the flipped points, drawing a small island of the wrong class around
    each one. The islands cost nothing on the training set and cost the points of new data
    that fall inside them.

    Args:
        m: number of points, an integer of at least 2.
        flip: probability that a label is flipped, a number in [0, 0.5).
        seed: seed of the generator; the same arguments always give the same points.

    Returns:
        ``(X, Y)`` in the column convention: ``X`` float array of shape (2, m), one point per
        column; ``Y`` int array of shape (1, m) holding 0 or 1.
    """
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"m must be an integer of at least 2, got {m!r}")
    if (
        isinstance(flip, bool)
        or not isinstance(flip, (int, float, np.number))
        or not 0 <= flip < 0.5
    ):
        raise ValueError(
            f"flip must be a probability in [0, 0.5) (at 0.5 every label is a coin toss), "
            f"got {flip!r}"
        )
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (2, m))
    above = X[1] > _WAVE_AMPLITUDE * np.sin(_WAVE_FREQUENCY * X[0])
    flipped = rng.random(m) < flip
    Y = np.logical_xor(above, flipped).astype(int).reshape(1, m)
    return X, Y
