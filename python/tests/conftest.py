"""Fixtures: a real `grid serve` (the built binary, the default local-namespace backend unless
GRID_TEST_BACKEND says otherwise, the test image of tests/conformance/grid-test.ini) started
once per test session, and clients of it.

Outside CI a missing binary or a machine that cannot run the backend skips the tests, saying
why; with CI=true it fails them."""

from __future__ import annotations

import os
import pathlib
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass

import httpx
import pytest

from grid_sandbox import AsyncClient, Client

REPO = pathlib.Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a test that cannot reach what it needs fails)",
                    pytrace=False)
    pytest.skip(reason)


def configured_image(config: pathlib.Path, backend: str) -> str:
    """The backend's test_image in the test config (as tests/apps/lib.sh reads it)."""
    section, inside = f"[backend.{backend}]", False
    for line in config.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == section
        elif inside and line.split("=")[0].strip() == "test_image":
            return line.split("=", 1)[1].strip()
    raise RuntimeError(f"{config} names no test_image for {backend}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    image: str
    backend: str
    log: pathlib.Path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    grid = pathlib.Path(os.environ.get("GRID_BIN", REPO / "build" / "bin")) / "grid"
    if not os.access(grid, os.X_OK):
        unavailable(f"no grid binary at {grid} (build it, or set GRID_BIN)")
    backend = os.environ.get("GRID_TEST_BACKEND", "local-namespace")
    if backend == "local-namespace" and os.geteuid() != 0:
        unavailable("the local-namespace backend needs root")
    config = pathlib.Path(os.environ.get("GRID_TEST_CONFIG",
                                         REPO / "tests" / "conformance" / "grid-test.ini"))
    port = free_port()
    token = secrets.token_hex(16)
    log = tmp_path_factory.mktemp("server") / "server.log"
    # A per-run instance name: parallel runs never remove each other's sandboxes.
    command = [str(grid), "serve", "--config", str(config), "--backend", backend, "--port",
               str(port), "--instance", f"grid-python-sdk-{os.getpid()}", "--max-sandboxes", "16"]
    env = dict(os.environ, GRID_AUTH_TOKEN=token)
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            unavailable(f"grid serve did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)  # polling the server's start, with a deadline
    try:
        yield Server(url=url, token=token, image=configured_image(config, backend), backend=backend,
                     log=log)
        # Every test removed what it made (context managers, deletes).
        left = httpx.get(f"{url}/sandboxes", headers={"Authorization": f"Bearer {token}"}).json()
        assert left == [], f"sandboxes left behind: {[s['id'] for s in left]}"
    finally:
        process.terminate()  # SIGTERM: the server removes its sandboxes, then exits
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"grid serve did not exit on SIGTERM: {log.read_text()[-2000:]}")


@pytest.fixture
def client(server: Server):
    with Client(server.url, server.token) as c:
        yield c


@pytest.fixture
async def aclient(server: Server):
    async with AsyncClient(server.url, server.token) as c:
        yield c


@pytest.fixture
def image(server: Server) -> str:
    return server.image
