"""Pure logic, no server: retry decisions (through httpx's mock transport, a test double of
the server), the NDJSON decoder, safe tree extraction, and that the sync and async clients
offer the same surface."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import os
import tarfile

import httpx
import pytest

import grid_sandbox
from grid_sandbox import (AsyncClient, Client, Conflict, InternalError, RetryPolicy,
                          StreamBroken, TransportError, UnsafeArchive, Unavailable)
from grid_sandbox._protocol import NdjsonDecoder, extract_tree

FAST = RetryPolicy(max_attempts=3, backoff=0.001, max_backoff=0.01)


def answering(*replies, seen=None):
    """A mock transport answering each request with the next (status, body)."""
    queue = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append((request.method, request.url.path))
        status, body = queue.pop(0)
        if isinstance(status, Exception):
            raise status
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handle)


SANDBOX = {"id": "s1", "image": "img", "status": "running"}
UNAVAILABLE = (503, {"error": "no free slot", "code": "unavailable"})


def test_a_refused_create_is_retried_and_an_exec_never():
    seen = []
    client = Client("http://grid", retries=FAST, transport=answering(
        UNAVAILABLE, (201, dict(SANDBOX, status="created")), UNAVAILABLE, (200, SANDBOX),
        UNAVAILABLE, seen=seen))
    sb = client.create(image="img")
    assert sb.status == "running"
    with pytest.raises(Unavailable) as raised:
        sb.exec("echo once")
    assert raised.value.code == "unavailable" and raised.value.status == 503
    assert seen == [("POST", "/sandboxes")] * 2 + [("POST", "/sandboxes/s1/start")] * 2 + [
        ("POST", "/sandboxes/s1/exec")]


def test_retries_stop_at_the_policy_limit():
    seen = []
    client = Client("http://grid", retries=FAST,
                    transport=answering(UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, seen=seen))
    with pytest.raises(Unavailable):
        client.list()
    assert len(seen) == 3
    none = Client("http://grid", retries=0, transport=answering(UNAVAILABLE, seen=seen))
    with pytest.raises(Unavailable):
        none.list()
    assert len(seen) == 4


def test_transport_errors_retry_only_what_is_safe():
    request = httpx.Request("GET", "http://grid")
    seen = []
    client = Client("http://grid", retries=FAST, transport=answering(
        (httpx.ConnectError("refused", request=request), None), (200, []),
        (httpx.ReadError("reset", request=request), None), (200, []),
        (httpx.ConnectError("refused", request=request), None), (200, {"output": "x",
                                                                       "exit_code": 0}),
        (httpx.ReadError("reset", request=request), None), seen=seen))
    assert client.list() == []  # not sent: retried
    assert client.list() == []  # a GET: retried after any failure
    sb = grid_sandbox.Sandbox(client, grid_sandbox.SandboxInfo.from_json(SANDBOX))
    assert sb.exec("true").output == "x"  # the exec never reached the server: retried
    with pytest.raises(TransportError):
        sb.exec("true")  # it may have run: never sent again
    assert len(seen) == 7


def test_other_errors_are_not_retried():
    seen = []
    client = Client("http://grid", retries=FAST, transport=answering(
        (500, {"error": "plugin threw", "code": "internal"}),
        (409, {"error": "not running", "code": "conflict"}), seen=seen))
    with pytest.raises(InternalError):
        client.list()
    with pytest.raises(Conflict) as raised:
        client.get("s1")
    assert str(raised.value) == "GET /sandboxes/s1: 409 conflict: not running"
    assert len(seen) == 2


def test_the_async_client_retries_the_same_way():
    seen = []

    async def main():
        transport = httpx.MockTransport(answering(UNAVAILABLE, (200, []), seen=seen).handler)
        async with AsyncClient("http://grid", retries=FAST, transport=transport) as client:
            return await client.list()

    assert asyncio.run(main()) == [] and len(seen) == 2


def test_retry_after_is_honoured_up_to_the_cap():
    policy = RetryPolicy(backoff=1, max_backoff=5)
    assert policy.delay(1, "2") == 2 and policy.delay(1, "600") == 5
    assert 0.5 <= policy.delay(1) <= 1 and 2 <= policy.delay(3) <= 4


def test_ndjson_lines_split_anywhere():
    decoder = NdjsonDecoder()
    text = b'{"type":"output","data":"a\\n"}\n{"type":"result","exit_code":0}\n'
    objects = []
    for i in range(len(text)):
        objects += decoder.feed(text[i:i + 1])
    assert [o["type"] for o in objects] == ["output", "result"] and decoder.finish() == []
    with pytest.raises(StreamBroken):
        decoder.feed(b"<html>\n")


def tar_of(*members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    out.seek(0)
    return out


def file_member(name, data=b"x", mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def test_extraction_writes_files_and_directories_only(tmp_path):
    link = tarfile.TarInfo("top/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    device = tarfile.TarInfo("top/null")
    device.type, device.devmajor, device.devminor = tarfile.CHRTYPE, 1, 3
    written = extract_tree(tar_of(file_member("top/a/b.txt", b"hi", 0o600), (link, None),
                                  (device, None), file_member("top/suid", b"#!", 0o4755)),
                           str(tmp_path), strip_components=1)
    assert written == ["a/b.txt", "suid"]
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"hi"
    assert (tmp_path / "a" / "b.txt").stat().st_mode & 0o7777 == 0o600
    assert (tmp_path / "suid").stat().st_mode & 0o7777 == 0o755  # no setuid from a tenant
    assert not os.path.lexists(tmp_path / "link") and not os.path.lexists(tmp_path / "null")


@pytest.mark.parametrize("name", ["top/../../escape", "/etc/evil"])
def test_extraction_refuses_names_outside_the_tree(tmp_path, name):
    with pytest.raises(UnsafeArchive):
        extract_tree(tar_of(file_member(name)), str(tmp_path / "dest"), strip_components=1)
    assert not (tmp_path / "escape").exists()


def test_extraction_does_not_follow_symlinks_already_there(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "dest").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "dest" / "sub")
    with pytest.raises(OSError):
        extract_tree(tar_of(file_member("top/sub/x")), str(tmp_path / "dest"), 1)
    assert not (tmp_path / "outside" / "x").exists()


def public_methods(cls):
    return {name: member for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


@pytest.mark.parametrize("sync_class, async_class", [
    (grid_sandbox.Client, grid_sandbox.AsyncClient),
    (grid_sandbox.Sandbox, grid_sandbox.AsyncSandbox),
    (grid_sandbox.Files, grid_sandbox.AsyncFiles),
    (grid_sandbox.Processes, grid_sandbox.AsyncProcesses),
])
def test_sync_and_async_surfaces_match(sync_class, async_class):
    sync_methods, async_methods = public_methods(sync_class), public_methods(async_class)
    assert sorted(sync_methods) == sorted(async_methods)
    for name, method in sync_methods.items():
        def shape(fn):
            return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]
        assert shape(method) == shape(async_methods[name]), name


def test_error_classes_follow_the_code_then_the_status():
    from grid_sandbox.errors import error_from_body
    assert type(error_from_body(404, {"error": "x", "code": "image_not_found"})).__name__ == \
        "ImageNotFound"
    unknown = error_from_body(409, {"error": "x", "code": "brand_new"})
    assert isinstance(unknown, Conflict) and unknown.code == "brand_new"
    assert json.loads(json.dumps(unknown.body)) == {"error": "x", "code": "brand_new"}


def test_expiry_and_terminal_codes_have_their_classes():
    from grid_sandbox import SandboxExpired, UpgradeRequired
    from grid_sandbox.errors import error_from_body
    expired = error_from_body(409, {"error": "ended by its ttl", "code": "sandbox_expired"})
    assert isinstance(expired, SandboxExpired) and isinstance(expired, Conflict)
    assert isinstance(error_from_body(426, {"error": "x"}), UpgradeRequired)


def test_lifetime_fields_are_sent_and_read():
    seen = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content or b"{}"))
        return httpx.Response(201, json=dict(
            SANDBOX, status="created", ttl_seconds=90, idle_timeout_seconds=1.5,
            expiry_action="pause", expires_at=None, end_reason="idle",
            ended_at="2026-11-30T01:52:17.123456Z", paused_at=None))

    client = Client("http://grid", transport=httpx.MockTransport(handle))
    sb = client.create(image="img", start=False, ttl_seconds=90, idle_timeout_seconds=1.5,
                       expiry_action="pause")
    assert seen == [{"image": "img", "ttl_seconds": 90, "idle_timeout_seconds": 1.5,
                     "expiry_action": "pause"}]
    info = sb.info
    assert (info.ttl_seconds, info.idle_timeout_seconds, info.expiry_action) == (90, 1.5, "pause")
    assert info.expired and info.ended_at.year == 2026 and info.expires_at is None


def test_fork_children_are_removed_together_and_a_fork_is_never_retried():
    seen = []
    children = [dict(SANDBOX, id="c1"), dict(SANDBOX, id="c2")]
    client = Client("http://grid", retries=FAST, transport=answering(
        (201, {"source": "s1", "sandboxes": children}), (200, {}), (404, {
            "error": "gone", "code": "not_found"}), UNAVAILABLE, seen=seen))
    sb = grid_sandbox.Sandbox(client, grid_sandbox.SandboxInfo.from_json(SANDBOX))
    with sb.fork(2) as group:
        assert [c.id for c in group] == ["c1", "c2"]
        assert all(isinstance(c, grid_sandbox.Sandbox) for c in group)
    assert seen == [("POST", "/sandboxes/s1/fork"), ("DELETE", "/sandboxes/c1"),
                    ("DELETE", "/sandboxes/c2")]
    with pytest.raises(Unavailable):
        sb.fork(1)
    assert seen[-1] == ("POST", "/sandboxes/s1/fork") and len(seen) == 4
    with pytest.raises(grid_sandbox.GridError, match="count"):
        sb.fork(0)


def test_async_fork_children_are_removed_together():
    seen = []
    children = [dict(SANDBOX, id="c1"), dict(SANDBOX, id="c2")]

    async def run():
        async with AsyncClient("http://grid", transport=answering(
                (201, {"source": "s1", "sandboxes": children}), (200, {}), (200, {}),
                seen=seen)) as client:
            sb = grid_sandbox.AsyncSandbox(client, grid_sandbox.SandboxInfo.from_json(SANDBOX))
            async with await sb.fork(2) as group:
                assert isinstance(group, grid_sandbox.AsyncSandboxGroup) and len(group) == 2

    asyncio.run(run())
    assert sorted(seen[1:]) == [("DELETE", "/sandboxes/c1"), ("DELETE", "/sandboxes/c2")]


def recording(*replies, seen):
    """A mock transport answering each request with the next (status, body), recording each
    request's method, path and JSON body."""
    queue = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path,
                     json.loads(request.content) if request.content else None))
        status, body = queue.pop(0)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handle)


