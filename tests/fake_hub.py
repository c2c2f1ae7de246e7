"""A Hugging Face hub on 127.0.0.1 for the download tests: the model API (`/api/models/<id>/revision/<rev>`
with file sizes, as `HfApi.model_info(files_metadata=True)` reads it) and `resolve` URLs with Range
requests, the weights behind a redirect as on the real hub. It can drop a connection part way through
a file once, or hold a file's bytes until the test lets them go.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Path] = {}
        self.ranges: list[tuple[str, int]] = []  # (file, first byte asked) of each file request
        self.served = 0  # bytes of files sent
        self.drop_after: dict[str, int] = {}  # file -> bytes sent before the connection drops (once)
        self.hold_after: dict[str, int] = {}  # file -> bytes sent before waiting for `release`
        self.holding = threading.Event()  # a file's bytes wait for the test
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a client that hung up (a cancel) is no error
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, repo_id: str, folder: Path) -> None:
        self.repos[repo_id] = Path(folder)

    def sha(self, repo_id: str) -> str:
        return hashlib.sha1(repo_id.encode()).hexdigest()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            path = self.path.split("?")[0]
            if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path):
                return self._info(m.group(1))
            if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([0-9a-f]+)/([^/]+)", path):
                repo, file = m.group(1), m.group(3)
                if repo in hub.repos and file.endswith(".safetensors"):  # weights come from a CDN on the real hub
                    self.send_response(302)
                    self.send_header("Location", f"/cdn/{repo}/{file}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._file(repo, file)
            if m := re.fullmatch(r"/cdn/([^/]+/[^/]+)/([^/]+)", path):
                return self._file(m.group(1), m.group(2))
            return self._json(404, {"error": "not found"})

        def _info(self, repo: str) -> None:
            if repo not in hub.repos:  # as the hub answers an unknown repository without a token
                return self._json(401, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            files = sorted(p for p in hub.repos[repo].iterdir() if p.is_file())
            return self._json(200, {"id": repo, "modelId": repo, "sha": hub.sha(repo), "private": False,
                                    "siblings": [{"rfilename": f.name, "size": f.stat().st_size} for f in files]})

        def _file(self, repo: str, name: str) -> None:
            file = hub.repos.get(repo, Path("/nonexistent")) / name
            if not file.is_file():
                return self._json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            data = file.read_bytes()
            start = 0
            if m := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "")):
                start = int(m.group(1))
            with hub.lock:
                hub.ranges.append((name, start))
            body = data[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            with hub.lock:
                drop = hub.drop_after.pop(name, None)
                hold = hub.hold_after.pop(name, None)
            cut = drop if drop is not None else hold
            if cut is not None:
                self._send(body[:cut])
                if drop is not None:
                    self.close_connection = True
                    return None
                hub.holding.set()
                hub.release.wait(60)
                body = body[cut:]
            self._send(body)
            return None

        def _send(self, data: bytes) -> None:
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                self.close_connection = True
                return
            with hub.lock:
                hub.served += len(data)

    return Handler
