"""Classes of code for ``course similarity``'s tests and its speed script (no grading needed).

* :func:`disguise`: a copy of someone's code as a copier hides it: every name it binds
  renamed, comments and docstrings gone (``ast.unparse``), two independent statements
  swapped;
* :data:`OWN_WEEK4`: one student's own way of writing week 4's longer exercises (not the
  reference: other loops, other NumPy calls, other temporaries);
* :data:`ONE_LINE_VARIANTS`: independent correct ways to write week 2's one-line exercises,
  vector code and loops, with how many of a class of 40 write each.
"""

import ast
import re

from course.grading.notebooks import nbgrader_meta, read_notebook, solution_code


def solutions(repo, assignment, notebook):
    """``(reference, stub)``: ``{exercise: code}`` of the source and of the release."""
    found = {}
    for side in ("source", "release"):
        nb = read_notebook(repo / side / assignment / f"{notebook}.ipynb")
        found[side] = {
            nbgrader_meta(c)["grade_id"]: solution_code(c) if side == "source" else c.source
            for c in nb.cells
            if c.cell_type == "code" and nbgrader_meta(c).get("solution")
        }
    return found["source"], found["release"]


def solution_lines(code):
    """Lines of code between the header and docstring and the end (comments not counted)."""
    body = ast.parse(code).body[0].body
    start = body[1].lineno if isinstance(body[0], ast.Expr) else body[0].lineno
    lines = code.split("\n")[start - 1 :]
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def _names(node, ctx):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def disguise(code):
    """``(copy, swapped)``: the code with every bound name renamed, comments and docstrings
    removed, and the first two adjacent independent statements swapped (``swapped`` says
    whether there were two)."""
    tree = ast.parse(code)
    bound = _names(tree, ast.Store) | {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    bound |= {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    new = {name: f"renamed_{i}" for i, name in enumerate(sorted(bound))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in new:
            node.id = new[node.id]
        elif isinstance(node, ast.arg):
            node.arg = new[node.arg]
        elif isinstance(node, ast.FunctionDef):
            node.name = new[node.name]
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                node.body = body = body[1:]
    swapped = False
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if swapped or not isinstance(body, list):
            continue
        for i in range(len(body) - 1):
            a, b = body[i], body[i + 1]
            if not all(isinstance(s, (ast.Assign, ast.AugAssign, ast.Expr)) for s in (a, b)):
                continue
            a_writes, b_writes = _names(a, ast.Store), _names(b, ast.Store)
            a_reads, b_reads = _names(a, ast.Load), _names(b, ast.Load)
            if not (a_writes & b_reads or b_writes & a_reads or a_writes & b_writes):
                body[i], body[i + 1] = b, a
                swapped = True
                break
    return ast.unparse(tree), swapped


def with_body(code, body):
    """``code`` (a def, docstring and body) with its body replaced by ``body`` (indented)."""
    tree = ast.parse(code)
    function = tree.body[0]
    keep = 1 if isinstance(function.body[0], ast.Expr) else 0
    header = code.split("\n")[: function.body[keep].lineno - 1]
    return "\n".join(header) + "\n" + re.sub(r"(?m)^(?=.)", "    ", body.strip("\n")) + "\n"


# One student's own way of writing week 4's exercises of more than a few lines.
OWN_WEEK4 = {
    "initialize_parameters_deep": """
params = dict()
depth = len(layer_dims) - 1
for k in range(depth):
    fan_in = layer_dims[k]
    params["W" + str(k + 1)] = np.random.randn(layer_dims[k + 1], fan_in) * np.sqrt(2.0 / fan_in)
    params["b" + str(k + 1)] = np.zeros(shape=(layer_dims[k + 1], 1))
return params
""",
    "linear_activation_forward": """
if activation == "relu":
    Z, lin = linear_forward(A_prev, W, b)
    out = np.maximum(0, Z)
elif activation == "sigmoid":
    Z, lin = linear_forward(A_prev, W, b)
    out = 1 / (1 + np.exp(-Z))
else:
    raise ValueError("unknown activation: " + repr(activation))
return out, (lin, Z)
""",
    "L_model_forward": """
n_layers = len(parameters) // 2
stored = list()
current = X
l = 1
while l < n_layers:
    current, c = linear_activation_forward(current, parameters["W" + str(l)], parameters["b" + str(l)], activation="relu")
    stored.append(c)
    l += 1
last, c = linear_activation_forward(current, parameters["W" + str(n_layers)], parameters["b" + str(n_layers)], activation="sigmoid")
stored.append(c)
return last, stored
""",
    "linear_backward": """
A_prev, W, b = cache
count = dZ.shape[1]
grad_W = np.dot(dZ, A_prev.T) * (1.0 / count)
grad_b = (1.0 / count) * dZ.sum(axis=1).reshape(-1, 1)
grad_A = np.dot(W.T, dZ)
return grad_A, grad_W, grad_b
""",
    "linear_activation_backward": """
lin, Z = cache
if activation == "sigmoid":
    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
elif activation == "relu":
    dZ = np.where(Z > 0, dA, 0.0)
else:
    raise ValueError("unknown activation: " + repr(activation))
out = linear_backward(dZ, lin)
return out
""",
    "L_model_backward": """
grads = dict()
n_layers = len(caches)
Y = Y.reshape(AL.shape)
dA = np.divide(1 - Y, 1 - AL) - np.divide(Y, AL)
grads["dA" + str(n_layers - 1)], grads["dW" + str(n_layers)], grads["db" + str(n_layers)] = linear_activation_backward(dA, caches[-1], "sigmoid")
for k in reversed(range(n_layers - 1)):
    step = linear_activation_backward(grads["dA" + str(k + 1)], caches[k], "relu")
    grads["dA" + str(k)], grads["dW" + str(k + 1)], grads["db" + str(k + 1)] = step
return grads
""",
    "update_parameters": """
import copy
updated = copy.deepcopy(params)
for key in params:
    updated[key] = params[key] - learning_rate * grads["d" + key]
return updated
""",
    "two_layer_model": """
history = list()
p = initialize_parameters_deep(layers_dims)
for it in range(0, num_iterations):
    hidden, c1 = linear_activation_forward(X, p["W1"], p["b1"], activation="relu")
    output, c2 = linear_activation_forward(hidden, p["W2"], p["b2"], activation="sigmoid")
    J = compute_cost(output, Y)
    d_out = np.divide(1 - Y, 1 - output) - np.divide(Y, output)
    d_hidden, gW2, gb2 = linear_activation_backward(d_out, c2, activation="sigmoid")
    _, gW1, gb1 = linear_activation_backward(d_hidden, c1, activation="relu")
    p = update_parameters(p, dict(dW1=gW1, db1=gb1, dW2=gW2, db2=gb2), learning_rate)
    if it % 100 == 0:
        if print_cost:
            print("cost after iteration %d: %f" % (it, J))
        history.append(J)
return p, history
""",
    "L_layer_model": """
history = list()
p = initialize_parameters_deep(layers_dims)
for it in range(0, num_iterations):
    output, stored = L_model_forward(X, p)
    J = compute_cost(output, Y)
    g = L_model_backward(output, Y, stored)
    p = update_parameters(p, g, learning_rate)
    if it % 100 == 0:
        if print_cost:
            print("cost after iteration %d: %f" % (it, J))
        history.append(J)
return p, history
""",
}

# (body, students of 40 who write it) for week 2's one-line exercises: the reference first;
# the loops are a style many students write, the other one-liners each by a few
ONE_LINE_VARIANTS = {
    "L1": [
        ("return float(np.sum(np.abs(y - yhat)))", 14),
        ("return float(np.abs(yhat - y).sum())", 6),
        ("return np.sum(np.abs(yhat - y)).item()", 3),
        ("return float(np.linalg.norm((yhat - y).ravel(), ord=1))", 2),
        ("return float(np.sum(abs(y - yhat)))", 2),
        ("return float(sum(abs(a - b) for a, b in zip(yhat.ravel(), y.ravel())))", 2),
        (
            "total = 0.0\nfor a, b in zip(yhat.ravel(), y.ravel()):\n    total += abs(a - b)\nreturn total",
            8,
        ),
        ("return float(np.add.reduce(np.absolute(yhat - y), axis=None))", 1),
        ("return float(np.fabs(yhat - y).sum())", 2),
    ],
    "L2": [
        ("return float(np.sum((y - yhat) ** 2))", 14),
        ("return float(np.dot((yhat - y).ravel(), (yhat - y).ravel()))", 6),
        ("return float(np.sum(np.square(yhat - y)))", 3),
        ("return float(((yhat - y) ** 2).sum())", 2),
        ("return float(np.linalg.norm(yhat - y) ** 2)", 2),
        ("return float(sum((a - b) ** 2 for a, b in zip(yhat.ravel(), y.ravel())))", 2),
        (
            "total = 0.0\nfor a, b in zip(yhat.ravel(), y.ravel()):\n    total += (a - b) ** 2\nreturn total",
            8,
        ),
        ("d = (yhat - y).ravel()\nreturn float(d @ d)", 1),
        ("return float(np.vdot(yhat - y, yhat - y))", 2),
    ],
}
