"""Helpers for tests that read recorded REPL transcripts (not a test module)."""

from __future__ import annotations

import json
from pathlib import Path


def read_json_stream(text: str) -> list:
    """Concatenated JSON values separated by whitespace (a REPL `.expected.out`)."""
    dec = json.JSONDecoder()
    out, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        value, i = dec.raw_decode(text, i)
        out.append(value)


def read_requests(text: str) -> list[dict]:
    """REPL stdin: JSON commands separated by blank lines (lines joined as the REPL does)."""
    blocks, cur = [], []
    for line in text.splitlines():
        if not line.strip():
            if cur:
                blocks.append(cur)
                cur = []
            continue
        if line.startswith("#") or line.startswith("--"):
            continue
        cur.append(line.rstrip())
    if cur:
        blocks.append(cur)
    return [json.loads("".join(b)) for b in blocks]


def transcript(path_in: Path) -> list[tuple[dict, object]]:
    """(request, response) pairs of one `.in` / `.expected.out` transcript."""
    out = path_in.with_suffix(".expected.out")
    return list(zip(read_requests(path_in.read_text()), read_json_stream(out.read_text())))
