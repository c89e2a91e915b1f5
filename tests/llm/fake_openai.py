"""A small fault-injecting OpenAI-compatible server for the tests: HTTP/1.1 on asyncio streams,
bound to 127.0.0.1 on a free port, running its own event loop in a thread.

It answers ``POST .../chat/completions`` with ``echo: <last message>``. Directives in the last
message change that (each ``xN`` means "the first N hits of this exact message", default every
hit):

* ``[429xN]`` — 429 with ``Retry-After: 1``;  ``[500xN]`` — 500;  ``[400]`` — 400;
* ``[hang]`` — never answers;  ``[delay:S]`` — answers after S seconds;
* ``[malformed]`` — 200 with a body that is not JSON;
* ``[dropxN]`` — headers and part of the body, then the connection is dropped;
* ``[length]`` — ``finish_reason: length`` with partial text;
* ``[reasoning]`` — ``reasoning_content`` beside the answer.

With ``rate_limit=N``, the first N requests (all with -1) get 429 with ``Retry-After:
retry_after`` (omitted when None), whatever they ask. With ``api_key`` set, requests without
``Authorization: Bearer <api_key>`` get 401. A model named
``missing-model`` gets vLLM's 404. Every request is recorded in ``hits``."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"\[(429|500|400|hang|malformed|drop|length|reasoning|delay:[0-9.]+)(?:x(\d+))?\]")


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: dict
    at: float = field(default_factory=time.monotonic)

    @property
    def content(self) -> str:
        return self.body["messages"][-1]["content"]


class FakeOpenAIServer:
    def __init__(self, *, api_key: str | None = None, delay_s: float = 0.0, rate_limit: int = 0,
                 retry_after: str | None = "1"):
        self.rate_limit, self.retry_after = rate_limit, retry_after
        self._limited = 0
        self.api_key = api_key
        self.delay_s = delay_s
        self.hits: list[Hit] = []
        self.active = 0
        self.max_active = 0
        self.connections = 0
        self._seen: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task] = set()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeOpenAIServer":
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        fut.result(timeout=10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def _stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.sleep(0)
        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def contents(self) -> list[str]:
        return [h.content for h in self.hits]

    # -- the server ---------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b""):
                        break
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                keep = await self._respond(path, headers, body, writer)
                if not keep:
                    return
        except (asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _respond(self, path: str, headers: dict[str, str], raw: bytes,
                       writer: asyncio.StreamWriter) -> bool:
        body = json.loads(raw)
        hit = Hit(path, headers, body)
        self.hits.append(hit)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            return await self._answer(hit, writer)
        finally:
            self.active -= 1

    async def _answer(self, hit: Hit, writer: asyncio.StreamWriter) -> bool:
        if not hit.path.endswith("/chat/completions"):
            return _send(writer, 404, {"detail": "Not Found"})
        if self.api_key is not None and hit.headers.get("authorization") != f"Bearer {self.api_key}":
            return _send(writer, 401, {"error": {"message": "Incorrect API key provided",
                                                 "type": "invalid_request_error"}})
        if hit.body.get("model") == "missing-model":
            return _send(writer, 404, {"object": "error", "message": "The model `missing-model` does not exist.",
                                       "type": "NotFoundError", "code": 404})
        if self.rate_limit and (self.rate_limit < 0 or self._limited < self.rate_limit):
            self._limited += 1
            return _send(writer, 429, {"error": {"message": "Rate limit reached"}},
                         extra={"Retry-After": self.retry_after} if self.retry_after is not None else None)
        content = hit.content
        self._seen[content] += 1
        seen = self._seen[content]
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        faults = {}
        for name, count in _DIRECTIVE.findall(content):
            if not count or seen <= int(count):
                faults[name.split(":")[0]] = name
        if "delay" in faults:
            await asyncio.sleep(float(faults["delay"].split(":")[1]))
        if "hang" in faults:
            await asyncio.sleep(3600)
        if "429" in faults:
            return _send(writer, 429, {"error": {"message": "Rate limit reached"}},
                         extra={"Retry-After": "1"})
        if "500" in faults:
            return _send(writer, 500, {"error": {"message": "Internal server error"}})
        if "400" in faults:
            return _send(writer, 400, {"object": "error", "message": "This model's maximum context length is 10 tokens."})
        if "malformed" in faults:
            return _send_raw(writer, 200, b'{"id": "x", "choices": [{"message": ')
        message: dict = {"role": "assistant", "content": f"echo: {content}"}
        finish = "stop"
        if "length" in faults:
            message["content"] = "echo: partial"
            finish = "length"
        if "reasoning" in faults:
            message["reasoning_content"] = "thinking about it"
        payload = {
            "id": f"chatcmpl-{len(self.hits)}", "object": "chat.completion",
            "model": hit.body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": len(content.split()), "completion_tokens": 3,
                      "total_tokens": len(content.split()) + 3},
        }
        data = json.dumps(payload).encode()
        if "drop" in faults:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(data) + data[: len(data) // 2])
            await writer.drain()
            writer.transport.abort()
            return False
        return _send_raw(writer, 200, data)


def _send(writer: asyncio.StreamWriter, status: int, payload: dict, extra: dict | None = None) -> bool:
    return _send_raw(writer, status, json.dumps(payload).encode(), extra)


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error"}


def _send_raw(writer: asyncio.StreamWriter, status: int, data: bytes, extra: dict | None = None) -> bool:
    head = [f"HTTP/1.1 {status} {_REASONS[status]}", "Content-Type: application/json",
            f"Content-Length: {len(data)}"]
    head += [f"{k}: {v}" for k, v in (extra or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
    return True
