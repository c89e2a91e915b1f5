"""What native code a process is running, for the report of a crash it cannot make itself.

A segmentation fault in an in-process engine (llama.cpp, vLLM, torch) ends the process before any
Python code can run. The ``prover`` console script therefore runs each command in a child process
(``prover.cli.supervise``) and names a file in ``PROVER_CRASH_NOTE``; engines write a line there
before they start native work, and the supervisor prints it with a hint when the child dies by a
signal. Without the variable (a library user, a test) nothing is written."""

from __future__ import annotations

import os

CRASH_NOTE_ENV = "PROVER_CRASH_NOTE"

HINTS = {
    "local": ("llama.cpp crashed in native code. On some CPUs (those with AMX, for one) llama.cpp's "
              "repacked weight buffers crash in decode; prover loads models with them off "
              "(engine option use_extra_bufts=false) unless told otherwise. If it persists, serve the "
              "model in its own process (python -m prover.llm.llama_server --model FILE) and pass --base-url."),
    "vllm": ("vLLM crashed in native code. Serve the model in its own process "
             "(python -m vllm.entrypoints.openai.api_server) and pass --base-url."),
    "hf": ("torch/transformers crashed in native code. Check that torch matches this machine "
           "(pip install 'prover[ml]' pins a build) or serve the model elsewhere and pass --base-url."),
}


def note_native_work(backend: str, what: str) -> None:
    """Record that ``backend`` is about to run native code doing ``what`` (overwrites the last
    note: only the most recent work matters when the process dies)."""
    path = os.environ.get(CRASH_NOTE_ENV)
    if not path:
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"{backend}\t{what}\n")
    except OSError:  # the note is a courtesy: never fail a call for it
        pass


def read_note(path: str) -> tuple[str, str] | None:
    """(backend, what) from a note file, or None when nothing was noted."""
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline().rstrip("\n")
    except OSError:
        return None
    backend, _, what = line.partition("\t")
    return (backend, what) if backend else None