EGRESS = {"allow": [], "deny": ["10.0.0.0/8"], "own": {"allow": [], "deny": ["10.0.0.0/8"]},
          "enforced": True, "resolver": True, "refused": 3}


def test_egress_is_sent_and_read():
    seen = []
    client = Client("http://grid", transport=recording(
        (201, dict(SANDBOX, status="created", network=True, pool=None, egress=EGRESS)),
        (201, dict(SANDBOX, status="created", network=True)),
        (201, dict(SANDBOX, status="created", network=True)),
        (200, dict(SANDBOX, network=True, egress=dict(EGRESS, allow=["1.1.1.1/32:443"]))),
        seen=seen))
    sb = client.create(image="img", egress={"deny": ["10.0.0.0/8"]}, start=False)
    egress = sb.info.egress
    assert egress is not None and egress.deny == ["10.0.0.0/8"] and egress.enforced
    assert egress.own == grid_sandbox.EgressPolicy(allow=[], deny=["10.0.0.0/8"])
    assert egress.resolver and egress.refused == 3 and sb.info.pool is None
    client.create(image="img", egress=grid_sandbox.EgressPolicy(allow=["example.com:443"]),
                  start=False)
    client.create(image="img", network={"egress": {"allow": ["1.1.1.1"]}}, start=False)
    info = sb.set_egress(allow=["1.1.1.1:443"], deny=["10.0.0.0/8"])
    assert sb.info is info and info.egress.allow == ["1.1.1.1/32:443"]
    assert [s[2] for s in seen] == [
        {"image": "img", "network": {"egress": {"deny": ["10.0.0.0/8"]}}},
        {"image": "img", "network": {"egress": {"allow": ["example.com:443"], "deny": []}}},
        {"image": "img", "network": {"egress": {"allow": ["1.1.1.1"]}}},
        {"egress": {"allow": ["1.1.1.1:443"], "deny": ["10.0.0.0/8"]}}]
    assert seen[-1][:2] == ("PATCH", "/sandboxes/s1/network")
    with pytest.raises(ValueError):
        client.create(image="img", network=False, egress={"deny": ["10.0.0.0/8"]})
    with pytest.raises(ValueError):
        client.create(image="img", egress={"denied": ["10.0.0.0/8"]})
    assert len(seen) == 4, "a refused argument sends nothing"


