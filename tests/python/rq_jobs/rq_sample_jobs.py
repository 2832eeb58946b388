"""Jobs for tests/python/test_rq.py: imported by the `rq worker` process by dotted name."""


def add(a, b):
    return a + b


def boom():
    raise ValueError("boom")
