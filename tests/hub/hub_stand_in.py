"""A stand-in for the few Hugging Face Hub endpoints that huggingface_hub's HfApi calls to publish, on 127.0.0.1.

The Hub is not reachable from the machines these tests run on, so the real client is pointed here (HF_ENDPOINT in a
subprocess, `huggingface_hub.constants.ENDPOINT` in process). It keeps repos, branches, files and commits in memory,
checks the bearer token on every request but the public ones, and records every request; one it does not implement
is answered 404 and listed in `unknown` (with a token or without), so a test sees when the client starts calling
something new.

Every file is answered `uploadMode: regular` at preupload, as the Hub does for small text files, so contents travel
base64 in the commit's NDJSON: the Xet/LFS transfer of large files is huggingface_hub's own machinery, not odin's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml

REPO = r"(?P<type>models|datasets)/(?P<repo>[^/]+/[^/]+)"
# Answered without a token, as the Hub does: the registry of AI agent harnesses that huggingface_hub fetches (at most
# once a day, cached in HF_HOME) to describe its caller in the User-Agent.
PUBLIC = {"agent_harnesses"}
ROUTES = [
    ("GET", r"/api/agent-harnesses", "agent_harnesses"),
    ("GET", r"/api/whoami-v2", "whoami"),
    ("POST", r"/api/repos/create", "create_repo"),
    ("POST", r"/api/validate-yaml", "validate_yaml"),
    ("GET", rf"/api/{REPO}(?:/revision/(?P<rev>[^/]+))?", "repo_info"),
    ("POST", rf"/api/{REPO}/branch/(?P<branch>[^/]+)", "create_branch"),
    ("POST", rf"/api/{REPO}/preupload/(?P<rev>[^/]+)", "preupload"),
    ("POST", rf"/api/{REPO}/commit/(?P<rev>[^/]+)", "commit"),
]


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    oid: str
    branch: str
    summary: str
    description: str
    paths: list[str]


@dataclass
class Repo:
    private: bool
    branches: dict[str, dict[str, bytes]] = field(default_factory=lambda: {"main": {".gitattributes": b"*.bin lfs\n"}})
    heads: dict[str, str] = field(default_factory=lambda: {"main": uuid.uuid4().hex + "00000000"})
    commits: list[Commit] = field(default_factory=list)


class HubStandIn:
    def __init__(self, token: str, user: str = "jdoe", orgs: tuple[str, ...] = ("odin-lab",), role: str = "write"):
        self.token, self.user, self.orgs, self.role = token, user, orgs, role
        self.repos: dict[tuple[str, str], Repo] = {}  # (models|datasets, repo_id) -> Repo
        self.requests: list[tuple[str, str]] = []  # every request, in order
        self.unknown: list[tuple[str, str]] = []  # requests of a route not implemented here, with a token or not
        self.drop_next_commits = 0  # close the connection instead of answering: an upload cut off mid-way
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "HubStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type + "s", repo_id)]

    def files(self, repo_id: str, repo_type: str = "model", branch: str = "main") -> dict[str, bytes]:
        return dict(self.repo(repo_id, repo_type).branches[branch])

    def api_requests(self) -> list[tuple[str, str]]:
        """The requests that act for the user (everything but the public registry fetch)."""
        public = {path for m, path, name in ROUTES if name in PUBLIC}
        return [(m, path) for m, path in self.requests if path not in public]

    # --- the endpoints ---------------------------------------------------------------------------------------------

    def agent_harnesses(self, body, **_):
        return 200, {"standardEnvVars": ["AI_AGENT", "AGENT"], "harnesses": {}}

    def whoami(self, body, **_):
        return 200, {"type": "user", "name": self.user, "orgs": [{"name": o} for o in self.orgs],
                     "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": self.role}}}

    def create_repo(self, body, **_):
        kind = (body.get("type") or "model") + "s"
        repo_id = f"{body['organization'] or self.user}/{body['name']}"
        if (kind, repo_id) in self.repos:
            return 409, {"error": f"You already created this {kind[:-1]} repo", "url": self._repo_url(kind, repo_id)}
        self.repos[(kind, repo_id)] = Repo(private=body.get("visibility") == "private" or bool(body.get("private")))
        return 200, {"url": self._repo_url(kind, repo_id)}

    def validate_yaml(self, body, **_):
        match = re.match(r"^---\n(.*?)\n---\n", body["content"], re.DOTALL)
        try:
            meta = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError as err:
            return 400, {"errors": [{"message": str(err)}]}
        return (200, {"errors": [], "warnings": []}) if isinstance(meta, dict) else \
            (400, {"errors": [{"message": "no YAML metadata block"}]})

    def repo_info(self, body, type, repo, rev=None, **_):
        r = self.repos.get((type, repo))
        if r is None:
            return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
        branch = rev or "main"
        if branch not in r.heads:
            return 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"}
        return 200, {"id": repo, "private": r.private, "sha": r.heads[branch],
                     "siblings": [{"rfilename": p} for p in sorted(r.branches[branch])]}

    def create_branch(self, body, type, repo, branch, **_):
        r = self.repos.get((type, repo))
        if r is None:
            return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
        if branch in r.branches:
            return 409, {"error": "Reference already exists"}
        start = body.get("startingPoint") or "main"
        r.branches[branch], r.heads[branch] = dict(r.branches[start]), r.heads[start]
        return 200, {}

    def preupload(self, body, type, repo, rev, **_):
        r = self.repos.get((type, repo))
        if r is None or rev not in r.branches:
            return 404, {"error": "Repository or revision not found"}, {"X-Error-Code": "RevisionNotFound"}
        tree = r.branches[rev]
        return 200, {"commitOid": r.heads[rev], "files": [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
             "oid": git_blob_sha1(tree[f["path"]]) if f["path"] in tree else None} for f in body["files"]]}

    def commit(self, body, type, repo, rev, **_):
        r = self.repos.get((type, repo))
        if r is None or rev not in r.branches:
            return 404, {"error": "Repository or revision not found"}, {"X-Error-Code": "RevisionNotFound"}
        header, added = None, {}
        for item in body:
            if item["key"] == "header":
                header = item["value"]
            elif item["key"] == "file" and item["value"].get("encoding") == "base64":
                added[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            else:
                return 400, {"error": f"stand-in: unexpected commit operation {item['key']}"}
        oid = uuid.uuid4().hex + "00000000"
        r.branches[rev].update(added)
        r.heads[rev] = oid
        r.commits.append(Commit(oid, rev, header["summary"], header.get("description", ""), sorted(added)))
        return 200, {"success": True, "commitOid": oid,
                     "commitUrl": f"{self._repo_url(type, repo)}/commit/{oid}"}

    def _repo_url(self, kind: str, repo_id: str) -> str:
        return f"{self.url}/{repo_id}" if kind == "models" else f"{self.url}/{kind}/{repo_id}"

    # --- plumbing --------------------------------------------------------------------------------------------------

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet: the tests read `hub.requests`
                pass

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def _serve(self, method):
                path = urlsplit(self.path).path
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hub.lock:
                    hub.requests.append((method, path))
                    # The route first: a call this stand-in does not know is recorded whether it carries a token
                    # or not, so a test sees every new call the client makes.
                    for m, pattern, name in ROUTES:
                        match = re.fullmatch(pattern, path)
                        if m == method and match:
                            break
                    else:
                        hub.unknown.append((method, path))
                        return self._send(404, {"error": f"stand-in does not implement {method} {path}"})
                    if name not in PUBLIC and self.headers.get("Authorization") != f"Bearer {hub.token}":
                        return self._send(401, {"error": "Invalid credentials in Authorization header"})
                    if name == "commit" and hub.drop_next_commits:
                        hub.drop_next_commits -= 1
                        self.close_connection = True  # no answer at all: the client sees the connection cut
                        return
                    if self.headers.get("Content-Type", "").startswith("application/x-ndjson"):
                        body = [json.loads(line) for line in raw.splitlines() if line.strip()]
                    else:
                        body = json.loads(raw) if raw else {}
                    params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    answer = getattr(hub, name)(body, **params)
                self._send(*answer)

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if status >= 400 and "error" in payload:
                    self.send_header("X-Error-Message", payload["error"])
                self.end_headers()
                self.wfile.write(data)

        return Handler
