"""The async client against a real `grid serve`: many sandboxes at once, streams, files,
processes, and `async with` removing a sandbox whatever happens in the block."""

from __future__ import annotations

import asyncio

import pytest

from grid_sandbox import (AsyncClient, NotFound, OutputEvent, ProcessOutputEvent, ResultEvent)

SANDBOXES = 8


async def test_eight_sandboxes_at_once(aclient, image):
    alive = 0
    all_alive = asyncio.Event()
    peak_running = []

    async def rollout(i: int) -> str:
        nonlocal alive
        async with aclient.create(image=image, labels={"rollout": str(i)}) as sb:
            await sb.exec(f"export N={i}; cd /tmp")
            await sb.files.write(f"/tmp/in-{i}", f"payload {i}")
            alive += 1
            if alive == SANDBOXES:
                peak_running.append((await aclient.health()).running)
                all_alive.set()
            # Each sandbox stays until all exist: they really run at the same time.
            await asyncio.wait_for(all_alive.wait(), timeout=300)
            result = await sb.exec(f"echo $N $PWD; cat in-{i}")
            assert result.exit_code == 0
            return result.output

    # Every rollout ends (and removes its sandbox) before a failure of one is reported.
    outputs = await asyncio.gather(*(rollout(i) for i in range(SANDBOXES)),
                                   return_exceptions=True)
    for output in outputs:
        if isinstance(output, BaseException):
            raise output
    assert outputs == [f"{i} /tmp\npayload {i}" for i in range(SANDBOXES)]
    assert peak_running[0] >= SANDBOXES


async def test_streams_files_and_processes(aclient, image, tmp_path):
    sb = await aclient.create(image=image)
    async with sb:
        events = [e async for e in sb.exec_stream("echo one; echo two >&2", standalone=True)]
        assert isinstance(events[-1], ResultEvent)
        assert {e.stream for e in events if isinstance(e, OutputEvent)} == {"stdout", "stderr"}
        assert events[-1].result.stdout == "one\n"

        process = await sb.processes.start("for i in 1 2 3; do echo line $i; done")
        text = ""
        async for event in sb.processes.follow(process.pid):
            if isinstance(event, ProcessOutputEvent):
                text += event.data
            else:
                assert event.status == "exited" and event.exit_code == 0
        assert text == "line 1\nline 2\nline 3\n"
        assert (await sb.processes.output(process.pid, offset=7)).data == "line 2\nline 3\n"

        await sb.files.write("/work/a.bin", b"\x00\xff")
        assert await sb.files.read("/work/a.bin") == b"\x00\xff"
        assert (await sb.files.list("/work")).names() == ["a.bin"]

        # Streamed bodies (a file, a tree) go through the async transport's own chunk feed.
        (tmp_path / "src" / "sub").mkdir(parents=True)
        (tmp_path / "src" / "sub" / "big.bin").write_bytes(bytes(range(256)) * 4096)
        await sb.files.upload_tree(str(tmp_path / "src"), "/work/tree")
        await sb.files.upload(str(tmp_path / "src" / "sub" / "big.bin"), "/work/copy.bin")
        assert (await sb.exec("cmp /work/tree/sub/big.bin /work/copy.bin && echo same")).output \
            == "same\n"
        assert await sb.files.download_tree("/work/tree", str(tmp_path / "back")) == [
            "sub", "sub/big.bin"]
        assert (tmp_path / "back" / "sub" / "big.bin").read_bytes() == bytes(range(256)) * 4096


async def test_async_with_removes_the_sandbox_on_an_exception(aclient, image):
    sandbox_id = None
    with pytest.raises(KeyError):
        async with aclient.create(image=image) as sb:
            sandbox_id = sb.id
            raise KeyError("boom")
    with pytest.raises(NotFound):
        await aclient.get(sandbox_id)


async def test_a_cancelled_task_removes_its_sandbox(aclient, image):
    created = asyncio.Event()
    ids = []

    async def agent():
        async with aclient.create(image=image) as sb:
            ids.append(sb.id)
            created.set()
            await sb.exec("sleep 600", timeout=900)

    task = asyncio.create_task(agent())
    await asyncio.wait_for(created.wait(), timeout=120)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(NotFound):
        await aclient.get(ids[0])


async def test_async_errors_carry_the_code(server):
    async with AsyncClient(server.url, server.token) as client:
        with pytest.raises(NotFound) as raised:
            await client.get("no-such-sandbox")
        assert (raised.value.code, raised.value.status) == ("not_found", 404)
