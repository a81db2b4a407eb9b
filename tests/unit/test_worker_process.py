"""WorkerProcess with tiny real children (`worker_kit`): spawn and ready, a child
that cannot start, a crash seen and the child restarted, and kill, stop and
close leave no process behind. Everything waits on the pipe, with timeouts."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
import worker_kit
from worker_kit import Hello

from assistant.speech.worker_process import (
    SPAWN,
    WorkerGone,
    WorkerNotReady,
    WorkerProcess,
    WorkerTimeout,
)

READY_S = 60.0  # a spawned interpreter on a loaded CI machine


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    made: list[WorkerProcess] = []
    yield made
    for w in made:
        w.close()


def worker(
    made: list[WorkerProcess], target: Callable[..., None], own_group: bool = False
) -> WorkerProcess:
    w = WorkerProcess(target, name="test-worker", ready=Hello, own_group=own_group)
    made.append(w)
    return w


def gone(pid: int | None) -> bool:
    return pid is not None and not psutil.pid_exists(pid)


def test_a_worker_starts_says_ready_and_answers(workers: list[WorkerProcess]) -> None:
    w = worker(workers, worker_kit.echo)
    assert not w.started and w.pid is None and not w.alive
    w.start()
    assert w.started and not w.ready
    hello = w.wait_ready(READY_S)
    assert isinstance(hello, Hello) and hello.pid == w.pid != os.getpid()
    assert w.ready and w.alive
    w.send(("any", b"picklable"))
    assert w.receive(READY_S) == ("any", b"picklable")
    assert not w.poll()  # nothing more
    pid = w.pid
    w.close()
    assert gone(pid) and w.pid is None and not w.started and not w.ready
    w.close()  # twice is fine


def test_a_worker_that_cannot_serve_says_why(workers: list[WorkerProcess]) -> None:
    w = worker(workers, worker_kit.refuse)
    w.start("no model here")
    with pytest.raises(WorkerNotReady) as err:
        w.wait_ready(READY_S)
    assert err.value.reply == "no model here" and "test-worker" in str(err.value)
    assert not w.ready
    pid = w.pid
    w.close()
    assert gone(pid)


def test_a_worker_that_dies_before_ready_is_gone(workers: list[WorkerProcess]) -> None:
    w = worker(workers, worker_kit.die_at_once)
    w.start()
    with pytest.raises(WorkerGone, match="test-worker is gone"):
        w.wait_ready(READY_S)
    assert not w.ready


def test_a_silent_worker_times_out(workers: list[WorkerProcess]) -> None:
    w = worker(workers, worker_kit.silent)
    w.start()
    with pytest.raises(WorkerTimeout, match=r"test-worker did not answer within 0\.2 s") as err:
        w.wait_ready(0.2)
    assert err.value.timeout == 0.2
    pid = w.pid
    w.kill()
    assert gone(pid) and not w.alive


def test_a_crash_is_seen_and_the_worker_restarted(workers: list[WorkerProcess]) -> None:
    w = worker(workers, worker_kit.echo)
    w.start()
    w.wait_ready(READY_S)
    first = w.pid
    w.send("die")
    with pytest.raises(WorkerGone):
        w.receive(READY_S)
    with pytest.raises(WorkerGone):
        w.send("anyone?")  # the pipe's other end is gone
    w.restart()
    assert not w.ready
    w.wait_ready(READY_S)
    assert gone(first) and w.pid != first
    w.send("again")
    assert w.receive(READY_S) == "again"


def test_kill_wakes_a_thread_waiting_on_the_worker(workers: list[WorkerProcess]) -> None:
    w = worker(workers, worker_kit.echo)
    w.start()
    w.wait_ready(READY_S)
    w.send("hang")
    pid = w.pid
    outcome: list[Exception] = []

    def wait() -> None:
        try:
            w.receive(READY_S)
        except Exception as exc:  # what the waiter saw
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    w.kill()  # from another thread than the waiter
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], WorkerGone)
    assert gone(pid) and not w.ready
    assert w.started  # the pipe stays open until close()
    w.close()
    assert not w.started


def test_kill_takes_the_workers_process_group(workers: list[WorkerProcess]) -> None:
    if not hasattr(os, "killpg"):
        pytest.skip("process groups are POSIX")
    witness, witness_child = SPAWN.Pipe(duplex=False)
    w = worker(workers, worker_kit.with_helper, own_group=True)
    w.start(witness_child)
    witness_child.close()
    hello = w.wait_ready(READY_S)
    assert hello.helper and os.getpgid(hello.helper) == w.pid
    assert not witness.poll(0)  # the helper holds it open
    w.kill()
    assert witness.poll(10)  # every holder died: the pipe ends
    with pytest.raises(EOFError):
        witness.recv()
    witness.close()


def test_stop_lets_the_worker_return_or_kills_it(workers: list[WorkerProcess]) -> None:
    polite = worker(workers, worker_kit.echo)
    stuck = worker(workers, worker_kit.echo)
    for w in (polite, stuck):
        w.start()
    for w in (polite, stuck):
        w.wait_ready(READY_S)
    stuck.send("hang")  # it never reads the farewell
    pids = polite.pid, stuck.pid
    t0 = time.monotonic()
    polite.stop("quit", grace=READY_S)
    stuck.stop("quit", grace=0.2)
    assert time.monotonic() - t0 < 10
    assert all(gone(pid) for pid in pids)
    assert not polite.started and not stuck.started and polite.pid is stuck.pid is None


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX signals")
def test_ctrl_c_is_the_parents_to_handle(workers: list[WorkerProcess]) -> None:
    """A terminal's Ctrl-C reaches every process of its group: the worker lets
    the parent quit and close it, with no traceback of its own."""
    import signal

    w = worker(workers, worker_kit.echo)
    w.start()
    w.wait_ready(READY_S)
    assert w.pid is not None
    os.kill(w.pid, signal.SIGINT)
    w.send("still here")
    assert w.receive(READY_S) == "still here"
    assert w.alive
