"""Python SDK of Grid: sandboxed Linux environments for AI shell agents over HTTP.

    from grid_sandbox import Client

    with Client() as client, client.create(image="debian:bookworm") as sb:
        sb.exec("cd /tmp")
        print(sb.exec("pwd").output)   # /tmp

:class:`AsyncClient` has the same surface with ``await`` and ``async with``/``async for``.
"""

from ._protocol import Retry, RetryPolicy, UnsafeArchive
from .aio import AsyncClient, AsyncFiles, AsyncProcesses, AsyncSandbox, AsyncSandboxGroup
from .client import Client, Files, Processes, Sandbox, SandboxGroup
from .errors import (Conflict, GridError, HeaderTooLarge, ImageNotFound, InternalError,
                     InvalidArgument, LengthRequired, MethodNotAllowed, NoSpace, NotFound,
                     PayloadTooLarge, RequestTimeout, ResourceExhausted, SandboxExpired,
                     ServerTimeout, SetupFailed, StreamBroken, TransportError, Unauthorized,
                     Unavailable, Unsupported, UpgradeRequired)
from .types import (DirectoryListing, EgressInfo, EgressPolicy, ExecEvent, ExecResult,
                    FileEntry, Health, Limits, OutputEvent, PoolInfo, PoolList, ProcessEvent, ProcessExitEvent, ProcessInfo, ProcessOutput,
                    ProcessOutputEvent, ResultEvent, SandboxInfo, SandboxStats, SnapshotInfo,
                    Trajectory, TrajectoryEntry, WriteResult)
from .version import __version__

__all__ = [
    "AsyncClient", "AsyncFiles", "AsyncProcesses", "AsyncSandbox", "AsyncSandboxGroup",
    "Client", "Files", "Processes", "Sandbox", "SandboxGroup", "Retry", "RetryPolicy", "UnsafeArchive",
    "GridError", "InvalidArgument", "Unsupported", "SetupFailed", "Unauthorized", "NotFound",
    "ImageNotFound", "MethodNotAllowed", "RequestTimeout", "Conflict", "LengthRequired",
    "PayloadTooLarge", "NoSpace", "ResourceExhausted", "HeaderTooLarge", "InternalError",
    "Unavailable", "ServerTimeout", "TransportError", "StreamBroken", "SandboxExpired",
    "UpgradeRequired",
    "DirectoryListing", "EgressInfo", "EgressPolicy", "PoolInfo", "PoolList", "ExecEvent", "ExecResult", "FileEntry", "Health", "Limits",
    "OutputEvent", "ProcessEvent", "ProcessExitEvent", "ProcessInfo", "ProcessOutput",
    "ProcessOutputEvent", "ResultEvent", "SandboxInfo", "SandboxStats", "SnapshotInfo",
    "Trajectory", "TrajectoryEntry",
    "WriteResult", "__version__",
]
