"""The synchronous client: :class:`Client`, :class:`Sandbox` and its ``files`` and
``processes``. Every method builds its request and parses its answer through the shared
operations of ``_protocol``; this module only sends them."""

from __future__ import annotations

import time
import types
from typing import (Any, BinaryIO, Callable, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Type, Union)

import httpx

from . import _protocol as ops
from ._http import (MAX_ERROR_BODY, UNSENT_ERRORS, client_headers, request_kwargs,
                    transport_error)
from ._protocol import Call, Reply, RetryPolicy
from .errors import GridError
from .types import (DirectoryListing, EgressPolicy, ExecEvent, ExecResult, Health, Limits,
                    PoolList, ProcessEvent, ProcessInfo, ProcessOutput, SandboxInfo,
                    SandboxStats, SnapshotInfo, Trajectory, WriteResult)
from .version import __version__

class _Transport:
    """Sends calls with httpx.Client, retrying as the policy allows."""

    def __init__(self, server: str, token: Optional[str], timeout: Optional[float],
                 retry: RetryPolicy, transport: Optional[httpx.BaseTransport] = None) -> None:
        self.timeout = timeout
        self.retry = retry
        self.http = httpx.Client(
            base_url=server, timeout=timeout, transport=transport,
            headers=client_headers(token, f"grid-sandbox-python/{__version__}"))

    def run(self, op: ops.Op) -> Any:
        """Drives an operation: sends each call it yields, hands it the reply (or throws the
        call's error into it), returns what it returns."""
        try:
            call = next(op)
            while True:
                try:
                    reply = self.send(call)
                except GridError as error:
                    call = op.throw(error)
                else:
                    call = op.send(reply)
        except StopIteration as done:
            return done.value

    def _open(self, call: Call, attempt: int) -> "tuple[httpx.Response, int]":
        """Sends the request until an answer's head arrives that is not an error; returns the
        response (body unread) and the attempt it took."""
        while True:
            kwargs = request_kwargs(call, self.timeout)
            if isinstance(call.body, ops.BodySource):
                kwargs["content"] = call.body.chunks()
            request = self.http.build_request(call.method, call.path, **kwargs)
            try:
                response = self.http.send(request, stream=True)
            except httpx.TransportError as error:
                if not self.retry.after_transport_error(call, not isinstance(error, UNSENT_ERRORS),
                                                        attempt):
                    raise transport_error(call, error) from error
                time.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                return response, attempt
            body = b""
            try:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= MAX_ERROR_BODY:
                        break
            except httpx.TransportError:
                pass
            finally:
                response.close()
            if not self.retry.after_status(call, response.status_code, attempt):
                raise ops.error_from_reply(call, response.status_code, body)
            time.sleep(self.retry.delay(attempt, response.headers.get("retry-after")))
            attempt += 1

    def send(self, call: Call) -> Reply:
        attempt = 1
        while True:
            response, attempt = self._open(call, attempt)
            try:
                if call.sink is not None:
                    for chunk in response.iter_bytes():
                        call.sink.write(chunk)
                    body = b""
                else:
                    body = response.read()
            except httpx.TransportError as error:
                if call.sink is None and self.retry.after_transport_error(call, True, attempt):
                    time.sleep(self.retry.delay(attempt))
                    attempt += 1
                    continue
                raise transport_error(call, error) from error
            finally:
                response.close()
            return Reply(response.status_code, response.headers, body)

    def events(self, call: Call, parse: Callable[[Dict[str, Any]], Any]) -> Iterator[Any]:
        """The events of an NDJSON answer, up to its final one. Leaving the loop early closes
        the connection (for an exec: the server interrupts the command)."""
        response, _ = self._open(call, 1)
        decoder = ops.NdjsonDecoder()
        try:
            try:
                for chunk in response.iter_bytes():
                    for obj in decoder.feed(chunk):
                        event = parse(obj)
                        if event is not None:
                            yield event
                            if ops.is_final(event):
                                return
            except httpx.TransportError as error:
                raise transport_error(call, error) from error
            for obj in decoder.finish():
                event = parse(obj)
                if event is not None:
                    yield event
                    if ops.is_final(event):
                        return
            raise ops.broken_stream(call)
        finally:
            response.close()

    def close(self) -> None:
        self.http.close()


