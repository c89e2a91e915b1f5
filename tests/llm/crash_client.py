"""Child process of the crash test: sends N requests through a ModelClient backed by a SQLite
store, then prints the client's stats as JSON. The test SIGKILLs it mid-batch and runs it again."""

from __future__ import annotations

import asyncio
import json
import sys

from prover.core.llm_records import ChatMessage, ModelConfig, ModelRequest, RoleSettings
from prover.llm import ModelClient
from prover.store import ProofStore


async def main(db: str, url: str, n: int, concurrency: int) -> None:
    config = ModelConfig(defaults=RoleSettings(model="m", base_urls=url, concurrency=concurrency,
                                               backoff_s=0.01, max_backoff_s=0.05))
    store = ProofStore.open(db)
    requests = [ModelRequest(messages=(ChatMessage(role="user", content=f"question {i}"),))
                for i in range(n)]
    async with ModelClient(config, store=store) as client:
        results = await client.generate(requests)
    assert all(r.ok for [r] in results), [r for [r] in results if not r.ok]
    print(json.dumps(client.stats.as_dict()), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
