"""``python -m course.grading.server``: one execution server (see :mod:`.forkserver`)."""

import os
import sys

from course.grading.server.forkserver import serve

try:
    serve()
except BaseException:
    # sys.stderr captures cell output; the server's own errors go to its real stderr
    import traceback

    os.write(2, traceback.format_exc().encode())
    sys.exit(1)