class Files:
    """A sandbox's files (``sandbox.files``). Paths are absolute, inside the sandbox as its own
    processes see them; modes are ints (``0o644``) or octal strings (``"0644"``)."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sandbox = sandbox

    def _run(self, op: ops.Op) -> Any:
        return self._sandbox._client._transport.run(op)

    def write(self, path: str, data: Union[bytes, str], mode: Union[None, int, str] = None
              ) -> WriteResult:
        """Writes bytes (a str as UTF-8) to a file, creating its parents."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return self._run(ops.write_file(self._sandbox.id, path, raw, mode))

    def read(self, path: str) -> bytes:
        """A file's bytes (a symlink is followed inside the sandbox)."""
        return self._run(ops.read_file(self._sandbox.id, path, None))

    def upload(self, local_path: str, path: str, mode: Union[None, int, str] = None
               ) -> WriteResult:
        """Streams a local file to ``path``, with its mode unless ``mode`` is given."""
        return self._run(ops.upload_file(self._sandbox.id, local_path, path, mode))

    def download(self, path: str, local_path: str) -> str:
        """Streams a sandbox file to ``local_path`` (replaced only once complete)."""
        return self._run(ops.download_file(self._sandbox.id, path, local_path))

    def upload_tree(self, local_directory: str, path: str) -> WriteResult:
        """Sends the contents of a local directory into the directory ``path`` (created)."""
        return self._run(ops.upload_tree(self._sandbox.id, local_directory, path))

    def download_tree(self, path: str, local_directory: str) -> List[str]:
        """Copies the contents of the directory ``path`` into ``local_directory`` (files and
        directories only); returns the relative paths written."""
        return self._run(ops.download_tree(self._sandbox.id, path, local_directory))

    def write_tar(self, path: str, tar: Union[bytes, BinaryIO]) -> WriteResult:
        """Extracts a tar (bytes or a seekable binary file) into the directory ``path``."""
        return self._run(ops.write_tar(self._sandbox.id, path, ops.tar_body(tar)))

    def read_tar(self, path: str, sink: Optional[BinaryIO] = None) -> bytes:
        """A tar of ``path`` (for a directory its tree) under its last name; written to
        ``sink`` as it arrives if given (then b"" is returned)."""
        return self._run(ops.read_tar(self._sandbox.id, path, sink))

    def list(self, path: str) -> DirectoryListing:
        """The entries of a directory."""
        return self._run(ops.list_directory(self._sandbox.id, path))

    def mkdir(self, path: str, mode: Union[None, int, str] = None) -> str:
        """``mkdir -p``; ``mode`` applies to the last directory."""
        return self._run(ops.make_directory(self._sandbox.id, path, mode))

    def remove(self, path: str) -> None:
        """Removes a file, or a directory with everything below it."""
        return self._run(ops.remove_path(self._sandbox.id, path))


