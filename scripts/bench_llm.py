"""Benchmark of the model layer: does the client keep a slow server saturated, and what does
each call cost the client process?

A simulated OpenAI-compatible server runs in its own process. It sleeps a lognormal time per
request (median 2 s, sigma 1, drawn from a seeded RNG in arrival order; it computes nothing)
and answers a fixed text. The client sends N distinct requests at concurrency C through
``ModelClient`` with the openai backend and a SQLite proof database (the real call cache: a
pending row before each send, the outcome after). Printed:

* mean requests in flight at the server while unsent requests remain (time-weighted, from the
  first arrival to the last first-time arrival), as a share of C — target >= 95%;
* client CPU time per request (all threads: HTTP, JSON, hashing, records, store writes) —
  target < 1 ms;
* stored calls, which must equal the requests (one ok row per request).

Run: ``python scripts/bench_llm.py`` (about a minute), or ``--time-scale 0.05`` for a quick
run (latencies x 0.05). Nothing here is a model result: the server only sleeps."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path


# -- the simulated server (child process) -------------------------------------------------

async def _serve(port: int, seed: int, median_s: float, sigma: float, scale: float,
                 response_chars: int) -> None:
    rng = random.Random(seed)
    mu = math.log(median_s)
    arrivals: list[float] = []
    departures: list[float] = []
    text = ("The proof proceeds by induction. " * (response_chars // 33 + 1))[:response_chars]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                length = 0
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    if h[:15].lower() == b"content-length:":
                        length = int(h[15:])
                body = await reader.readexactly(length)
                if line.startswith(b"GET /stats"):
                    data = json.dumps({"arrivals": arrivals, "departures": departures}).encode()
                else:
                    arrivals.append(time.monotonic())
                    await asyncio.sleep(rng.lognormvariate(mu, sigma) * scale)
                    prompt_tokens = len(body) // 4
                    data = json.dumps({
                        "id": "sim", "object": "chat.completion", "model": "sim",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text) // 4},
                    }).encode()
                    departures.append(time.monotonic())
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(data) + data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def _fetch_stats(port: int) -> dict:
    import socket

    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
        while len(body) < length:
            body += sock.recv(1 << 20)
    return json.loads(body)


def mean_in_flight(arrivals: list[float], departures: list[float], n: int) -> tuple[float, float]:
    """Time-weighted mean of requests in flight between the first arrival and the n-th (after
    which no request is unsent), and that window's length."""
    arrivals = sorted(arrivals)
    if len(arrivals) < n:
        raise SystemExit(f"the server saw {len(arrivals)} requests, expected {n}")
    start, end = arrivals[0], arrivals[n - 1]
    events = sorted([(t, 1) for t in arrivals] + [(t, -1) for t in departures])
    area, level, last = 0.0, 0, start
    for t, step in events:
        if t > end:
            break
        if t > start:
            area += level * (t - last)
            last = t
        level += step
    area += level * (end - last)
    return (area / (end - start) if end > start else float(level)), end - start


# -- the client (this process) --------------------------------------------------------------

async def _client(url: str, db: Path, n: int, concurrency: int, prompt_chars: int, use_store: bool,
                  window_s: float | None):
    from prover.core.llm_records import ChatMessage, ModelConfig, ModelRequest, RoleSettings, SamplingParams
    from prover.llm import ModelClient
    from prover.store import ProofStore

    store = ProofStore.open(db)
    config = ModelConfig(defaults=RoleSettings(model="sim", base_urls=url, concurrency=concurrency,
                                               temperature=1.0, max_tokens=8192, timeout_s=600))
    filler = ("Let n be a positive integer such that n^2 + 1 divides n! . " * (prompt_chars // 58 + 1))
    requests = [ModelRequest(messages=(ChatMessage(role="user", content=f"Problem {i}. {filler}"[:prompt_chars]),),
                             params=SamplingParams(seed=i)) for i in range(n)]
    extra = {"commit_window_s": window_s} if window_s is not None else {}
    client = ModelClient(config, store=store if use_store else None, **extra)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await client.generate(requests)
    await client.aclose()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    batches = client._writer.batches if client._writer else 0  # noqa: SLF001 - a benchmark figure
    return results, client.stats, cpu, wall, store, batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=5000, help="requests to send")
    ap.add_argument("--concurrency", type=int, default=512, help="the client's concurrency limit")
    ap.add_argument("--time-scale", type=float, default=1.0, help="multiply server latencies (0.05: quick run)")
    ap.add_argument("--median", type=float, default=2.0, help="median latency, seconds")
    ap.add_argument("--sigma", type=float, default=1.0, help="lognormal sigma")
    ap.add_argument("--seed", type=int, default=0, help="latency RNG seed")
    ap.add_argument("--prompt-chars", type=int, default=500, help="prompt length")
    ap.add_argument("--response-chars", type=int, default=2000, help="answer length")
    ap.add_argument("--commit-window", type=float, default=None,
                    help="seconds the store writer gathers writes (default: ModelClient's)")
    ap.add_argument("--no-store", action="store_true", help="no call cache (to see what the store costs)")
    ap.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.serve is not None:
        asyncio.run(_serve(args.serve, args.seed, args.median, args.sigma, args.time_scale,
                           args.response_chars))
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "0", "--seed", str(args.seed), "--median", str(args.median),
         "--sigma", str(args.sigma), "--time-scale", str(args.time_scale),
         "--response-chars", str(args.response_chars)],
        stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}/v1"
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            results, stats, cpu, wall, store, batches = asyncio.run(
                _client(url, db, args.requests, args.concurrency, args.prompt_chars, not args.no_store,
                        args.commit_window))
            counts = store.call_counts()
            keys = {r.key for [r] in results}
            stored = store.get_calls(sorted(keys))
            store.close()
        server_stats = _fetch_stats(port)
    finally:
        server.terminate()
        server.wait(timeout=10)

    inflight, window = mean_in_flight(server_stats["arrivals"], server_stats["departures"], args.requests)
    ok = sum(1 for [r] in results if r.ok)
    print(f"bench_llm: {args.requests} requests, concurrency {args.concurrency}, lognormal latency "
          f"median {args.median * args.time_scale:g} s sigma {args.sigma:g} (time scale {args.time_scale:g}, "
          f"seed {args.seed}), prompt {args.prompt_chars} chars, answer {args.response_chars} chars; "
          f"{'no store' if args.no_store else 'SQLite call cache'}; python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"wall time                          {wall:8.2f} s   ({args.requests / wall:.0f} requests/s)")
    print(f"mean in flight while unsent remain {inflight:8.1f}     ({100 * inflight / args.concurrency:.1f}% "
          f"of {args.concurrency}; window {window:.2f} s)   target >= 95%")
    print(f"client CPU per request             {1000 * cpu / args.requests:8.3f} ms  "
          f"(total {cpu:.2f} s, store writes included)   target < 1 ms")
    print(f"store commits                      {batches:8d}     ({2 * args.requests / max(batches, 1):.1f} rows per commit)")
    print(f"answers ok                         {ok:8d}")
    print(f"stored calls                       {sum(counts.values()):8d}     by status {counts}; "
          f"distinct keys {len(keys)}, found {len(stored)}")
    print(f"client stats                       {stats.as_dict()}")
    if args.no_store:
        return
    good = (sum(counts.values()) == args.requests == len(keys) == len(stored) == counts.get("ok", 0) == ok)
    print("stored calls == requests:", "yes" if good else "NO")
    if not good:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
