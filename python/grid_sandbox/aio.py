"""The asynchronous client: :class:`AsyncClient`, :class:`AsyncSandbox` and its ``files`` and
``processes``, with the surface of the sync client (``client.py``), each method awaitable and
the streams async iterators. Requests and answers go through the same shared operations of
``_protocol``; only the sending differs."""

from __future__ import annotations

import asyncio
import types
from typing import (Any, AsyncIterator, BinaryIO, Callable, Dict, Generator, Iterator, List,
                    Mapping, Optional, Sequence, Type, Union)

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


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:  # local file reads: short, blocking
        yield chunk


class _AsyncTransport:
    """Sends calls with httpx.AsyncClient, retrying as the policy allows."""

    def __init__(self, server: str, token: Optional[str], timeout: Optional[float],
                 retry: RetryPolicy, transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self.timeout = timeout
        self.retry = retry
        self.http = httpx.AsyncClient(
            base_url=server, timeout=timeout, transport=transport,
            headers=client_headers(token, f"grid-sandbox-python/{__version__}"),
            # Many sandboxes at once each hold a connection for as long as an exec runs.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64))

    async def run(self, op: ops.Op) -> Any:
        """Drives an operation as the sync transport does, awaiting each call."""
        try:
            call = next(op)
            while True:
                try:
                    reply = await self.send(call)
                except GridError as error:
                    call = op.throw(error)
                else:
                    call = op.send(reply)
        except StopIteration as done:
            return done.value

    async def _open(self, call: Call, attempt: int) -> "tuple[httpx.Response, int]":
        while True:
            kwargs = request_kwargs(call, self.timeout)
            if isinstance(call.body, ops.BodySource):
                kwargs["content"] = _async_chunks(call.body.chunks())
            request = self.http.build_request(call.method, call.path, **kwargs)
            try:
                response = await self.http.send(request, stream=True)
            except httpx.TransportError as error:
                if not self.retry.after_transport_error(call, not isinstance(error, UNSENT_ERRORS),
                                                        attempt):
                    raise transport_error(call, error) from error
                await asyncio.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                return response, attempt
            body = b""
            try:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_ERROR_BODY:
                        break
            except httpx.TransportError:
                pass
            finally:
                await response.aclose()
            if not self.retry.after_status(call, response.status_code, attempt):
                raise ops.error_from_reply(call, response.status_code, body)
            await asyncio.sleep(self.retry.delay(attempt, response.headers.get("retry-after")))
            attempt += 1

    async def send(self, call: Call) -> Reply:
        attempt = 1
        while True:
            response, attempt = await self._open(call, attempt)
            try:
                if call.sink is not None:
                    async for chunk in response.aiter_bytes():
                        call.sink.write(chunk)
                    body = b""
                else:
                    body = await response.aread()
            except httpx.TransportError as error:
                if call.sink is None and self.retry.after_transport_error(call, True, attempt):
                    await asyncio.sleep(self.retry.delay(attempt))
                    attempt += 1
                    continue
                raise transport_error(call, error) from error
            finally:
                await response.aclose()
            return Reply(response.status_code, response.headers, body)

    async def events(self, call: Call, parse: Callable[[Dict[str, Any]], Any]
                     ) -> AsyncIterator[Any]:
        response, _ = await self._open(call, 1)
        decoder = ops.NdjsonDecoder()
        try:
            try:
                async for chunk in response.aiter_bytes():
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
            await response.aclose()

    async def close(self) -> None:
        await self.http.aclose()


class AsyncFiles:
    """A sandbox's files; see :class:`grid_sandbox.client.Files`."""

    def __init__(self, sandbox: "AsyncSandbox") -> None:
        self._sandbox = sandbox

    async def _run(self, op: ops.Op) -> Any:
        return await self._sandbox._client._transport.run(op)

    async def write(self, path: str, data: Union[bytes, str], mode: Union[None, int, str] = None
                    ) -> WriteResult:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return await self._run(ops.write_file(self._sandbox.id, path, raw, mode))

    async def read(self, path: str) -> bytes:
        return await self._run(ops.read_file(self._sandbox.id, path, None))

    async def upload(self, local_path: str, path: str, mode: Union[None, int, str] = None
                     ) -> WriteResult:
        return await self._run(ops.upload_file(self._sandbox.id, local_path, path, mode))

    async def download(self, path: str, local_path: str) -> str:
        return await self._run(ops.download_file(self._sandbox.id, path, local_path))

    async def upload_tree(self, local_directory: str, path: str) -> WriteResult:
        return await self._run(ops.upload_tree(self._sandbox.id, local_directory, path))

    async def download_tree(self, path: str, local_directory: str) -> List[str]:
        return await self._run(ops.download_tree(self._sandbox.id, path, local_directory))

    async def write_tar(self, path: str, tar: Union[bytes, BinaryIO]) -> WriteResult:
        return await self._run(ops.write_tar(self._sandbox.id, path, ops.tar_body(tar)))

    async def read_tar(self, path: str, sink: Optional[BinaryIO] = None) -> bytes:
        return await self._run(ops.read_tar(self._sandbox.id, path, sink))

    async def list(self, path: str) -> DirectoryListing:
        return await self._run(ops.list_directory(self._sandbox.id, path))

    async def mkdir(self, path: str, mode: Union[None, int, str] = None) -> str:
        return await self._run(ops.make_directory(self._sandbox.id, path, mode))

    async def remove(self, path: str) -> None:
        return await self._run(ops.remove_path(self._sandbox.id, path))


class AsyncProcesses:
    """A sandbox's background processes; see :class:`grid_sandbox.client.Processes`."""

    def __init__(self, sandbox: "AsyncSandbox") -> None:
        self._sandbox = sandbox

    async def _run(self, op: ops.Op) -> Any:
        return await self._sandbox._client._transport.run(op)

    async def start(self, command: str, *, cwd: Optional[str] = None,
                    env: Optional[Mapping[str, str]] = None) -> ProcessInfo:
        return await self._run(ops.start_process(self._sandbox.id, command, cwd, env))

    async def list(self) -> List[ProcessInfo]:
        return await self._run(ops.list_processes(self._sandbox.id))

    async def get(self, pid: int) -> ProcessInfo:
        return await self._run(ops.describe_process(self._sandbox.id, pid))

    async def output(self, pid: int, offset: int = 0, max_bytes: Optional[int] = None
                     ) -> ProcessOutput:
        return await self._run(ops.process_output(self._sandbox.id, pid, offset, max_bytes))

    def follow(self, pid: int, offset: int = 0) -> AsyncIterator[ProcessEvent]:
        return self._sandbox._client._transport.events(
            ops.follow_call(self._sandbox.id, pid, offset), ops.process_event)

    async def signal(self, pid: int, signal: Union[str, int]) -> ProcessInfo:
        return await self._run(ops.signal_process(self._sandbox.id, pid, signal))

    async def kill(self, pid: int) -> ProcessInfo:
        return await self._run(ops.kill_process(self._sandbox.id, pid))


class AsyncSandbox:
    """A sandbox; see :class:`grid_sandbox.client.Sandbox`. ``async with`` stops and removes it
    on exit, also when the block raises or is cancelled."""

    def __init__(self, client: "AsyncClient", info: SandboxInfo) -> None:
        self._client = client
        self.info = info
        self.files = AsyncFiles(self)
        self.processes = AsyncProcesses(self)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def status(self) -> str:
        return self.info.status

    def __repr__(self) -> str:
        return f"<AsyncSandbox {self.id} {self.info.image} {self.status}>"

    async def _run(self, op: ops.Op) -> Any:
        return await self._client._transport.run(op)

    async def _seen(self, op: ops.Op) -> SandboxInfo:
        self.info = await self._run(op)
        return self.info

    async def refresh(self) -> SandboxInfo:
        return await self._seen(ops.describe(self.id))

    async def start(self) -> SandboxInfo:
        return await self._seen(ops.start_sandbox(self.id))

    async def exec(self, command: str, *, timeout: Optional[float] = None,
                   standalone: bool = False, auto_resume: bool = False) -> ExecResult:
        return await self._run(ops.exec_command(self.id, command, timeout, standalone,
                                                auto_resume))

    def exec_stream(self, command: str, *, timeout: Optional[float] = None,
                    standalone: bool = False) -> AsyncIterator[ExecEvent]:
        return self._client._transport.events(
            ops.exec_call(self.id, command, timeout, standalone, stream=True), ops.exec_event)

    async def trajectory(self) -> Trajectory:
        return await self._run(ops.trajectory(self.id))

    async def trajectory_text(self) -> str:
        return await self._run(ops.formatted_trajectory(self.id))

    async def pause(self) -> SandboxInfo:
        return await self._seen(ops.pause(self.id, True))

    async def resume(self) -> SandboxInfo:
        return await self._seen(ops.pause(self.id, False))

    async def stop(self, remove: bool = True) -> SandboxInfo:
        return await self._seen(ops.stop(self.id, remove))

    async def fork(self, count: int = 1) -> "AsyncSandboxGroup":
        """See :meth:`grid_sandbox.Sandbox.fork`; ``async with`` removes the children."""
        children = await self._run(ops.fork(self.id, count))
        return AsyncSandboxGroup(AsyncSandbox(self._client, info) for info in children)

    async def snapshot(self, image: str, *, overwrite: bool = False) -> SnapshotInfo:
        return await self._run(ops.snapshot(self.id, image, overwrite))

    async def reset(self) -> SandboxInfo:
        return await self._seen(ops.reset(self.id))

    async def set_egress(self, allow: Optional[Sequence[str]] = None,
                         deny: Optional[Sequence[str]] = None) -> SandboxInfo:
        """See :meth:`grid_sandbox.Sandbox.set_egress`."""
        return await self._seen(ops.set_egress(self.id, allow, deny))

    async def stats(self) -> SandboxStats:
        return await self._run(ops.stats(self.id))

    async def delete(self) -> bool:
        return await self._run(ops.remove(self.id))

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]],
                        exc: Optional[BaseException], tb: Optional[types.TracebackType]) -> None:
        try:
            # Shielded: a cancelled task still removes its sandbox before it ends.
            await asyncio.shield(self.delete())
        except GridError as error:
            if exc is None:
                raise
            if hasattr(exc, "add_note"):
                exc.add_note(f"removing sandbox {self.id} failed too: {error}")


