"""Fork, snapshot, reset, stats and lifetimes through both clients against a real `grid serve`
(docs/fork-snapshot.md, docs/lifetimes.md)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import time

import pytest

from grid_sandbox import (Conflict, InvalidArgument, SandboxExpired, SandboxGroup, SandboxStats,
                          SnapshotInfo)

SNAPSHOT_IMAGE = f"grid-python-sdk/snapshot-{os.getpid()}:test"


def test_fork_children_have_the_files_and_are_removed_with_the_group(client, image):
    with client.create(image=image) as sb:
        sb.files.write("/opt/state.txt", "before fork\n")
        sb.exec("cd /tmp && export ROUND=7")
        with sb.fork(2) as children:
            assert isinstance(children, SandboxGroup) and len(children) == 2
            ids = {child.id for child in children}
            assert len(ids) == 2 and sb.id not in ids
            for child in children:
                assert child.status == "running"
                assert child.files.read("/opt/state.txt") == b"before fork\n"
                assert child.exec("echo $PWD $ROUND").output == "/tmp 7\n"
            children[0].files.write("/opt/state.txt", "child\n")
            assert sb.files.read("/opt/state.txt") == b"before fork\n"
            listed = {info.id for info in client.list()}
            assert ids <= listed
        listed = {info.id for info in client.list()}
        assert not ids & listed, "the group removed its sandboxes"
        with pytest.raises(InvalidArgument):
            sb.fork(0)


def test_a_fork_child_is_its_own_context_manager(client, image):
    with client.create(image=image) as sb:
        (child,) = sb.fork()
        with child:
            assert child.exec("true").exit_code == 0
        assert child.id not in {info.id for info in client.list()}


def test_snapshot_makes_an_image_create_accepts(client, image, server):
    if server.backend != "local-namespace":
        pytest.skip("the image is removed with `grid image rm`, a local-namespace command")
    with client.create(image=image) as sb:
        sb.files.write("/opt/marker", "snapshotted\n")
        saved = sb.snapshot(SNAPSHOT_IMAGE, overwrite=True)
        try:
            assert isinstance(saved, SnapshotInfo)
            assert saved.id == sb.id and saved.image == SNAPSHOT_IMAGE
            with pytest.raises(Conflict):
                sb.snapshot(SNAPSHOT_IMAGE)  # exists, and overwrite is not set
            with client.create(image=SNAPSHOT_IMAGE) as copy:
                assert copy.files.read("/opt/marker") == b"snapshotted\n"
        finally:
            grid = pathlib.Path(os.environ.get("GRID_BIN", "build/bin")) / "grid"
            config = os.environ.get("GRID_TEST_CONFIG", "tests/conformance/grid-test.ini")
            subprocess.run([str(grid), "image", "rm", "--config", config, SNAPSHOT_IMAGE],
                           check=True, capture_output=True)
        with pytest.raises(InvalidArgument):
            sb.snapshot("Not An Image Name")


def test_reset_returns_to_the_image_and_runs_setup_again(client, image):
    with client.create(image=image, setup=["echo setup >> /tmp/setup.log"]) as sb:
        sb.files.write("/tmp/junk", "x")
        sb.exec("cd /tmp && export GONE=1")
        info = sb.reset()
        assert info.status == "running" and sb.status == "running"
        assert sb.exec("cat /tmp/setup.log; echo ${GONE:-unset}; ls /tmp/junk 2>&1 || true"
                       ).output.startswith("setup\nunset\n")


def test_stats_of_a_running_sandbox(client, image):
    with client.create(image=image, limits={"memory_mb": 256}) as sb:
        stats = sb.stats()
        assert isinstance(stats, SandboxStats) and stats.id == sb.id
        assert stats.status == "running" and stats.memory_limit_bytes == 256 << 20
        assert stats.memory_bytes is None or stats.memory_bytes > 0
        sb.stop(remove=False)
        with pytest.raises(Conflict):
            sb.stats()


def test_lifetime_fields_and_an_expired_sandbox(client, image):
    with client.create(image=image, ttl_seconds=600, idle_timeout_seconds=300) as sb:
        info = sb.info
        assert (info.ttl_seconds, info.idle_timeout_seconds, info.expiry_action) == (
            600, 300, "stop")
        assert info.expires_at is not None and info.end_reason is None
    with client.create(image=image, ttl_seconds=1) as sb:
        deadline = time.monotonic() + 60
        while sb.refresh().status != "stopped":  # the server's expiry, polled with a deadline
            assert time.monotonic() < deadline, f"not expired: {sb.info}"
            time.sleep(0.2)
        assert sb.info.end_reason == "ttl" and sb.info.expired and sb.info.ended_at
        with pytest.raises(SandboxExpired) as raised:
            sb.exec("true")
        assert raised.value.code == "sandbox_expired" and raised.value.status == 409
    with pytest.raises(InvalidArgument):
        client.create(image=image, expiry_action="explode")


async def test_async_fork_stats_and_reset(aclient, image):
    async with aclient.create(image=image, ttl_seconds=600) as sb:
        assert sb.info.ttl_seconds == 600
        await sb.files.write("/opt/a", "1")
        async with await sb.fork(2) as children:
            assert len(children) == 2
            for child in children:
                assert await child.files.read("/opt/a") == b"1"
        ids = {info.id for info in await aclient.list()}
        assert not {child.id for child in children} & ids
        assert (await sb.stats()).status == "running"
        assert (await sb.reset()).status == "running"
        assert (await sb.pause()).status == "paused"
        with pytest.raises(Conflict):
            await sb.exec("true")
        assert (await sb.exec("echo resumed", auto_resume=True)).output == "resumed\n"
