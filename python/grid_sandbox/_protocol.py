"""The part of the SDK that does no network I/O: requests as data, answers parsed into types,
retry decisions, the NDJSON decoder, the operations of the API written once as generators, and
the local side of file transfers (plain blocking file I/O, the same for both clients).

An operation is a generator that yields :class:`Call` objects and receives a :class:`Reply`
for each (or has the call's :class:`GridError` thrown into it), then returns its typed
result. The sync client (``client.py``) and the async client (``aio.py``) each drive the same
operations with their own transport, so every route's request building and parsing exists
once.
"""

from __future__ import annotations

import json as _json
import os
import random
import tarfile
from dataclasses import dataclass, field
from typing import (Any, BinaryIO, Callable, Dict, Generator, Iterator, List, Mapping,
                    Optional, Sequence, Tuple, Union)
from urllib.parse import quote

from .errors import GridError, InvalidArgument, NotFound, StreamBroken, error_from_body
from .types import (DirectoryListing, EgressPolicy, ExecEvent, ExecResult, Health, Limits,
                    OutputEvent, PoolList,
                    ProcessEvent, ProcessExitEvent, ProcessInfo, ProcessOutput,
                    ProcessOutputEvent, ResultEvent, SandboxInfo, SandboxStats, SnapshotInfo,
                    Trajectory, WriteResult)

DEFAULT_SERVER = "http://127.0.0.1:3000"
CHUNK_BYTES = 64 << 10


def resolve_server(server: Optional[str]) -> str:
    """The server URL: the argument, else ``$GRID_SERVER``, else http://127.0.0.1:3000 (as the
    CLI does; an empty value counts as unset)."""
    url = server or os.environ.get("GRID_SERVER") or DEFAULT_SERVER
    return url.rstrip("/")


def resolve_token(token: Optional[str]) -> Optional[str]:
    """The bearer token: the argument, else ``$GRID_TOKEN``, else none."""
    return token or os.environ.get("GRID_TOKEN") or None


# ---------------------------------------------------------------------------------------------
# Requests and answers as data


class Retry:
    """How a call may be repeated. Every call may be retried when the connection failed before
    the request was sent (nothing reached the server)."""

    NEVER = "never"  # never again once sent (an exec, a process start, a signal)
    REFUSED = "refused"  # also after a 429/503: the server refused without acting (create, start)
    IDEMPOTENT = "idempotent"  # also after any transport error (GET, DELETE, PUT of bytes)


class BodySource:
    """A request body read in chunks, replayable for a retry. ``length`` is sent as the
    Content-Length (uploads need one)."""

    def __init__(self, length: int, chunks: Callable[[], Iterator[bytes]]) -> None:
        self.length = length
        self.chunks = chunks

    @classmethod
    def from_file(cls, fileobj: BinaryIO) -> "BodySource":
        """A seekable binary file from its current position to its end."""
        start = fileobj.tell()
        fileobj.seek(0, os.SEEK_END)
        length = fileobj.tell() - start

        def chunks() -> Iterator[bytes]:
            fileobj.seek(start)
            remaining = length
            while remaining > 0:
                chunk = fileobj.read(min(CHUNK_BYTES, remaining))
                if not chunk:
                    raise GridError(f"the file shrank while it was sent ({remaining} bytes short)",
                                    code="invalid_argument")
                remaining -= len(chunk)
                yield chunk

        return cls(length, chunks)


@dataclass
class Call:
    """One HTTP request of an operation."""

    method: str
    path: str
    params: Optional[List[Tuple[str, str]]] = None
    json: Any = None
    body: Union[None, bytes, BodySource] = None
    headers: Dict[str, str] = field(default_factory=dict)
    retry: str = Retry.IDEMPOTENT
    # Seconds to wait for each read of the answer: None waits as long as the server takes
    # (an exec the server bounds by its timeout); "default" is the client's request timeout.
    read_timeout: Union[None, float, str] = "default"
    # Where the answer's body goes as it arrives (a download); the Reply then has no body.
    sink: Optional[BinaryIO] = None


