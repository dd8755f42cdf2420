"""Typed results: one dataclass per object the server answers.

Each has ``from_json(dict)`` and keeps the whole object in ``raw``, so a field a newer server
adds is readable before this SDK names it. Times are timezone-aware ``datetime`` objects.
"""

from __future__ import annotations

import base64
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union


def parse_time(value: Any) -> Optional[_dt.datetime]:
    """An ISO 8601 time of the server (``2026-11-30T01:52:17.123456Z``) or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> Optional[float]:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class Limits:
    """Resource limits of a sandbox; None where the server applies its default."""

    cpus: Optional[float] = None
    memory_mb: Optional[int] = None
    pids: Optional[int] = None

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "Limits":
        return cls(cpus=o.get("cpus"), memory_mb=o.get("memory_mb"), pids=o.get("pids"))

    def to_json(self) -> Dict[str, Any]:
        return {k: v for k, v in (("cpus", self.cpus), ("memory_mb", self.memory_mb),
                                  ("pids", self.pids)) if v is not None}


def _strings(value: Any) -> List[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


@dataclass
class EgressPolicy:
    """An egress policy (docs/networking.md): with ``allow`` non-empty only those destinations
    are reachable; ``deny`` always wins. Rules are CIDRs or addresses (``10.0.0.0/8``), domains
    (``example.com``, ``*.example.com``), each optionally with ``:port``."""

    allow: List[str] = field(default_factory=list)
    deny: List[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "EgressPolicy":
        return cls(allow=_strings(o.get("allow")), deny=_strings(o.get("deny")))

    def to_json(self) -> Dict[str, Any]:
        return {"allow": list(self.allow), "deny": list(self.deny)}


@dataclass
class EgressInfo:
    """A sandbox's egress policy as the server enforces it: ``allow``/``deny`` in force (its
    own joined with the server's default), ``own`` what it asked for (None if nothing),
    ``enforced`` (its rules are installed), ``resolver`` (Grid serves its DNS) and
    ``refused`` (packets refused so far)."""

    allow: List[str] = field(default_factory=list)
    deny: List[str] = field(default_factory=list)
    own: Optional[EgressPolicy] = None
    enforced: bool = False
    resolver: bool = False
    refused: int = 0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "EgressInfo":
        own = o.get("own")
        return cls(allow=_strings(o.get("allow")), deny=_strings(o.get("deny")),
                   own=EgressPolicy.from_json(own) if isinstance(own, dict) else None,
                   enforced=bool(o.get("enforced", False)),
                   resolver=bool(o.get("resolver", False)),
                   refused=_int(o.get("refused")) or 0, raw=o)


@dataclass
class PoolInfo:
    """A warm pool (``GET /pools``, docs/pools.md) with its counters."""

    name: str
    image: str
    limits: Limits = field(default_factory=Limits)
    network: bool = False
    isolation: str = "default"
    size: int = 0
    ready: int = 0
    starting: int = 0
    hits: int = 0
    misses: int = 0
    last_error: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "PoolInfo":
        return cls(name=o.get("name", ""), image=o.get("image", ""),
                   limits=Limits.from_json(o.get("limits") or {}),
                   network=bool(o.get("network", False)),
                   isolation=o.get("isolation", "default"),
                   size=_int(o.get("size")) or 0, ready=_int(o.get("ready")) or 0,
                   starting=_int(o.get("starting")) or 0, hits=_int(o.get("hits")) or 0,
                   misses=_int(o.get("misses")) or 0, last_error=o.get("last_error"), raw=o)


class PoolList(List[PoolInfo]):
    """The server's pools (a list of :class:`PoolInfo`); ``unmatched`` counts creates that
    matched no pool."""

    def __init__(self, pools: Any = (), unmatched: int = 0) -> None:
        super().__init__(pools)
        self.unmatched = unmatched

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "PoolList":
        return cls((PoolInfo.from_json(p) for p in o.get("pools") or []),
                   _int(o.get("unmatched")) or 0)


@dataclass
class SandboxInfo:
    """A sandbox's description (``GET /sandboxes/{id}``)."""

    id: str
    image: str
    status: str
    backend: str = ""
    setup_commands: List[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    network: bool = False
    isolation: str = "default"
    labels: Dict[str, str] = field(default_factory=dict)
    created_at: Optional[_dt.datetime] = None
    started_at: Optional[_dt.datetime] = None
    stopped_at: Optional[_dt.datetime] = None
    paused_at: Optional[_dt.datetime] = None
    command_count: int = 0
    last_exit_code: Optional[int] = None
    session_exit_code: Optional[int] = None
    error: Optional[str] = None
    # Lifetimes (docs/lifetimes.md): None where the sandbox has none.
    ttl_seconds: Optional[float] = None
    idle_timeout_seconds: Optional[float] = None
    expiry_action: str = "stop"
    expires_at: Optional[_dt.datetime] = None
    end_reason: Optional[str] = None  # stopped, ttl, idle, shutdown, failed
    ended_at: Optional[_dt.datetime] = None
    # The warm pool it was taken from (docs/pools.md); None for a cold start.
    pool: Optional[str] = None
    # Its egress policy (docs/networking.md); None without network, on a server that enforces
    # none, and in the list, stop, fork and reset answers (refresh() reads it).
    egress: Optional[EgressInfo] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def expired(self) -> bool:
        """Ended by its ttl or idle timeout."""
        return self.end_reason in ("ttl", "idle")

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "SandboxInfo":
        return cls(
            id=o["id"],
            image=o.get("image", ""),
            status=o.get("status", ""),
            backend=o.get("backend", ""),
            setup_commands=list(o.get("setup_commands") or []),
            limits=Limits.from_json(o.get("limits") or {}),
            network=bool(o.get("network", False)),
            isolation=o.get("isolation", "default"),
            labels=dict(o.get("labels") or {}),
            created_at=parse_time(o.get("created_at")),
            started_at=parse_time(o.get("started_at")),
            stopped_at=parse_time(o.get("stopped_at")),
            paused_at=parse_time(o.get("paused_at")),
            command_count=o.get("command_count", 0),
            last_exit_code=_int(o.get("last_exit_code")),
            session_exit_code=_int(o.get("session_exit_code")),
            error=o.get("error"),
            ttl_seconds=_number(o.get("ttl_seconds")),
            idle_timeout_seconds=_number(o.get("idle_timeout_seconds")),
            expiry_action=o.get("expiry_action") or "stop",
            expires_at=parse_time(o.get("expires_at")),
            end_reason=o.get("end_reason"),
            ended_at=parse_time(o.get("ended_at")),
            pool=o.get("pool") if isinstance(o.get("pool"), str) else None,
            egress=EgressInfo.from_json(o["egress"]) if isinstance(o.get("egress"), dict)
            else None,
            raw=o,
        )


@dataclass
class ExecResult:
    """The result of an exec. ``stdout``/``stderr`` are set for standalone execs only."""

    output: str
    exit_code: int
    exited: bool = False
    timed_out: bool = False
    truncated: bool = False
    duration_ms: float = 0.0
    stdout: Optional[str] = None
    stderr: Optional[str] = None
    session_restarted: bool = False
    interrupted: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """The command ran to its end and exited 0."""
        return self.exit_code == 0 and not self.timed_out

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "ExecResult":
        return cls(
            output=o.get("output", ""),
            exit_code=o.get("exit_code", -1),
            exited=bool(o.get("exited", False)),
            timed_out=bool(o.get("timed_out", False)),
            truncated=bool(o.get("truncated", False)),
            duration_ms=o.get("duration_ms", 0.0),
            stdout=o.get("stdout"),
            stderr=o.get("stderr"),
            session_restarted=bool(o.get("session_restarted", False)),
            interrupted=bool(o.get("interrupted", False)),
            raw=o,
        )


@dataclass
class OutputEvent:
    """Output of a streamed exec as it is printed: ``stream`` is ``output`` (a session exec,
    stdout and stderr merged), ``stdout`` or ``stderr`` (a standalone exec)."""

    stream: str
    data: str
    type: str = field(default="output", init=False)


@dataclass
class ResultEvent:
    """The last event of a streamed exec: the command's result."""

    result: ExecResult
    type: str = field(default="result", init=False)


ExecEvent = Union[OutputEvent, ResultEvent]


@dataclass
class ProcessInfo:
    """A background process. ``pid`` is Grid's handle (1, 2, ... per sandbox);
    ``sandbox_pid`` its pid inside the sandbox."""

    pid: int
    command: str
    status: str
    sandbox_pid: Optional[int] = None
    exit_code: Optional[int] = None
    started_at: Optional[_dt.datetime] = None
    ended_at: Optional[_dt.datetime] = None
    output_bytes: int = 0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "ProcessInfo":
        return cls(
            pid=o["pid"],
            command=o.get("command", ""),
            status=o.get("status", ""),
            sandbox_pid=_int(o.get("sandbox_pid")),
            exit_code=_int(o.get("exit_code")),
            started_at=parse_time(o.get("started_at")),
            ended_at=parse_time(o.get("ended_at")),
            output_bytes=o.get("output_bytes", 0),
            raw=o,
        )


@dataclass
class ProcessOutput:
    """A read of a process's output: ``data`` from ``offset`` to ``next_offset`` (resume there);
    ``dropped`` bytes of the middle were skipped; ``eof`` when the output has ended."""

    data: str
    offset: int
    next_offset: int
    dropped: int = 0
    eof: bool = False
    status: str = ""
    exit_code: Optional[int] = None

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "ProcessOutput":
        return cls(data=o.get("data", ""), offset=o.get("offset", 0),
                   next_offset=o.get("next_offset", 0), dropped=o.get("dropped", 0),
                   eof=bool(o.get("eof", False)), status=o.get("status", ""),
                   exit_code=_int(o.get("exit_code")))


@dataclass
class ProcessOutputEvent:
    """A chunk of a followed process's output, starting at byte ``offset``."""

    data: str
    offset: int
    dropped: int = 0
    type: str = field(default="output", init=False)


@dataclass
class ProcessExitEvent:
    """The last event of a follow: the process ended and its output was read."""

    status: str
    exit_code: Optional[int] = None
    type: str = field(default="exit", init=False)


ProcessEvent = Union[ProcessOutputEvent, ProcessExitEvent]


@dataclass
class FileEntry:
    """An entry of a directory listing. ``mode`` is an octal string (``"0644"``)."""

    name: str
    type: str
    size: int
    mode: str
    mtime: int
    link_target: Optional[str] = None
    name_base64: Optional[str] = None

    @property
    def name_bytes(self) -> bytes:
        """The exact name, also when it is not valid UTF-8 (``name`` then shows U+FFFD)."""
        if self.name_base64 is not None:
            return base64.b64decode(self.name_base64)
        return self.name.encode("utf-8")

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "FileEntry":
        return cls(name=o.get("name", ""), type=o.get("type", "other"), size=o.get("size", 0),
                   mode=o.get("mode", ""), mtime=o.get("mtime", 0),
                   link_target=o.get("link_target"), name_base64=o.get("name_base64"))


@dataclass
class DirectoryListing:
    """A directory's entries, sorted by name; ``truncated`` past the server's entry limit."""

    path: str
    entries: List[FileEntry]
    truncated: bool = False

    def names(self) -> List[str]:
        return [e.name for e in self.entries]

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "DirectoryListing":
        return cls(path=o.get("path", ""),
                   entries=[FileEntry.from_json(e) for e in o.get("entries") or []],
                   truncated=bool(o.get("truncated", False)))


@dataclass
class WriteResult:
    """The answer to an upload: the path, the bytes received, the mode (files only)."""

    path: str
    bytes: int
    mode: Optional[str] = None

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "WriteResult":
        return cls(path=o.get("path", ""), bytes=o.get("bytes", 0), mode=o.get("mode"))


@dataclass
class TrajectoryEntry:
    """One operation of a sandbox's trajectory (an exec, a file transfer, a process start)."""

    index: int
    kind: str
    command: str
    standalone: bool
    timestamp: float
    at: Optional[_dt.datetime]
    output: str
    exit_code: int
    result: ExecResult
    output_dropped: bool = False

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "TrajectoryEntry":
        return cls(index=o.get("index", 0), kind=o.get("kind", "exec"),
                   command=o.get("command", ""), standalone=bool(o.get("standalone", False)),
                   timestamp=o.get("timestamp", 0.0), at=parse_time(o.get("at")),
                   output=o.get("output", ""), exit_code=o.get("exit_code", 0),
                   result=ExecResult.from_json(o.get("result") or {}),
                   output_dropped=bool(o.get("output_dropped", False)))


@dataclass
class Trajectory:
    """Everything a sandbox did, in order."""

    sandbox_id: str
    command_count: int
    entries: List[TrajectoryEntry]

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "Trajectory":
        return cls(sandbox_id=o.get("sandbox_id", ""), command_count=o.get("command_count", 0),
                   entries=[TrajectoryEntry.from_json(e) for e in o.get("trajectory") or []])


@dataclass
class Health:
    """``GET /healthz``: running sandboxes, the limit, starts waiting for a slot."""

    status: str
    running: int
    max_running: int
    waiting: int
    backend: str
    sandboxes: int = 0
    max_sandboxes: int = 0

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "Health":
        return cls(status=o.get("status", ""), running=o.get("running", 0),
                   max_running=o.get("max_running", 0), waiting=o.get("waiting", 0),
                   backend=o.get("backend", ""), sandboxes=o.get("sandboxes", 0),
                   max_sandboxes=o.get("max_sandboxes", 0))


@dataclass
class SandboxStats:
    """``GET /sandboxes/{id}/stats``: a running sandbox's use now; None where the backend
    cannot tell."""

    id: str
    status: str
    cpu_seconds: Optional[float] = None
    memory_bytes: Optional[int] = None
    memory_limit_bytes: Optional[int] = None

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "SandboxStats":
        return cls(id=o.get("id", ""), status=o.get("status", ""),
                   cpu_seconds=_number(o.get("cpu_seconds")),
                   memory_bytes=_int(o.get("memory_bytes")),
                   memory_limit_bytes=_int(o.get("memory_limit_bytes")))


@dataclass
class SnapshotInfo:
    """``POST /sandboxes/{id}/snapshot``: the image made of sandbox ``id``, usable in
    ``create(image=...)``."""

    id: str
    image: str

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "SnapshotInfo":
        return cls(id=o.get("id", ""), image=o.get("image", ""))
