"""Celery 5 with its Redis broker and result backend, against ferrocache and redis-server (the
`server` fixture runs each test on both): a real `celery worker` process runs a task, a group
and a chord (the chord's counter and result keys live in the backend).
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path

APP_DIR = Path(__file__).parent / "celery_app"
RESULT_TIMEOUT_S = 60


def test_task_group_and_chord(server):
    server.client().flushall()
    url = server.url()
    os.environ["CELERY_TEST_URL"] = url
    sys.path.insert(0, str(APP_DIR))
    try:
        import celery_sample_app

        app_module = importlib.reload(celery_sample_app)
    finally:
        sys.path.remove(str(APP_DIR))
    from celery import chord, group

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_sample_app",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ],
        cwd=APP_DIR,
        env=dict(os.environ, PYTHONPATH=str(APP_DIR), CELERY_TEST_URL=url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert app_module.add.delay(2, 3).get(timeout=RESULT_TIMEOUT_S) == 5
        assert group(app_module.add.s(i, i) for i in range(5))().get(
            timeout=RESULT_TIMEOUT_S
        ) == [0, 2, 4, 6, 8]
        assert chord((app_module.add.s(i, 1) for i in range(4)), app_module.total.s())().get(
            timeout=RESULT_TIMEOUT_S
        ) == 10
    finally:
        worker.terminate()
        worker.wait(30)
        app_module.app.close()
