"""A byte pipe between a TCP port and a Unix socket, each connection on its own: how the
sandbox reaches a model container that has no network at all.

A model container runs with `network_mode=none`: its only interface is its own loopback, so
its code cannot reach the other model, the app, the MLflow server or anything else. Two copies
of this script join it to the sandbox through a socket in a folder only that container mounts:

    sandbox ──TCP 127.0.0.1:P──► bridge (host, `tcp-to-unix`) ──/sockets/ID/server.sock──►
        bridge (in the container, `unix-to-tcp`) ──TCP 127.0.0.1:8080──► the model server

Only the standard library: the same file runs on the host and in the model's image. The host
side prints its port on its first line and exits when the process that started it is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

CHUNK = 1 << 16


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _relay(connect):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
    return handle


async def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(1.0)


async def tcp_to_unix(host: str, port: int, path: str, parent: int | None) -> None:
    server = await asyncio.start_server(_relay(lambda: asyncio.open_unix_connection(path)), host, port)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        if parent:
            await _watch_parent(parent)
        else:
            await server.serve_forever()


async def unix_to_tcp(path: str, host: str, port: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = await asyncio.start_unix_server(_relay(lambda: asyncio.open_connection(host, port)), path)
    os.chmod(path, 0o666)  # the sandbox may run as another user than the model's
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sides = parser.add_subparsers(dest="side", required=True)
    host_side = sides.add_parser("tcp-to-unix")
    host_side.add_argument("host")
    host_side.add_argument("port", type=int)
    host_side.add_argument("socket")
    host_side.add_argument("--parent", type=int, help="exit when this process is no longer the parent")
    container_side = sides.add_parser("unix-to-tcp")
    container_side.add_argument("socket")
    container_side.add_argument("host")
    container_side.add_argument("port", type=int)
    args = parser.parse_args(argv)
    try:
        if args.side == "tcp-to-unix":
            asyncio.run(tcp_to_unix(args.host, args.port, args.socket, args.parent))
        else:
            asyncio.run(unix_to_tcp(args.socket, args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
