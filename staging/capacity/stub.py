"""A stub scoring server: uvicorn with one worker on h11, the same HTTP stack
MLflow's scoring server runs on in a model's own environment, answering POST /invocations with a fixed MLflow-style
prediction (one per row sent) after an optional sleep, POST /v2/models/NAME/infer with the same
as V2 output tensors, and GET /ping.

It stands in for a model server only where the client is measured: the capacity run's harness
ceiling (`harness`), and the replay benches. It costs as little as this stack allows; every
model figure comes from MLflow's or MLServer's real server.

Run: python -m staging.capacity.stub PORT [--sleep-ms 5] [--first-request-file PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvicorn

ROW = b'{"label": 0, "probability_0": 0.9, "probability_1": 0.1}'
V2_ANSWER = (b'{"model_name": "stub", "outputs": [{"name": "label", "datatype": "INT64", "shape": [ROWS, 1], '
             b'"data": [ZEROS]}, {"name": "probability_1", "datatype": "FP64", "shape": [ROWS, 1], "data": [TENTHS]}]}')


def make_app(sleep_ms: float, first_request_file: str | None = None):
    seen: list[float] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/ping":
            answer = b"\n"
        else:
            if first_request_file and not seen:  # when the first request arrived, for bench/replay_start.py
                seen.append(time.time())
                with open(first_request_file, "w") as handle:
                    handle.write(repr(seen[0]))
            if sleep_ms:  # exactly sleep_ms: timers fire late by up to a millisecond, so spin the end
                due = time.perf_counter() + sleep_ms / 1000
                await asyncio.sleep(max(sleep_ms / 1000 - 0.0015, 0))
                while time.perf_counter() < due:
                    pass
            if scope["path"].endswith("/infer"):  # V2: the rows are the first input's first dimension
                rows = int(body.split(b'"shape": [', 1)[1].split(b",", 1)[0]) if b'"shape": [' in body else 1
                answer = V2_ANSWER.replace(b"ROWS", str(rows).encode()).replace(
                    b"ZEROS", b",".join([b"0"] * rows)).replace(b"TENTHS", b",".join([b"0.1"] * rows))
            else:
                rows = body.count(b"],[") + body.count(b"], [") + 1 if b'"data"' in body else 1
                answer = b'{"predictions": [' + b",".join([ROW] * rows) + b"]}"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--sleep-ms", type=float, default=0.0)
    parser.add_argument("--first-request-file", help="write the wall-clock time of the first request here")
    args = parser.parse_args()
    uvicorn.run(make_app(args.sleep_ms, args.first_request_file), host="127.0.0.1", port=args.port, workers=1,
                http="h11", log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
