"""Trainings side by side: worker processes over one shared copy of the data.

``train_many(tasks, setup, jobs=..., progress=...)`` trains each task (an implementation and
its initial weights) over ``setup``'s data and plan, and returns one ``Result`` per task, in
order: params, history, test probabilities, and the params at the task's logged steps. What
is derived from them (the divergence curves, a noise floor) is the caller's.

- ``jobs == 1``: one task after the other in this process, nothing else changed.
- ``jobs > 1``: at most ``jobs`` trainings at once, each in a worker process started with
  "spawn" (a fork after torch or OpenMP started their threads is unsafe). The data goes once
  into one shared-memory block that every worker maps as read-only arrays: no per-worker
  copy. Each worker sizes its thread pools before it trains (``threads_for``): threadpoolctl
  for BLAS and OpenMP, ``torch.set_num_threads`` for torch.
- Only an implementation the registry rebuilds (``frameworks.load(name)``'s own class, or a
  name) moves to a worker. Any other instance (a selftest mutant patching modules in this
  process, a user's object) trains here, in a thread beside the workers.
- An exception in a training is that task's "error" result, with its reason and traceback;
  a worker that dies without answering is one too.
- Ctrl-C (KeyboardInterrupt) terminates and joins every worker, then propagates: the caller
  writes nothing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from multiprocessing import connection, get_context
from typing import Any

import numpy as np

import frameworks
from frameworks.contract import Framework, History, Params, as_history
from parity import shared
from parity.stages.setup import Setup

Array = np.ndarray
# progress(description, total_steps) -> a context manager yielding something with update(n)
ProgressFactory = Callable[[str, int], AbstractContextManager[Any]]

START_METHOD = "spawn"  # a fresh interpreter: no torch/OpenMP state copied from the parent
PROGRESS_EVERY_S = 0.1  # a worker reports its step count at most this often
AUTO_MIN_SAMPLES = 20_000  # samples a training visits below which auto trains in-process


@dataclass(frozen=True)
class Task:
    """One full training: an implementation, its start and the steps whose params to keep.

    ``implementation`` is an adapter instance or a name ``frameworks.load`` knows.
    ``params0`` None means ``setup.params0``. ``label`` names the task in its progress bar.
    """

    label: str
    implementation: Framework | str
    params0: Params | None = None
    logged: Sequence[int] = ()


@dataclass
class Result:
    """What one task's training gave (``status`` "ok" or "error", with ``reason`` and
    ``trace``). ``snapshots[key]`` is (len(steps), *shape): the params at ``steps``, the
    task's logged steps the training reached (all of them unless it raised)."""

    label: str
    status: str = "ok"
    reason: str | None = None
    trace: str | None = None
    params: Params | None = None
    history: History | None = None
    test_probs: Array | None = None  # (n_test, n_classes)
    steps: list[int] = field(default_factory=list)
    snapshots: dict[str, Array] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the adapter's train call

    def snapshot(self, i: int) -> Params:
        """The params at ``steps[i]`` (views into ``snapshots``)."""
        return {key: stack[i] for key, stack in self.snapshots.items()}

    def keep(self, step: int, params: Params, n_logged: int) -> None:
        """Add the params at ``step`` to ``snapshots`` (stacks made for ``n_logged`` steps)."""
        if not self.snapshots:
            self.snapshots = {k: np.empty((n_logged, *v.shape), v.dtype) for k, v in params.items()}
        for key, value in params.items():
            self.snapshots[key][len(self.steps)] = value
        self.steps.append(step)

    def trimmed(self) -> Result:
        """Itself, its snapshot stacks cut to the steps reached (a training that raised keeps
        what it logged before)."""
        self.snapshots = {k: v[: len(self.steps)] for k, v in self.snapshots.items()}
        return self


def failure_text(error: BaseException) -> str:
    """One line for a stage or run that raised: the exception's type and message."""
    return f"raised {type(error).__name__}: {error}"


def cores_available() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def auto_jobs(n_tasks: int, samples: int, cores: int | None = None) -> int:
    """Trainings at once for ``--jobs auto``, each visiting ``samples`` samples in all.

    1 (one after the other, here) on one core, or when the trainings are short: a worker is a
    fresh interpreter importing its framework (1-2 s for torch or scikit-learn here), more than
    a training of fewer than AUTO_MIN_SAMPLES samples takes. Otherwise every task at once when
    they number at most twice the cores, else twice the cores: more single-threaded trainings
    than cores let the scheduler share the cores evenly, which beats any assignment of whole
    trainings to fewer workers (three on two cores: about the sum of the three over two, where
    two workers need at least the sum of the two shortest; docs/benchmarks.md).
    """
    cores = cores_available() if cores is None else cores
    if cores == 1 or samples < AUTO_MIN_SAMPLES:
        return 1
    return max(1, min(n_tasks, 2 * cores))


