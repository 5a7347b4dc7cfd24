"""Plots render with Agg, and draw what they say they draw."""

import matplotlib.patches as mpatches
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


def class_at(ax, x, y):
    """The class the decision-boundary image shows at the point (x, y) of the plane."""
    (picture,) = ax.images
    classes = picture.get_array()
    left, right, bottom, top = picture.get_extent()
    rows, cols = classes.shape
    col = int((x - left) / (right - left) * cols)
    row = int((y - bottom) / (top - bottom) * rows)  # origin="lower": row 0 at the bottom
    return int(classes[row, col])


def test_plot_decision_boundary_regions_points_and_boundary():
    X = np.array([[-2.0, -1.0, 1.0, 2.0, 0.5], [1.0, -1.0, 1.0, -1.0, 2.0]])
    Y = np.array([[0, 0, 1, 1, 1]])
    seen = []

    def right_half(P):  # class 1 where x1 > 0, in the column convention
        seen.append(P.shape)
        return (P[0:1] > 0).astype(int)

    ax = plots.plot_decision_boundary(right_half, X, Y)
    assert seen and seen[0][0] == 2  # called once, on points in columns
    assert class_at(ax, 1.5, 0.0) == 1 and class_at(ax, -1.5, 0.0) == 0
    assert class_at(ax, 0.2, 1.8) == 1 and class_at(ax, -0.2, -1.0) == 0
    # the image covers every point
    left, right, bottom, top = ax.images[0].get_extent()
    assert left < X[0].min() and right > X[0].max() and bottom < X[1].min() and top > X[1].max()
    # one scatter with the m points where they are, coloured by label
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(points.get_offsets(), X.T)
    colours = points.get_facecolors()
    assert len(colours) == 5
    assert np.allclose(colours[0], colours[1]) and np.allclose(colours[2], colours[4])
    assert not np.allclose(colours[0], colours[2])
    assert colours[0][0] > colours[0][2] and colours[2][2] > colours[2][0]  # red 0, blue 1
    # a boundary line at x1 = 0
    (boundary,) = [c for c in ax.collections if hasattr(c, "levels")]
    assert list(boundary.levels) == [0.5]
    vertices = np.concatenate([p.vertices for p in boundary.get_paths() if len(p.vertices)])
    assert np.abs(vertices[:, 0]).max() < 0.1


def test_plot_decision_boundary_one_class_and_given_axes():
    X = np.random.default_rng(0).standard_normal((2, 30))
    Y = (X[0:1] > 0).astype(int)
    _, ax = plt.subplots()
    out = plots.plot_decision_boundary(lambda P: np.zeros((1, P.shape[1])), X, Y, ax=ax)
    assert out is ax
    assert not ax.images[0].get_array().any()
    assert not [c for c in ax.collections if hasattr(c, "levels")]  # no class change, no line


def test_plot_decision_boundary_rejects_bad_input():
    X, Y = np.zeros((2, 4)), np.array([[0, 1, 0, 1]])
    ok = lambda P: np.ones((1, P.shape[1]))  # noqa: E731
    with pytest.raises(ValueError, match=r"X must have shape \(2, m\).*try X.T"):
        plots.plot_decision_boundary(ok, X.T, Y)
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 4\)"):
        plots.plot_decision_boundary(ok, X, Y.ravel())
    with pytest.raises(ValueError, match="only 0 and 1"):
        plots.plot_decision_boundary(ok, X, Y + 1)
    with pytest.raises(ValueError, match=r"returned shape \(40000,\)"):
        plots.plot_decision_boundary(lambda P: np.ones(P.shape[1]), X, Y)
    with pytest.raises(ValueError, match="predict_fn must return only 0 and 1"):
        plots.plot_decision_boundary(lambda P: np.full((1, P.shape[1]), 0.7), X, Y)


def test_plot_costs_several_runs_in_iterations():
    runs = {"learning rate 0.5": [0.69, 0.3, 0.25], "learning rate 0.01": [0.69, 0.6, 0.55]}
    ax = plots.plot_costs(runs, every=100, title="three runs")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == list(runs)
    for line, costs in zip(lines, runs.values()):
        np.testing.assert_array_equal(line.get_xdata(), [0, 100, 200])
        np.testing.assert_allclose(line.get_ydata(), costs)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(runs)
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "cost"
    assert ax.get_title() == "three runs"


