"""A Celery app for tests/python/test_celery.py: broker and result backend on the server under
test (CELERY_TEST_URL); imported by the test and by the worker process."""

import os

from celery import Celery

url = os.environ["CELERY_TEST_URL"]
app = Celery("celery_sample_app", broker=url, backend=url)
app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)


@app.task
def add(a, b):
    return a + b


@app.task
def total(values):
    return sum(values)