@dataclass
class Reply:
    """An answer: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        try:
            return _json.loads(self.body) if self.body else None
        except ValueError as error:
            raise GridError(f"the answer is not JSON: {error}", code="invalid_response",
                            status=self.status) from None


def error_from_reply(call: Call, status: int, body: bytes) -> GridError:
    """The exception for an error answer (JSON error body or not)."""
    try:
        parsed = _json.loads(body) if body else None
    except ValueError:
        parsed = None
    text = body[:200].decode("utf-8", "replace").strip()
    return error_from_body(status, parsed, method=call.method, path=call.path,
                           fallback_message=text or f"HTTP {status}")


@dataclass
class RetryPolicy:
    """When and how often a failed call is tried again.

    ``max_attempts`` counts the first try (1 disables retries). Waits grow from ``backoff``
    seconds, doubling up to ``max_backoff``, with jitter; a ``Retry-After`` header of the
    server is honoured up to ``max_backoff``. ``statuses`` are the answers that mean "refused,
    nothing done, try later".
    """

    max_attempts: int = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    statuses: Tuple[int, ...] = (429, 503)

    def delay(self, attempt: int, retry_after: Optional[str] = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff)
            except ValueError:
                pass
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return base * (0.5 + random.random() / 2)

    def after_status(self, call: Call, status: int, attempt: int) -> bool:
        """Whether an error answer with this status is worth another attempt."""
        return (attempt < self.max_attempts and status in self.statuses
                and call.retry in (Retry.REFUSED, Retry.IDEMPOTENT))

    def after_transport_error(self, call: Call, sent: bool, attempt: int) -> bool:
        """Whether a connection failure is worth another attempt; ``sent`` is False when it
        failed before any of the request left (connect errors, pool timeouts)."""
        if attempt >= self.max_attempts or call.sink is not None and sent:
            return False
        return not sent or call.retry == Retry.IDEMPOTENT


NO_RETRIES = RetryPolicy(max_attempts=1)


def as_retry_policy(retries: Union[None, int, RetryPolicy]) -> RetryPolicy:
    """``retries`` of a client: a policy, a number of retries, or None for the default."""
    if retries is None:
        return RetryPolicy()
    if isinstance(retries, RetryPolicy):
        return retries
    return RetryPolicy(max_attempts=max(1, int(retries) + 1))


class NdjsonDecoder:
    """Splits a byte stream into JSON objects, one per ``\\n``-terminated line."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> List[Dict[str, Any]]:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return [self._parse(line) for line in lines if line.strip()]

    def finish(self) -> List[Dict[str, Any]]:
        rest, self._pending = self._pending, b""
        return [self._parse(rest)] if rest.strip() else []

    @staticmethod
    def _parse(line: bytes) -> Dict[str, Any]:
        try:
            parsed = _json.loads(line)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise StreamBroken(f"a stream line is not a JSON object: {line[:100]!r}")
        return parsed


def exec_event(o: Dict[str, Any]) -> Optional[ExecEvent]:
    """An exec stream's event; raises the error of an ``error`` event; None for an event type
    this version does not know (skipped)."""
    kind = o.get("type")
    if kind == "output":
        return OutputEvent(stream=o.get("stream", "output"), data=o.get("data", ""))
    if kind == "result":
        return ResultEvent(result=ExecResult.from_json(o))
    if kind == "error":
        raise error_from_body(None, o, fallback_message="the exec failed")
    return None


def process_event(o: Dict[str, Any]) -> Optional[ProcessEvent]:
    """A followed process's event, or None for an unknown type."""
    kind = o.get("type")
    if kind == "output":
        return ProcessOutputEvent(data=o.get("data", ""), offset=o.get("offset", 0),
                                  dropped=o.get("dropped", 0))
    if kind == "exit":
        exit_code = o.get("exit_code")
        return ProcessExitEvent(status=o.get("status", ""),
                                exit_code=exit_code if isinstance(exit_code, int) else None)
    if kind == "error":
        raise error_from_body(None, o, fallback_message="the follow failed")
    return None


def is_final(event: Any) -> bool:
    return isinstance(event, (ResultEvent, ProcessExitEvent))


def broken_stream(call: Call) -> StreamBroken:
    return StreamBroken("the stream ended without its final event (the server went away)",
                        method=call.method, path=call.path)


# ---------------------------------------------------------------------------------------------
# Operations

Op = Generator[Call, Reply, Any]