def test_plot_costs_one_run_other_interval_and_given_axes():
    _, ax = plt.subplots()
    out = plots.plot_costs(np.array([1.0, 0.5, 0.4, 0.35]), every=1000, ax=ax)
    assert out is ax
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 1000, 2000, 3000])
    assert ax.get_legend() is None  # one unlabelled run needs no legend


def test_plot_costs_rejects_bad_input():
    with pytest.raises(ValueError, match="every must be a positive integer"):
        plots.plot_costs([1.0, 0.5], every=0)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        plots.plot_costs([1.0, 0.5], every=2.5)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        plots.plot_costs([])
    with pytest.raises(ValueError, match=r"the costs of 'b' must be a non-empty 1-D"):
        plots.plot_costs({"a": [1.0], "b": [[1.0, 2.0]]})
    with pytest.raises(ValueError, match="empty dict"):
        plots.plot_costs({})


def test_show_digits_column_convention_and_labels_as_row_arrays():
    rng = np.random.default_rng(1)
    X = rng.random((64, 3))  # three images, one per column
    Y = np.array([[1.0, 0.0, 1.0]])
    ax = plots.show_digits(
        X, labels=Y, predictions=np.array([[1.0, 1.0, 1.0]]), convention="column"
    )
    (picture,) = ax.images
    assert picture.get_array().shape == (8, 3 * 8 + 2)  # fewer images than n_cols: one row of 3
    np.testing.assert_allclose(picture.get_array()[:, 9:17], X[:, 1].reshape(8, 8))
    assert picture.get_cmap().name == "gray_r"
    assert [t.get_text() for t in ax.texts] == [
        "label 1  pred 1",
        "label 0  pred 1",
        "label 1  pred 1",
    ]
    assert [t.get_color() for t in ax.texts] == ["black", "red", "black"]
    # the same images in rows give the same picture
    rows = plots.show_digits(X.T, labels=Y[0], predictions=[1, 1, 1])
    np.testing.assert_array_equal(rows.images[0].get_array(), picture.get_array())


def test_show_digits_signed_weight_image():
    w = np.linspace(-2.0, 1.0, 64).reshape(64, 1)  # a weight vector, column convention
    ax = plots.show_digits(w, convention="column", signed=True)
    (picture,) = ax.images
    np.testing.assert_allclose(picture.get_array(), w.reshape(8, 8))
    assert picture.get_cmap().name == "RdBu_r"
    assert picture.get_clim() == (-2.0, 2.0)  # symmetric: white is exactly 0
    assert len(ax.figure.axes) == 2  # the picture and its colour bar
    assert [t.get_text() for t in ax.texts] == [""]  # no labels: an empty caption


def test_show_digits_rejects_bad_input():
    with pytest.raises(ValueError, match=r"must have shape \(64, k\)"):
        plots.show_digits(np.zeros((3, 64)), convention="column")
    with pytest.raises(ValueError, match="convention='column'"):
        plots.show_digits(np.zeros((65, 2)))
    with pytest.raises(ValueError, match="convention must be"):
        plots.show_digits(np.zeros((1, 64)), convention="rows")
    with pytest.raises(ValueError, match="n_cols"):
        plots.show_digits(np.zeros((1, 64)), n_cols=0)
    with pytest.raises(ValueError, match="2 labels for 3 images"):
        plots.show_digits(np.zeros((64, 3)), labels=np.array([[0, 1]]), convention="column")


def flow_arrows(ax):
    """The arrows drawn by draw_data_flow: (start, end, line style) of each annotation."""
    return [
        (t.xyann, t.xy, t.arrow_patch.get_linestyle())
        for t in ax.texts
        if getattr(t, "arrow_patch", None) is not None
    ]


