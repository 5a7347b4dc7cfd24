"""The code that runs inside the sandbox (the student's process) and in the judge.

Nothing here imports the grader's coordinator side: these modules are the bottom of the
grader's layers (see ``course/grading/README.md``). :mod:`.forkserver` is the server
(``python -m course.grading.server``), :mod:`.framing` its message framing, :mod:`.shell`
its cell runner, :mod:`.isolation` the Linux mechanisms that confine a submission,
:mod:`.files` a submission's working folder, :mod:`.wire` the calls between the student's
process and the judge, and :mod:`.judge` the judge's test-cell runner.
"""
