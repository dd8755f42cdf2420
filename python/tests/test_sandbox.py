"""The sync client against a real `grid serve`: sessions, streaming, files, background
processes, errors, context managers."""

from __future__ import annotations

import io
import tarfile
import uuid

import pytest

from grid_sandbox import (Client, Conflict, GridError, ImageNotFound, InvalidArgument, NotFound,
                          OutputEvent, ProcessExitEvent, ProcessOutputEvent, ResultEvent,
                          SetupFailed, Unauthorized)


def test_server_and_token_come_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("GRID_SERVER", server.url)
    monkeypatch.setenv("GRID_TOKEN", server.token)
    with Client() as client:
        assert client.server == server.url
        health = client.health()
        assert health.status == "ok" and health.backend == server.backend
        assert isinstance(client.list(), list)
    monkeypatch.delenv("GRID_TOKEN")
    with Client() as client, pytest.raises(Unauthorized) as raised:
        client.list()
    assert raised.value.code == "unauthorized" and raised.value.status == 401


def test_exec_keeps_session_state(client, image):
    with client.create(image=image) as sb:
        assert sb.status == "running"
        assert sb.exec("cd /tmp && export ANSWER=42 && greet() { echo hi $1; }").exit_code == 0
        result = sb.exec("echo $PWD $ANSWER; greet grid")
        assert result.output == "/tmp 42\nhi grid\n"
        assert result.exit_code == 0 and result.ok and not result.timed_out

        failed = sb.exec("echo out; echo err >&2; exit_code_of() { return 3; }; exit_code_of")
        assert failed.exit_code == 3 and failed.output == "out\nerr\n" and not failed.ok

        standalone = sb.exec("echo out; echo err >&2; pwd", standalone=True)
        assert standalone.stdout == "out\n/\n" and standalone.stderr == "err\n"

        timed_out = sb.exec("sleep 600", timeout=1)
        assert timed_out.timed_out and timed_out.exit_code == 130
        assert sb.exec("echo $PWD").output == "/tmp\n"  # the session survived its timeout

        assert sb.refresh().command_count == 6
        entries = sb.trajectory().entries
        assert [e.command for e in entries][:1] == [
            "cd /tmp && export ANSWER=42 && greet() { echo hi $1; }"]
        assert "$ echo $PWD $ANSWER; greet grid" in sb.trajectory_text()


def test_streaming_yields_output_before_the_result(client, image):
    with client.create(image=image) as sb:
        # The command prints, then waits until the test, having seen that output, releases it:
        # the first event cannot be the whole answer arriving at the end.
        events = sb.exec_stream(
            "echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second", timeout=120)
        first = next(events)
        assert isinstance(first, OutputEvent)
        assert first.stream == "output" and first.data == "first\n"
        sb.files.write("/tmp/go", b"")  # files do not wait for the running exec
        rest = list(events)
        assert isinstance(rest[-1], ResultEvent)
        assert "".join(e.data for e in rest[:-1]) == "second\n"
        assert rest[-1].result.output == "first\nsecond\n" and rest[-1].result.exit_code == 0

        streams = {}
        for event in sb.exec_stream("echo a; echo b >&2", standalone=True):
            if isinstance(event, OutputEvent):
                streams[event.stream] = streams.get(event.stream, "") + event.data
            else:
                assert event.result.stdout == "a\n" and event.result.stderr == "b\n"
        assert streams == {"stdout": "a\n", "stderr": "b\n"}


def test_leaving_a_stream_interrupts_the_command(client, image):
    with client.create(image=image) as sb:
        sb.exec("cd /srv")
        for event in sb.exec_stream("echo started; sleep 600", timeout=900):
            assert isinstance(event, OutputEvent) and event.data == "started\n"
            break  # closes the connection: Ctrl-C for the session
        assert sb.exec("pwd").output == "/srv\n"  # the session and its state stay
        interrupted = sb.trajectory().entries[-2]
        assert interrupted.command == "echo started; sleep 600"
        assert interrupted.result.interrupted