def test_draw_data_flow_three_layers_boxes_arrows_and_labels():
    ax = plots.draw_data_flow(3, title="L = 3")
    graph = ax.flow_graph
    assert graph.number_of_nodes() == 4 + 4 * 3  # X, Y, cost, dA0; 4 per layer
    kinds = [kind for _, _, kind in graph.edges(data="kind")]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "forward": 4,  # X -> 1 -> 2 -> 3 -> cost
        "parameter": 3,
        "cache": 3,
        "backward": 4,  # cost -> 3 -> 2 -> 1 -> dA0
        "gradient": 3,
        "label": 1,  # Y -> cost
    }
    assert graph.edges[("forward", 2), ("forward", 3)]["label"] == "$A^{[2]}$"
    assert graph.edges[("backward", 3), ("backward", 2)]["label"] == "$dA^{[2]}$"
    assert graph.edges["cost", ("backward", 3)]["label"] == "$dA^{[3]}$"
    # what was drawn: a box per layer and pass plus the cost, an arrow per edge
    boxes = [p for p in ax.patches if isinstance(p, mpatches.FancyBboxPatch)]
    assert len(boxes) == 2 * 3 + 1
    arrows = flow_arrows(ax)
    assert len(arrows) == graph.number_of_edges()
    assert sum(style == "--" for _, _, style in arrows) == 3  # the caches, dashed
    texts = drawn_texts(ax)
    for label in [
        "layer 1\nLINEAR → RELU",
        "layer 3\nLINEAR → SIGMOID",
        "layer 2 backward\nLINEAR' ← RELU'",
        "layer 3 backward\nLINEAR' ← SIGMOID'",
        "cost $J$",
        "$W^{[3]}, b^{[3]}$",
        "$dW^{[1]}, db^{[1]}$",
        "$A^{[0]}$",
        "$A^{[3]} = \\hat{Y}$",
        "$dA^{[0]}$",
        "cache$^{[2]}$",
    ]:
        assert label in texts, label
    assert ax.get_title() == "L = 3"
    # the forward row runs left to right above the backward row, which runs right to left
    pos = {node: xy for node, xy in graph.nodes(data="pos")}
    for layer in (1, 2, 3):
        assert pos[("forward", layer)][1] > pos[("backward", layer)][1]
    for (x0, y0), (x1, y1), _ in arrows:
        if y0 == y1 and y0 == pos[("forward", 1)][1]:
            assert x1 > x0
        if y0 == y1 and y0 == pos[("backward", 1)][1]:
            assert x1 < x0


def test_draw_data_flow_one_layer_and_given_axes():
    _, ax = plt.subplots()
    out = plots.draw_data_flow(1, hidden="tanh", ax=ax)
    assert out is ax
    texts = drawn_texts(ax)
    assert "layer 1\nLINEAR → SIGMOID" in texts
    assert not any("TANH" in t or "RELU" in t for t in texts)  # no hidden layer
    assert len(flow_arrows(ax)) == ax.flow_graph.number_of_edges() == 8


def test_draw_data_flow_rejects_bad_input():
    for bad in (0, 2.5, True, "3"):
        with pytest.raises(ValueError, match="n_layers must be a positive integer"):
            plots.draw_data_flow(bad)
    with pytest.raises(ValueError, match="hidden must be an activation's name"):
        plots.draw_data_flow(2, hidden="")


