"""The OpenAPI document (core/src/api/openapi.json) against a real `grid serve`: ctest's
``api.openapi.<backend>``. It cannot drift from the code:

- every documented path and method is answered by a route (never the generic "no route" 404
  or a 405), with the documented auth (401 without the token unless the operation is public);
- every route the server answers is documented: paths built from the documented ones and from
  every route segment the dispatch code compares against (core/src/api/*.cc), probed with
  every method, are answered only where the document says so;
- the answers of a real sandbox's main routes (JSON, NDJSON lines, errors) validate against
  the documented schemas, with their documented statuses and content types, and every
  documented response schema is seen at least once (or listed below as rare, with why).

The schema check is a small JSON Schema subset (the keywords the document uses; an unknown
keyword fails the test, so the subset grows with the document)."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import re
import socket
import time
import urllib.parse
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import httpx
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCUMENT_PATH = REPO / "core" / "src" / "api" / "openapi.json"
DOCUMENT = json.loads(DOCUMENT_PATH.read_text())
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
MISSING_ID = "openapi-probe-missing"

# Response schemas a normal run of a healthy server does not produce, and why.
RARE_SCHEMAS = {
    "SetupFailedError": "needs a failing setup command (tests/conformance covers it)",
    "StreamErrorEvent": "needs a stream that fails after it started",
    "TerminalEvent": "WebSocket frames, not an HTTP answer (tests/apps/terminal_cli_test.sh)",
    "TerminalControl": "a request message",
    "SnapshotResult": "makes an image the run would leave behind (tests/conformance covers it)",
}

# The port proxy's paths: everything under them that Grid does not answer itself is the
# sandbox's server's answer (the `default` response), not a route of Grid's.
PROXY_PREFIX = "/sandboxes/{id}/ports/{port}"
PROXY_PORT = 8000


# ---------------------------------------------------------------------------------------------
# A JSON Schema subset


class SchemaError(AssertionError):
    pass


KNOWN_KEYWORDS = {
    "$ref", "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "oneOf", "anyOf", "minimum", "maximum", "exclusiveMinimum", "minLength", "pattern", "format",
    "description", "default", "deprecated", "contentMediaType",
}
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


def resolve(schema: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = DOCUMENT
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def type_ok(value: Any, kind: str) -> bool:
    return {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "null": lambda v: v is None,
    }[kind](value)


def validate(value: Any, schema: Dict[str, Any], where: str = "$",
             seen: Optional[Set[str]] = None) -> None:
    """Raises SchemaError saying where ``value`` breaks ``schema``; records the component
    schemas it went through in ``seen``."""
    if "$ref" in schema:
        if seen is not None:
            seen.add(schema["$ref"].rsplit("/", 1)[-1])
        validate(value, resolve(schema), where, seen)
        return
    unknown = set(schema) - KNOWN_KEYWORDS
    if unknown:
        raise SchemaError(f"{where}: the checker does not know {sorted(unknown)}")
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, k) for k in kinds):
            raise SchemaError(f"{where}: {value!r:.80} is not {kinds}")
    if "const" in schema and value != schema["const"]:
        raise SchemaError(f"{where}: {value!r:.80} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{where}: {value!r:.80} is not one of {schema['enum']}")
    for name, kind in (("oneOf", 1), ("anyOf", 0)):
        if name in schema:
            matched, errors = [], []
            for i, option in enumerate(schema[name]):
                trial: Set[str] = set()
                try:
                    validate(value, option, f"{where}<{name}[{i}]>", trial)
                    matched.append(trial)
                except SchemaError as error:
                    errors.append(str(error))
            if not matched or (kind == 1 and len(matched) > 1):
                raise SchemaError(f"{where}: {len(matched)} of {name} match: {errors}")
            if seen is not None:
                seen.update(matched[0])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{where}: {value} > {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise SchemaError(f"{where}: {value} <= {schema['exclusiveMinimum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise SchemaError(f"{where}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError(f"{where}: {value!r:.80} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not DATE_TIME.match(value):
            raise SchemaError(f"{where}: {value!r:.80} is not a date-time")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaError(f"{where}: required '{name}' is missing")
        for name, item in value.items():
            if name in properties:
                validate(item, properties[name], f"{where}.{name}", seen)
            elif schema.get("additionalProperties") is False:
                raise SchemaError(f"{where}: '{name}' is not documented")
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(item, schema["additionalProperties"], f"{where}.{name}", seen)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{i}]", seen)


def test_the_checker_rejects_what_it_should() -> None:
    sandbox = {"$ref": "#/components/schemas/Sandbox"}
    with pytest.raises(SchemaError, match="required 'id'"):
        validate({}, sandbox)
    with pytest.raises(SchemaError, match="not documented"):
        validate({"error": "x", "code": "conflict", "extra": 1},
                 {"$ref": "#/components/schemas/Error"})
    with pytest.raises(SchemaError, match="not one of"):
        validate({"error": "x", "code": "no_such_code"}, {"$ref": "#/components/schemas/Error"})
    with pytest.raises(SchemaError, match="of oneOf match"):
        validate({"type": "output"}, {"$ref": "#/components/schemas/ExecEvent"})
    with pytest.raises(SchemaError, match="date-time"):
        validate("yesterday", {"type": "string", "format": "date-time"})
    with pytest.raises(SchemaError, match="does not know"):
        validate(1, {"multipleOf": 2})


# ---------------------------------------------------------------------------------------------
# The document itself


def operations() -> Iterable[Tuple[str, str, Dict[str, Any]]]:
    for template, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield template, method.upper(), operation


def is_public(operation: Dict[str, Any]) -> bool:
    return operation.get("security", DOCUMENT["security"]) == []


def walk_refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from walk_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_refs(value)


def test_document_is_well_formed() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    for ref in walk_refs(DOCUMENT):
        resolve({"$ref": ref})  # raises KeyError for a dangling reference
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids)), "operationIds are unique"
    for template, method, operation in operations():
        declared = {resolve(p)["name"] for p in DOCUMENT["paths"][template].get("parameters", [])
                    + operation.get("parameters", []) if resolve(p)["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", template)), f"{method} {template}"
        assert operation["responses"], f"{method} {template} documents no response"
        if not is_public(operation):
            assert "401" in operation["responses"], f"{method} {template} needs the token"
    for schema in DOCUMENT["components"]["schemas"].values():
        check_keywords(schema)


def check_keywords(schema: Any) -> None:
    """Every keyword of a schema is one the checker knows."""
    if not isinstance(schema, dict):
        return
    unknown = set(schema) - KNOWN_KEYWORDS
    assert not unknown, f"the checker does not know {unknown}"
    for key, value in schema.items():
        if key == "properties":
            for item in value.values():
                check_keywords(item)
        elif key in ("items", "additionalProperties"):
            check_keywords(value)
        elif key in ("oneOf", "anyOf"):
            for item in value:
                check_keywords(item)


# ---------------------------------------------------------------------------------------------
# Talking to the server


class Api:
    """Sends requests and checks each answer against the document: its status is documented
    for the operation, and its body (JSON, or each NDJSON line) validates."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        self.token = token
        self.seen: Set[str] = set()
        self.checked: List[str] = []

    def send(self, method: str, path: str, *, token: bool = True, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.http.request(method, path, headers=headers, **kwargs)

    def call(self, method: str, path: str, *, expect: Optional[int] = None,
             relayed: bool = False, **kwargs: Any) -> httpx.Response:
        response = self.send(method, path, **kwargs)
        self.check(method, path, response, relayed=relayed)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.text[:500]}"
        return response

    def check(self, method: str, path: str, response: httpx.Response,
              relayed: bool = False) -> None:
        """``relayed``: the answer is the sandbox's server's (through the port proxy), so its
        status, content type and body are that server's, documented only as `default`."""
        template = template_of(urllib.parse.urlsplit(path).path)
        assert template, f"{path} matches no documented path"
        operation = DOCUMENT["paths"][template].get(method.lower())
        if relayed:
            assert template.startswith(PROXY_PREFIX), f"{path} is not proxied"
            assert operation and "default" in operation["responses"], f"{method} {template}"
            self.checked.append(f"{method} {template} relayed {response.status_code}")
            return
        if operation is None and response.status_code == 405:  # a method no route takes
            assert response.headers.get("allow"), f"{method} {path}: 405 without Allow"
            validate(response.json(), {"$ref": "#/components/schemas/Error"}, path, self.seen)
            return
        assert operation, f"{method} {template} is not documented"
        status = str(response.status_code)
        documented = operation["responses"].get(status) or operation["responses"].get(
            status[0] + "XX")
        where = f"{method} {path} -> {status}"
        assert documented is not None, f"{where}: status not documented ({response.text[:300]})"
        documented = resolve(documented)
        content = documented.get("content")
        if method == "HEAD" or response.status_code in (101, 204):
            return
        media = response.headers.get("content-type", "")
        assert content, f"{where}: a body the document does not describe"
        assert media in content or media.split(";")[0] in content, (
            f"{where}: content type {media!r} not in {list(content)}")
        schema = (content.get(media) or content[media.split(";")[0]])["schema"]
        if media.startswith("application/x-ndjson"):
            lines = [line for line in response.text.split("\n") if line]
            assert lines, f"{where}: an empty stream"
            for i, line in enumerate(lines):
                validate(json.loads(line), schema, f"{where} line {i}", self.seen)
        elif media.startswith("application/json"):
            validate(response.json(), schema, where, self.seen)
        self.checked.append(f"{method} {template} {status}")


