"""A fake Spotify on 127.0.0.1: Web API, accounts service and image host in one HTTP server.

Driven by the real spotipy client over real HTTP. Faults are injected per path
prefix (status codes with Retry-After, resets, hangs, bad bodies). Also runs on
its own for the end-to-end tests and benchmarks:

    python tests/fake_spotify.py --port 0 --tracks 200 --covers 60 --ready-file /tmp/fake.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

CLIENT_ID = "test-client-id"
PREFIX = {640: "ab67616d0000b273", 300: "ab67616d00001e02", 64: "ab67616d00004851"}
COLOURS = {
    "red": (220, 30, 30), "green": (30, 180, 60), "blue": (30, 60, 220), "yellow": (240, 220, 30),
    "black": (10, 10, 10), "white": (245, 245, 245), "orange": (250, 140, 20), "purple": (130, 40, 170),
}


def cover_hash(n: int) -> str:
    return hashlib.sha1(f"cover-{n}".encode()).hexdigest()[:24]


def cover_id(n: int) -> str:
    """covertui's id of cover n: Spotify's image id of its 300 px file."""
    return PREFIX[300] + cover_hash(n)


def make_jpeg(seed: int, size: int = 300, texture: bool = False) -> bytes:
    """A deterministic cover: a background colour and a contrasting square.

    With `texture`, photographic-like noise gives real covers' JPEG sizes (for benchmarks).
    """
    from PIL import Image, ImageDraw

    names = list(COLOURS)
    bg = COLOURS[names[seed % len(names)]]
    fg = COLOURS[names[(seed // len(names) + 3) % len(names)]]
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    k = (seed * 37) % (size // 2)
    draw.rectangle([k // 2, k // 3, k // 2 + size // 3, k // 3 + size // 3], fill=fg)
    if texture:
        import numpy as np

        rng = np.random.default_rng(seed)
        noise = rng.normal(0, 28, (size // 4, size // 4, 3))
        noise = np.kron(noise, np.ones((4, 4, 1)))[:size, :size] + rng.normal(0, 12, (size, size, 3))
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype("uint8"))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class Fault:
    """Answer requests whose path starts with `path` with a fault, `times` times (-1: always)."""

    path: str
    status: int = 500
    retry_after: float | None = None
    times: int = 1
    kind: str = "status"  # status | reset | hang | truncate | html | empty | huge | body | redirect | trickle
    body: bytes = b""
    hang: float = 30.0
    message: str = "fault"  # kind "status": Spotify's error body, {"error": {"status", "message", "reason"}}
    reason: str = ""


# Spotify's own refusals (2026), as its Web API words them.
OWNER_WITHOUT_PREMIUM = "Active premium subscription required for the owner of the app."
USER_NOT_REGISTERED = "User not registered in the Developer Dashboard"


def account_refused(message: str, path: str = "/v1/") -> Fault:
    """Every Web API call refused for the app or account as a whole."""
    return Fault(path, 403, times=-1, message=message)


def quota_exceeded(retry_after: float | None = 48925, path: str = "/v1/") -> Fault:
    """The developer's daily request quota is spent: 429 with reason QUOTA_EXCEEDED, a Retry-After of hours."""
    return Fault(path, 429, retry_after=retry_after, times=-1, message="Daily request quota exceeded",
                 reason="QUOTA_EXCEEDED")


@dataclass
class Playlist:
    id: str
    name: str
    owner: str
    entries: list[dict]
    snapshot_id: str = "snap-1"
    collaborative: bool = False
    shape: str = "item"  # entries carry "item" (2026) or "track" (older)
    description: str = ""
    public: bool = False
    extra: dict = field(default_factory=dict)  # fields of the listed playlist object to replace (malformed answers)


