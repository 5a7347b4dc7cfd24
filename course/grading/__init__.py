"""The autograder: notebooks, nbgrader driving, scores and reports."""
