"""Serve a GGUF pair with llama-cpp-python's own OpenAI-compatible server, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NO_PROXY = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(model: Path, mmproj: Path, log: Path, context: int = 4096) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free 127.0.0.1 port; yields its /v1 base URL once it
    answers, and stops it (by its PID) afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
             "--clip_model_path", str(mmproj), "--chat_format", "mtmd", "--n_ctx", str(context),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **NO_PROXY})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
            assert time.monotonic() < deadline, f"no server after 60 s:\n{log.read_text()[-3000:]}"
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
