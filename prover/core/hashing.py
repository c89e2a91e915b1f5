"""Stable hashes and text normalisation used for identities and cache keys."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

_WS = re.compile(r"\s+")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_statement(text: str) -> str:
    """Normalise an informal statement for identity: NFC, whitespace collapsed, trimmed.

    Deliberately conservative: two statements that differ in any visible character are
    different problems."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def statement_hash(text: str) -> str:
    return sha256_text(normalize_statement(text))


def stable_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the canonical form that keys hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def hash_json(value: Any) -> str:
    return sha256_text(stable_json(value))
