#!/usr/bin/env python3
"""A TCP proxy that adds latency, to measure fleet-attest against a "remote" Redis on one machine.

    scripts/latency-proxy.py LISTEN_PORT UPSTREAM_PORT RTT_MS

Every byte is held RTT_MS/2 milliseconds in each direction (order kept), so a request/response
round trip through the proxy takes RTT_MS longer than on loopback. For measurements only.
"""
import asyncio
import sys
import time


async def pump(reader, writer, delay):
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(deliver())
    while True:
        data = await reader.read(1 << 16)
        await queue.put((time.monotonic() + delay, data or None))
        if not data:
            break
    await task


async def main(listen, upstream, rtt_ms):
    delay = rtt_ms / 2000.0

    async def handle(client_reader, client_writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        await asyncio.gather(
            pump(client_reader, up_writer, delay),
            pump(up_reader, client_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