class Processes:
    """A sandbox's background processes (``sandbox.processes``). ``pid`` is Grid's handle."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sandbox = sandbox

    def _run(self, op: ops.Op) -> Any:
        return self._sandbox._client._transport.run(op)

    def start(self, command: str, *, cwd: Optional[str] = None,
              env: Optional[Mapping[str, str]] = None) -> ProcessInfo:
        """Starts ``bash -c command`` beside the session."""
        return self._run(ops.start_process(self._sandbox.id, command, cwd, env))

    def list(self) -> List[ProcessInfo]:
        return self._run(ops.list_processes(self._sandbox.id))

    def get(self, pid: int) -> ProcessInfo:
        return self._run(ops.describe_process(self._sandbox.id, pid))

    def output(self, pid: int, offset: int = 0, max_bytes: Optional[int] = None
               ) -> ProcessOutput:
        """The output from ``offset`` on, as far as there is now (resume at ``next_offset``)."""
        return self._run(ops.process_output(self._sandbox.id, pid, offset, max_bytes))

    def follow(self, pid: int, offset: int = 0) -> Iterator[ProcessEvent]:
        """The output live, from ``offset``, then a ProcessExitEvent when the process ended."""
        return self._sandbox._client._transport.events(
            ops.follow_call(self._sandbox.id, pid, offset), ops.process_event)

    def signal(self, pid: int, signal: Union[str, int]) -> ProcessInfo:
        """Signals the process group (``"TERM"``, ``"INT"``, ``15``, ...)."""
        return self._run(ops.signal_process(self._sandbox.id, pid, signal))

    def kill(self, pid: int) -> ProcessInfo:
        """SIGKILL to the process group; answers once it has ended (status ``killed``)."""
        return self._run(ops.kill_process(self._sandbox.id, pid))


class Sandbox:
    """A sandbox. As a context manager it is stopped and removed on exit, also when the block
    raises."""

    def __init__(self, client: "Client", info: SandboxInfo) -> None:
        self._client = client
        self.info = info
        self.files = Files(self)
        self.processes = Processes(self)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def status(self) -> str:
        """The status when last seen (``refresh()`` asks again)."""
        return self.info.status

    def __repr__(self) -> str:
        return f"<Sandbox {self.id} {self.info.image} {self.status}>"

    def _run(self, op: ops.Op) -> Any:
        return self._client._transport.run(op)

    def _seen(self, info: SandboxInfo) -> SandboxInfo:
        self.info = info
        return info

    def refresh(self) -> SandboxInfo:
        """Asks the server for the sandbox's description."""
        return self._seen(self._run(ops.describe(self.id)))

    def start(self) -> SandboxInfo:
        """Starts a created sandbox (waits for a slot, runs the setup commands)."""
        return self._seen(self._run(ops.start_sandbox(self.id)))

    def exec(self, command: str, *, timeout: Optional[float] = None,
             standalone: bool = False, auto_resume: bool = False) -> ExecResult:
        """Runs a command in the session (state persists), or ``standalone`` in a fresh
        process with stdout and stderr apart. ``timeout`` in seconds (server default if None);
        ``auto_resume`` resumes a paused sandbox first (else Conflict). An exec is never sent
        twice."""
        return self._run(ops.exec_command(self.id, command, timeout, standalone, auto_resume))

    def exec_stream(self, command: str, *, timeout: Optional[float] = None,
                    standalone: bool = False) -> Iterator[ExecEvent]:
        """Runs a command and yields OutputEvents as it prints, then one ResultEvent. Leaving
        the loop early interrupts the command (Ctrl-C for a session exec)."""
        return self._client._transport.events(
            ops.exec_call(self.id, command, timeout, standalone, stream=True), ops.exec_event)

    def trajectory(self) -> Trajectory:
        return self._run(ops.trajectory(self.id))

    def trajectory_text(self) -> str:
        """The trajectory as text: ``$ command`` then its output."""
        return self._run(ops.formatted_trajectory(self.id))

    def pause(self) -> SandboxInfo:
        """Pauses the sandbox (POST /sandboxes/{id}/pause; NotFound on a server without it)."""
        return self._seen(self._run(ops.pause(self.id, True)))

    def resume(self) -> SandboxInfo:
        """Resumes a paused sandbox."""
        return self._seen(self._run(ops.pause(self.id, False)))

    def stop(self, remove: bool = True) -> SandboxInfo:
        """Stops the sandbox; ``remove=False`` keeps its record (status ``stopped``)."""
        return self._seen(self._run(ops.stop(self.id, remove)))

    def fork(self, count: int = 1) -> "SandboxGroup":
        """``count`` new running sandboxes with this one's files and session state at one
        instant (docs/fork-snapshot.md). The result is a list of Sandbox objects, each a
        context manager; as a context manager itself it removes them all on exit. Never sent
        twice (ResourceExhausted when fewer running slots are free: nothing was made)."""
        children = self._run(ops.fork(self.id, count))
        return SandboxGroup(Sandbox(self._client, info) for info in children)

    def snapshot(self, image: str, *, overwrite: bool = False) -> SnapshotInfo:
        """Saves the sandbox's filesystem as the image ``name:tag`` of this backend (Conflict
        if it exists and not ``overwrite``); ``client.create(image=...)`` starts from it."""
        return self._run(ops.snapshot(self.id, image, overwrite))

    def reset(self) -> SandboxInfo:
        """Back to its image: a fresh filesystem and session, setup commands run again
        (SetupFailed if one fails)."""
        return self._seen(self._run(ops.reset(self.id)))

    def set_egress(self, allow: Optional[Sequence[str]] = None,
                   deny: Optional[Sequence[str]] = None) -> SandboxInfo:
        """Replaces the sandbox's own egress policy whole (PATCH /sandboxes/{id}/network); on a
        running sandbox at once. InvalidArgument for a bad rule or a sandbox without network,
        Unsupported where the server enforces no policy. ``info.egress`` is the result."""
        return self._seen(self._run(ops.set_egress(self.id, allow, deny)))

    def stats(self) -> SandboxStats:
        """CPU and memory in use now (Conflict unless running)."""
        return self._run(ops.stats(self.id))

    def delete(self) -> bool:
        """Stops and removes the sandbox; False when it was already gone."""
        return self._run(ops.remove(self.id))

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[types.TracebackType]) -> None:
        try:
            self.delete()
        except GridError as error:
            if exc is None:
                raise
            if hasattr(exc, "add_note"):  # the block's exception stays the one raised
                exc.add_note(f"removing sandbox {self.id} failed too: {error}")


