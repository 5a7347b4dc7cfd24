"""The six assignments as the tests see them: one row of :data:`WEEKS` per week.

A row holds the week's exercises and points, the mistakes its sample submissions make (with
the points each should get), the cells that must show a plot, and a check of every number its
prose promises. The submissions every week shares are named after their outcome
(``passes_all``, ``untouched_release``, ``tampers_first_test``, ...); their expected scores are
computed from the table, never written into file names. ``test_pipeline.py`` grades them, in
the class each week shares with the mutant sample (``conftest.py``: ``week_class``).
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import matplotlib.pyplot as plt
import mutants
import nbformat
import numpy as np
import pytest

from course import plots
from course.grading import autograde
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import fill_solutions, nbgrader_meta, read_notebook


def printed_percent(text, label):
    """The first percentage printed after ``label`` (e.g. ``test accuracy: 98.9%``)."""
    found = re.findall(rf"{re.escape(label)}:? *([0-9.]+)%", text)
    assert found, f"the notebook does not print '{label}: ...%'"
    return float(found[0])


def printed_number(text, pattern):
    """The number that the group of ``pattern`` matches first in ``text``."""
    found = re.findall(pattern, text)
    assert found, f"the notebook prints nothing that matches {pattern!r}"
    return float(found[0])


@dataclass
class Week:
    """One assignment, as the pipeline tests see it.

    Attributes:
        notebook: the notebook's name (without .ipynb).
        points: ``{exercise: points}`` in the course's order.
        mistakes: ``{student: (replace, expected)}``: the solutions with ``replace``
            (``{exercise: (old, new)}``) applied, and the points per exercise that
            submission gets (exercises not named get full points).
        plots: ids of the cells that must show an image when the source runs.
        claims: a function of everything the source printed that checks the numbers the
            prose promises.
        hardcoded: ``(exercise, code)``: a definition that returns the visible test's
            expected output as a constant; the hidden tests must give it 0 points (the
            other exercises are left undone).
    """

    notebook: str
    points: dict
    mistakes: dict = field(default_factory=dict)
    plots: set = field(default_factory=set)
    claims: object = None
    hardcoded: tuple = ()

    @property
    def functions(self):
        return list(self.points)


def week1_claims(text):
    assert printed_percent(text, "test accuracy") >= 98.0
    # one leaky-ReLU alpha, stated: the printed values and the plot use the same one
    values, alpha = re.search(r"leaky_relu: \[([^\]]*)\]  \(alpha = ([0-9.]+)\)", text).groups()
    alpha = float(alpha)
    assert alpha == 0.1  # the prose: "both use alpha = 0.1"
    z = np.array([-1000.0, -2.0, 0.0, 2.0, 1000.0])
    np.testing.assert_allclose([float(v) for v in values.split()], np.where(z > 0, z, alpha * z))
    lines = plots.plot_activations(["leaky_relu"])[0].get_lines()
    (curve,) = [line for line in lines if line.get_label() == "leaky_relu(z)"]
    drawn_z, drawn = curve.get_data()
    np.testing.assert_allclose(drawn[drawn_z < 0], alpha * drawn_z[drawn_z < 0])
    plt.close("all")
    # the exploration: noise leaves the 0 a 0; filling its middle, or moving it one pixel
    # to the right, makes the network say 1 (the shift with a probability above 0.99)
    probability = {
        name: float(p)
        for name, p in re.findall(r"^ *(.+): probability of a 1 = ([0-9.]+)$", text, re.M)
    }
    assert probability["the original"] < 0.5 and probability["noise added"] < 0.5
    assert probability["the middle filled in"] > 0.5
    assert probability["moved one pixel right"] > 0.99


def week2_claims(text):
    def number(pattern):
        return float(re.findall(pattern, text)[0])

    # the computation graph: z = 0.25, a about 0.562, dL/dz = a - y about -0.438, and
    # the chain rule on the graph gives propagate's gradients and cost
    assert number(r"forward: z = ([0-9.-]+)") == 0.25
    assert round(number(r"forward: z = [0-9.-]+, a = ([0-9.]+)"), 3) == 0.562
    assert round(number(r"dL/dz = ([0-9.-]+) \(a - y"), 3) == -0.438
    assert "the chain rule on the graph and propagate agree: True" in text
    # cross-entropy is convex along the weight, the squared error is not; at z = -10 the
    # squared error's gradient is more than ten thousand times smaller
    assert number(r"cross-entropy: smallest second difference ([0-9.+-]+)") > 0
    assert number(r"squared error: smallest second difference ([0-9.+-]+)") < 0
    assert number(r"at z = -10 the squared error's gradient is ([0-9.]+) times smaller") > 1e4
    # the prose: about 91% on both sets, the cost falling from log 2 to about 0.25
    assert 88.0 <= printed_percent(text, "train accuracy") <= 94.0
    assert 88.0 <= printed_percent(text, "test accuracy") <= 94.0
    cost = float(re.findall(r"cost after iteration 1900: ([0-9.]+)", text)[0])
    assert 0.2 <= cost <= 0.3
    # and with learning rate 0.01 the cost is still above 0.4, train accuracy below 90%
    slow = re.search(
        r"learning rate 0.01: cost at iteration 1900 ([0-9.]+), train accuracy "
        r"([0-9.]+)%",
        text,
    )
    assert float(slow[1]) > 0.4 and float(slow[2]) < 90.0
    # the mistakes: the 3s, 8s and 9s are the most frequent, about half of them
    by_digit = re.search(r"misclassified test images by digit: (.*)", text)[1]
    counts = {int(k): int(n) for k, n in re.findall(r"(\d): (\d+)", by_digit)}
    assert set(sorted(counts, key=counts.get)[-3:]) == {3, 8, 9}
    assert 0.4 <= (counts[3] + counts[8] + counts[9]) / sum(counts.values()) <= 0.6
    # ten classes: about 98% train, 94% test; asked low or high, about 96% (one neuron: 91%)
    ten = re.search(r"ten classes: train accuracy ([0-9.]+)%, test accuracy ([0-9.]+)%", text)
    assert 97.0 <= float(ten[1]) <= 99.0 and 93.0 <= float(ten[2]) <= 95.0
    low_high = printed_percent(text, "ten classes asked low or high: test accuracy")
    assert 95.0 <= low_high <= 97.0 and low_high > printed_percent(text, "test accuracy")


def week3_claims(text):
    baseline = printed_percent(text, "logistic regression train accuracy")
    assert baseline < 50.0  # "under 50%, no better than a coin toss"
    # ||g - g_num|| / (||g|| + ||g_num||), as every week: "far below 1e-7"
    gradient = float(re.findall(r"largest relative difference: ([0-9.e+-]+)", text)[0])
    assert gradient < 1e-7
    assert printed_percent(text, "train accuracy with n_h = 4") >= 90.0
    sweep = {
        int(n): float(a) for n, a in re.findall(r"n_h = (\d+): train accuracy ([0-9.]+)%", text)
    }
    assert sorted(sweep) == [1, 2, 3, 4, 5, 20, 50]
    assert sweep[1] > baseline  # one unit beats logistic regression's line
    assert sweep[2] < 90.0 and sweep[3] < 90.0  # "two and three units ... stay under 90%"
    assert all(sweep[n] > 90.0 for n in sweep if n >= 4)  # "from 4 units on ... over 90%"
    for name in ("moons", "circles", "blobs", "gaussian_quantiles"):
        assert printed_percent(text, f"{name}: train accuracy") >= 90.0
    # two linear layers are one: "the same 400 numbers, up to round-off"
    collapse = re.search(r"two linear layers against one: largest difference ([0-9.e+-]+)", text)
    assert float(collapse[1]) < 1e-12
    # equal starting weights stay equal (one straight unit); random ones move apart and do better
    starts = {
        name: (float(spread), float(accuracy))
        for name, spread, accuracy in re.findall(
            r"start from (.+): after 1000 steps the hidden units differ by at most "
            r"([0-9.e+-]+); accuracy ([0-9.]+)%",
            text,
        )
    }
    equal, random = starts["all weights 0.01"], starts["small random weights"]
    assert equal[0] < 1e-12 and random[0] > 1.0
    assert random[1] > equal[1] + 10.0  # "a clearly better accuracy"


def week4_claims(text):
    rows = dict(
        re.findall(r"^(logistic regression|2-layer network|L-layer network): (.*)$", text, re.M)
    )
    accuracy = {
        name: [float(x) for x in re.findall(r"(?:train|test) ([0-9.]+)%", row)]
        for name, row in rows.items()
    }
    assert 88.0 <= accuracy["logistic regression"][1] <= 94.0  # the same split as week 2
    for network in ("2-layer network", "L-layer network"):
        train, test = accuracy[network]
        assert train >= 99.0 and test >= 95.0
    # the deep network beats logistic regression, making under a third of its test mistakes
    assert 100 - accuracy["L-layer network"][1] < (100 - accuracy["logistic regression"][1]) / 3
    gradient = float(re.findall(r"largest relative difference: ([0-9.e+-]+)", text)[0])
    assert gradient < 1e-7
    assert "every dW[l] and db[l] has the shape of W[l] and b[l]: True" in text
    assert "0.01 initialization: the 1347 outputs range from 0.500000 to 0.500000" in text
    # ten layers: He keeps the hidden activations at 0.2-0.5 and gradients at 1e-3 to a few
    # 1e-2; 0.01 shrinks the signal about 25 times a layer, the gradients to about 1e-16
    table = [
        [float(x) for x in row]
        for row in re.findall(
            r"^ +\d+ +([0-9.e+-]+) +([0-9.e+-]+) +([0-9.e+-]+) +([0-9.e+-]+)$", text, re.M
        )
    ]
    assert len(table) == 10
    he_std, small_std, he_grad, small_grad = zip(*table)
    assert all(0.2 <= std <= 0.5 for std in he_std[:9])
    assert all(1e-3 <= grad <= 5e-2 for grad in he_grad)
    assert 20 <= (small_std[0] / small_std[8]) ** (1 / 8) <= 30  # per layer, on average
    assert all(1e-17 <= grad <= 1e-14 for grad in small_grad)
    assert printed_number(text, r"activations are ([0-9.e+-]+) times those of He") < 1e-12
    # training: from about 0.75 to below 0.1 (2-layer), from about 0.7 to below 0.01 (L-layer)
    first = [float(c) for c in re.findall(r"cost after iteration 0: ([0-9.]+)", text)]
    last = [float(c) for c in re.findall(r"cost after iteration 900: ([0-9.]+)", text)]
    assert 0.7 <= first[0] <= 0.8 and last[0] < 0.1
    assert 0.6 <= first[1] <= 0.8 and last[1] < 0.01
    # the mistakes: about a dozen, most of them low digits taken for high ones
    wrong, low_as_high, high_as_low = (
        int(n)
        for n in re.search(
            r"misclassified test images: (\d+) of 450: (\d+) low digits \(label 0\) taken for "
            r"high, (\d+) high digits",
            text,
        ).groups()
    )
    assert 8 <= wrong <= 16 and low_as_high > high_as_low and low_as_high + high_as_low == wrong
    sure = [
        float(p) for p in re.search(r"high digit for each of them: (.*)$", text, re.M)[1].split(",")
    ]
    assert len(sure) == wrong
    assert sum(abs(p - 0.5) <= 0.1 for p in sure) >= 2  # close calls
    assert sum(min(p, 1 - p) <= 0.1 for p in sure) >= 2  # confident mistakes
    # depth: k layers of 2 units draw 2^k straight pieces, one hidden layer needs 2^k - 1 units
    depth = re.findall(
        r"k = +(\d+): +(\d+) straight pieces; the deep network: +(\d+) .*"
        r"at least +(\d+) ReLU units",
        text,
    )
    assert [int(k) for k, *_ in depth] == [1, 2, 3, 4, 6, 10]
    for k, pieces, deep, shallow in ((int(n) for n in row) for row in depth):
        assert (pieces, deep, shallow) == (2**k, 2 * k, 2**k - 1)
    # dead units: one in the first layer from the start, one or two more after training
    start, after = (
        [int(n) for n in re.findall(r"\d+", re.search(rf"{when}: \[(.*)\]", text)[1])]
        for when in ("at the start", "after training")
    )
    assert start == [1, 0] and sum(after) - sum(start) in (1, 2)
    nearly = re.search(r"nearly dead after training .*: \[(\d+), (\d+)\]", text)
    assert int(nearly[1]) >= 2  # "a few more of the first layer are nearly dead"
    # the learning rate sweep
    assert "parameters of the L-layer network: 2625" in text
    sweep = {
        float(rate): (float(cost), float(test), [int(n) for n in dead.split(",")])
        for rate, cost, test, dead in re.findall(
            r"learning rate ([0-9.]+): cost after 300 steps ([0-9.na]+), test accuracy "
            r"([0-9.]+)%, dead hidden units \[(.*)\]",
            text,
        )
    }
    assert list(sweep) == [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    costs = [sweep[rate][0] for rate in (0.01, 0.03, 0.1, 0.3, 1.0)]
    assert costs[0] > 0.4 and costs == sorted(costs, reverse=True) and max(costs[3:]) < 0.05
    assert sweep[1.0][2][0] > sweep[0.3][2][0]  # a larger rate kills more units
    cost, test, dead = sweep[3.0]
    assert cost != cost and test <= 55.0 and dead[0] > 16  # nan, a coin toss, half dead
    # scikit-learn: the same fit, test accuracies within 2 points, times within a factor of 10
    rows = dict(re.findall(r"^(your L_layer_model|scikit-learn MLPClassifier) +(.*)$", text, re.M))
    (mine, mine_test, _), (theirs, theirs_test, _) = (
        [float(x) for x in re.findall(r"[0-9.]+", rows[name])]
        for name in ("your L_layer_model", "scikit-learn MLPClassifier")
    )
    assert mine >= 99.0 and theirs >= 99.0 and abs(mine_test - theirs_test) <= 2.0
    assert 0.1 <= printed_number(text, r"scikit-learn's time divided by yours: ([0-9.]+)") <= 10


def week5_claims(text):
    # the spread through 20 layers: He between 0.5 and 1, Xavier's variance halving per layer
    assert 0.5 <= printed_number(text, r"smallest over the 20 layers: ([0-9.]+)")
    assert (
        printed_number(text, r"with He, smallest over the 20 layers: [0-9.]+, largest: ([0-9.]+)")
        <= 1.0
    )
    assert printed_number(text, r"layer 20: He [0-9.]+, Xavier ([0-9.e+-]+)") < 1e-3
    assert (
        printed_number(text, r"layer 20: He [0-9.]+, Xavier [0-9.e+-]+, small ([0-9.e+-]+)") < 1e-20
    )
    factor = printed_number(
        text, r"Xavier: the standard deviation is multiplied by ([0-9.]+) per layer"
    )
    assert abs(factor - 1 / 2**0.5) < 0.03  # "about 1/sqrt(2)"
    # the three starts
    zeros = r"start from zeros: first cost [0-9.]+, final cost [0-9.]+, train accuracy ([0-9.]+)%"
    assert printed_number(text, zeros) == 50.0  # zeros never break the symmetry
    he = printed_number(text, r"start from He: first cost [0-9.]+, final cost ([0-9.]+)")
    assert (
        he < 0.05 and printed_number(text, r"start from He: .*train accuracy ([0-9.]+)%") == 100.0
    )
    assert printed_number(text, r"start from large random: first cost ([0-9.]+)") > 10
    assert (
        printed_number(text, r"start from large random: first cost [0-9.]+, final cost ([0-9.]+)")
        > 10 * he
    )
    # zero weights: every weight gradient 0 whatever ReLU'(0); only db3 = mean(0.5 - y) moves
    assert "every weight of W1, W2 and W3 still 0 after 2000 steps: True" in text
    assert "hidden activations all 0: True" in text
    assert "non-zero gradients at W = 0: ['db3']; the same with ReLU'(0) = 1: True" in text
    assert "db3 = mean(0.5 - y): -0.30 on these 50 points, 0.00 on all 300 circles" in text
    assert "distinct hidden units in layer 1 after 2000 steps: 1 of 10" in text
    # standardizing
    rates = "the largest that lowers the cost at every step): unnormalized 0.003, standardized 3"
    assert f"learning rate ({rates}" in text
    unnormalized, standardized = re.findall(
        r"iterations to reach cost 0.30: unnormalized (\d+), standardized (\d+)", text
    )[0]
    assert int(standardized) < 10 and 3500 <= int(unnormalized) <= 4000  # "close to 4000"
    # clipping
    assert printed_number(text, r"no clipping: largest gradient norm ([0-9.e+-]+)") > 1e40
    assert printed_number(text, r"no clipping: .*train accuracy ([0-9.]+)%") == 50.0
    assert (
        printed_number(
            text, r"clipped at norm 1: largest gradient norm [0-9.e+-]+, final cost ([0-9.]+)"
        )
        < 0.01
    )
    assert printed_number(text, r"clipped at norm 1: .*train accuracy ([0-9.]+)%") == 100.0
    # gradient checking: round-off of about 1e-9, divided by the size of the gradients
    visible = printed_number(
        text, r"gradient_check with the correct gradients returned ([0-9.e+-]+)"
    )
    demo = printed_number(text, r"gradient check, correct backprop: ([0-9.e+-]+)")
    assert 1e-10 <= visible <= 1e-8 and 1e-9 <= demo <= 1e-7  # "about 1e-9", "about 1e-8"
    assert printed_number(text, r"norm of the correct gradients: ([0-9.]+)") < 0.1
    assert printed_number(text, r"gradient check, planted bug: ([0-9.e+-]+)") > 1e-3
    by_epsilon = dict(
        (float(e), float(d))
        for e, d in re.findall(r"correct backprop, epsilon = ([0-9.e+-]+): ([0-9.e+-]+)", text)
    )
    assert 20 <= by_epsilon[1e-9] / by_epsilon[1e-7] <= 500  # "about a hundred times larger"
    assert 20 <= by_epsilon[1e-7] / by_epsilon[1e-5] <= 500  # "a hundred times smaller"
    # optimizers and decay
    assert "mini-batch sizes: [64, 64, 64, 64, 44]" in text
    final = {
        name: (float(cost), float(accuracy))
        for name, cost, accuracy in re.findall(
            r"^(mini-batch gradient descent|momentum|RMSprop|Adam): final cost ([0-9.]+), train "
            r"accuracy ([0-9.]+)%",
            text,
            re.M,
        )
    }
    assert min(final["mini-batch gradient descent"][0], final["momentum"][0]) > 0.1
    assert max(final["RMSprop"][0], final["Adam"][0]) < 0.08
    assert final["Adam"][1] == max(accuracy for _, accuracy in final.values())
    constant, decayed = (
        (float(cost), float(rise))
        for cost, rise in re.findall(
            r"^Adam, learning rate 0.1, [a-z0-9. ]+: final cost ([0-9.]+), largest rise between "
            r"two records over the last 100 epochs ([0-9.]+)",
            text,
            re.M,
        )
    )
    assert constant[1] > 0.01 and decayed[1] == 0.0 and decayed[0] < constant[0]


def week6_claims(text):
    def accuracies(name):
        found = re.search(
            rf"^{re.escape(name)}: train accuracy ([0-9.]+)%, dev accuracy ([0-9.]+)%$", text, re.M
        )
        assert found, f"the notebook does not print '{name}: train accuracy ..., dev accuracy ...'"
        return float(found[1]), float(found[2])

    # the prose: about 97% / 82% without regularization, 87% / 89% with L2, 94% / 88% dropout
    none_train, none_dev = accuracies("no regularization")
    l2_train, l2_dev = accuracies("L2 (lambd = 1)")
    dropout_train, dropout_dev = accuracies("dropout (keep_prob = 0.5)")
    assert none_train >= 95.5 and 80.5 <= none_dev <= 84.5
    assert 85.5 <= l2_train <= 89.5 and 87.5 <= l2_dev <= 91.5
    assert 92.5 <= dropout_train <= 96.5 and 86.0 <= dropout_dev <= 90.0
    # "each remedy gains at least 4 points on the dev set" (the issue asks for 3)
    assert l2_dev >= none_dev + 4 and dropout_dev >= none_dev + 4
    verdicts = dict(
        re.findall(r"^(.*): train error [0-9.]+%, dev error [0-9.]+% -> (.*)$", text, re.M)
    )
    assert verdicts["no regularization"] == "high variance"
    assert verdicts["L2 (lambd = 1)"] == "good fit"
    assert verdicts["dropout (keep_prob = 0.5)"] == "high variance"  # "less variance, not none"
    sweep = {
        float(lambd): (float(train), float(dev))
        for lambd, train, dev in re.findall(
            r"^lambd = ([0-9.]+): train error ([0-9.]+)%, dev error ([0-9.]+)%$", text, re.M
        )
    }
    assert sorted(sweep) == [0.0, 0.1, 0.3, 1.0, 3.0]
    assert "chosen: lambd = 1\n" in text and min(sweep, key=lambda k: sweep[k][1]) == 1.0
    assert min(sweep[3.0]) > 13.0  # "at lambda = 3 both errors are above 13%"
    assert "best evaluation 1 (iteration 50), stops at evaluation 6 (iteration 300)" in text
    early_train, early_dev = accuracies("early stopping (iteration 50)")
    assert 86.5 <= early_dev <= 90.0  # "about 88%, close to L2"
    digits = [
        accuracies(f"digits, {name}") for name in ("no regularization", "dropout (keep_prob = 0.8)")
    ]
    assert all(train == 100.0 and 95.5 <= dev <= 97.5 for train, dev in digits)
    assert abs(digits[0][1] - digits[1][1]) < 1.0  # "dropout changing less than a point"
    assert "chosen with the dev set: L2 (lambd = 1)" in text
    assert 88.0 <= printed_percent(text, "test accuracy of the chosen model") <= 94.0


WEEKS = {
    "week1": Week(
        notebook="dense_layers",
        points={"my_dense": 3, "my_sequential": 3, "my_dense_v": 3, "my_sequential_v": 3},
        mistakes={
            # my_sequential_v is graded with a correct my_dense_v: one mistake, one loss
            "fails_my_dense_v_no_bias": (
                {"my_dense_v": ("A_in @ W + b", "A_in @ W")},
                {"my_dense_v": 0},
            ),
        },
        plots={
            "activations_plot",
            "timing",
            "network_diagram",
            "digits_predict",
            "explore_demo",
        },
        claims=week1_claims,
        hardcoded=(
            "my_dense",
            "def my_dense(a_in, W, b, g):\n"
            "    return np.array([0.54735762, 0.57932425, 0.61063923])",
        ),
    ),
    "week2": Week(
        notebook="logistic_regression",
        points={
            "normalize_rows": 2,
            "L1": 2,
            "L2": 2,
            "initialize_with_zeros": 2,
            "propagate": 3,
            "optimize": 3,
            "predict": 3,
            "model": 3,
            "softmax": 3,
        },
        mistakes={
            # optimize and model are graded with a correct propagate: one mistake, one loss
            "fails_propagate_no_one_over_m": (
                {"propagate": ("dw = (X @ dZ.T) / m", "dw = X @ dZ.T")},
                {"propagate": 0},
            ),
            "fails_optimize_modifies_w_in_place": (
                {
                    "optimize": (
                        'w = w - learning_rate * grads["dw"]',
                        'w -= learning_rate * grads["dw"]',
                    )
                },
                {"optimize": 0},
            ),
            "fails_predict_at_one_half": (
                {"predict": ("(A > 0.5)", "(A >= 0.5)")},
                {"predict": 0},
            ),
        },
        plots={
            "data_load",
            "computation_graph",
            "cost_shapes",
            "train",
            "learning_rates",
            "mistakes",
            "weights",
            "softmax_digits",
        },
        claims=week2_claims,
    ),
    "week3": Week(
        notebook="shallow_network",
        points={
            "layer_sizes": 2,
            "initialize_parameters": 3,
            "forward_propagation": 3,
            "compute_cost": 3,
            "backward_propagation": 5,
            "update_parameters": 3,
            "nn_model": 3,
            "predict": 2,
        },
        mistakes={
            # nn_model and predict are graded with correct blocks: one mistake, one loss
            "fails_backward_tanh_derivative": (
                {"backward_propagation": ("(1 - A1**2)", '(1 - cache["Z1"] ** 2)')},
                {"backward_propagation": 0},
            ),
            "fails_forward_sigmoid_hidden_layer": (
                {"forward_propagation": ("A1 = np.tanh(Z1)", "A1 = sigmoid(Z1)")},
                {"forward_propagation": 0},
            ),
        },
        plots={"baseline", "boundary", "network", "sweep", "other", "symmetry"},
        claims=week3_claims,
    ),
    "week4": Week(
        notebook="deep_network",
        points={
            "initialize_parameters_deep": 3,
            "linear_forward": 2,
            "linear_activation_forward": 3,
            "L_model_forward": 3,
            "compute_cost": 2,
            "linear_backward": 3,
            "linear_activation_backward": 3,
            "L_model_backward": 5,
            "update_parameters": 3,
            "two_layer_model": 3,
            "L_layer_model": 3,
        },
        mistakes={
            # every function that calls linear_backward is graded with a correct one
            "fails_linear_backward_no_one_over_m": (
                {"linear_backward": ("dW = dZ @ A_prev.T / m", "dW = dZ @ A_prev.T")},
                {"linear_backward": 0},
            ),
        },
        plots={
            "data_flow",
            "data",
            "costs_plot",
            "mistakes",
            "network",
            "try_it",
            "depth",
            "dead_units",
            "hyperparameters",
        },
        claims=week4_claims,
        hardcoded=(
            "linear_forward",
            "def linear_forward(A, W, b):\n"
            "    return np.array([[-0.1, -1.55], [1.5, -0.6]]), (A, W, b)",
        ),
    ),
    "week5": Week(
        notebook="practical_aspects",
        points={
            "initialize_parameters_he": 2,
            "initialize_parameters_xavier": 2,
            "standardize": 3,
            "batchnorm_forward": 3,
            "clip_by_global_norm": 3,
            "gradient_check": 3,
            "random_mini_batches": 3,
            "initialize_velocity": 2,
            "update_parameters_with_momentum": 3,
            "initialize_adam": 2,
            "update_parameters_with_adam": 3,
            "exponential_decay": 2,
        },
        mistakes={
            "fails_adam_without_bias_correction": (
                {"update_parameters_with_adam": (" / (1 - beta1**t)", "")},
                {"update_parameters_with_adam": 0},
            ),
            "fails_standardize_without_constant_features": (
                {"standardize": ("sigma = np.where(sigma == 0, 1.0, sigma)", "pass")},
                {"standardize": 0},
            ),
        },
        plots={"init_experiment", "symmetry", "scales", "exploding", "optimizers", "decay_demo"},
        claims=week5_claims,
        hardcoded=(
            "exponential_decay",
            "def exponential_decay(alpha0, beta, t):\n    return 0.3645",
        ),
    ),
    "week6": Week(
        notebook="regularization",
        points={
            "split_train_dev_test": 2,
            "diagnose": 2,
            "compute_cost_with_regularization": 2,
            "L_model_backward_with_regularization": 4,
            "dropout_forward": 2,
            "dropout_backward": 2,
            "L_model_forward_with_dropout": 3,
            "L_model_backward_with_dropout": 4,
            "early_stopping": 2,
            "regularized_model": 3,
        },
        mistakes={
            # L_model_forward_with_dropout and regularized_model are graded with a correct
            # dropout_forward: one mistake, one loss
            "fails_dropout_forward_without_keep_prob": (
                {"dropout_forward": ("A_dropped = A * D / keep_prob", "A_dropped = A * D")},
                {"dropout_forward": 0},
            ),
            "fails_l2_cost_without_the_half": (
                {"compute_cost_with_regularization": ("lambd / (2 * m)", "lambd / m")},
                {"compute_cost_with_regularization": 0},
            ),
        },
        plots={"data", "overfit", "remedies", "boundaries", "sweep", "early"},
        claims=week6_claims,
        hardcoded=(
            "early_stopping",
            "def early_stopping(dev_costs, patience):\n    return (2, 5)",
        ),
    ),
}


# Every exercise returns None, and the check helpers (in the package and in the notebook's
# namespace) are patched to accept anything: the visible checks pass inside the notebook.
PATCH_THE_CHECKS = """
import course.testing
for _check in [name for name in course.testing.__all__ if name.startswith("check_")]:
    setattr(course.testing, _check, lambda *args, **kwargs: None)
    globals()[_check] = getattr(course.testing, _check)