def template_of(path: str) -> Optional[str]:
    """The documented path template a concrete path matches (a variable matches one segment;
    the port proxy's trailing {path} matches one or more, as the proxy forwards any sub-path)."""
    parts = [p for p in path.split("/") if p]
    for template in DOCUMENT["paths"]:
        pattern = [p for p in template.split("/") if p]
        tail = pattern[-1] == "{path}" and template.startswith(PROXY_PREFIX)
        if (len(pattern) == len(parts) or (tail and len(parts) > len(pattern))) and all(
                t.startswith("{") or t == p for t, p in zip(pattern, parts)):
            return template
    return None


def route_miss(api: "Api", response: httpx.Response) -> bool:
    """The generic answers of a path or method no route takes. A 404 to HEAD has no body: the
    same path's GET tells."""
    if response.status_code == 405:
        return True
    if response.status_code != 404:
        return False
    if response.request.method == "HEAD":
        return route_miss(api, api.send("GET", response.request.url.raw_path.decode()))
    message = response.json().get("error", "")
    return message.startswith("no route for ") or message == "no such dashboard file"


def concrete(template: str) -> str:
    return (template.replace("{id}", MISSING_ID).replace("{pid}", "1")
            .replace("{file}", "index.html").replace("{port}", str(PROXY_PORT))
            .replace("{path}", "probe/index.html"))


