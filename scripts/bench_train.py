"""Benchmark one verifier-training step with the fused loss against the plain loss.

A step is what ``prover train verifier`` does per micro-batch and optimizer step: forward,
the loss over the target tokens (``prover.train.verifier.loss_sum``), backward, AdamW. The
model is a random Llama with a large vocabulary (where the logits dominate memory); the batch
holds random tokens, the second half of each row being targets. Each variant runs in a fresh
process; the variants alternate round by round, so a shared machine's changing load falls on
both alike. Extra peak memory is measured over a baseline taken after a warm-up step (weights,
gradients and optimizer moments exist): peak RSS (VmHWM, reset through /proc/self/clear_refs)
on CPU, ``torch.cuda.max_memory_allocated`` on GPU. Times are the 20/50/80th percentiles of the
timed steps of all rounds.

    python scripts/bench_train.py                      # CPU: 4 x 1024 tokens, d=256, V=32768, fp32
    python scripts/bench_train.py --device cuda        # GPU: 8 x 2048 tokens, d=1024, V=131072, bf16
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import subprocess
import sys
import time

from _bench_memory import proc_status_kib, reset_rss_peak  # scripts/ is on sys.path

DEFAULTS = {
    "cpu": {"batch": 4, "seq": 1024, "hidden": 256, "layers": 2, "vocab": 32768, "dtype": "float32",
            "steps": 3, "rounds": 2},
    "cuda": {"batch": 8, "seq": 2048, "hidden": 1024, "layers": 4, "vocab": 131072, "dtype": "bfloat16",
             "steps": 10, "rounds": 1},
}
MIB = 2**20


def worker(args: argparse.Namespace) -> dict:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from prover.train.data import IGNORE_INDEX
    from prover.train.verifier import loss_sum

    torch.manual_seed(0)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.hidden * 2,
                         num_hidden_layers=args.layers, num_attention_heads=max(1, args.hidden // 64),
                         num_key_value_heads=max(1, args.hidden // 64), max_position_embeddings=args.seq,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config).to(device=device, dtype=dtype).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ids = torch.randint(0, args.vocab, (args.batch, args.seq), device=device)
    labels = ids.clone()
    labels[:, : args.seq // 2] = IGNORE_INDEX  # the prompt half carries no loss
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    tokens = int((labels[:, 1:] != IGNORE_INDEX).sum())

    def step() -> float:
        loss = loss_sum(model, batch, args.variant) / tokens
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()  # allocates gradients and optimizer moments: part of the baseline
    gc.collect()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        if not reset_rss_peak():
            raise SystemExit("cannot reset the RSS peak (/proc/self/clear_refs): no memory figure")
        base = proc_status_kib("VmRSS") * 1024
    times = []
    for _ in range(args.steps):
        tic = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - tic)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else proc_status_kib("VmHWM") * 1024
    return {"variant": args.variant, "times": times, "extra": max(0, peak - base)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    for key in ("batch", "seq", "hidden", "layers", "vocab", "steps", "rounds"):
        p.add_argument(f"--{key}", type=int)
    p.add_argument("--dtype")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    args = p.parse_args()
    for key, value in DEFAULTS[args.device].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.variant:
        print(json.dumps(worker(args)))
        return

    results: dict[str, dict] = {v: {"times": [], "extra": 0} for v in ("plain", "fused")}
    for _ in range(args.rounds):
        for variant in results:
            cmd = [sys.executable, __file__, "--variant", variant] + [
                f"--{k}={getattr(args, k)}" for k in ("device", "batch", "seq", "hidden", "layers", "vocab",
                                                       "steps", "dtype")]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            results[variant]["times"] += r["times"]
            results[variant]["extra"] = max(results[variant]["extra"], r["extra"])

    import torch

    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or 'cpu'}, " \
        f"{torch.get_num_threads()} threads"
    print(f"training step, {args.batch} x {args.seq} tokens (half of them targets), hidden {args.hidden}, "
          f"{args.layers} layers, vocabulary {args.vocab}, {args.dtype}, on {args.device} ({where})")
    print(f"{'loss':8}{'p20 s':>9}{'p50 s':>9}{'p80 s':>9}{'extra peak MiB':>16}")
    for variant, r in results.items():
        q = statistics.quantiles(r["times"], n=10, method="inclusive") if len(r["times"]) > 1 else r["times"] * 9
        print(f"{variant:8}{q[1]:>9.3f}{q[4]:>9.3f}{q[7]:>9.3f}{r['extra'] / MIB:>16.1f}")
    plain, fused = results["plain"], results["fused"]
    print(f"fused/plain: time {statistics.median(fused['times']) / statistics.median(plain['times']):.2f}x, "
          f"extra peak memory {fused['extra'] / max(plain['extra'], 1):.2f}x")


if __name__ == "__main__":
    main()
