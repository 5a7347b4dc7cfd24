"""Plots render with Agg, and draw what they say they draw."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection

from course import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def drawn_texts(ax):
    return [t.get_text() for t in ax.texts]


def test_draw_network_small_network_nodes_edges_and_labels():
    ax = plots.draw_network([2, 3, 1])
    graph = ax.network_graph
    assert graph.number_of_nodes() == 6
    assert graph.number_of_edges() == 2 * 3 + 3 * 1
    # what was drawn, not just the graph: one marker per node, one segment per edge
    markers = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in markers) == 6
    segments = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in segments) == 9
    texts = drawn_texts(ax)
    for label in [r"$x_{1}$", r"$x_{2}$", r"$a^{[1]}_{1}$", r"$a^{[1]}_{3}$", r"$\hat{y}$"]:
        assert label in texts
    assert any(t.startswith("input layer") for t in texts)
    assert any(t.startswith("hidden layer [1]") for t in texts)
    assert any(t.startswith("output layer [2]") for t in texts)


def test_draw_network_wide_layers_are_elided_and_several_outputs_are_indexed():
    ax = plots.draw_network([64, 25, 15, 3], max_units=5)
    graph = ax.network_graph
    # each wide layer shows its first 3 units, a gap and its last unit; the output all 3
    assert graph.number_of_nodes() == 5 + 5 + 5 + 3
    assert graph.number_of_edges() == 4 * 4 + 4 * 4 + 4 * 3
    texts = drawn_texts(ax)
    assert r"$x_{64}$" in texts and r"$a^{[2]}_{15}$" in texts
    assert r"$\hat{y}_{3}$" in texts and texts.count(r"$\vdots$") == 3
    assert any("64 units" in t for t in texts)


@pytest.mark.parametrize("convention", ["row", "column"])
def test_draw_network_weights_set_edge_width_and_colour(convention):
    W1 = np.array([[1.0, -2.0], [0.0, 0.5]])  # row convention: (n_prev, n)
    W2 = np.array([[4.0], [-1.0]])
    weights = [W1, W2] if convention == "row" else [W1.T, W2.T]
    ax = plots.draw_network([2, 2, 1], weights=weights, convention=convention)
    graph = ax.network_graph
    assert graph.edges[(0, 1), (1, 2)]["weight"] == -2.0
    assert graph.edges[(1, 1), (2, 1)]["weight"] == 4.0
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    widths = lines.get_linewidths()
    assert len(widths) == 6 and max(widths) > 3 * min(widths)
    colours = lines.get_colors()
    reds = [c for c in colours if c[0] > c[2] + 0.05]
    blues = [c for c in colours if c[2] > c[0] + 0.05]
    assert len(reds) == 3 and len(blues) == 2  # positive, negative (and one zero weight)


def test_draw_network_rejects_bad_input():
    with pytest.raises(ValueError, match="at least two positive integers"):
        plots.draw_network([3])
    with pytest.raises(ValueError, match=r"W1 has shape \(3, 2\)"):
        plots.draw_network([2, 3], weights=[np.zeros((3, 2))])
    with pytest.raises(ValueError, match="convention"):
        plots.draw_network([2, 3], weights=[np.zeros((2, 3))], convention="diagonal")


def test_plot_activations_draws_curves_and_derivatives():
    axes = plots.plot_activations(["sigmoid", "relu"], derivatives=True)
    assert len(axes) == 2
    sig_lines = axes[0].get_lines()
    labels = [line.get_label() for line in sig_lines]
    assert "sigmoid(z)" in labels and "sigmoid'(z)" in labels
    curve = next(line for line in sig_lines if line.get_label() == "sigmoid(z)")
    deriv = next(line for line in sig_lines if line.get_label() == "sigmoid'(z)")
    z = curve.get_xdata()
    np.testing.assert_allclose(curve.get_ydata(), 1 / (1 + np.exp(-z)))
    assert np.isclose(deriv.get_ydata().max(), 0.25, atol=1e-3)  # at z = 0
    relu_line = next(line for line in axes[1].get_lines() if line.get_label() == "relu(z)")
    assert relu_line.get_ydata().min() == 0
    assert [
        line.get_label()
        for line in plots.plot_activations(["tanh"])[0].get_lines()
        if not line.get_label().startswith("_")
    ] == ["tanh(z)"]


def test_plot_activations_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown activation"):
        plots.plot_activations(["swish"])


def test_plot_timings_and_show_digits():
    ax = plots.plot_timings([1, 10, 100], {"loop": [1e-4, 1e-3, 1e-2], "vector": [1e-5] * 3})
    assert [line.get_label() for line in ax.get_lines()] == ["loop", "vector"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="2 timings for 3 sizes"):
        plots.plot_timings([1, 2, 3], {"x": [1, 2]})

    images = np.random.default_rng(0).random((5, 64))
    ax = plots.show_digits(images, labels=[0, 1, 1, 0, 1], predictions=[0, 1, 0, 0, 1], n_cols=4)
    (picture,) = ax.images
    assert picture.get_array().shape == (2 * 8 + 1, 4 * 8 + 3)  # 2 rows, 4 columns, gaps
    np.testing.assert_allclose(picture.get_array()[:8, 9:17], images[1].reshape(8, 8))
    captions = [t.get_text() for t in ax.texts]
    assert captions[2] == "label 1  pred 0" and len(captions) == 5
    assert ax.texts[2].get_color() == "red" and ax.texts[1].get_color() == "black"
    with pytest.raises(ValueError, match="4 labels for 5 images"):
        plots.show_digits(images, labels=[0, 1, 1, 0])