def _sandbox_path(sandbox_id: str, *rest: str) -> str:
    return "/sandboxes/" + "/".join([quote(sandbox_id, safe="")] + list(rest))


def _mode_text(mode: Union[None, int, str]) -> Optional[str]:
    if mode is None:
        return None
    return format(mode, "04o") if isinstance(mode, int) else mode


def health() -> Op:
    reply = yield Call("GET", "/healthz")
    return Health.from_json(reply.json())


def create_body(image: Optional[str], setup: Optional[Sequence[str]],
                limits: Union[None, Limits, Mapping[str, Any]],
                network: Union[None, bool, Mapping[str, Any]],
                isolation: Optional[str], env: Optional[Mapping[str, str]],
                labels: Optional[Mapping[str, str]], ttl_seconds: Optional[float] = None,
                idle_timeout_seconds: Optional[float] = None,
                expiry_action: Optional[str] = None,
                egress: Union[None, EgressPolicy, Mapping[str, Any]] = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {}
    if image is not None:
        body["image"] = image
    if setup:
        body["setup_commands"] = list(setup)
    if limits is not None:
        body["limits"] = limits.to_json() if isinstance(limits, Limits) else dict(limits)
    if egress is not None:
        if network is False:
            raise ValueError("an egress policy needs network (network=False was given)")
        body["network"] = {"egress": egress_json(egress)}
    elif network is not None:
        body["network"] = network if isinstance(network, bool) else dict(network)
    if isolation is not None:
        body["isolation"] = isolation
    if env:
        body["env"] = dict(env)
    if labels:
        body["labels"] = dict(labels)
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    if idle_timeout_seconds is not None:
        body["idle_timeout_seconds"] = idle_timeout_seconds
    if expiry_action is not None:
        body["expiry_action"] = expiry_action
    return body


def egress_json(policy: Union[EgressPolicy, Mapping[str, Any]]) -> Dict[str, Any]:
    if isinstance(policy, EgressPolicy):
        return policy.to_json()
    unknown = set(policy) - {"allow", "deny"}
    if unknown:
        raise ValueError(f"unknown egress policy keys {sorted(unknown)} (known: allow, deny)")
    return {k: list(v) for k, v in policy.items() if v is not None}


def create(body: Dict[str, Any], start: bool) -> Op:
    """Creates a sandbox and (``start``) starts it; a failed start removes the record so
    nothing outlives the call."""
    reply = yield Call("POST", "/sandboxes", json=body, retry=Retry.REFUSED)
    info = SandboxInfo.from_json(reply.json())
    if not start:
        return info
    try:
        info = yield from start_sandbox(info.id)
    except GridError:
        try:
            yield from remove(info.id)
        except GridError:
            pass  # the start's error is what the caller needs to see
        raise
    return info


def start_sandbox(sandbox_id: str) -> Op:
    # A start waits (FIFO) for a slot and runs the setup commands: the server bounds both.
    reply = yield Call("POST", _sandbox_path(sandbox_id, "start"), retry=Retry.REFUSED,
                       read_timeout=None)
    return SandboxInfo.from_json(reply.json())


def describe(sandbox_id: str) -> Op:
    reply = yield Call("GET", _sandbox_path(sandbox_id))
    return SandboxInfo.from_json(reply.json())


def list_sandboxes() -> Op:
    reply = yield Call("GET", "/sandboxes")
    return [SandboxInfo.from_json(o) for o in reply.json()]


def stop(sandbox_id: str, remove: bool) -> Op:
    reply = yield Call("POST", _sandbox_path(sandbox_id, "stop"), json={"remove": remove},
                       retry=Retry.IDEMPOTENT)
    return SandboxInfo.from_json(reply.json())


def remove(sandbox_id: str) -> Op:
    """DELETE: stops and removes; a sandbox already gone counts as removed."""
    try:
        yield Call("DELETE", _sandbox_path(sandbox_id), retry=Retry.IDEMPOTENT)
    except NotFound:
        return False
    return True


def pause(sandbox_id: str, paused: bool) -> Op:
    action = "pause" if paused else "resume"
    reply = yield Call("POST", _sandbox_path(sandbox_id, action), retry=Retry.REFUSED)
    return SandboxInfo.from_json(reply.json())


def set_egress(sandbox_id: str, allow: Optional[Sequence[str]],
               deny: Optional[Sequence[str]]) -> Op:
    """PATCH network: the sandbox's own policy replaced whole (the same body twice is the same
    state, so it may be retried)."""
    body = {"egress": {"allow": list(allow or []), "deny": list(deny or [])}}
    reply = yield Call("PATCH", _sandbox_path(sandbox_id, "network"), json=body,
                       retry=Retry.IDEMPOTENT)
    return SandboxInfo.from_json(reply.json())


def pools() -> Op:
    reply = yield Call("GET", "/pools")
    return PoolList.from_json(reply.json())


def exec_call(sandbox_id: str, command: str, timeout: Optional[float], standalone: bool,
              stream: bool, auto_resume: bool = False) -> Call:
    body: Dict[str, Any] = {"command": command}
    if standalone:
        body["standalone"] = True
    if auto_resume:
        body["auto_resume"] = True
    if timeout is not None:
        body["timeout"] = timeout
    if stream:
        body["stream"] = True
    # The server answers within about a second of the exec's timeout; without one its default
    # applies, which it bounds itself.
    read_timeout = None if timeout is None else timeout + 30.0
    return Call("POST", _sandbox_path(sandbox_id, "exec"), json=body, retry=Retry.NEVER,
                read_timeout=read_timeout)


def exec_command(sandbox_id: str, command: str, timeout: Optional[float],
                 standalone: bool, auto_resume: bool = False) -> Op:
    reply = yield exec_call(sandbox_id, command, timeout, standalone, stream=False,
                            auto_resume=auto_resume)
    return ExecResult.from_json(reply.json())


def fork(sandbox_id: str, count: int) -> Op:
    """The children's descriptions. Never sent twice: a repeated fork would make more."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidArgument(f"count must be a whole number from 1, not {count!r}")
    # A fork copies the source's files and waits for the children to start: the server bounds it.
    reply = yield Call("POST", _sandbox_path(sandbox_id, "fork"), json={"count": count},
                       retry=Retry.NEVER, read_timeout=None)
    return [SandboxInfo.from_json(o) for o in reply.json().get("sandboxes") or []]


def snapshot(sandbox_id: str, image: str, overwrite: bool) -> Op:
    body: Dict[str, Any] = {"image": image}
    if overwrite:
        body["overwrite"] = True
    reply = yield Call("POST", _sandbox_path(sandbox_id, "snapshot"), json=body,
                       retry=Retry.REFUSED, read_timeout=None)
    return SnapshotInfo.from_json(reply.json())


def reset(sandbox_id: str) -> Op:
    # A reset recreates the sandbox and runs its setup commands again: the server bounds it.
    reply = yield Call("POST", _sandbox_path(sandbox_id, "reset"), retry=Retry.REFUSED,
                       read_timeout=None)
    return SandboxInfo.from_json(reply.json())


def stats(sandbox_id: str) -> Op:
    reply = yield Call("GET", _sandbox_path(sandbox_id, "stats"))
    return SandboxStats.from_json(reply.json())


def trajectory(sandbox_id: str) -> Op:
    reply = yield Call("GET", _sandbox_path(sandbox_id, "trajectory"))
    return Trajectory.from_json(reply.json())


def formatted_trajectory(sandbox_id: str) -> Op:
    reply = yield Call("GET", _sandbox_path(sandbox_id, "trajectory", "formatted"))
    return reply.body.decode("utf-8", "replace")


# Files


def _files_call(method: str, sandbox_id: str, path: str, *flags: str, **kwargs: Any) -> Call:
    params = [("path", path)] + [(flag, "") for flag in flags]
    return Call(method, _sandbox_path(sandbox_id, "files"), params=params, **kwargs)


def write_file(sandbox_id: str, path: str, data: Union[bytes, BodySource],
               mode: Union[None, int, str]) -> Op:
    call = _files_call("PUT", sandbox_id, path, body=data,
                       headers={"Content-Type": "application/octet-stream"})
    if mode is not None:
        assert call.params is not None
        call.params.append(("mode", _mode_text(mode) or ""))
    reply = yield call
    return WriteResult.from_json(reply.json())


def write_tar(sandbox_id: str, directory: str, tar: Union[bytes, BodySource]) -> Op:
    reply = yield _files_call("PUT", sandbox_id, directory, body=tar,
                              headers={"Content-Type": "application/x-tar"})
    return WriteResult.from_json(reply.json())


def read_file(sandbox_id: str, path: str, sink: Optional[BinaryIO]) -> Op:
    reply = yield _files_call("GET", sandbox_id, path, sink=sink)
    return reply.body


def read_tar(sandbox_id: str, path: str, sink: Optional[BinaryIO]) -> Op:
    reply = yield _files_call("GET", sandbox_id, path, "archive", sink=sink)
    return reply.body


def list_directory(sandbox_id: str, path: str) -> Op:
    reply = yield _files_call("GET", sandbox_id, path, "list")
    return DirectoryListing.from_json(reply.json())


def make_directory(sandbox_id: str, path: str, mode: Union[None, int, str]) -> Op:
    body: Dict[str, Any] = {"path": path}
    if mode is not None:
        body["mode"] = _mode_text(mode)
    reply = yield Call("POST", _sandbox_path(sandbox_id, "files", "mkdir"), json=body,
                       retry=Retry.IDEMPOTENT)  # mkdir -p
    return reply.json().get("path", path)


def remove_path(sandbox_id: str, path: str) -> Op:
    yield _files_call("DELETE", sandbox_id, path)
    return None


# Background processes


def start_process(sandbox_id: str, command: str, cwd: Optional[str],
                  env: Optional[Mapping[str, str]]) -> Op:
    body: Dict[str, Any] = {"command": command}
    if cwd is not None:
        body["cwd"] = cwd
    if env:
        body["env"] = dict(env)
    reply = yield Call("POST", _sandbox_path(sandbox_id, "processes"), json=body,
                       retry=Retry.NEVER)
    return ProcessInfo.from_json(reply.json())


def list_processes(sandbox_id: str) -> Op:
    reply = yield Call("GET", _sandbox_path(sandbox_id, "processes"))
    return [ProcessInfo.from_json(o) for o in reply.json()]


def describe_process(sandbox_id: str, pid: int) -> Op:
    reply = yield Call("GET", _sandbox_path(sandbox_id, "processes", str(int(pid))))
    return ProcessInfo.from_json(reply.json())


def process_output(sandbox_id: str, pid: int, offset: int, max_bytes: Optional[int]) -> Op:
    params = [("offset", str(int(offset)))]
    if max_bytes is not None:
        params.append(("max_bytes", str(int(max_bytes))))
    reply = yield Call("GET", _sandbox_path(sandbox_id, "processes", str(int(pid)), "output"),
                       params=params)
    return ProcessOutput.from_json(reply.json())


def follow_call(sandbox_id: str, pid: int, offset: int) -> Call:
    # A follow may be silent for as long as the process is; the server ends it within an hour.
    return Call("GET", _sandbox_path(sandbox_id, "processes", str(int(pid)), "output"),
                params=[("offset", str(int(offset))), ("stream", "")], read_timeout=None)


def signal_process(sandbox_id: str, pid: int, signal: Union[str, int]) -> Op:
    reply = yield Call("POST", _sandbox_path(sandbox_id, "processes", str(int(pid)), "signal"),
                       json={"signal": signal}, retry=Retry.NEVER)
    return ProcessInfo.from_json(reply.json())


def kill_process(sandbox_id: str, pid: int) -> Op:
    reply = yield Call("DELETE", _sandbox_path(sandbox_id, "processes", str(int(pid))),
                       retry=Retry.IDEMPOTENT)
    return ProcessInfo.from_json(reply.json())


# ---------------------------------------------------------------------------------------------
# Trees as tar, here


class UnsafeArchive(GridError):
    """An archive from a sandbox names a path outside the destination (it is the tenant's)."""

    code = "unsafe_archive"


def tar_directory(directory: str, out: BinaryIO) -> None:
    """Writes the contents of ``directory`` (not the directory itself) as a tar to ``out``."""
    if not os.path.isdir(directory):
        raise NotADirectoryError(directory)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(directory)):
            tar.add(os.path.join(directory, name), arcname=name)


def _open_dir(parent_fd: int, name: str) -> int:
    try:
        os.mkdir(name, 0o755, dir_fd=parent_fd)
    except FileExistsError:
        pass
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                   dir_fd=parent_fd)


