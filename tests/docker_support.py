"""Whether the docker tests can run: an engine must answer; with STAGING_REQUIRE_DOCKER=1
(CI) a missing engine is a failure, elsewhere the tests skip and say why."""

import os

import pytest


def require_engine():
    """The docker SDK client, or skip/fail as described above."""
    from staging.backends.docker.backend import docker_client
    from staging.errors import BackendError

    try:
        return docker_client()
    except BackendError as exc:
        if os.environ.get("STAGING_REQUIRE_DOCKER") == "1":
            pytest.fail(f"STAGING_REQUIRE_DOCKER=1 but {exc}")
        pytest.skip(f"docker tests need an engine: {exc.message}")
