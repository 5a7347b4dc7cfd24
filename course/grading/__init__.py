"""The autograder: notebooks, nbgrader driving, scores and reports.

Its zones (the sandbox, the judge, the coordinator) and layers are drawn in README.md next to
this file; `make lint` enforces them.
"""

import sys

# nbformat validates notebooks with jsonschema, which imports rfc3987_syntax when it is
# installed (Jupyter's dependencies bring it) only to check the "iri" string format; that
# import builds a parser for seconds (python-jsonschema issue 1392). No notebook schema uses
# the format: without the module, jsonschema leaves it unchecked, and every command of the
# grader starts seconds sooner (`course check` must answer in under 3).
sys.modules.setdefault("rfc3987_syntax", None)