@dataclass
class Library:
    user_id: str = "me"
    display_name: str = "Test User"
    playlists: list[Playlist] = field(default_factory=list)
    liked: list[dict] = field(default_factory=list)
    covers: dict[str, int] = field(default_factory=dict)  # 24-hex cover hash -> image seed
    premium: bool = True  # the user's account: playback commands need Premium
    devices: list[dict] = field(default_factory=list)  # Spotify Connect devices, as GET /me/player/devices
    played: list[tuple[str, list[str]]] = field(default_factory=list)  # (device id, uris) per play command
    queued: list[tuple[str, str]] = field(default_factory=list)  # (device id, uri)
    total: object = None  # what pages say their `total` is (None: the real count)

    def item(self, uri: str) -> dict:
        """The track or episode object behind a spotify: URI (a bare stub for one the library lacks)."""
        kind, _, item_id = uri.removeprefix("spotify:").partition(":")
        for entry in [e for p in self.playlists for e in p.entries] + self.liked:
            item = entry.get("item") or entry.get("track") if isinstance(entry, dict) else None
            if isinstance(item, dict) and item.get("id") == item_id:
                return item
        return {"type": kind, "id": item_id, "name": item_id, "is_local": False}


def device(name: str, kind: str = "Computer", active: bool = False, volume: int = 50) -> dict:
    return {"id": hashlib.sha1(name.encode()).hexdigest()[:40], "name": name, "type": kind, "is_active": active,
            "is_private_session": False, "is_restricted": False, "volume_percent": volume}


FULL_SCOPE = ("playlist-read-private playlist-read-collaborative user-library-read playlist-modify-private "
              "user-modify-playback-state user-read-playback-state")
READ_SCOPE = "playlist-read-private playlist-read-collaborative user-library-read"  # logins from before 0.2


def track_obj(n: int, cover: int, album_id: str | None = None, title: str | None = None) -> dict:
    h = cover_hash(cover)
    return {
        "type": "track",
        "id": f"track{n:06d}",
        "name": title or f"Song {n}",
        "artists": [{"name": f"Artist {n % 97}", "id": f"artist{n % 97}"}],
        "album": {
            "id": album_id or f"album{cover:06d}",
            "name": f"Album {cover}",
            "release_date": f"{1960 + cover % 40}-06-01" if cover % 2 else f"{1960 + cover % 40}",
            "release_date_precision": "day" if cover % 2 else "year",
            "images": [{"url": f"IMG/{PREFIX[s]}{h}", "width": s, "height": s} for s in (640, 300, 64)],
            "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id or f'album{cover:06d}'}"},
        },
        "external_urls": {"spotify": f"https://open.spotify.com/track/track{n:06d}"},
        "is_local": False,
    }