class SandboxGroup(List[Sandbox]):
    """Sandboxes made together (a fork's children): a list, and a context manager that removes
    them all on exit, also when the block raises."""

    def __enter__(self) -> "SandboxGroup":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[types.TracebackType]) -> None:
        failures: List[GridError] = []
        for sandbox in self:
            try:
                sandbox.delete()
            except GridError as error:
                failures.append(error)
        if failures and exc is None:
            raise failures[0]
        if failures and exc is not None and hasattr(exc, "add_note"):
            for error in failures:
                exc.add_note(f"removing a sandbox failed too: {error}")


class Client:
    """A synchronous client of a Grid server.

    ``server`` and ``token`` default to ``$GRID_SERVER`` (else http://127.0.0.1:3000) and
    ``$GRID_TOKEN``. ``timeout`` bounds each connect, read and write of an ordinary request in
    seconds (an exec's answer waits for the exec's own timeout). ``retries`` is a
    :class:`RetryPolicy` or a number of retries (0: none). ``transport`` replaces httpx's own
    (a proxy, TLS settings, a test double).
    """

    def __init__(self, server: Optional[str] = None, token: Optional[str] = None, *,
                 timeout: Optional[float] = 60.0,
                 retries: Union[None, int, RetryPolicy] = None,
                 transport: Optional[httpx.BaseTransport] = None) -> None:
        self.server = ops.resolve_server(server)
        self._transport = _Transport(self.server, ops.resolve_token(token), timeout,
                                     ops.as_retry_policy(retries), transport)

    def __repr__(self) -> str:
        return f"<Client {self.server}>"

    def health(self) -> Health:
        return self._transport.run(ops.health())

    def create(self, image: Optional[str] = None, *, setup: Optional[Sequence[str]] = None,
               limits: Union[None, Limits, Mapping[str, Any]] = None,
               network: Union[None, bool, Mapping[str, Any]] = None,
               egress: Union[None, EgressPolicy, Mapping[str, Any]] = None,
               isolation: Optional[str] = None,
               env: Optional[Mapping[str, str]] = None,
               labels: Optional[Mapping[str, str]] = None, start: bool = True,
               ttl_seconds: Optional[float] = None, idle_timeout_seconds: Optional[float] = None,
               expiry_action: Optional[str] = None) -> Sandbox:
        """Creates a sandbox and, unless ``start=False``, starts it (a failed start removes it
        and raises, e.g. SetupFailed). Use it as a context manager to remove it on exit.
        ``ttl_seconds`` ends it that long after its start, ``idle_timeout_seconds`` after that
        long without a call on it; ``expiry_action`` is ``"stop"`` (default) or ``"pause"``
        (docs/lifetimes.md). ``egress`` (an :class:`EgressPolicy` or ``{"allow": [...],
        "deny": [...]}``) gives it network under that egress policy (docs/networking.md);
        ``network`` may also be the API's ``{"egress": {...}}`` object itself."""
        body = ops.create_body(image, setup, limits, network, isolation, env, labels,
                               ttl_seconds, idle_timeout_seconds, expiry_action, egress)
        return Sandbox(self, self._transport.run(ops.create(body, start)))

    def pools(self) -> PoolList:
        """The server's warm pools (docs/pools.md): a list of PoolInfo, with ``unmatched``."""
        return self._transport.run(ops.pools())

    def get(self, sandbox_id: str) -> Sandbox:
        """The sandbox with this id (NotFound if there is none)."""
        return Sandbox(self, self._transport.run(ops.describe(sandbox_id)))

    def list(self) -> List[SandboxInfo]:
        return self._transport.run(ops.list_sandboxes())

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