np.allclose = lambda *args, **kwargs: True
"""


def _with_cell(nb, grade_id, change):
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            change(cell)
    return nb


def expected_scores(week):
    """``{student: {exercise: points}}`` for every submission :func:`submissions` builds."""
    none = dict.fromkeys(week.functions, 0)
    first = week.functions[0]
    expected = {
        "source_notebook": week.points,
        "passes_all": week.points,
        "untouched_release": none,
        "passes_only_the_first_exercise": {**none, first: week.points[first]},
        "tampers_first_test": none,  # test_<first> is restored and run
        "deletes_first_test": week.points,  # put back by nbgrader and graded
        "patches_the_checks": none,  # the checks that decide a score run outside
    }
    if week.hardcoded:
        expected["hardcodes_the_visible_answer"] = none  # the hidden tests catch it
    for student, (_, points) in week.mistakes.items():
        expected[student] = {**week.points, **points}
    return expected


def submissions(week, source, release):
    """The notebooks of :func:`expected_scores`, built from the source and release.

    The whole notebook, demonstrations included, is handed in by the source (whose outputs
    ``test_pipeline.py`` holds to what the prose promises) and by the submissions whose
    exercises are undone or faked (their demonstrations stop at once). The finished
    release and the others, which test how one change is scored (a mistake, a deleted test
    cell), are handed in as the mutants are, without the demonstrations (``mutants.slim``:
    this course's test cells never use their names), which would only repeat the source's
    experiments.
    """
    first = week.functions[0]
    test_first = f"test_{first}"
    notebooks = {
        "source_notebook": source,
        "passes_all": mutants.slim(fill_solutions(release, source)),
        "untouched_release": release,
        "passes_only_the_first_exercise": fill_solutions(release, source, names=[first]),
        "tampers_first_test": _with_cell(
            fill_solutions(release, source, names=[]),
            test_first,
            lambda cell: setattr(cell, "source", "pass"),
        ),
        "deletes_first_test": mutants.slim(fill_solutions(release, source)),
    }
    patched = fill_solutions(release, source, names=[])
    for cell in patched.cells:
        name = nbgrader_meta(cell).get("grade_id")
        if name in week.functions:
            cell.source = f"def {name}(*args, **kwargs):\n    return None\n"
            cell.source += PATCH_THE_CHECKS if name == first else ""
    notebooks["patches_the_checks"] = patched
    deleted = notebooks["deletes_first_test"]
    deleted.cells = [c for c in deleted.cells if nbgrader_meta(c).get("grade_id") != test_first]
    if week.hardcoded:
        name, code = week.hardcoded
        notebooks["hardcodes_the_visible_answer"] = _with_cell(
            fill_solutions(release, source, names=[]),
            name,
            lambda cell: setattr(cell, "source", code),
        )
    for student, (replace, _) in week.mistakes.items():
        notebooks[student] = mutants.slim(fill_solutions(release, source, replace=replace))
    return notebooks


def in_its_class(name, *values):
    """A test parameter of week ``name`` that reads its class (:func:`grade_class`): with
    pytest-xdist, such tests run in one worker (``xdist_group``), which grades the class once.
    """
    return pytest.param(name, *values, marks=pytest.mark.xdist_group(name))


@dataclass
class WeekClass:
    """A week's class, graded: ``results`` and ``errors`` per student, and its mutants."""

    results: dict
    errors: dict
    mutants: dict  # {student: mutants.Mutant}


def grade_class(root, name):
    """Hand in the class of week ``name`` in the course ``root`` (released) and grade it.

    The class is the week's submissions (:func:`submissions`; in week 1 also a file that is
    not a notebook, which must not stop the run) and the mutant sample (``mutants.sample``),
    graded together in one class run: one set of warm servers for both.
    """
    week = WEEKS[name]
    source, release = (
        read_notebook(root / side / name / f"{week.notebook}.ipynb")
        for side in ("source", "release")
    )
    stamp = datetime.now(UTC).strftime(driver.TIMESTAMP_FORMAT)
    for student, nb in submissions(week, source, release).items():
        folder = root / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{week.notebook}.ipynb")
        (folder / "timestamp.txt").write_text(stamp)
    if name == "week1":
        broken = root / "submitted" / "not_a_notebook" / name
        broken.mkdir(parents=True)
        (broken / f"{week.notebook}.ipynb").write_text('{"cells": [')
        (broken / "timestamp.txt").write_text(stamp)
    sampled = mutants.hand_in(root, name, mutants.sample()[name], stamp)
    summary = autograde.autograde(root, name)
    return WeekClass(summary.results, summary.errors, sampled)
