"""Logging in to Spotify without a browser on this machine, and keeping the token.

`LoginFlow` builds the authorization URL (PKCE without a client secret, the
authorization-code flow with one), accepts the redirected URL or its code from a
paste, and listens once on the redirect URI's loopback port so that a local
browser, or one behind `ssh -L`, completes the login by itself. `TokenManager`
is what spotipy calls for a token: it refreshes, saves atomically with mode 0600,
and never prompts, so spotipy has no path to `input()` or a browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import requests

from ..config import DEFAULT_ACCOUNTS_URL, DEFAULT_API_URL, SCOPES, Settings
from ..errors import AuthError, MissingCredentials, NetworkError
from ..text import clean
from .http import make_session

RELOGIN = "Run `covertui auth` to log in again."
LOGIN_MONTHS = 6  # since 2026-07-20 a login (its refresh token) ends six months after it was made
WARN_DAYS = 14
REFRESH_TRIES = 3
LISTENER_TIMEOUT = 5.0  # s a connection to the login listener may stay idle
log = logging.getLogger(__name__)


def setup_guide(settings: Settings) -> str:
    """What to do when no client id is configured."""
    return (
        "No Spotify client id is configured. To set one up:\n"
        "  1. Open https://developer.spotify.com/dashboard and create an app (Web API).\n"
        f"  2. Add this redirect URI to the app: {settings.redirect_uri}\n"
        "  3. Put the app's client id in a .env file, either in the current directory or in\n"
        f"     {settings.paths.env_file}\n"
        "       SPOTIPY_CLIENT_ID=your-client-id\n"
        "     (a client secret is optional: without one covertui logs in with PKCE).\n"
        "  4. Run `covertui auth`.\n"
        "Development-mode apps need the app owner to have Spotify Premium and allow at most\n"
        "5 users, each added under the app's User Management."
    )


def require_credentials(settings: Settings) -> None:
    if not settings.has_credentials:
        raise MissingCredentials(setup_guide(settings))


MAX_TOKEN_BYTES = 64 * 1024
_TOKEN_FIELDS = {  # field -> the types it may have; access_token and expires_at are required
    "access_token": (str,), "refresh_token": (str, type(None)), "expires_at": (int, float),
    "scope": (str,), "client_id": (str, type(None)), "logged_in_at": (int, float, type(None)),
    "api_url": (str,), "accounts_url": (str,),
}


class TokenCorrupt(AuthError):
    """The token file exists but is not a login covertui wrote."""


class TokenStore:
    """The token file: JSON, created 0600 and replaced atomically; checked when read (a regular file,
    at most 64 KiB, each field of its type)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict | None:
        """The saved login; None when there is none. TokenCorrupt when the file is not one."""
        from ..files import read_regular

        try:
            raw = read_regular(self.path, MAX_TOKEN_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._corrupt(exc.strerror or str(exc)) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise self._corrupt("not JSON") from None
        if not isinstance(data, dict):
            raise self._corrupt("not a JSON object")
        for name, types in _TOKEN_FIELDS.items():
            value = data.get(name)
            if (value is None and name not in ("access_token", "expires_at")) or (
                    isinstance(value, types) and not isinstance(value, bool)):
                continue
            raise self._corrupt(f"{name} is {'missing' if value is None else type(value).__name__}")
        if not data["access_token"]:
            raise self._corrupt("no access token")
        for name in ("expires_at", "logged_in_at"):  # seconds since 1970, as time.time() gives
            if data.get(name) is not None and not (math.isfinite(data[name]) and 0 <= data[name] < 2**40):
                raise self._corrupt(f"{name} is not a time")
        return data

    def _corrupt(self, why: str) -> TokenCorrupt:
        return TokenCorrupt(f"The saved Spotify login {clean(str(self.path))} is corrupt ({why}). Run `covertui auth` "
                            "to log in again (`covertui auth --logout` removes it).")

    def save(self, token: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(token, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def clear(self) -> None:
        """Forget the login: the file, or a link in its place. Anything else there is the user's own."""
        try:
            self.path.unlink(missing_ok=True)
        except IsADirectoryError:
            raise AuthError(f"{clean(str(self.path))} is a folder, not a saved login; covertui does not remove "
                            "folders: move it aside yourself.") from None
        except OSError as exc:
            raise AuthError(f"Could not remove {clean(str(self.path))}: {exc.strerror or exc}.") from None


def _token_request(settings: Settings, session: requests.Session, data: dict) -> dict:
    headers = {}
    if settings.client_secret:
        raw = f"{settings.client_id}:{settings.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    else:
        data = {**data, "client_id": settings.client_id}
    try:
        response = session.post(
            f"{settings.accounts_url}/api/token",
            data=data,
            headers=headers,
            timeout=settings.request_timeout,
        )
    except requests.RequestException as exc:
        raise NetworkError(f"Could not reach Spotify's login service: {type(exc).__name__}.") from None
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code in (400, 401, 403):
        error = clean(str(payload.get("error", "")))[:100] if isinstance(payload, dict) else ""
        if data["grant_type"] == "refresh_token":
            raise AuthError(f"Spotify no longer accepts the saved login ({error or response.status_code}). {RELOGIN}")
        description = clean(str(payload.get("error_description", "")))[:300] if isinstance(payload, dict) else ""
        raise AuthError(f"Spotify refused the login: {error or response.status_code} {description}".strip() + ".")
    if response.status_code != 200 or not _token_payload_ok(payload):
        raise NetworkError(f"Spotify's login service answered HTTP {response.status_code}"
                           f"{'' if response.status_code != 200 else ' without a usable token'}; try again later.")
    return payload


def _token_payload_ok(payload) -> bool:
    """Whether the accounts service's answer is a token of the right shape."""
    if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str) or not payload["access_token"]:
        return False
    expires = payload.get("expires_in", 3600)
    return (isinstance(expires, int) and not isinstance(expires, bool) and 0 < expires < 10**8
            and isinstance(payload.get("refresh_token"), (str, type(None)))
            and isinstance(payload.get("scope"), (str, type(None))))


def _stamp(settings: Settings, payload: dict, previous: dict | None = None) -> dict:
    """The token to save: a new login (no `previous`) or a refresh, which keeps the login's date."""
    token = {
        "access_token": payload["access_token"],
        "refresh_token": payload.get("refresh_token") or (previous or {}).get("refresh_token"),
        "expires_at": int(time.time()) + int(payload.get("expires_in", 3600)),
        "scope": payload.get("scope") or (previous or {}).get("scope") or SCOPES,
        "client_id": settings.client_id,
        # where it may be sent: a token goes only to the endpoints that issued it
        "api_url": settings.api_url,
        "accounts_url": settings.accounts_url,
    }
    logged_in = int(time.time()) if previous is None else previous.get("logged_in_at")
    if logged_in:  # tokens saved before covertui kept the date have none
        token["logged_in_at"] = logged_in
    return token


def issued_here(token: dict, settings: Settings) -> bool:
    """Whether the token was issued by the endpoints set now (logins saved before covertui kept them were
    made with Spotify's own)."""
    issued = (token.get("api_url") or DEFAULT_API_URL, token.get("accounts_url") or DEFAULT_ACCOUNTS_URL)
    return issued == (settings.api_url, settings.accounts_url)


def allows(token: dict | None, scopes: str) -> bool:
    """Whether the saved login was granted every scope in `scopes` (logins made before covertui
    asked for a scope keep the ones they had)."""
    return set(scopes.split()) <= set(str((token or {}).get("scope", "")).split())


def login_expires_at(token: dict) -> float | None:
    """When the login ends (six calendar months after it was made); None where its date is unknown."""
    import datetime as dt

    start = token.get("logged_in_at")
    if not start:
        return None
    day = dt.datetime.fromtimestamp(start, dt.UTC)
    month = day.month - 1 + LOGIN_MONTHS
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):  # the same day of the month, or the month's last day
        try:
            return day.replace(year=year, month=month, day=min(day.day, last)).timestamp()
        except ValueError:
            continue
    return None


def _date(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


def login_warning(token: dict | None, now: float | None = None) -> str | None:
    """A warning in the last WARN_DAYS days of a login, or once it ended; None otherwise."""
    ends = login_expires_at(token or {})
    if ends is None:
        return None
    left = ends - (time.time() if now is None else now)
    if left <= 0:
        return f"Your Spotify login ended on {_date(ends)} (logins last six months). {RELOGIN}"
    if left <= WARN_DAYS * 86400:
        days = max(1, round(left / 86400))
        return (f"Your Spotify login ends on {_date(ends)} (in {days} day{'s' if days != 1 else ''}): "
                "run `covertui auth` to renew it for six months.")
    return None


class TokenManager:
    """spotipy's auth manager: a valid access token or a clear AuthError, never a prompt."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        require_credentials(settings)
        self.settings = settings
        self.store = TokenStore(settings.paths.token_file)
        self.session = session or make_session(pool_size=2)
        self._lock = threading.Lock()

    def token_info(self) -> dict:
        token = self.store.load()
        if token is None:
            raise AuthError("Not logged in to Spotify. Run `covertui auth`.")
        if token.get("client_id") != self.settings.client_id:
            raise AuthError(f"The saved login belongs to another client id. {RELOGIN}")
        if not issued_here(token, self.settings):
            raise AuthError("The saved login was made with another Spotify service than the one set now "
                            f"({clean(self.settings.accounts_url)}); it is not sent there. {RELOGIN}")
        return token

    def get_access_token(self, as_dict: bool = False, check_cache: bool = True):
        with self._lock:
            token = self.token_info()
            if token["expires_at"] - time.time() < 60:
                if not token.get("refresh_token"):
                    raise AuthError(f"The saved login has expired. {RELOGIN}")
                token = _stamp(self.settings, self._refresh(token), token)
                self.store.save(token)
            return token if as_dict else token["access_token"]

    def _refresh(self, token: dict) -> dict:
        """A new access token. Refresh tokens are no longer rotated (2026): asking again after a lost
        answer is safe, so this retries what the HTTP layer does not retry for a POST."""
        for attempt in range(REFRESH_TRIES):
            try:
                return _token_request(self.settings, self.session,
                                      {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
            except NetworkError:
                if attempt == REFRESH_TRIES - 1:
                    raise
                time.sleep(0.5 * 2 ** attempt)
            except AuthError:
                ends = login_expires_at(token)
                if ends is not None and ends <= time.time():  # the six months are over: say so
                    raise AuthError(login_warning(token)) from None
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")


def _loopback_target(redirect_uri: str) -> tuple[int, str] | None:
    parsed = urlparse(redirect_uri)
    try:
        port = parsed.port if parsed.port is not None else 80  # 0: any free port (tests)
    except ValueError:  # not a port number
        return None
    if parsed.scheme != "http" or parsed.hostname not in ("127.0.0.1", "localhost"):
        return None
    return port, (parsed.path or "/")


class LoginFlow:
    """One login attempt: URL to open, then a pasted answer or the loopback redirect."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        require_credentials(settings)
        self.settings = settings
        self.session = session or make_session(pool_size=2)
        self.state = secrets.token_urlsafe(16)
        self._verifier = secrets.token_urlsafe(64)[:96]
        self._server: ThreadingHTTPServer | None = None
        self.listening_port: int | None = None
        self.answered = threading.Event()  # the listener took this attempt's redirect

    @property
    def authorize_url(self) -> str:
        params = {
            "client_id": self.settings.client_id,
            "response_type": "code",
            "redirect_uri": self.settings.redirect_uri,
            "scope": SCOPES,
            "state": self.state,
        }
        if not self.settings.client_secret:
            digest = hashlib.sha256(self._verifier.encode()).digest()
            params["code_challenge_method"] = "S256"
            params["code_challenge"] = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        return f"{self.settings.accounts_url}/authorize?{urlencode(params)}"

    def code_from(self, answer: str) -> str:
        """The code from a pasted redirect URL (state checked) or a bare code."""
        answer = answer.strip()
        if not answer:
            raise AuthError("Nothing was pasted.")
        if "://" in answer or answer.startswith(("?", "/")) or "code=" in answer or "error=" in answer:
            query = parse_qs(urlparse(answer).query or answer.lstrip("?"))
            if "error" in query:
                raise AuthError(f"Spotify did not authorize covertui: {query['error'][0]}.")
            if "code" not in query:
                raise AuthError("That URL has no `code` in it; paste the whole address the browser ended on.")
            if query.get("state", [None])[0] != self.state:
                raise AuthError("That URL belongs to another login attempt (state mismatch); use the newest link.")
            return query["code"][0]
        return answer

    def finish(self, answer: str) -> dict:
        """Exchange the code for a token and save it. Returns the saved token."""
        code = self.code_from(answer)
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.settings.redirect_uri}
        if not self.settings.client_secret:
            data["code_verifier"] = self._verifier
        token = _stamp(self.settings, _token_request(self.settings, self.session, data))
        TokenStore(self.settings.paths.token_file).save(token)
        self.stop()
        return token

    def listen(self, on_answer: Callable[[str], None]) -> bool:
        """Listen on the redirect URI's loopback port until the redirect of this login attempt arrives
        (its `state`); False when that is not possible. Any other request (a stale tab, another local
        process, a web page probing the port) gets an error page and the listener goes on. Connections
        are served concurrently, each with a short timeout, so an idle one blocks nothing."""
        target = _loopback_target(self.settings.redirect_uri)
        if target is None:
            return False
        port, path = target
        flow = self

        class Handler(BaseHTTPRequestHandler):
            timeout = LISTENER_TIMEOUT  # an idle or slow connection is dropped

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                query = parse_qs(url.query)
                ours = (url.path == path and query.get("state", [None])[0] == flow.state
                        and ("code" in query or "error" in query))
                if ours and flow.answered.is_set():
                    ours = False  # the answer came already: a second one is not taken
                if ours:
                    flow.answered.set()
                    on_answer(self.path)  # first: a browser that leaves early does not lose the login
                    ok = "code" in query
                    self._page(200 if ok else 400, "covertui is logged in" if ok else "covertui was not authorized",
                               "You can close this tab." if ok else "Go back to the terminal.")
                    threading.Thread(target=flow.stop, daemon=True).start()
                elif url.path != path:
                    self._page(404, "Not found", "This is covertui's login listener.")
                else:
                    self._page(400, "Not this login", "This address belongs to another or an older login attempt. "
                               "Open the newest link covertui gave you.")

            def _page(self, status: int, heading: str, text: str) -> None:
                body = f"<!doctype html><title>covertui</title><h1>{heading}</h1><p>{text}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep codes out of logs
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                """A client that left early or sent garbage: nothing to print (the terminal is the user's)."""
                log.debug("login listener: a request failed", exc_info=True)  # noqa: LOG014  called in the handler's except

        try:
            self._server = Server(("127.0.0.1", port), Handler)
        except OSError:
            return False
        self.listening_port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return True

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def run_interactive(self, read_line: Callable[[], str], say: Callable[[str], None], timeout: float = 600) -> dict:
        """CLI login: the paste or the loopback redirect, whichever arrives first."""
        answers: queue.Queue[tuple[str, str]] = queue.Queue()
        listening = self.listen(lambda answer: answers.put(("redirect", answer)))

        def reader() -> None:
            try:
                line = read_line()
            except (EOFError, OSError):
                line = ""
            answers.put(("paste", line))

        say("Open this URL in a browser and allow access:")
        say(self.authorize_url)
        if listening:
            say(
                f"Waiting for the redirect on 127.0.0.1:{self.listening_port} "
                f"(over SSH: ssh -L {self.listening_port}:127.0.0.1:{self.listening_port} this-host),"
            )
            say("or paste the URL the browser was redirected to (or its code) and press Enter:")
        else:
            say("Then paste the URL the browser was redirected to (or its code) and press Enter:")
        threading.Thread(target=reader, daemon=True).start()
        try:
            while True:
                try:
                    how, answer = answers.get(timeout=timeout)
                except queue.Empty:
                    raise AuthError("No answer within 10 minutes; run `covertui auth` again.") from None
                if how == "paste" and not answer.strip():
                    if listening and self._server is not None:
                        continue  # stdin closed: keep waiting for the redirect
                    raise AuthError("No URL or code was given; run `covertui auth` again.")
                return self.finish(answer)
        finally:
            self.stop()