class AsyncSandboxGroup(List[AsyncSandbox]):
    """Sandboxes made together (a fork's children): a list, and an async context manager that
    removes them all on exit (concurrently), also when the block raises or is cancelled."""

    async def __aenter__(self) -> "AsyncSandboxGroup":
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]],
                        exc: Optional[BaseException], tb: Optional[types.TracebackType]) -> None:
        results = await asyncio.shield(asyncio.gather(
            *(sandbox.delete() for sandbox in self), return_exceptions=True))
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and exc is None:
            raise failures[0]
        if failures and exc is not None and hasattr(exc, "add_note"):
            for error in failures:
                exc.add_note(f"removing a sandbox failed too: {error}")


class _Creating:
    """What ``AsyncClient.create`` returns: await it for the sandbox, or use it directly in
    ``async with`` to remove the sandbox on exit."""

    def __init__(self, client: "AsyncClient", body: Dict[str, Any], start: bool) -> None:
        self._client = client
        self._body = body
        self._start = start
        self._sandbox: Optional[AsyncSandbox] = None

    async def _create(self) -> AsyncSandbox:
        info = await self._client._transport.run(ops.create(self._body, self._start))
        return AsyncSandbox(self._client, info)

    def __await__(self) -> Generator[Any, None, AsyncSandbox]:
        return self._create().__await__()

    async def __aenter__(self) -> AsyncSandbox:
        self._sandbox = await self._create()
        return self._sandbox

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._sandbox is not None
        await self._sandbox.__aexit__(*exc_info)


