"""RQ 3 end to end, against ferrocache and redis-server (the `server` fixture runs each test on
both): jobs are enqueued with RQ's own client, then the real `rq worker --burst` process runs
them. RQ 3 writes each job's result with XADD inside MULTI, so a stream or MULTI difference
shows up here as a job that never leaves `started` or a worker that fails.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from rq import Queue
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler

JOBS_DIR = Path(__file__).parent / "rq_jobs"


def run_worker(server, *options):
    rq_cli = shutil.which("rq")
    argv = [rq_cli] if rq_cli else [sys.executable, "-m", "rq.cli"]
    env = dict(os.environ, PYTHONPATH=str(JOBS_DIR))
    return subprocess.run(
        [*argv, "worker", "--burst", *options, "--url", server.url(), "default"],
        capture_output=True,
        text=True,
        cwd=JOBS_DIR,
        env=env,
        timeout=120,
    )


def test_worker_burst_finishes_jobs_and_records_failures(server):
    r = server.client()
    r.flushall()
    q = Queue("default", connection=r)
    ok = q.enqueue("rq_sample_jobs.add", 2, 3)
    bad = q.enqueue("rq_sample_jobs.boom")
    worker = run_worker(server)
    assert worker.returncode == 0, worker.stderr[-3000:]
    ok = Job.fetch(ok.id, connection=r)
    bad = Job.fetch(bad.id, connection=r)
    assert ok.get_status() == JobStatus.FINISHED
    assert ok.return_value() == 5
    assert bad.get_status() == JobStatus.FAILED
    assert bad.id in q.failed_job_registry.get_job_ids()
    assert ok.id in q.finished_job_registry.get_job_ids()
    # The results RQ 3 keeps in a stream per job.
    assert [res.type.name for res in ok.results()] == ["SUCCESSFUL"]
    assert [res.type.name for res in bad.results()] == ["FAILED"]


def test_scheduled_job_is_moved_when_due(server):
    from datetime import timedelta

    r = server.client()
    r.flushall()
    q = Queue("default", connection=r)
    job = q.enqueue_in(timedelta(seconds=0), "rq_sample_jobs.add", 1, 1)
    assert job.id in q.scheduled_job_registry.get_job_ids()
    # RQ's scheduler moves due jobs to their queue (what `rq worker --with-scheduler` runs).
    scheduler = RQScheduler([q], connection=r)
    assert scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    assert job.id in q.get_job_ids()
    done = run_worker(server)
    assert done.returncode == 0, done.stderr[-3000:]
    job = Job.fetch(job.id, connection=r)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 2