@pytest.fixture(scope="module")
def api(server) -> Api:
    client = Api(server.url, server.token)
    yield client
    client.http.close()


# ---------------------------------------------------------------------------------------------
# Routes


def test_served_document_is_the_one_in_the_tree(api: Api) -> None:
    response = api.send("GET", "/openapi.json", token=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == DOCUMENT
    assert api.send("HEAD", "/openapi.json", token=False).status_code == 200


def test_every_documented_operation_is_answered(api: Api) -> None:
    for template, method, operation in operations():
        path = concrete(template)
        # A sandbox that does not exist and a body no route accepts: nothing is changed.
        body = b"{" if method in ("POST", "PUT") else None
        response = api.send(method, path, content=body)
        assert not route_miss(api, response), f"{method} {template}: {response.text[:300]}"
        anonymous = api.send(method, path, token=False)
        if is_public(operation):
            assert anonymous.status_code != 401, f"{method} {template} is documented public"
        else:
            assert anonymous.status_code == 401, f"{method} {template} must need the token"
            api.check(method, path, anonymous)


def route_segments() -> Set[str]:
    """Every lower-case literal the dispatch code compares a request's path against, and every
    literal segment of the document."""
    words: Set[str] = set()
    for source in (REPO / "core" / "src" / "api").glob("*.cc"):
        text = source.read_text()
        words.update(re.findall(r'(?:==|!=)\s*"([a-z][a-z0-9_.\-]*)"', text))
        words.update(re.findall(r'(?:parts|rest)\[\d\]\s*==\s*"([^"]+)"', text))
    for template in DOCUMENT["paths"]:
        words.update(p for p in template.split("/") if p and not p.startswith("{"))
    return words


def test_every_answered_route_is_documented(api: Api) -> None:
    words = sorted(route_segments())
    assert {"sandboxes", "exec", "files", "processes", "fork"} <= set(words)
    prefixes = {""}
    for template in DOCUMENT["paths"]:
        parts = template.split("/")
        prefixes.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    candidates = set(DOCUMENT["paths"])
    for prefix in prefixes:
        candidates.update(f"{prefix}/{word}" for word in words)
    undocumented = []
    for candidate in sorted(candidates):
        template = template_of(candidate)
        documented = set(m.upper() for m in DOCUMENT["paths"][template]) if template else set()
        for method in METHODS:
            if method in documented:
                continue
            # No body: a route that is not documented would at most act on a sandbox that
            # does not exist.
            response = api.send(method, concrete(candidate))
            if not route_miss(api, response):
                undocumented.append(f"{method} {candidate} -> {response.status_code} "
                                    f"{response.text[:120]}")
            elif response.status_code == 405:
                assert response.headers.get("allow"), f"{method} {candidate}: 405 without Allow"
                if method != "HEAD":
                    validate(response.json(), {"$ref": "#/components/schemas/Error"})
    assert not undocumented, "answered but not in core/src/api/openapi.json:\n" + "\n".join(
        undocumented)


# ---------------------------------------------------------------------------------------------
# Answers against their schemas


def websocket_status(url: str, path: str, token: str) -> str:
    """The status line of a WebSocket handshake on ``path``."""
    parsed = urllib.parse.urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n")
    with socket.create_connection((parsed.hostname, parsed.port), timeout=60) as s:
        s.sendall(request.encode())
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.split(b"\r\n", 1)[0].decode()


def raw_status(url: str, request: bytes) -> str:
    """The status line the server answers to a raw HTTP request (one httpx cannot send)."""
    parsed = urllib.parse.urlsplit(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=60) as s:
        s.sendall(request)
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.split(b"\r\n", 1)[0].decode()


def check_port_proxy(api: Api, base: str) -> None:
    """The port proxy and share tokens on a running sandbox: the sandbox's server's answers are
    relayed (not checked against Grid's schemas), Grid's own answers validate."""
    ports = f"{base}/ports/{PROXY_PORT}"
    api.call("GET", ports + "/", expect=502)  # nothing listens yet
    assert api.send("GET", ports + "/").json()["code"] == "port_unreachable"
    api.call("POST", f"{base}/exec", expect=200, json={
        "command": "mkdir -p /tmp/www/sub && echo proxied > /tmp/www/sub/page.txt"})
    api.call("POST", f"{base}/processes", expect=201, json={
        "command": f"exec python3 -m http.server {PROXY_PORT} --bind 127.0.0.1",
        "cwd": "/tmp/www"})
    # The server is up once the proxy stops answering port_unreachable (a bounded wait).
    deadline = time.monotonic() + 60
    while True:
        response = api.send("GET", ports + "/sub/page.txt")
        if response.status_code != 502 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert response.status_code == 200, response.text[:300]
    assert response.text == "proxied\n"
    api.check("GET", ports + "/sub/page.txt", response, relayed=True)
    api.call("HEAD", ports + "/sub/page.txt", expect=200, relayed=True)
    api.call("GET", ports + "/no-such-file", expect=404, relayed=True)  # http.server's 404
    api.call("POST", ports + "/", expect=501, relayed=True)  # http.server has no POST
    api.call("GET", ports, expect=200, relayed=True)  # /ports/8000 alone is /
    api.call("GET", ports + "/", token=False, expect=401)
    api.call("GET", f"{base}/ports/0/", expect=400)
    api.call("GET", f"{base}/ports/65536/", expect=400)
    api.call("GET", f"{base}/ports/{PROXY_PORT + 1}/", expect=502)
    api.call("GET", f"/sandboxes/{MISSING_ID}/ports/{PROXY_PORT}/", expect=404)
    smuggled = raw_status(str(api.http.base_url), (
        f"POST {ports}/ HTTP/1.1\r\nHost: grid\r\nAuthorization: Bearer {api.token}\r\n"
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").encode())
    assert " 400 " in smuggled + " ", smuggled

    # A share token round trip: the link opens the port without the server's token, the
    # cookie its first answer sets does too, and nothing else; revoked, it opens nothing.
    api.call("POST", f"{base}/shares/0", expect=400)
    api.call("POST", f"{base}/shares/{PROXY_PORT}", token=False, expect=401)
    api.call("PUT", f"{base}/shares/{PROXY_PORT}", expect=405)
    share = api.call("POST", f"{base}/shares/{PROXY_PORT}", expect=200).json()
    assert share["path"] == f"{ports}/?grid_share={share['token']}", share
    again = api.call("POST", f"{base}/shares/{PROXY_PORT}", expect=200).json()
    assert again["token"] == share["token"]
    anonymous = httpx.Client(base_url=api.http.base_url, timeout=60)
    try:
        linked = anonymous.get(share["path"])
        api.check("GET", share["path"], linked, relayed=True)
        assert linked.status_code == 200, linked.text[:300]
        assert linked.headers.get("set-cookie", "").startswith(
            f"grid_share={share['token']}; Path={ports}"), linked.headers
        by_cookie = anonymous.get(ports + "/sub/page.txt",
                                  headers={"Cookie": f"grid_share={share['token']}"})
        assert by_cookie.status_code == 200 and by_cookie.text == "proxied\n"
        api.check("GET", ports + "/sub/page.txt", by_cookie, relayed=True)
        other_port = anonymous.get(f"{base}/ports/{PROXY_PORT + 1}/?grid_share={share['token']}")
        assert other_port.status_code == 401
        api.check("GET", f"{base}/ports/{PROXY_PORT + 1}/", other_port)
        not_api = anonymous.get(f"{base}?grid_share={share['token']}")
        assert not_api.status_code == 401
        revoked = api.call("DELETE", f"{base}/shares/{PROXY_PORT}", expect=200).json()
        assert revoked == {"sandbox_id": share["sandbox_id"], "port": PROXY_PORT,
                           "revoked": True}
        after = anonymous.get(share["path"])
        assert after.status_code == 401
        api.check("GET", share["path"], after)
    finally:
        anonymous.close()
    api.call("DELETE", f"{base}/shares/{PROXY_PORT}", expect=200)


def check_pools_and_egress(api: Api, server) -> None:
    """GET /pools on a server without pools, and a sandbox with an egress policy: created,
    started, its policy replaced by PATCH, bad PATCH bodies refused."""
    pools = api.call("GET", "/pools", expect=200).json()
    assert pools["pools"] == [], "the test config configures no pool"
    api.call("HEAD", "/pools", expect=200)
    api.call("GET", "/pools", token=False, expect=401)
    api.call("POST", "/pools", expect=405)
    api.call("PATCH", f"/sandboxes/{MISSING_ID}/network", json={"egress": {}}, expect=404)

    created = api.call("POST", "/sandboxes", expect=201, json={
        "image": server.image, "labels": {"test": "openapi-egress"},
        "network": {"egress": {"deny": ["10.0.0.0/8"]}}}).json()
    base = f"/sandboxes/{created['id']}"
    try:
        assert created["network"] is True and created["pool"] is None
        assert created["egress"]["own"] == {"allow": [], "deny": ["10.0.0.0/8"]}
        assert "10.0.0.0/8" in created["egress"]["deny"]
        api.call("POST", f"{base}/start", expect=200)
        described = api.call("GET", base, expect=200).json()
        assert described["egress"]["enforced"] is True, described["egress"]
        patched = api.call("PATCH", f"{base}/network", expect=200, json={
            "egress": {"allow": ["1.1.1.1:443"], "deny": ["10.0.0.0/8", "192.168.0.0/16"]}}).json()
        assert patched["egress"]["own"] == {"allow": ["1.1.1.1/32:443"],
                                            "deny": ["10.0.0.0/8", "192.168.0.0/16"]}
        assert patched["egress"]["enforced"] is True
        for bad in ({}, {"egress": None}, {"egress": 1}, {"egress": {"nope": []}},
                    {"egress": {"deny": ["10.1.2.3/8"]}}, {"egress": {"allow": "1.1.1.1"}},
                    {"egress": {"deny": ["example.com:443"]}}, {"egress": {}, "more": 1}):
            refused = api.call("PATCH", f"{base}/network", json=bad, expect=400).json()
            assert refused["code"] == "invalid_argument", (bad, refused)
        api.call("PATCH", f"{base}/network", content=b"{not json", expect=400)
        api.call("GET", f"{base}/network", expect=405)
    finally:
        api.call("DELETE", base, expect=200)


def test_answers_match_their_schemas(api: Api, server) -> None:
    api.call("GET", "/healthz", token=False, expect=200)
    api.call("HEAD", "/healthz", token=False, expect=200)
    api.call("GET", "/metrics", expect=200)
    api.call("GET", "/ui", token=False, expect=200)
    api.call("GET", "/ui/app.js", token=False, expect=200)
    api.call("GET", "/sandboxes", token=False, expect=401)
    api.call("GET", "/sandboxes", expect=200)
    api.call("POST", "/sandboxes", json={"limits": {"gpus": 1}}, expect=400)
    api.call("GET", f"/sandboxes/{MISSING_ID}", expect=404)
    api.call("PATCH", "/sandboxes", expect=405)

    created = api.call("POST", "/sandboxes", expect=201, json={
        "image": server.image, "labels": {"test": "openapi"}, "setup_commands": ["echo setup"],
        "limits": {"memory_mb": 256, "pids": 256}, "ttl_seconds": 900,
        "idle_timeout_seconds": 600, "expiry_action": "stop"}).json()
    sid = created["id"]
    base = f"/sandboxes/{sid}"
    children: List[str] = []
    try:
        api.call("POST", f"{base}/exec", json={"command": "true"}, expect=409)
        started = api.call("POST", f"{base}/start", expect=200).json()
        assert started["status"] == "running" and started["expires_at"] is not None
        api.call("GET", base, expect=200)
        api.call("GET", "/sandboxes", expect=200)
        api.call("POST", f"{base}/exec", json={"command": "cd /tmp && echo hi"}, expect=200)
        api.call("POST", f"{base}/exec", json={"command": "echo out; echo err >&2; exit 3",
                                               "standalone": True}, expect=200)
        api.call("POST", f"{base}/exec", json={"command": "sleep 5", "timeout": 0.5},
                 expect=200)
        api.call("POST", f"{base}/exec", json={}, expect=400)
        api.call("POST", f"{base}/exec", json={"command": "echo a; echo b", "stream": True},
                 expect=200)
        api.call("POST", f"{base}/exec", json={"command": "echo x; echo y >&2",
                                               "standalone": True},
                 headers={"Accept": "application/x-ndjson"}, expect=200)

        files = f"{base}/files"
        api.call("PUT", files, params={"path": "/tmp/d/a.txt", "mode": "0600"}, content=b"abc",
                 expect=201)
        api.call("GET", files, params={"path": "/tmp/d/a.txt"}, expect=200)
        api.call("HEAD", files, params={"path": "/tmp/d/a.txt"}, expect=200)
        api.call("GET", files, params={"path": "/tmp/d", "archive": ""}, expect=200)
        api.call("GET", files, params={"path": "/tmp/d", "list": ""}, expect=200)
        api.call("GET", files, params={"path": "/tmp/d"}, expect=409)
        api.call("GET", files, params={"path": "/tmp/nothing-here"}, expect=404)
        api.call("GET", files, expect=400)
        api.call("POST", f"{files}/mkdir", json={"path": "/tmp/e/f", "mode": "0700"},
                 expect=201)
        api.call("DELETE", files, params={"path": "/tmp/d"}, expect=200)

        processes = f"{base}/processes"
        short = api.call("POST", processes, json={"command": "echo one; echo two"},
                         expect=201).json()
        long = api.call("POST", processes, json={"command": "sleep 300", "cwd": "/tmp",
                                                 "env": {"A": "1"}}, expect=201).json()
        api.call("GET", processes, expect=200)
        api.call("GET", f"{processes}/{long['pid']}", expect=200)
        api.call("GET", f"{processes}/{short['pid']}/output", params={"stream": ""},
                 expect=200)
        api.call("GET", f"{processes}/{short['pid']}/output", params={"offset": "0"},
                 expect=200)
        api.call("GET", f"{processes}/{short['pid']}/output", params={"offset": "x"},
                 expect=400)
        api.call("POST", f"{processes}/{long['pid']}/signal", json={"signal": "nope"},
                 expect=400)
        api.call("POST", f"{processes}/{long['pid']}/signal", json={"signal": "TERM"},
                 expect=200)
        api.call("DELETE", f"{processes}/{long['pid']}", expect=200)
        api.call("GET", f"{processes}/999", expect=404)

        api.call("GET", f"{base}/stats", expect=200)
        api.call("GET", f"{base}/pty", expect=426)
        assert " 101 " in websocket_status(server.url, f"{base}/pty?cols=100&rows=30",
                                           server.token) + " "

        check_port_proxy(api, base)
        # A sandbox without network has no egress rules to change.
        refused = api.call("PATCH", f"{base}/network", json={"egress": {"deny": ["10.0.0.0/8"]}},
                           expect=400).json()
        assert refused["code"] == "invalid_argument", refused

        paused = api.call("POST", f"{base}/pause")
        if paused.status_code == 200:
            assert paused.json()["status"] == "paused"
            api.call("POST", f"{base}/exec", json={"command": "true"}, expect=409)
            api.call("POST", f"{base}/resume", expect=200)
        else:
            assert paused.json()["code"] == "unsupported", paused.text

        api.call("POST", f"{base}/fork", json={"count": 0}, expect=400)
        forked = api.call("POST", f"{base}/fork", json={"count": 1})
        if forked.status_code == 201:
            children = [c["id"] for c in forked.json()["sandboxes"]]
        else:
            assert forked.json()["code"] == "unsupported", forked.text
        api.call("POST", f"{base}/snapshot", json={"image": "Not A Name"}, expect=400)
        reset = api.call("POST", f"{base}/reset")
        assert reset.status_code == 200 or reset.json()["code"] == "unsupported", reset.text

        api.call("GET", f"{base}/trajectory", expect=200)
        api.call("GET", f"{base}/trajectory/formatted", expect=200)
        stopped = api.call("POST", f"{base}/stop", json={"remove": False}, expect=200).json()
        assert stopped["removed"] is False and stopped["end_reason"] == "stopped"
        api.call("GET", f"{base}/stats", expect=409)
        api.call("GET", f"{base}/ports/{PROXY_PORT}/", expect=409)
        api.call("POST", f"{base}/shares/{PROXY_PORT}", expect=409)
        revoked = api.call("DELETE", f"{base}/shares/{PROXY_PORT}", expect=200).json()
        assert revoked["revoked"] is False, "a stop revokes the share tokens"
    finally:
        for child in children:
            api.call("DELETE", f"/sandboxes/{child}", expect=200)
        api.call("DELETE", base, expect=200)
    api.call("DELETE", base, expect=404)
    check_pools_and_egress(api, server)

    documented = set()
    for _, _, operation in operations():
        for response in operation["responses"].values():
            for media in resolve(response).get("content", {}).values():
                documented.update(r.rsplit("/", 1)[-1] for r in walk_refs(media["schema"]))
    never = documented - api.seen - set(RARE_SCHEMAS)
    assert not never, f"documented response schemas no answer was checked against: {never}"
