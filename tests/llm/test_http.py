"""The small HTTP/1.1 client: body framings and connection reuse, against raw local servers."""

from __future__ import annotations

import asyncio

import pytest

from prover.llm._http import Endpoint, HttpPool, HttpTransportError

pytestmark = pytest.mark.timeout(20)


async def serve(responses: list[bytes], *, close_after_each: bool = False):
    """A server answering successive requests with the given raw responses."""
    queue = list(responses)
    seen = {"connections": 0, "requests": 0}

    async def handle(reader, writer):
        seen["connections"] += 1
        try:
            while queue:
                line = await reader.readline()
                if not line:
                    return
                length = 0
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    if h.lower().startswith(b"content-length:"):
                        length = int(h.split(b":")[1])
                await reader.readexactly(length)
                seen["requests"] += 1
                writer.write(queue.pop(0))
                await writer.drain()
                if close_after_each:
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, Endpoint.parse(f"http://127.0.0.1:{port}/v1/chat/completions"), seen


def test_chunked_and_interim_responses():
    async def main():
        server, ep, _ = await serve([
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nRetry-After: 2\r\n\r\nbusy",
        ])
        pool = HttpPool()
        a = await pool.post(ep, b"{}", {})
        b = await pool.post(ep, b"{}", {})
        await pool.aclose()
        server.close()
        return a, b
    a, b = asyncio.run(main())
    assert (a.status, a.body) == (200, b"hello world")
    assert (b.status, b.body, b.headers["retry-after"]) == (503, b"busy", "2")


def test_a_connection_the_server_closed_is_replaced_transparently():
    async def main():
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        server, ep, seen = await serve([ok, ok], close_after_each=True)
        pool = HttpPool()
        first = await pool.post(ep, b"{}", {})
        await asyncio.sleep(0.05)  # the server has closed the kept-alive connection by now
        second = await pool.post(ep, b"{}", {})
        await pool.aclose()
        server.close()
        return first, second, seen
    first, second, seen = asyncio.run(main())
    assert first.body == second.body == b"ok"
    assert seen == {"connections": 2, "requests": 2}


def test_body_until_close_and_connection_close():
    async def main():
        server, ep, seen = await serve([b"HTTP/1.0 200 OK\r\n\r\nuntil close"], close_after_each=True)
        pool = HttpPool()
        r = await pool.post(ep, b"{}", {})
        await pool.aclose()
        server.close()
        return r
    assert asyncio.run(main()).body == b"until close"


def test_garbage_is_a_transport_error():
    async def main():
        server, ep, _ = await serve([b"SSH-2.0-OpenSSH\r\n\r\n"])
        pool = HttpPool()
        try:
            with pytest.raises(HttpTransportError, match="bad status line"):
                await pool.post(ep, b"{}", {})
        finally:
            await pool.aclose()
            server.close()
    asyncio.run(main())


def test_endpoint_parsing():
    ep = Endpoint.parse("https://api.deepseek.com/v1/chat/completions")
    assert (ep.host, ep.port, ep.tls, ep.path, ep.host_header) == (
        "api.deepseek.com", 443, True, "/v1/chat/completions", "api.deepseek.com")
    ep = Endpoint.parse("http://[::1]:8000/v1/chat/completions")
    assert (ep.host, ep.port, ep.host_header) == ("::1", 8000, "[::1]:8000")
    with pytest.raises(ValueError):
        Endpoint.parse("ftp://x/y")
