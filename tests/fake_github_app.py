"""A stand-in for the few GitHub REST endpoints the runner tools call (App tokens, runners),

This is the test suite's only fake, because GitHub itself cannot be reached from a test. It is
a real HTTP server (ThreadingHTTPServer on 127.0.0.1, port 0) that the code under test finds
through GITHUB_API_URL, and it checks what GitHub would: App JWTs are verified against the App's
public key, runner endpoints accept only the installation token it issued.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "123456"
INSTALLATION_ID = 42
INSTALLATION_TOKEN = "ghs_installation_token_for_tests"


def app_private_key() -> str:
    """A fresh RSA key in PEM, as GitHub hands out for an App."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class Call:
    method: str
    path: str
    auth: str
    body: dict | None


@dataclass
class FakeGitHub:
    repository: str
    private_key_pem: str
    runners: list[dict] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    # (method, path regex) -> (status, message): answer an error instead of the normal reply.
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    url: str = ""
    # Where runners register: "repos/<owner>/<repo>" (default) or "orgs/<org>".
    scope: str = ""

    def __post_init__(self) -> None:
        self.scope = self.scope or f"repos/{self.repository}"

    def public_key(self):
        return serialization.load_pem_private_key(self.private_key_pem.encode(), None).public_key()

    def app_jwt_ok(self, auth: str) -> bool:
        token = auth.removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(token, self.public_key(), algorithms=["RS256"])
        except jwt.PyJWTError:
            return False
        # GitHub refuses JWTs valid for more than 10 minutes.
        return str(claims.get("iss")) == APP_ID and claims["exp"] - claims["iat"] <= 600

    def paths_called(self, method: str) -> list[str]:
        return [call.path for call in self.calls if call.method == method]


def runner(runner_id: int, status: str, busy: bool = False, labels=("self-hosted", "gpu")):
    return {
        "id": runner_id,
        "name": f"gpu-box-{runner_id}",
        "os": "Linux",
        "status": status,
        "busy": busy,
        "ephemeral": True,
        "labels": [{"id": n, "name": name, "type": "custom"} for n, name in enumerate(labels)],
    }


class Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub  # set per server by serve()

    def log_message(self, format, *args):
        pass  # keep test output clean

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method: str) -> None:
        fake = self.fake
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        auth = self.headers.get("Authorization", "")
        fake.calls.append(Call(method, url.path, auth, body))
        for (fail_method, pattern), (status, message) in fake.failures.items():
            if fail_method == method and re.fullmatch(pattern, url.path):
                return self.reply(status, {"message": message})
        app_paths = (
            f"/{fake.scope}/installation",
            f"/app/installations/{INSTALLATION_ID}/access_tokens",
        )
        if url.path in app_paths:
            return self.app_endpoint(method, auth)
        if auth.split(" ")[-1] != INSTALLATION_TOKEN:
            return self.reply(401, {"message": "Bad credentials"})
        return self.runner_endpoint(method, url, body)

    def app_endpoint(self, method: str, auth: str) -> None:
        """The installation lookup and the token exchange, both authenticated by the App JWT."""
        if not self.fake.app_jwt_ok(auth):
            return self.reply(401, {"message": "A JSON web token could not be decoded"})
        if method == "GET":
            return self.reply(200, {"id": INSTALLATION_ID, "app_id": int(APP_ID)})
        token = {"token": INSTALLATION_TOKEN, "expires_at": "2099-01-01T00:00:00Z"}
        return self.reply(201, token)

    def runner_endpoint(self, method: str, url, body: dict | None) -> None:
        fake = self.fake
        runners = f"/repos/{fake.repository}/actions/runners"
        if method == "GET" and url.path == runners:
            return self.list_runners(parse_qs(url.query))
        if method == "DELETE" and (match := re.fullmatch(rf"{runners}/(\d+)", url.path)):
            fake.runners = [r for r in fake.runners if r["id"] != int(match[1])]
            return self.reply(204, None)
        if method == "POST" and url.path == f"/{fake.scope}/actions/runners/generate-jitconfig":
            jit = {"runner": {"id": 7, **body}, "encoded_jit_config": "ZmFrZS1qaXQ="}
            return self.reply(201, jit)
        return self.reply(404, {"message": "Not Found"})

    def list_runners(self, query: dict) -> None:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        runners = self.fake.runners
        chunk = runners[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(runners):
            next_url = f"{self.fake.url}/repos/{self.fake.repository}/actions/runners"
            headers["Link"] = f'<{next_url}?per_page={per_page}&page={page + 1}>; rel="next"'
        self.reply(200, {"total_count": len(runners), "runners": chunk}, headers)

    def reply(self, status: int, payload, headers: dict | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def serve(fake: FakeGitHub):
    """Start serving `fake` on a free loopback port; returns the server (call shutdown())."""
    handler = type("BoundHandler", (Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server
