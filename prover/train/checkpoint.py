"""Checkpoints of a training run: ``OUT/checkpoints/step-NNNNNNNN/`` holding the trainable
weights, the optimizer state, the random-number generators, and ``state.json`` (step, data
position, settings, data fingerprint). The learning-rate schedule is a pure function of the
step, so the step is its whole state.

A checkpoint is written into a hidden folder and renamed into place, so a crash never leaves a
half-written one where ``--resume`` would find it."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from prover.core.errors import BadDataError

CHECKPOINTS = "checkpoints"
_PREFIX = "step-"


def checkpoint_dir(out: Path, step: int) -> Path:
    return out / CHECKPOINTS / f"{_PREFIX}{step:08d}"


def list_checkpoints(out: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = out / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir()
             if p.is_dir() and p.name.startswith(_PREFIX) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX):]))


def latest_checkpoint(out: Path) -> Path | None:
    found = list_checkpoints(out)
    return found[-1] if found else None


def rng_state() -> dict[str, Any]:
    """The generators training draws from (dropout, LoRA's initial weights, anything random)."""
    import torch

    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(out: Path, step: int, *, model: Any, optimizer: Any, rng: dict[str, Any],
                    state: dict[str, Any], keep: int) -> Path:
    """Write the checkpoint of ``step`` (trainable weights, optimizer, RNG, state) and delete all
    but the newest ``keep``."""
    import torch

    final = checkpoint_dir(out, step)
    tmp = final.with_name(f".{final.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    trainable = {name: p.detach().cpu() for name, p in model.named_parameters() if p.requires_grad}
    torch.save(trainable, tmp / "trainable.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(rng, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=2), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    for old in list_checkpoints(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadDataError(f"unreadable checkpoint state: {exc}", source=str(path / "state.json")) from None


def load_checkpoint(path: Path, *, model: Any, optimizer: Any) -> dict[str, Any]:
    """Load a checkpoint into ``model`` and ``optimizer`` (built as the run built them);
    returns its state with ``rng`` added."""
    import torch

    state = read_state(path)
    saved = torch.load(path / "trainable.pt", map_location="cpu", weights_only=True)
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if set(saved) != set(params):
        missing, extra = sorted(set(params) - set(saved)), sorted(set(saved) - set(params))
        raise BadDataError(f"checkpoint does not fit the model: missing {missing[:3]}, unexpected {extra[:3]}",
                           source=str(path))
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(saved[name])
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False))
    state["rng"] = torch.load(path / "rng.pt", weights_only=False)
    return state