def threads_for(cores: int, trainings: int, load: float | None = None) -> int:
    """BLAS/OpenMP/torch threads for each of ``trainings`` at once on ``cores`` cores.

    Its share of the cores, at least one, and only one when other work keeps the machine
    busy (1-minute load average, ``load``, above half the cores). Measured on the 2-core
    machine (docs/benchmarks.md): alone on idle cores a training is 1.1-1.3x faster with two
    threads than with one; with other processes running, OpenMP's and OpenBLAS's second
    thread waits for a core and the training gets 2-50x slower.
    """
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > cores / 2:
        return 1
    return max(1, cores // max(1, trainings))


# --------------------------------------------------------------------------- one training


class _Stopped(Exception):
    """Raised from a step hook when the run was interrupted (in-process trainings)."""


def train_task(
    task: Task,
    adapter: Framework,
    setup: Setup,
    on_steps: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    on_snapshot: Callable[[int, Params], None] | None = None,
) -> Result:
    """Train one task here; exceptions become the result.

    ``on_steps(n)`` after n more steps; ``on_snapshot(step, params)`` at each logged step
    (default: kept in the result's ``snapshots``); ``stop`` set ends the training at its
    next step with KeyboardInterrupt.
    """
    logged = set(task.logged)
    result = Result(task.label)
    params0 = setup.params0 if task.params0 is None else task.params0

    def keep(step: int, params: Params) -> None:
        result.keep(step, params, len(logged))

    sink = keep if on_snapshot is None else on_snapshot

    def on_step(step: int, snapshot: Callable[[], Params]) -> None:
        if stop is not None and stop.is_set():
            raise _Stopped
        if on_steps is not None:
            on_steps(1)
        if step in logged:
            sink(step, snapshot())

    try:
        t0 = time.perf_counter()
        params, history = adapter.train(
            setup.spec,
            params0,
            setup.X_train,
            setup.y_train,
            setup.plan,
            eval_data=(setup.X_test, setup.y_test),
            on_step=on_step,
        )
        result.seconds = time.perf_counter() - t0
        result.test_probs = adapter.forward(setup.spec, params, setup.X_test)
        result.params, result.history = params, as_history(history)
    except _Stopped:
        raise KeyboardInterrupt from None
    except Exception as error:  # the subject's too: reported, never raised
        result.status, result.reason = "error", failure_text(error)
        result.trace = traceback.format_exc()
    return result.trimmed()


@contextlib.contextmanager
def thread_limits(threads: int, at_most: bool = False) -> Iterator[None]:
    """BLAS and OpenMP pools (threadpoolctl) and torch's (when imported) at ``threads``, or
    with ``at_most`` at no more than they are now (a limit the user set, OMP_NUM_THREADS=1
    say, stays); restored after."""
    import sys

    from threadpoolctl import threadpool_info, threadpool_limits

    with ExitStack() as stack:
        pools = [pool["num_threads"] for pool in threadpool_info()]
        n = min([threads, *pools]) if at_most else threads
        stack.enter_context(threadpool_limits(limits=n))
        torch = sys.modules.get("torch")
        if torch is not None:
            before = torch.get_num_threads()
            torch.set_num_threads(min(n, before) if at_most else n)
            stack.callback(torch.set_num_threads, before)
        yield


def _setup_arrays(setup: Setup) -> dict[str, Array]:
    return {
        "X_train": setup.X_train,
        "y_train": setup.y_train,
        "X_test": setup.X_test,
        "y_test": setup.y_test,
        "plan": np.asarray(setup.plan),
    }


# --------------------------------------------------------------------------- in a worker


@dataclass(frozen=True)
class _Job:
    """What a worker receives: the pickled task (unpickling it imports the framework), where
    the shared arrays are, and the Setup's other fields."""

    payload: bytes
    where: dict[str, shared.Where]
    spec: Any
    params0: Params
    k_steps: int
    probe_size: int
    threads: int
    progress: bool


def _worker(job: _Job, conn: connection.Connection) -> None:
    """A worker process's whole life: map the data, train one task, send the result.

    SIGINT is blocked here (inherited from the thread that started it): a Ctrl-C at the
    terminal reaches the parent alone, which terminates the workers.
    """
    arrays, blocks = shared.attach(job.where)
    task = pickle.loads(job.payload)  # imports the framework
    adapter = _resolve(task.implementation)
    setup = Setup(
        job.spec,
        params0=job.params0,
        k_steps=job.k_steps,
        probe_size=job.probe_size,
        **arrays,
    )
    last, pending = time.monotonic(), 0

    def on_steps(n: int) -> None:
        nonlocal last, pending
        pending += n
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S:
            conn.send(("steps", pending))
            last, pending = now, 0

    def on_snapshot(step: int, params: Params) -> None:
        conn.send(("snapshot", (step, params)))  # one at a time: the worker keeps none

    with thread_limits(job.threads, at_most=True):
        hook = on_steps if job.progress else None
        result = train_task(task, adapter, setup, hook, on_snapshot=on_snapshot)
    if pending:
        conn.send(("steps", pending))
    conn.send(("result", result))
    conn.close()
    del setup, arrays
    gc.collect()
    for block in blocks:
        with contextlib.suppress(BufferError):  # a view still held somewhere: exit closes it
            block.close()


# --------------------------------------------------------------------------- the scheduler


_registry_types: dict[str, type | None] = {}


def movable(implementation: Framework | str) -> bool:
    """Can a worker rebuild this implementation? A registry name, or an instance of the
    registry's own class for its name (which pickles); nothing else."""
    if isinstance(implementation, str):
        return implementation in frameworks.NAMES
    name = getattr(implementation, "name", None)
    if not isinstance(name, str) or name not in frameworks.NAMES:
        return False
    if name not in _registry_types:
        try:
            _registry_types[name] = type(frameworks.load(name))
        except frameworks.FrameworkUnavailable:
            _registry_types[name] = None
    return type(implementation) is _registry_types[name]


def _resolve(implementation: Framework | str) -> Framework:
    return frameworks.load(implementation) if isinstance(implementation, str) else implementation


def train_many(
    tasks: Sequence[Task],
    setup: Setup,
    *,
    jobs: int | None = 1,
    progress: ProgressFactory | None = None,
) -> list[Result]:
    """Every task's training over ``setup``, at most ``jobs`` at once (None: ``auto_jobs``);
    results in task order."""
    if jobs is None:
        jobs = auto_jobs(len(tasks), setup.spec.epochs * int(setup.X_train.shape[0]))
    bars = _Bars(progress, _total_steps(setup))
    if jobs <= 1 or not tasks:
        results = []
        with thread_limits(threads_for(cores_available(), 1), at_most=True):
            for task in tasks:
                with bars.open(task.label) as bar:
                    adapter = _resolve(task.implementation)
                    results.append(train_task(task, adapter, setup, bar.update if bar else None))
        return results
    return _Pool(tasks, setup, jobs, bars).run()


def _total_steps(setup: Setup) -> int:
    spec = setup.spec
    per_epoch = -(-setup.X_train.shape[0] // spec.batch_size)
    return spec.epochs * per_epoch


class _Bars:
    """One progress bar per running task (tqdm stacks concurrent bars one line each)."""

    def __init__(self, progress: ProgressFactory | None, total: int) -> None:
        self.progress, self.total = progress, total

    def open(self, label: str) -> AbstractContextManager[Any]:
        if self.progress is None:
            return nullcontext(None)
        return self.progress(f"train {label}", self.total)


class _Pool:
    """Worker processes for the movable tasks, one thread here for the others."""

    def __init__(self, tasks: Sequence[Task], setup: Setup, jobs: int, bars: _Bars) -> None:
        self.tasks, self.setup, self.jobs, self.bars = list(tasks), setup, jobs, bars
        self.results: list[Result | None] = [None] * len(self.tasks)
        self.stop = threading.Event()
        self.context: Any = get_context(START_METHOD)
        self.remote = [i for i, t in enumerate(self.tasks) if movable(t.implementation)]
        self.local = [i for i in range(len(self.tasks)) if i not in self.remote]
        self.threads = threads_for(cores_available(), min(jobs, len(self.tasks)))

    def run(self) -> list[Result]:
        local = threading.Thread(target=self._run_local, name="in-process trainings")
        running: dict[int, _Worker] = {}
        block = None
        try:
            # The data as the workers find it: where it already lies in shared memory (see
            # shared.shared_dataset), the rest copied into one new block.
            where, block = shared.place(_setup_arrays(self.setup)) if self.remote else ({}, None)
            if self.local:
                local.start()
            self._run_remote(where, running)
            while local.is_alive():
                local.join(0.1)
        except BaseException:
            self.stop.set()
            _end(running)
            if local.is_alive():
                local.join()
            raise
        finally:
            if block is not None:
                shared.free(block)
        results = [r for r in self.results if r is not None]
        assert len(results) == len(self.tasks), "a task gave no result"
        return results

    def _run_local(self) -> None:
        """The tasks no worker can rebuild, one after another, in this process."""
        with thread_limits(self.threads, at_most=True):
            for i in self.local:
                if self.stop.is_set():
                    return
                task = self.tasks[i]
                with self.bars.open(task.label) as bar:
                    hook = bar.update if bar else None
                    try:
                        adapter = _resolve(task.implementation)
                        self.results[i] = train_task(task, adapter, self.setup, hook, self.stop)
                    except KeyboardInterrupt:  # _Stopped: the main thread is ending the run
                        return

    def _run_remote(self, where: dict[str, shared.Where], running: dict[int, _Worker]) -> None:
        """Start workers as slots free up (one slot is this process's while it trains too);
        pass their step counts to the bars and collect their results."""
        queue = list(self.remote)
        while queue or running:
            local_busy = any(self.results[i] is None for i in self.local)
            while queue and len(running) < max(1, self.jobs - local_busy):
                self._start(queue.pop(0), where, running)
            waiting: dict[Any, int] = {worker.conn: i for i, worker in running.items()}
            for conn in connection.wait(list(waiting), timeout=0.5):
                i = waiting[conn]
                if self._receive(i, running[i]):
                    running.pop(i).close()

    def _start(self, i: int, where: dict[str, shared.Where], running: dict[int, _Worker]) -> None:
        """Start task i's worker and enter it in ``running`` (before a Ctrl-C can intervene,
        so that ``_end`` finds it)."""
        task = self.tasks[i]
        job = _Job(
            payload=pickle.dumps(task),
            where=where,
            spec=self.setup.spec,
            params0=self.setup.params0 if task.params0 is None else task.params0,
            k_steps=self.setup.k_steps,
            probe_size=self.setup.probe_size,
            threads=self.threads,
            progress=self.bars.progress is not None,
        )
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_worker, args=(job, send), name=f"mlp-parity {task.label}", daemon=True
        )
        # The worker inherits this thread's signal mask: SIGINT blocked, so a Ctrl-C at the
        # terminal reaches the parent alone, which then ends every worker. Here a Ctrl-C
        # waits until the worker is in ``running``, where ``_end`` finds it.
        with _sigint_deferred():
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                process.start()
                running[i] = _Worker(process, receive, Result(task.label))
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
        send.close()
        running[i].open_bar(self.bars, task.label)

    def _receive(self, i: int, worker: _Worker) -> bool:
        """Handle one message from task i's worker; True once it has given its result."""
        try:
            kind, value = worker.conn.recv()
        except EOFError:  # the worker died without a result
            worker.process.join()
            worker.kept.status = "error"
            worker.kept.reason = (
                f"its worker process ended with exit status {worker.process.exitcode} "
                "before returning a result"
            )
            self.results[i] = worker.kept.trimmed()
            return True
        if kind == "steps":
            if worker.bar is not None:
                worker.bar.update(value)
            return False
        if kind == "snapshot":
            step, params = value
            worker.kept.keep(step, params, len(set(self.tasks[i].logged)))
            return False
        value.steps, value.snapshots = worker.kept.steps, worker.kept.snapshots
        self.results[i] = value.trimmed()
        return True


@dataclass
class _Worker:
    """A running worker: its process, the pipe it answers on, and its progress bar."""

    process: Any
    conn: connection.Connection
    kept: Result  # the snapshots as they arrive
    bar: Any = None
    bar_context: AbstractContextManager[Any] | None = None

    def open_bar(self, bars: _Bars, label: str) -> None:
        self.bar_context = bars.open(label)
        self.bar = self.bar_context.__enter__()

    def close(self) -> None:
        """Wait for the process to exit (it has sent all it will), close pipe and bar."""
        self.process.join()
        self.conn.close()
        if self.bar_context is not None:
            self.bar_context.__exit__(None, None, None)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """A SIGINT during the block is handled after it (blocking it in this thread is not
    enough: the kernel may hand it to another thread, e.g. OpenMP's, and Python then raises
    KeyboardInterrupt in the main thread wherever it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # KeyboardInterrupt is only ever raised in the main thread
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)


def _end(running: dict[int, _Worker]) -> None:
    """Terminate and join every running worker (SIGTERM, then SIGKILL after 5 s)."""
    for worker in running.values():
        if worker.process.is_alive():
            worker.process.terminate()
    for worker in running.values():
        worker.process.join(5)
        if worker.process.is_alive():
            worker.process.kill()
        worker.close()
    running.clear()
