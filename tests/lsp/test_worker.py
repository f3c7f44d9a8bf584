"""The inference worker: one job at a time, bounded queue, cancellation."""

import threading
import time

import pytest

from codecustom_lsp.worker import InferenceWorker, Job, QueueFull


def _blocking_job(started: threading.Event, release: threading.Event, **kwargs) -> Job:
    def fn(cancel: threading.Event):
        started.set()
        while not release.is_set() and not cancel.is_set():
            time.sleep(0.001)
        return "stopped" if cancel.is_set() else "done"

    return Job(fn, **kwargs)


def test_jobs_run_in_order_one_at_a_time():
    worker = InferenceWorker(8)
    active, peak, order = [0], [0], []
    lock = threading.Lock()

    def make(i):
        def fn(cancel):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.002)
            order.append(i)
            with lock:
                active[0] -= 1
            return i
        return Job(fn)

    jobs = [worker.submit(make(i)) for i in range(6)]
    assert [j.future.result(5) for j in jobs] == list(range(6))
    assert order == list(range(6)) and peak[0] == 1
    worker.close()


def test_cancel_stops_a_running_job_and_skips_a_queued_one():
    worker = InferenceWorker(8)
    started, release = threading.Event(), threading.Event()
    running = worker.submit(_blocking_job(started, release))
    queued = worker.submit(Job(lambda cancel: "ran"))
    assert started.wait(5)
    queued.stop()
    running.stop()
    assert running.future.result(5) == "stopped"
    assert queued.future.result(5) is None
    assert worker.skipped == 1
    worker.close()


def test_full_queue_drops_the_oldest_completion_not_test_generation():
    worker = InferenceWorker(2)
    started, release = threading.Event(), threading.Event()
    worker.submit(_blocking_job(started, release))
    assert started.wait(5)
    tests_job = worker.submit(Job(lambda cancel: "tests", droppable=False))
    old = worker.submit(Job(lambda cancel: "old"))
    new = worker.submit(Job(lambda cancel: "new"))  # queue full: drops `old`, keeps the test job
    assert old.future.result(1) is None and old.cancel.is_set()
    more_tests = worker.submit(Job(lambda cancel: "more tests", droppable=False))  # drops `new`
    assert new.future.result(1) is None
    with pytest.raises(QueueFull, match="already waiting"):  # only long jobs left: refuse
        worker.submit(Job(lambda cancel: "even more", droppable=False))
    late = worker.submit(Job(lambda cancel: "late completion"))  # a completion is dropped instead
    assert late.future.result(1) is None
    release.set()
    assert tests_job.future.result(5) == "tests" and more_tests.future.result(5) == "more tests"
    assert worker.dropped == 3
    worker.close()


def test_a_failing_job_reports_its_error_and_the_worker_survives():
    worker = InferenceWorker(4)
    bad = worker.submit(Job(lambda cancel: 1 / 0))
    with pytest.raises(ZeroDivisionError):
        bad.future.result(5)
    assert worker.submit(Job(lambda cancel: "fine")).future.result(5) == "fine"
    worker.close()
    assert worker.submit(Job(lambda cancel: "late")).future.result(1) is None