def test_files_round_trip_bytes(client, image, tmp_path):
    every_byte = bytes(range(256)) * 64
    with client.create(image=image) as sb:
        written = sb.files.write("/work/data/bytes.bin", every_byte, mode=0o640)
        assert written.bytes == len(every_byte) and written.mode == "0640"
        assert sb.files.read("/work/data/bytes.bin") == every_byte
        sb.files.write("/work/data/hello.txt", "héllo\n")
        assert sb.exec("cat /work/data/hello.txt").output == "héllo\n"

        local = tmp_path / "script.sh"
        local.write_bytes(b"#!/bin/sh\necho ran\n")
        local.chmod(0o750)
        assert sb.files.upload(str(local), "/work/bin/script.sh").mode == "0750"
        assert sb.exec("/work/bin/script.sh").output == "ran\n"
        sb.files.download("/work/data/bytes.bin", str(tmp_path / "back.bin"))
        assert (tmp_path / "back.bin").read_bytes() == every_byte

        assert sb.files.mkdir("/work/empty/deeper", mode="0700") == "/work/empty/deeper"
        listing = sb.files.list("/work/data")
        assert listing.names() == ["bytes.bin", "hello.txt"] and not listing.truncated
        entry = listing.entries[0]
        assert (entry.type, entry.size, entry.mode) == ("file", len(every_byte), "0640")
        assert sb.files.list("/work/empty").entries[0].mode == "0700"

        sb.files.remove("/work/data")
        with pytest.raises(NotFound) as raised:
            sb.files.read("/work/data/bytes.bin")
        assert raised.value.code == "not_found" and raised.value.status == 404
        with pytest.raises(Conflict):
            sb.files.read("/work")  # a directory is not a file
        with pytest.raises(InvalidArgument):
            sb.files.read("relative/path")
        with pytest.raises(NotFound):
            sb.files.download("/nope", str(tmp_path / "never"))
        assert not (tmp_path / "never").exists()


def test_files_round_trip_a_tree(client, image, tmp_path):
    source = tmp_path / "src"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "sub" / "bin.dat").write_bytes(b"a\0b\xffc")
    (source / "run.sh").write_bytes(b"#!/bin/sh\necho tree\n")
    (source / "run.sh").chmod(0o750)
    (source / "empty").write_bytes(b"")
    with client.create(image=image) as sb:
        sb.files.upload_tree(str(source), "/work/tree")
        assert sb.exec("/work/tree/run.sh").output == "tree\n"
        assert sb.exec("cd /work/tree && find . | sort").output == (
            ".\n./empty\n./run.sh\n./sub\n./sub/bin.dat\n./sub/deeper\n")

        back = tmp_path / "back"
        written = sb.files.download_tree("/work/tree", str(back))
        assert sorted(written) == ["empty", "run.sh", "sub", "sub/bin.dat", "sub/deeper"]
        assert (back / "sub" / "bin.dat").read_bytes() == b"a\0b\xffc"
        assert (back / "run.sh").stat().st_mode & 0o777 == 0o750
        assert (back / "sub" / "deeper").is_dir() and (back / "empty").read_bytes() == b""

        tar = tarfile.open(fileobj=io.BytesIO(sb.files.read_tar("/work/tree")))
        assert "tree/sub/bin.dat" in tar.getnames()

        made = io.BytesIO()
        with tarfile.open(fileobj=made, mode="w") as out:
            info = tarfile.TarInfo("from-tar.txt")
            info.size = 3
            out.addfile(info, io.BytesIO(b"tar"))
        sb.files.write_tar("/work/other", made.getvalue())
        assert sb.files.read("/work/other/from-tar.txt") == b"tar"