class AsyncClient:
    """An asynchronous client of a Grid server; arguments as :class:`grid_sandbox.Client`."""

    def __init__(self, server: Optional[str] = None, token: Optional[str] = None, *,
                 timeout: Optional[float] = 60.0,
                 retries: Union[None, int, RetryPolicy] = None,
                 transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self.server = ops.resolve_server(server)
        self._transport = _AsyncTransport(self.server, ops.resolve_token(token), timeout,
                                          ops.as_retry_policy(retries), transport)

    def __repr__(self) -> str:
        return f"<AsyncClient {self.server}>"

    async def health(self) -> Health:
        return await self._transport.run(ops.health())

    def create(self, image: Optional[str] = None, *, setup: Optional[Sequence[str]] = None,
               limits: Union[None, Limits, Mapping[str, Any]] = None,
               network: Union[None, bool, Mapping[str, Any]] = None,
               egress: Union[None, EgressPolicy, Mapping[str, Any]] = None,
               isolation: Optional[str] = None,
               env: Optional[Mapping[str, str]] = None,
               labels: Optional[Mapping[str, str]] = None, start: bool = True,
               ttl_seconds: Optional[float] = None, idle_timeout_seconds: Optional[float] = None,
               expiry_action: Optional[str] = None) -> _Creating:
        """``sandbox = await client.create(...)`` or ``async with client.create(...) as sb``."""
        body = ops.create_body(image, setup, limits, network, isolation, env, labels,
                               ttl_seconds, idle_timeout_seconds, expiry_action, egress)
        return _Creating(self, body, start)

    async def pools(self) -> PoolList:
        """See :meth:`grid_sandbox.Client.pools`."""
        return await self._transport.run(ops.pools())

    async def get(self, sandbox_id: str) -> AsyncSandbox:
        return AsyncSandbox(self, await self._transport.run(ops.describe(sandbox_id)))

    async def list(self) -> List[SandboxInfo]:
        return await self._transport.run(ops.list_sandboxes())

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
