"""Neural Networks from Scratch: the helpers students use and the course's autograder.

This package never defines a graded function: the reference solutions live only in the
instructor's notebooks under ``source/``.
"""

__version__ = "0.1.0"
