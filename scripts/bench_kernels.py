"""Benchmark the fused linear cross-entropy against the plain computation (full logits).

Forward + backward, each variant in a fresh process. Extra peak memory is measured over a
baseline taken after the inputs exist: peak RSS (VmHWM, reset through /proc/self/clear_refs)
on CPU, ``torch.cuda.max_memory_allocated`` on GPU; the largest over the rounds is reported.
Times are the 20/50/80th percentiles of the timed iterations of all rounds (the warm-up
iterations count for memory, not for time). The variants' processes alternate round by round,
so that a shared machine's changing load falls on both alike.

    python scripts/bench_kernels.py                    # CPU: T=4096, d=256, V=32768, fp32
    python scripts/bench_kernels.py --device cuda      # GPU: T=8192, d=1024, V=131072, bf16
    python scripts/bench_kernels.py --op logprobs      # selective_log_probs instead
    python scripts/bench_kernels.py --frozen-head      # no head gradient, as under LoRA

Targets: extra peak memory <= 1/8 of plain; for the cross-entropy on CPU, time <= 1.2x plain.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from _bench_memory import proc_status_kib, reset_rss_peak  # scripts/ is on sys.path

DEFAULTS = {
    "cpu": {"T": 4096, "d": 256, "V": 32768, "dtype": "float32", "warmup": 1, "repeats": 3,
            "rounds": 2},
    "cuda": {"T": 8192, "d": 1024, "V": 131072, "dtype": "bfloat16", "warmup": 2, "repeats": 10,
             "rounds": 1},
}
MEMORY_TARGET = 1 / 8
CPU_TIME_TARGET = 1.2
MIB = 2**20


def worker(args: argparse.Namespace) -> dict:
    """Run one variant in this process and return its figures."""
    import torch

    from prover.kernels import (
        fused_linear_cross_entropy,
        reference_linear_cross_entropy,
        reference_selective_log_probs,
        selective_log_probs,
    )
    from prover.kernels.utils import resolve_impl

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(args.T, args.d, generator=gen).to(device, dtype).requires_grad_()
    # Scaled so that the logits are O(1), as from a trained head.
    weight = (torch.randn(args.V, args.d, generator=gen) * args.d**-0.5).to(device, dtype)
    weight.requires_grad_(not args.frozen_head)
    targets = torch.randint(0, args.V, (args.T,), generator=gen)
    targets[torch.rand(args.T, generator=gen) < 0.05] = -100  # some padding, as in real batches
    targets = targets.to(device)
    advantages = torch.randn(args.T, generator=gen).to(device)

    if args.op == "ce":
        if args.variant == "plain":
            def step():
                reference_linear_cross_entropy(hidden, weight, targets).backward()
        else:
            def step():
                fused_linear_cross_entropy(hidden, weight, targets, impl=args.impl,
                                           chunk_size=args.chunk_size).backward()
    else:
        if args.variant == "plain":
            def step():
                lp = reference_selective_log_probs(hidden, weight, targets)
                (lp * advantages).sum().backward()
        else:
            def step():
                lp = selective_log_probs(hidden, weight, targets, impl=args.impl,
                                         chunk_size=args.chunk_size)
                (lp * advantages).sum().backward()

    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    gc.collect()
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        rss_reset = True
    else:
        base = proc_status_kib("VmRSS") * 1024
        rss_reset = reset_rss_peak()

    times = []
    for i in range(args.warmup + args.repeats):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
        hidden.grad = None
        weight.grad = None

    peak = torch.cuda.max_memory_allocated() if cuda else proc_status_kib("VmHWM") * 1024
    return {
        "variant": args.variant,
        "extra_peak_bytes": peak - base,
        "peak_reset": rss_reset,
        "times": times,
        "impl": resolve_impl(args.impl, device) if args.variant == "fused" else "plain",
    }


def _percentiles(times: list[float]) -> tuple[float, float, float]:
    if len(times) == 1:
        return times[0], times[0], times[0]
    q = statistics.quantiles(times, n=10, method="inclusive")
    return q[1], statistics.median(times), q[7]


def device_line(device: str) -> str:
    import torch

    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        return (f"GPU {torch.cuda.get_device_name(0)} ({props.total_memory / 2**30:.0f} GiB), "
                f"torch {torch.__version__}, CUDA {torch.version.cuda}")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU {cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--op", choices=("ce", "logprobs"), default="ce")
    parser.add_argument("--T", type=int, help="tokens")
    parser.add_argument("--d", type=int, help="hidden size")
    parser.add_argument("--V", type=int, help="vocabulary size")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--impl", default="auto", help="fused implementation: auto, torch, triton")
    parser.add_argument("--chunk-size", type=int, default=None, help="tokens per chunk")
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--repeats", type=int, help="timed iterations per process")
    parser.add_argument("--rounds", type=int, help="processes per variant, alternating")
    parser.add_argument("--frozen-head", action="store_true",
                        help="the head needs no gradient (as under LoRA)")
    parser.add_argument("--variants", default="plain,fused", help="comma-separated")
    parser.add_argument("--worker", dest="variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for key, value in DEFAULTS[args.device].items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    if args.variant:
        print(json.dumps(worker(args)))
        return 0
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("bench_kernels: --device cuda, but torch sees no CUDA device "
                  f"(torch {torch.__version__})")
            return 2

    print(f"bench_kernels: op={args.op} T={args.T} d={args.d} V={args.V} dtype={args.dtype} "
          f"forward+backward{' (frozen head)' if args.frozen_head else ''}, "
          f"warmup={args.warmup} repeats={args.repeats} rounds={args.rounds}")
    print(device_line(args.device), flush=True)
    variants = args.variants.split(",")
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for variant in variants:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", variant,
                   "--device", args.device, "--op", args.op, "--T", str(args.T),
                   "--d", str(args.d), "--V", str(args.V), "--dtype", args.dtype,
                   "--impl", args.impl, "--warmup", str(args.warmup),
                   "--repeats", str(args.repeats)]
            if args.chunk_size:
                cmd += ["--chunk-size", str(args.chunk_size)]
            if args.frozen_head:
                cmd.append("--frozen-head")
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{variant}: FAILED (exit {proc.returncode})\n{proc.stdout}{proc.stderr}")
                return 1
            runs[variant].append(json.loads(proc.stdout.strip().splitlines()[-1]))

    results = {}
    for variant in variants:
        times = [t for run in runs[variant] for t in run["times"]]
        p20, p50, p80 = _percentiles(times)
        extra = max(run["extra_peak_bytes"] for run in runs[variant])
        results[variant] = {"p50": p50, "extra": extra}
        note = ("" if all(run["peak_reset"] for run in runs[variant])
                else "  (peak RSS could not be reset: figure is an upper bound)")
        print(f"{variant:>6} [{runs[variant][0]['impl']}]: time p20/p50/p80 = {p20:.3f} / "
              f"{p50:.3f} / {p80:.3f} s   extra peak memory = {extra / MIB:.1f} MiB{note}",
              flush=True)

    if "plain" in results and "fused" in results:
        plain, fused = results["plain"], results["fused"]
        mem_ratio = fused["extra"] / max(plain["extra"], 1)
        time_ratio = fused["p50"] / plain["p50"]
        mem_ok = "met" if mem_ratio <= MEMORY_TARGET else "MISSED"
        print(f"memory fused/plain = {mem_ratio:.3f} (1/{1 / max(mem_ratio, 1e-9):.1f}); "
              f"target <= {MEMORY_TARGET:.3f}: {mem_ok}")
        line = f"time fused/plain (median) = {time_ratio:.2f}x"
        if args.device == "cpu" and args.op == "ce":
            time_ok = "met" if time_ratio <= CPU_TIME_TARGET else "MISSED"
            line += f"; target <= {CPU_TIME_TARGET}x: {time_ok}"
        elif args.op == "logprobs" and not args.frozen_head:
            line += " (trainable head: backward recomputes the logits, one matmul more than plain)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
