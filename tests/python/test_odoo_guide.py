"""docs/odoo.md is executable: every ```python block runs against both servers (blocks whose
first line is `# ferrocache only` against ferrocache alone), with `r` a bytes-reply client and
`url` the server's URL; every ```conf block must load in ferrocache. The guide cannot drift from
what the servers do."""

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT, _ferrocache_bin, _free_port

GUIDE = REPO_ROOT / "docs" / "odoo.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(lang):
    return [m.group(2) for m in BLOCK.finditer(GUIDE.read_text()) if m.group(1) == lang]


PYTHON_BLOCKS = blocks("python")


def test_the_guide_has_snippets():
    assert len(PYTHON_BLOCKS) >= 10 and blocks("conf")


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_snippet(server, index):
    code = PYTHON_BLOCKS[index]
    if code.startswith("# ferrocache only") and server.kind != "ferrocache":
        pytest.skip("a ferrocache feature")
    r = server.client()
    r.flushall()
    try:
        exec(compile(code, f"docs/odoo.md python block {index}", "exec"), {"r": r, "url": server.url()})
    finally:
        r.config_set("keyspace-stats-prefixes", "") if server.kind == "ferrocache" else None
        r.close()


@pytest.mark.parametrize("index", range(len(blocks("conf"))))
def test_conf_snippet_loads(index):
    conf = blocks("conf")[index]
    with tempfile.TemporaryDirectory(prefix="ferrocache-guide-") as workdir:
        path = Path(workdir) / "ferrocache.conf"
        path.write_text(conf)
        # --test-config style check: start, then stop at once through the normal start-up path.
        proc = subprocess.Popen(
            [str(_ferrocache_bin()), str(path), "--port", str(_free_port()), "--bind", "127.0.0.1", "--dir", workdir],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                if "Ready to accept connections" in line:
                    break
                assert "Bad directive" not in line and "FATAL" not in line, line
            else:
                pytest.fail(f"ferrocache did not start with the guide's config (exit {proc.wait()})")
        finally:
            proc.kill()
            proc.wait(timeout=10)
