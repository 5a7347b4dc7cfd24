"""nbgrader configuration of the course (the repository root is the course directory)."""

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "nn-from-scratch"

# Every notebook must run top to bottom in seconds; a cell that hangs is stopped after this.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# A student who deleted a graded cell still gets it graded: nbgrader puts it back.
c.OverwriteCells.add_missing_cells = True

# What students see where the solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Kernels keep no history file and log only errors (no chatter in graders' terminals).
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