def test_a_sandbox_without_egress_reads_none():
    info = grid_sandbox.SandboxInfo.from_json(dict(SANDBOX, pool="warm"))
    assert info.egress is None and info.pool == "warm"


def test_a_refused_egress_patch_raises_its_class():
    client = Client("http://grid", transport=answering(
        (201, dict(SANDBOX, status="created")),
        (400, {"error": "sandbox s1 has no egress rules to change", "code": "invalid_argument"}),
        (400, {"error": "this server enforces no egress policy", "code": "unsupported"})))
    sb = client.create(image="img", start=False)
    with pytest.raises(grid_sandbox.InvalidArgument):
        sb.set_egress(deny=["10.0.0.0/8"])
    with pytest.raises(grid_sandbox.Unsupported):
        sb.set_egress(deny=["10.0.0.0/8"])


POOLS = {"pools": [{"name": "py", "image": "python:3.12", "limits": {"memory_mb": 512},
                    "network": False, "isolation": "default", "size": 4, "ready": 3,
                    "starting": 1, "hits": 10, "misses": 2, "last_error": None}],
         "unmatched": 5}


def test_pools_are_typed():
    seen = []
    pools = Client("http://grid", transport=answering((200, POOLS), seen=seen)).pools()
    assert seen == [("GET", "/pools")]
    assert pools.unmatched == 5 and len(pools) == 1
    pool = pools[0]
    assert isinstance(pool, grid_sandbox.PoolInfo)
    assert (pool.name, pool.image, pool.size, pool.ready, pool.starting, pool.hits,
            pool.misses, pool.last_error) == ("py", "python:3.12", 4, 3, 1, 10, 2, None)
    assert pool.limits.memory_mb == 512 and pool.limits.cpus is None
    empty = Client("http://grid", transport=answering(
        (200, {"pools": [], "unmatched": 0}))).pools()
    assert list(empty) == [] and empty.unmatched == 0


def test_the_async_client_sends_egress_and_reads_pools():
    seen = []

    async def run():
        async with AsyncClient("http://grid", transport=recording(
                (201, dict(SANDBOX, status="created", network=True, egress=EGRESS)),
                (200, dict(SANDBOX, network=True, egress=EGRESS)),
                (200, POOLS), seen=seen)) as client:
            sb = await client.create(image="img", egress={"deny": ["10.0.0.0/8"]}, start=False)
            info = await sb.set_egress(deny=["10.0.0.0/8"])
            return sb, info, await client.pools()

    sb, info, pools = asyncio.run(run())
    assert sb.info is info and info.egress.own.deny == ["10.0.0.0/8"]
    assert pools[0].name == "py" and pools.unmatched == 5
    assert [(m, p) for m, p, _ in seen] == [("POST", "/sandboxes"),
                                            ("PATCH", "/sandboxes/s1/network"),
                                            ("GET", "/pools")]
    assert seen[1][2] == {"egress": {"allow": [], "deny": ["10.0.0.0/8"]}}
