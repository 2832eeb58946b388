"""README.md and docs/operations.md are executable, as docs/odoo.md is (test_odoo_guide.py):
every line of their shell code blocks (indented blocks, or ```sh fences) runs, in order.

- `ferrocache ARGS`, `./target/release/ferrocache ARGS`, `cargo run --release [-- ARGS]` and a
  line starting with `redis-server` (the program name as the first argument, as a container
  command passes it) start the debug binary with those arguments and must reach "Ready to accept
  connections". A `*.conf` argument stands for a small redis.conf the test writes; our
  `--port 0 --bind 127.0.0.1 --dir <tmp>` come last, so they win.
- `redis-cli ARGS` runs against the server the document started last, with `-p` added; it must
  exit 0 without an error reply, and a trailing `# WORD` in capitals is its expected output.
- Lines in SKIP are not run; any other line fails the test until this file learns it.

So a quick start that stops working fails CI."""

import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import READY_PREFIX, REPO_ROOT, START_TIMEOUT_S, _ferrocache_bin, _free_port, _stop

DOCS = ["README.md", "docs/operations.md"]
# The test suite itself is not run from inside the test suite.
SKIP = [["bash", "tests/run.sh"]]
SAMPLE_CONF = "maxmemory-policy allkeys-lru\nsave \"\"\n"


def code_lines(path):
    """The lines of every indented code block and ```sh/```shell/```bash fence of `path`."""
    lines = (REPO_ROOT / path).read_text().split("\n")
    out = []
    fence = None
    previous_blank = True
    in_block = False
    for line in lines:
        if fence is not None:
            if line.startswith("```"):
                fence = None
            elif fence in ("sh", "shell", "bash") and line.strip():
                out.append(line.strip())
            continue
        if line.startswith("```"):
            fence = line[3:].strip()
            continue
        if line.startswith("    ") and (previous_blank or in_block):
            in_block = True
            if line.strip():
                out.append(line.strip())
        elif line.strip():
            in_block = False
        previous_blank = not line.strip()
    return out


def split_comment(line):
    """(words, comment): the shell words before an unquoted `#`, and the comment after it."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return shlex.split(line[:i]), line[i + 1 :].strip()
    return shlex.split(line), ""


class Started:
    def __init__(self, proc, port, workdir):
        self.proc, self.port, self.workdir = proc, port, workdir

    def stop(self):
        _stop(self.proc)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(args):
    # `port 0` means no TCP listener (as in Redis): a port that was free a moment ago, and
    # another one if something took it meanwhile.
    for _ in range(4):
        started, seen = _try_start(args, _free_port())
        if started is not None:
            return started
    pytest.fail(f"ferrocache {shlex.join(args)} did not start:\n" + "".join(seen))


def _try_start(args, free_port):
    workdir = tempfile.mkdtemp(prefix="ferrocache-doc-")
    conf = Path(workdir) / "sample.conf"
    conf.write_text(SAMPLE_CONF)
    args = [str(conf) if a.endswith(".conf") else a for a in args]
    proc = subprocess.Popen(
        [str(_ferrocache_bin()), *args, "--port", str(free_port), "--bind", "127.0.0.1", "--dir", workdir],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    seen, port, found = [], [], threading.Event()

    def drain():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            if not found.is_set():
                seen.append(line)
                if READY_PREFIX in line:
                    port.append(int(line.split(READY_PREFIX, 1)[1].strip().rstrip(")")))
                    found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    found.wait(START_TIMEOUT_S)
    if not port:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
        return None, seen
    return Started(proc, port[0], workdir), seen


def server_args(words):
    """The server arguments of a line that starts the server, or None."""
    if words[0] in ("ferrocache", "./target/release/ferrocache", "target/release/ferrocache"):
        return words[1:]
    if words[:3] == ["cargo", "run", "--release"]:
        rest = words[3:]
        return rest[1:] if rest[:1] == ["--"] else rest
    if words[0] == "redis-server":
        return words
    return None


@pytest.mark.parametrize("doc", DOCS)
def test_doc_has_snippets(doc):
    assert len(code_lines(doc)) >= 4, f"{doc}: no shell snippets found"


@pytest.mark.parametrize("doc", DOCS)
def test_every_shell_snippet_runs(doc):
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed (tests/run.sh installs it)")
    current = None
    try:
        for line in code_lines(doc):
            words, comment = split_comment(line)
            if not words or any(words[: len(s)] == s for s in SKIP):
                continue
            args = server_args(words)
            if args is not None:
                if current is not None:
                    current.stop()
                current = start(args)
                continue
            if words[0] == "redis-cli":
                assert current is not None, f"{doc}: `{line}` before any server was started"
                done = subprocess.run(
                    ["redis-cli", "-p", str(current.port), *words[1:]],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                out = done.stdout.strip()
                assert done.returncode == 0, f"{doc}: `{line}` exited {done.returncode}: {done.stderr}"
                assert not any(
                    w.startswith(("ERR", "WRONGTYPE", "(error)", "NOAUTH", "DENIED"))
                    for w in out.split("\n")
                ), f"{doc}: `{line}` answered {out!r}"
                if comment and comment.isupper() and " " not in comment:
                    assert out == comment, f"{doc}: `{line}` answered {out!r}, the doc says {comment}"
                continue
            pytest.fail(f"{doc}: `{line}` is a snippet tests/python/test_doc_snippets.py cannot run")
    finally:
        if current is not None:
            current.stop()
