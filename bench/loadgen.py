"""A small HTTP load generator, run as its own process: ``python -m bench.loadgen URL``.

Keeps ``--concurrency`` keep-alive connections busy with GETs for ``--duration`` seconds, reads
every body in full (as sent: compressed bodies are not decompressed), and prints one JSON line:
requests, errors, bytes, seconds, requests/s. ``--accept-encoding`` sets that header (default
``identity``: aiohttp would otherwise offer gzip by itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def load(url: str, duration_s: float, concurrency: int, accept_encoding: str = "identity") -> dict:
    counts = {"requests": 0, "errors": 0, "bytes": 0}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    headers = {"Accept-Encoding": accept_encoding}
    async with aiohttp.ClientSession(connector=connector, headers=headers, auto_decompress=False) as session:
        # One request each first, so connections are open before the clock starts.
        for _ in range(concurrency):
            async with session.get(url) as resp:
                await resp.read()
        started = time.perf_counter()
        deadline = started + duration_s

        async def worker() -> None:
            while time.perf_counter() < deadline:
                try:
                    async with session.get(url) as resp:
                        body = await resp.read()
                        if resp.status == 200:
                            counts["requests"] += 1
                            counts["bytes"] += len(body)
                        else:
                            counts["errors"] += 1
                except aiohttp.ClientError:
                    counts["errors"] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {**counts, "seconds": elapsed, "rps": counts["requests"] / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--accept-encoding", default="identity")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(load(args.url, args.duration, args.concurrency, args.accept_encoding))))


if __name__ == "__main__":
    main()
