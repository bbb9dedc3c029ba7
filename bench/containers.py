"""Benchmark: containers against processes for the same model and the same requests.

Prints one JSON object:
  cold_build_s              building the champion's image with no image and no build cache
  cached_start_s            champion and challenger, from the start request to /ping, images cached
  container_p50_ms          p50 latency of the champion in its container
  process_p50_ms            p50 latency of the same model as a local process, same requests
  container_overhead_ratio  container_p50_ms / process_p50_ms (measured interleaved, in one run)

Run: python bench/containers.py [--requests 400]   (needs a Docker engine and the base image)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import requests
from common import parse_with_quick, publish

from staging import SandboxHome
from staging.backends import ProcessBackend, start_pair
from staging.backends.docker.backend import DockerBackend, docker_client
from staging.backends.docker.images import IMAGE_REPOSITORY, ensure_model_image
from staging.registry.client import Registry
from staging.registry.demo import bootstrap_demo
from staging.registry.scenarios import CREDIT
from staging.replay.bodies import request_bodies
from staging.roles import CHAMPION
from staging.traffic import load_traffic, specs_from_signature, validate_traffic
from staging.traffic.selection import TrafficSelection, select_requests


def latencies(url: str, bodies: list[bytes]) -> list[float]:
    session = requests.Session()
    out = []
    for body in bodies:
        began = time.perf_counter()
        session.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}).raise_for_status()
        out.append((time.perf_counter() - began) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parse_with_quick(parser, requests=50)
    client = docker_client()
    with tempfile.TemporaryDirectory(prefix="bench-containers-") as tmp:
        home = SandboxHome(tmp)
        bootstrap_demo(home, ("credit",))
        registry = Registry(home)
        refs = {role: registry.resolve(CREDIT.model_name, role) for role in ("champion", "challenger")}

        ensure_model_image(client, home, refs[CHAMPION])  # model files and wheelhouse on disk first
        began = time.perf_counter()  # cold: no image, no build cache (the quick mode times a cached build)
        ensure_model_image(client, home, refs[CHAMPION], rebuild=not args.quick)
        cold_build_s = time.perf_counter() - began
        ensure_model_image(client, home, refs["challenger"])

        docker_backend = DockerBackend(home, client)
        began = time.perf_counter()
        containers = start_pair(docker_backend, refs)
        cached_start_s = time.perf_counter() - began

        process_backend = ProcessBackend(home)
        process = process_backend.start(refs[CHAMPION], CHAMPION)
        try:
            specs = specs_from_signature(registry.signature(refs[CHAMPION]))
            traffic = validate_traffic(load_traffic(CREDIT.file("traffic")), specs)
            chosen = select_requests(traffic.requests, TrafficSelection(sample_size=args.requests, seed=7))
            bodies = request_bodies(chosen, traffic.features)
            in_container, in_process = [], []
            latencies(containers[CHAMPION].endpoint.url, bodies[:20])  # warm-up, not counted
            latencies(process.endpoint.url, bodies[:20])
            for start in range(0, len(bodies), 50):  # interleaved blocks: both see the same noise
                block = bodies[start:start + 50]
                in_container += latencies(containers[CHAMPION].endpoint.url, block)
                in_process += latencies(process.endpoint.url, block)
        finally:
            process_backend.stop(process)
            for server in containers.values():
                docker_backend.stop(server)
    container_p50, process_p50 = statistics.median(in_container), statistics.median(in_process)
    publish("containers", {"cold_build_s": round(cold_build_s, 1), "cached_start_s": round(cached_start_s, 1),
                      "container_p50_ms": round(container_p50, 2), "process_p50_ms": round(process_p50, 2),
                      "container_overhead_ratio": round(container_p50 / process_p50, 3),
                      "requests": len(in_container), "image_repository": IMAGE_REPOSITORY})


if __name__ == "__main__":
    main()