def standard_library(tracks: int = 120, covers: int = 40, playlists: int = 3, liked: int = 60) -> Library:
    """Playlists of the user holding `tracks` tracks over `covers` distinct covers, plus Liked Songs."""
    lib = Library()
    for c in range(covers):
        lib.covers[cover_hash(c)] = c
    per = max(1, tracks // playlists)
    for p in range(playlists):
        entries = [
            {"added_at": "2026-01-01T00:00:00Z", "is_local": False, "item": track_obj(n, n % covers)}
            for n in range(p * per, min(tracks, (p + 1) * per))
        ]
        lib.playlists.append(Playlist(f"playlist{p:012d}abcd", f"Playlist {p}", "me", entries,
                                      shape="item" if p % 2 == 0 else "track"))
    lib.liked = [{"added_at": f"2026-02-{1 + n % 28:02d}T00:00:00Z", "track": track_obj(n, n % covers)}
                 for n in range(liked)]
    return lib


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """Clients that are killed or time out mid-response are part of the tests: no tracebacks."""


class FakeSpotify:
    def __init__(self, library: Library | None = None, client_id: str = CLIENT_ID,
                 client_secret: str | None = None, image_delay: float = 0.0, port: int = 0,
                 token_lifetime: int = 3600, texture: bool = False) -> None:
        self.library = library or standard_library()
        self.client_id = client_id
        self.client_secret = client_secret
        self.image_delay = image_delay
        self.token_lifetime = token_lifetime
        self.texture = texture
        self.faults: list[Fault] = []
        self.requests: Counter = Counter()
        self.image_hits: Counter = Counter()
        self.codes: dict[str, dict] = {}
        self.access: dict[str, float] = {}
        self.refresh: dict[str, bool] = {}  # refresh token -> revoked
        self.scopes: dict[str, str] = {}  # access or refresh token -> the scope it was granted
        self.lost_answers: Counter = Counter()  # path prefix -> writes to apply, then answer 502 (lost on the way)
        self.lock = threading.Lock()
        self._images: dict[str, bytes] = {}
        self.server = _QuietServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------------
    def start(self) -> FakeSpotify:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1/"

    def env(self) -> dict[str, str]:
        env = {"SPOTIPY_CLIENT_ID": self.client_id, "COVERTUI_SPOTIFY_API_URL": self.api_url,
               "COVERTUI_SPOTIFY_ACCOUNTS_URL": self.url}
        if self.client_secret:
            env["SPOTIPY_CLIENT_SECRET"] = self.client_secret
        return env

    # test helpers ------------------------------------------------------------
    def issue_token(self, lifetime: int | None = None, scope: str = FULL_SCOPE) -> dict:
        """A token as the accounts service would hand out (for tests that skip the login)."""
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        lifetime = self.token_lifetime if lifetime is None else lifetime
        with self.lock:
            self.access[access] = time.time() + lifetime
            self.refresh[refresh] = False
            self.scopes[access] = self.scopes[refresh] = scope
        return {"access_token": access, "refresh_token": refresh, "expires_in": lifetime, "scope": scope}

    def revoke_all(self) -> None:
        with self.lock:
            for token in self.refresh:
                self.refresh[token] = True
            self.access.clear()

    def add_fault(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def image(self, cover_hash_: str, size: int = 300) -> bytes:
        key = f"{cover_hash_}:{size}"
        if key not in self._images:
            self._images[key] = make_jpeg(self.library.covers.get(cover_hash_, 0), size, self.texture)
        return self._images[key]

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path) and fault.times != 0:
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    # HTTP ----------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args) -> None:
                pass

            lose_answer = False  # set per write: the change is made, the answer replaced by a 502

            def _send(self, status: int, body: bytes = b"", ctype: str = "application/json",
                      headers: dict | None = None) -> None:
                if self.lose_answer and status < 300:  # applied, but the client sees a server error
                    status, body, ctype = 502, b'{"error": {"status": 502, "message": "Bad gateway"}}', ctype
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, obj, headers: dict | None = None) -> None:
                self._send(status, json.dumps(obj).encode(), headers=headers)

            def _error(self, status: int, message: str, headers: dict | None = None, reason: str = "") -> None:
                error = {"status": status, "message": message, **({"reason": reason} if reason else {})}
                self._json(status, {"error": error}, headers)

            def _apply_fault(self, fault: Fault, real_body: bytes | None = None) -> bool:
                if fault.kind == "status":
                    headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                    self._error(fault.status, fault.message, headers, fault.reason)
                elif fault.kind == "reset":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b"\xff\xd8\xff" + b"\0" * 100)
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif fault.kind == "hang":
                    time.sleep(fault.hang)
                    self.close_connection = True
                elif fault.kind == "truncate":
                    body = (real_body or b"")[: max(1, len(real_body or b"") // 2)]
                    self._send(200, body, "image/jpeg")
                elif fault.kind == "html":
                    self._send(200, b"<!DOCTYPE html><html><body>Not found</body></html>", "text/html")
                elif fault.kind == "empty":
                    self._send(200, b"", "image/jpeg")
                elif fault.kind == "huge":
                    self._send(200, b"\xff\xd8" + b"\0" * (9 * 1024 * 1024), "image/jpeg")
                elif fault.kind == "body":
                    self._send(fault.status, fault.body, "image/jpeg")
                elif fault.kind == "redirect":
                    self._send(302, b"", "text/plain", {"Location": fault.body.decode()})
                elif fault.kind == "trickle":  # the real body, a byte every `hang` seconds: each read gets one
                    body = real_body or b""
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(fault.hang)
                    self.close_connection = True
                return True

            def do_GET(self) -> None:  # noqa: N802
                self.lose_answer = False  # a connection is kept alive across requests
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake.lock:
                    fake.requests[url.path] += 1
                if url.path.startswith("/image/"):
                    return self._image(url.path[len("/image/"):])
                fault = fake._take_fault(url.path)
                if fault:
                    return self._apply_fault(fault)
                if url.path == "/authorize":
                    return self._authorize(query)
                if url.path.startswith("/v1/"):
                    return self._api(url.path[len("/v1/"):], query)
                self._error(404, "no such path")

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                with fake.lock:
                    fake.requests[url.path] += 1
                    lost = next((p for p, n in fake.lost_answers.items() if n > 0 and url.path.startswith(p)), None)
                    self.lose_answer = lost is not None
                    if lost is not None:
                        fake.lost_answers[lost] -= 1
                fault = fake._take_fault(url.path)
                if fault:
                    return self._apply_fault(fault)
                if url.path == "/api/token":
                    return self._token({k: v[0] for k, v in parse_qs(raw).items()})
                if url.path.startswith("/v1/"):
                    return self._write("POST", url.path[len("/v1/"):], {k: v[0] for k, v in parse_qs(url.query).items()},
                                       json.loads(raw) if raw else None)
                self._error(404, "no such path")

            def do_PUT(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with fake.lock:
                    fake.requests[url.path] += 1
                    self.lose_answer = False
                fault = fake._take_fault(url.path)
                if fault:
                    return self._apply_fault(fault)
                self._write("PUT", url.path[len("/v1/"):], {k: v[0] for k, v in parse_qs(url.query).items()},
                            json.loads(raw) if raw else None)

            # accounts ------------------------------------------------------------
            def _authorize(self, q: dict) -> None:
                if q.get("client_id") != fake.client_id:
                    return self._send(400, b"INVALID_CLIENT: Invalid client", "text/plain")
                code = secrets.token_urlsafe(12)
                with fake.lock:
                    fake.codes[code] = q
                target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
                self._send(302, b"", "text/plain", {"Location": target})

            def _client_ok(self, form: dict) -> bool:
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                    return cid == fake.client_id and secret == fake.client_secret
                return form.get("client_id") == fake.client_id

            def _token(self, form: dict) -> None:
                if not self._client_ok(form):
                    return self._json(400, {"error": "invalid_client", "error_description": "Invalid client"})
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    with fake.lock:
                        req = fake.codes.pop(form.get("code", ""), None)
                    if req is None or req.get("redirect_uri") != form.get("redirect_uri"):
                        return self._json(400, {"error": "invalid_grant", "error_description": "Invalid authorization code"})
                    if req.get("code_challenge"):
                        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != req["code_challenge"]:
                            return self._json(400, {"error": "invalid_grant", "error_description": "code_verifier was incorrect"})
                    elif not fake.client_secret:
                        return self._json(400, {"error": "invalid_request", "error_description": "code_verifier required"})
                    return self._json(200, {"token_type": "Bearer", **fake.issue_token(scope=req.get("scope", ""))})
                if grant == "refresh_token":
                    token = form.get("refresh_token", "")
                    with fake.lock:
                        revoked = fake.refresh.get(token, True)
                    if revoked:
                        return self._json(400, {"error": "invalid_grant", "error_description": "Refresh token revoked"})
                    issued = fake.issue_token(scope=fake.scopes.get(token, FULL_SCOPE))
                    unused = issued.pop("refresh_token")  # Spotify may omit it: the old one stays valid
                    with fake.lock:
                        fake.refresh.pop(unused, None)
                    return self._json(200, {"token_type": "Bearer", **issued})
                self._json(400, {"error": "unsupported_grant_type"})

            # Web API ----------------------------------------------------------------
            def _api(self, path: str, q: dict) -> None:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                with fake.lock:
                    expiry = fake.access.get(token)
                if expiry is None or expiry < time.time():
                    return self._error(401, "The access token expired" if expiry else "Invalid access token")
                lib = fake.library
                limit, offset = int(q.get("limit", 20)), int(q.get("offset", 0))
                if limit > 50:
                    return self._error(400, "Invalid limit")
                parts = path.strip("/").split("/")
                if parts == ["me"]:
                    return self._json(200, {"id": lib.user_id, "display_name": lib.display_name,
                                            "product": "premium" if lib.premium else "free"})
                if parts[:2] == ["me", "player"]:
                    if not self._scoped(token, "user-read-playback-state"):
                        return None
                    if parts[2:] == ["devices"]:
                        return self._json(200, {"devices": lib.devices})
                    if parts[2:] == ["queue"]:
                        active = next((d["id"] for d in lib.devices if d["is_active"]), None)
                        queue = [lib.item(uri) for dev, uri in lib.queued if dev == active]
                        return self._json(200, {"currently_playing": None, "queue": queue})
                if parts == ["me", "playlists"]:
                    objs = [self._playlist_obj(p) for p in lib.playlists]
                    return self._json(200, self._page(objs, limit, offset, path))
                if parts == ["me", "tracks"]:
                    return self._json(200, self._page(lib.liked, limit, offset, path))
                if len(parts) >= 2 and parts[0] == "playlists":
                    pl = next((p for p in lib.playlists if p.id == parts[1]), None)
                    if pl is None:
                        return self._error(404, "Resource not found")
                    if len(parts) == 2:
                        return self._json(200, self._playlist_obj(pl))
                    if parts[2] == "tracks":
                        return self._error(403, "Forbidden")
                    if parts[2] == "items":
                        if pl.owner != lib.user_id and not pl.collaborative:
                            return self._error(403, "Forbidden")
                        entries = [self._shape(e, pl.shape) for e in pl.entries]
                        return self._json(200, self._page(entries, limit, offset, path))
                self._error(404, "Service not found")

            def _scoped(self, token: str, scope: str) -> bool:
                """The token was granted `scope`; else answers 403 as Spotify does and returns False."""
                if scope in fake.scopes.get(token, FULL_SCOPE).split():
                    return True
                self._error(403, "Insufficient client scope")
                return False

            def _write(self, method: str, path: str, q: dict, body) -> None:
                """The Web API's writes: playlists (POST /me/playlists, POST /playlists/{id}/items) and the player."""
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                with fake.lock:
                    expiry = fake.access.get(token)
                if expiry is None or expiry < time.time():
                    return self._error(401, "The access token expired" if expiry else "Invalid access token")
                lib, parts = fake.library, path.strip("/").split("/")
                if method == "POST" and parts[0] == "users" and parts[2:] == ["playlists"]:
                    return self._error(403, "Forbidden")  # refused to development-mode apps since 2026
                if method == "POST" and parts == ["me", "playlists"]:
                    if not self._scoped(token, "playlist-modify-private"):
                        return None
                    if not (body or {}).get("name"):
                        return self._error(400, "Missing required field: name")
                    with fake.lock:
                        pl = Playlist(f"new{secrets.token_hex(8)}abcd", body["name"], lib.user_id, [],
                                      snapshot_id=secrets.token_hex(6), description=body.get("description", ""),
                                      public=bool(body.get("public", True)))
                        lib.playlists.append(pl)
                    return self._json(201, self._playlist_obj(pl))
                if method == "POST" and parts[0] == "playlists" and parts[2:] == ["items"]:
                    pl = next((p for p in lib.playlists if p.id == parts[1]), None)
                    if pl is None:
                        return self._error(404, "Resource not found")
                    if pl.owner != lib.user_id or not self._scoped(token, "playlist-modify-private"):
                        return None if pl.owner == lib.user_id else self._error(403, "Forbidden")
                    uris = body.get("uris") if isinstance(body, dict) else body
                    if not uris and q.get("uris"):
                        uris = q["uris"].split(",")
                    if not uris or len(uris) > 100:
                        return self._error(400, "Too many ids requested" if uris else "No uris provided")
                    with fake.lock:
                        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                        pl.entries += [{"added_at": stamp, "is_local": False, "item": lib.item(u)} for u in uris]
                        pl.snapshot_id = secrets.token_hex(6)
                    return self._json(201, {"snapshot_id": pl.snapshot_id})
                if parts[:2] == ["me", "player"]:
                    if not self._scoped(token, "user-modify-playback-state"):
                        return None
                    if not lib.premium:
                        return self._json(403, {"error": {"status": 403, "message": "Player command failed: Premium required",
                                                          "reason": "PREMIUM_REQUIRED"}})
                    wanted = q.get("device_id")
                    target = next((d for d in lib.devices if d["id"] == wanted or (not wanted and d["is_active"])), None)
                    if target is None:
                        return self._json(404, {"error": {"status": 404, "message": "Player command failed: No active device found",
                                                          "reason": "NO_ACTIVE_DEVICE"}})
                    with fake.lock:
                        for d in lib.devices:
                            d["is_active"] = d is target
                        if method == "PUT" and parts[2:] == ["play"]:
                            lib.played.append((target["id"], list((body or {}).get("uris") or [])))
                        elif method == "POST" and parts[2:] == ["queue"]:
                            lib.queued.append((target["id"], q.get("uri", "")))
                        else:
                            return self._error(404, "Service not found")
                    return self._send(204)
                self._error(404, "Service not found")

            def _shape(self, entry, shape: str):
                if not isinstance(entry, dict) or shape == "item":
                    return entry
                entry = dict(entry)
                if "item" in entry:
                    entry["track"] = entry.pop("item")
                return entry

            def _playlist_obj(self, pl: Playlist) -> dict:
                return {"id": pl.id, "name": pl.name, "snapshot_id": pl.snapshot_id, "collaborative": pl.collaborative,
                        "description": pl.description, "public": pl.public,
                        "owner": {"id": pl.owner, "display_name": pl.owner.title()},
                        "items": {"total": len(pl.entries), "href": f"{fake.api_url}playlists/{pl.id}/items"},
                        "external_urls": {"spotify": f"https://open.spotify.com/playlist/{pl.id}"}, **pl.extra}

            def _page(self, items: list, limit: int, offset: int, path: str) -> dict:
                chunk = [self._fix_urls(i) for i in items[offset:offset + limit]]
                nxt = f"{fake.api_url}{path}?offset={offset + limit}&limit={limit}" if offset + limit < len(items) else None
                total = len(items) if fake.library.total is None else fake.library.total
                return {"items": chunk, "total": total, "limit": limit, "offset": offset, "next": nxt}

            def _fix_urls(self, obj):
                return json.loads(json.dumps(obj).replace('"IMG/', f'"{fake.url}/image/')) if obj is not None else None

            # images -------------------------------------------------------------------
            def _image(self, image_id: str) -> None:
                if fake.image_delay:
                    time.sleep(fake.image_delay)
                size = next((s for s, p in PREFIX.items() if image_id.startswith(p)), 300)
                h = image_id[16:] if size else image_id
                body = fake.image(h, size) if h in fake.library.covers else None
                with fake.lock:
                    fake.image_hits[image_id] += 1
                fault = fake._take_fault("/image/" + image_id)
                if fault:
                    return self._apply_fault(fault, body)
                if body is None:
                    return self._send(404, b"not found", "text/plain")
                self._send(200, body, "image/jpeg")

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tracks", type=int, default=120)
    parser.add_argument("--covers", type=int, default=40)
    parser.add_argument("--playlists", type=int, default=3)
    parser.add_argument("--liked", type=int, default=60)
    parser.add_argument("--image-delay", type=float, default=0.0)
    parser.add_argument("--texture", action="store_true", help="covers with real covers' JPEG sizes (slower)")
    parser.add_argument("--ready-file", help="write the server's URLs here as JSON once listening")
    args = parser.parse_args()
    fake = FakeSpotify(standard_library(args.tracks, args.covers, args.playlists, args.liked),
                       image_delay=args.image_delay, port=args.port, texture=args.texture)
    for h in fake.library.covers:  # render every cover before saying we are ready
        fake.image(h, 300)
        fake.image(h, 640)
    sizes = {s: sum(len(fake.image(h, s)) for h in fake.library.covers) for s in (300, 640)}
    info = {"url": fake.url, "env": fake.env(), "bytes": sizes, "token": fake.issue_token()}
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            json.dump(info, f)
        import os

        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(json.dumps(info), flush=True)
    try:
        fake.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