def extract_tree(fileobj: BinaryIO, destination: str, strip_components: int) -> List[str]:
    """Extracts a tar from a sandbox into ``destination``, dropping the first
    ``strip_components`` parts of every name. Only files and directories are written (links
    and devices skipped) with their permission bits (never setuid, setgid or sticky), owned by
    whoever runs this; a ``..`` or absolute name refuses the archive, and every path is
    opened component by component without following symlinks, so nothing lands outside
    ``destination``. Returns the relative paths written."""
    os.makedirs(destination, exist_ok=True)
    written: List[str] = []
    root_fd = os.open(destination, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with tarfile.open(fileobj=fileobj, mode="r|") as tar:
            for member in tar:
                if member.name.startswith("/"):
                    raise UnsafeArchive(f"archive member with an absolute name: {member.name!r}")
                parts = [p for p in member.name.split("/") if p not in ("", ".")]
                if ".." in parts:
                    raise UnsafeArchive(f"archive member outside its tree: {member.name!r}")
                parts = parts[strip_components:]
                if not parts or not (member.isdir() or member.isfile()):
                    continue
                dirs = parts if member.isdir() else parts[:-1]
                fds: List[int] = []
                try:
                    fd = root_fd
                    for name in dirs:
                        fd = _open_dir(fd, name)
                        fds.append(fd)
                    # Permission bits only: no setuid, setgid or sticky bit from the tenant.
                    if member.isdir():
                        os.chmod(fd, member.mode & 0o777 | 0o700)
                    else:
                        mode = member.mode & 0o777
                        out_fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                                         | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
                        with os.fdopen(out_fd, "wb") as out:
                            source = tar.extractfile(member)
                            assert source is not None
                            while True:
                                chunk = source.read(CHUNK_BYTES)
                                if not chunk:
                                    break
                                out.write(chunk)
                            os.chmod(out.fileno(), mode)
                finally:
                    for opened in fds:
                        os.close(opened)
                written.append("/".join(parts))
    finally:
        os.close(root_fd)
    return written


# ---------------------------------------------------------------------------------------------
# Operations with local files: the local side is plain blocking file I/O, the same for both
# clients.


def upload_file(sandbox_id: str, local_path: str, path: str, mode: Union[None, int, str]) -> Op:
    """Sends a local file; its permission bits unless ``mode`` is given."""
    with open(local_path, "rb") as f:
        if mode is None:
            mode = os.fstat(f.fileno()).st_mode & 0o7777
        return (yield from write_file(sandbox_id, path, BodySource.from_file(f), mode))


def download_file(sandbox_id: str, path: str, local_path: str) -> Op:
    """Writes a sandbox file to ``local_path`` (through a temporary file beside it, renamed
    when complete: a cut transfer never leaves a short file that looks whole)."""
    directory = os.path.dirname(os.path.abspath(local_path))
    partial = os.path.join(directory, f".{os.path.basename(local_path)}.grid-partial-{os.getpid()}")
    try:
        with open(partial, "wb") as f:
            yield from read_file(sandbox_id, path, f)
        os.replace(partial, local_path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return local_path


def upload_tree(sandbox_id: str, local_directory: str, directory: str) -> Op:
    """Sends the contents of a local directory into ``directory`` in the sandbox (created)."""
    import tempfile

    with tempfile.SpooledTemporaryFile(max_size=16 << 20) as tar:
        tar_directory(local_directory, tar)  # type: ignore[arg-type]
        tar.seek(0)
        return (yield from write_tar(sandbox_id, directory,
                                     BodySource.from_file(tar)))  # type: ignore[arg-type]


def download_tree(sandbox_id: str, path: str, local_directory: str) -> Op:
    """Writes the tree at ``path`` into ``local_directory``: its contents, not a directory
    named after it. Returns the relative paths written."""
    import tempfile

    with tempfile.SpooledTemporaryFile(max_size=16 << 20) as tar:
        yield from read_tar(sandbox_id, path, tar)  # type: ignore[arg-type]
        tar.seek(0)
        return extract_tree(tar, local_directory, strip_components=1)  # type: ignore[arg-type]


def tar_body(data: Union[bytes, BinaryIO]) -> Union[bytes, BodySource]:
    return data if isinstance(data, (bytes, bytearray)) else BodySource.from_file(data)
