"""Where the notebooks of a class run: a local thread pool, or a Dask cluster.

A runner starts warm servers (:func:`course.grading.servers.prestart`) wherever the tasks
will run, submits :func:`course.grading.execution.execute_notebook` tasks (plain data in,
plain data out), and says which are done. A local runner can start its servers before it
knows their set-up cells (:meth:`LocalRunner.launch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as local_wait
from typing import TYPE_CHECKING

from course.grading import execution, servers
from course.grading.nbgrader_driver import CourseError

if TYPE_CHECKING:
    import distributed

    from course.grading.execution import Executed, Task

__all__ = ["LocalRunner", "DaskRunner"]

Warm = dict[str, list[str]] | None  # the modules new servers import first, per role


class LocalRunner:
    """The default: a thread pool whose threads each drive a warm fork server."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grader")

    def launch(self, sandboxed: bool, warm: Warm = None, most: int | None = None) -> None:
        """Start a pair of servers per worker (at most ``most``) now, not set up yet, that
        import ``warm`` (see :func:`course.grading.servers.warm_modules`)."""
        servers.launch(min(self.workers, most or self.workers), sandboxed, warm)

    def prestart(
        self,
        prefix: list[str],
        timeout: float | None,
        sandboxed: bool,
        files: dict[str, bytes],
        warm: Warm = None,
        most: int | None = None,
    ) -> None:
        """Warm a pair of servers per worker (at most ``most``) for ``prefix``."""
        count = min(self.workers, most or self.workers)
        servers.prestart(prefix, timeout, count, sandboxed, files, warm)

    def submit(self, task: Task) -> Future[Executed]:
        return self.pool.submit(execution.execute_notebook, task)

    def wait(self, futures: Iterable[Future[Executed]]) -> set[Future[Executed]]:
        """The futures of ``futures`` that are done, once at least one is."""
        return local_wait(futures, return_when=FIRST_COMPLETED).done

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        servers.shutdown()


class DaskRunner:
    """The same tasks on a ``dask.distributed`` cluster (workers need only this package)."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise CourseError("--scheduler needs dask.distributed installed") from exc
        try:
            self.client = Client(address, timeout="5s")
        except OSError as exc:
            raise CourseError(
                f"cannot reach the Dask scheduler at {address} ({exc}); check the address "
                "(tcp://HOST:PORT) and that the scheduler is running"
            ) from exc
        self.workers = max(1, sum(self.client.nthreads().values()))

    def launch(self, sandboxed: bool, warm: Warm = None, most: int | None = None) -> None:
        """Nothing: the servers start on the workers, set up at once (:meth:`prestart`)."""

    def prestart(
        self,
        prefix: list[str],
        timeout: float | None,
        sandboxed: bool,
        files: dict[str, bytes],
        warm: Warm = None,
        most: int | None = None,
    ) -> None:
        for address, threads in self.client.nthreads().items():
            self.client.run(
                servers.prestart,
                *(prefix, timeout, threads, sandboxed, files, warm),
                workers=[address],
            )

    def submit(self, task: Task) -> distributed.Future:
        return self.client.submit(execution.execute_notebook, task, pure=False)

    def wait(self, futures: Iterable[distributed.Future]) -> set[distributed.Future]:
        """The futures of ``futures`` that are done, once at least one is."""
        from distributed import wait

        return wait(list(futures), return_when="FIRST_COMPLETED").done

    def close(self) -> None:
        self.client.run(servers.shutdown)
        self.client.close()