def test_background_process_serves_the_session(client, image):
    with client.create(image=image) as sb:
        server = sb.processes.start("exec python3 -m http.server 8000 --bind 127.0.0.1",
                                    cwd="/tmp", env={"PYTHONUNBUFFERED": "1"})
        assert server.pid == 1 and server.running and server.sandbox_pid
        # The server needs a moment to listen: the session retries with a deadline.
        fetched = sb.exec("for i in $(seq 200); do curl -sf -o /dev/null "
                          "http://127.0.0.1:8000/ && echo fetched && break; sleep 0.1; done",
                          timeout=60)
        assert fetched.output == "fetched\n"

        log = ""
        for event in sb.processes.follow(server.pid):
            assert isinstance(event, ProcessOutputEvent)
            log += event.data
            if '"GET / HTTP/1.1" 200' in log:
                break
        assert '"GET / HTTP/1.1" 200' in sb.processes.output(server.pid).data

        assert [p.pid for p in sb.processes.list()] == [1]
        worker = sb.processes.start("echo working; sleep 600")
        first = next(iter(sb.processes.follow(worker.pid)))  # it has printed: kill it now
        assert isinstance(first, ProcessOutputEvent) and first.data == "working\n"
        killed = sb.processes.kill(worker.pid)
        assert killed.status == "killed" and not killed.running
        assert sb.processes.output(worker.pid).data == "working\n"

        sb.processes.signal(server.pid, "TERM")
        events = list(sb.processes.follow(server.pid, offset=server.output_bytes))
        assert isinstance(events[-1], ProcessExitEvent) and events[-1].status == "killed"
        assert sb.processes.get(server.pid).status == "killed"
        with pytest.raises(Conflict):
            sb.processes.signal(server.pid, "TERM")  # it has ended
        with pytest.raises(NotFound):
            sb.processes.get(99)
        with pytest.raises(InvalidArgument):
            sb.processes.start("true", env={"BAD NAME": "x"})


def test_errors_carry_the_servers_code(client, image):
    with pytest.raises(NotFound) as raised:
        client.get("no-such-sandbox")
    error = raised.value
    assert (error.code, error.status) == ("not_found", 404)
    assert error.message and error.path == "/sandboxes/no-such-sandbox"
    assert isinstance(error, GridError)

    with client.create(image=image, start=False) as sb:
        assert sb.status == "created"
        with pytest.raises(Conflict) as conflict:
            sb.exec("true")
        assert conflict.value.code == "conflict" and conflict.value.status == 409
        with pytest.raises(Conflict):
            next(sb.exec_stream("true"))  # refused before the stream starts: a JSON error
        sb.start()
        with pytest.raises(NotFound):
            next(sb.processes.follow(7))
        with pytest.raises(InvalidArgument) as invalid:
            sb.exec("true", timeout=-1)
        assert "timeout" in invalid.value.message

    with pytest.raises(ImageNotFound) as missing:
        client.create(image="no-such-image:never")
    assert missing.value.code == "image_not_found" and missing.value.status == 404


def test_a_failed_start_leaves_no_sandbox(client, image):
    label = uuid.uuid4().hex
    with pytest.raises(SetupFailed) as raised:
        client.create(image=image, setup=["echo preparing", "exit 3"], labels={"run": label})
    assert raised.value.exit_code == 3 and "preparing" in raised.value.output
    assert not [s for s in client.list() if s.labels.get("run") == label]


def test_context_manager_removes_the_sandbox_on_an_exception(client, image):
    with pytest.raises(RuntimeError, match="the agent failed"):
        with client.create(image=image) as sb:
            sandbox_id = sb.id
            sb.exec("echo working")
            raise RuntimeError("the agent failed")
    with pytest.raises(NotFound):
        client.get(sandbox_id)


def test_stop_keeps_the_record_when_asked(client, image):
    sb = client.create(image=image)
    try:
        stopped = sb.stop(remove=False)
        assert stopped.status == "stopped"
        assert client.get(sb.id).status == "stopped"
    finally:
        assert sb.delete()
    assert not sb.delete()  # already gone



def test_egress_policy_round_trip(client, image):
    assert list(client.pools()) == [] and client.pools().unmatched >= 0
    with client.create(image=image, egress={"deny": ["10.0.0.0/8"]}) as sb:
        egress = sb.info.egress
        assert sb.info.network and sb.info.pool is None
        assert egress is not None and egress.own is not None
        assert egress.own.deny == ["10.0.0.0/8"] and "10.0.0.0/8" in egress.deny
        assert sb.refresh().egress.enforced
        info = sb.set_egress(allow=["1.1.1.1:443"], deny=["192.168.0.0/16"])
        assert sb.info is info and info.egress.enforced
        assert info.egress.own.allow == ["1.1.1.1/32:443"]
        assert info.egress.own.deny == ["192.168.0.0/16"]
        with pytest.raises(InvalidArgument):
            sb.set_egress(deny=["10.1.2.3/8"])  # host bits set past the prefix
    with client.create(image=image) as plain:
        assert plain.info.egress is None
        with pytest.raises(InvalidArgument):
            plain.set_egress(deny=["10.0.0.0/8"])  # no network: no rules to change