def test_plot_contours_levels_paths_and_end_markers():
    calls = []

    def bowl(x, y):
        calls.append((x, y))
        return x**2 + 4 * y**2

    paths = {"gradient descent": [[2.0, 1.0], [1.0, 0.2], [0.5, 0.0]], "one step": [[-1.0, -1.0]]}
    ax = plots.plot_contours(
        bowl, (-2, 3), (-1.5, 1.5), paths=paths, levels=[0.5, 1, 2, 4], resolution=5, title="t"
    )
    # f is evaluated on the whole grid, corners included
    assert len(calls) == 25
    assert (-2.0, -1.5) in calls and (3.0, 1.5) in calls
    np.testing.assert_allclose(ax.contour_set.levels, [0.5, 1, 2, 4])
    assert ax.contour_set in ax.collections
    # each path: its line through every point, then a star on its last point, same colour
    lines = ax.get_lines()
    assert len(lines) == 4
    for (label, points), line, star in zip(paths.items(), lines[::2], lines[1::2]):
        points = np.asarray(points)
        assert line.get_label() == label
        np.testing.assert_allclose(line.get_xdata(), points[:, 0])
        np.testing.assert_allclose(line.get_ydata(), points[:, 1])
        assert star.get_marker() == "*" and star.get_color() == line.get_color()
        np.testing.assert_allclose([star.get_xdata()[0], star.get_ydata()[0]], points[-1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(paths)
    assert ax.get_xlim() == (-2.0, 3.0) and ax.get_ylim() == (-1.5, 1.5)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("$w_1$", "$w_2$", "t")


def test_plot_contours_without_paths_on_given_axes():
    _, ax = plt.subplots()
    out = plots.plot_contours(lambda x, y: x + y, (0, 1), (0, 2), levels=3, ax=ax, xlabel="a")
    assert out is ax
    assert len(ax.contour_set.levels) >= 3
    assert ax.get_lines() == [] and ax.get_legend() is None
    assert ax.get_xlabel() == "a"


def test_plot_contours_rejects_bad_input():
    f = lambda x, y: x * y  # noqa: E731
    for bad in [(1, 0), (0, 0), (0, 1, 2), (0, np.inf)]:
        with pytest.raises(ValueError, match="x_range must be"):
            plots.plot_contours(f, bad, (0, 1))
    with pytest.raises(ValueError, match="y_range must be"):
        plots.plot_contours(f, (0, 1), (2, 1))
    for bad in (1, 2.5, True):
        with pytest.raises(ValueError, match="resolution must be"):
            plots.plot_contours(f, (0, 1), (0, 1), resolution=bad)
    with pytest.raises(ValueError, match=r"the path 'p' must have shape \(k, 2\)"):
        plots.plot_contours(f, (0, 1), (0, 1), paths={"p": [[0.0, 1.0, 2.0]]})
    with pytest.raises(ValueError, match=r"the path 'p' must have shape \(k, 2\)"):
        plots.plot_contours(f, (0, 1), (0, 1), paths={"p": np.zeros((0, 2))})


def test_draw_computation_graph_nodes_edges_and_numbers():
    ax = plots.draw_computation_graph(
        {"w": [[0.5], [-1.0]], "x": [1.0, 0.5], "b": 0.25, "z": 0.25, "L": 0.576},
        {"z": -0.4378, "w": [-0.4378, -0.2189], "L": 1.0},
        title="one example",
    )
    graph = ax.computation_graph
    assert set(graph) == {"w", "x", "b", "y", "z", "a", "L"}
    assert set(graph.edges) == {
        ("w", "z"), ("x", "z"), ("b", "z"), ("z", "a"), ("a", "L"), ("y", "L")
    }  # fmt: skip
    assert graph.edges["z", "a"]["local"] == r"$\partial a / \partial z = a(1 - a)$"
    assert graph.nodes["a"]["value"] is None and graph.nodes["y"]["derivative"] is None
    np.testing.assert_allclose(graph.nodes["w"]["value"], [[0.5], [-1.0]])
    texts = drawn_texts(ax)
    for shown in ["= (0.5, -1)", "= 0.25", r"$\partial L/\partial z$ = -0.4378",
                  r"$\partial L/\partial w$ = (-0.438, -0.219)", r"$a = \sigma(z)$"]:  # fmt: skip
        assert shown in texts, shown
    assert ax.get_title() == "one example"


def test_draw_computation_graph_rejects_unknown_nodes_and_large_arrays():
    with pytest.raises(ValueError, match=r"values has entries for \['dz'\], which are not nodes"):
        plots.draw_computation_graph({"dz": 1.0})
    with pytest.raises(ValueError, match=r"derivatives\['w'\] has 64 numbers"):
        plots.draw_computation_graph(derivatives={"w": np.zeros((64, 1))})
    with pytest.raises(ValueError, match=r"values\['b'\] must be a number"):
        plots.draw_computation_graph({"b": "big"})
