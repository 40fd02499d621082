"""A fake of the few GitHub REST endpoints `ml pull-request` uses, for tests only.

GitHub itself cannot be reached from the test machines, so this small server on 127.0.0.1
(port 0) plays it: one repository, its pull requests in memory, token checked on every request.
Code under test finds it through GITHUB_API_URL, exactly as it finds GitHub Enterprise Server.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class FakeGitHub:
    repository: str = "octo/kit"
    token: str = "test-token"
    default_branch: str = "main"
    pulls: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def repo_json(self) -> dict:
        owner, name = self.repository.split("/")
        return {
            "id": 1,
            "name": name,
            "full_name": self.repository,
            "owner": {"login": owner, "id": 1},
            "default_branch": self.default_branch,
            "url": f"{self.url}/repos/{self.repository}",
            "html_url": f"https://github.test/{self.repository}",
        }

    def new_pull(self, body: dict) -> dict:
        number = len(self.pulls) + 1
        owner = self.repository.split("/")[0]
        pull = {
            "id": number,
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body.get("body", ""),
            "url": f"{self.url}/repos/{self.repository}/pulls/{number}",
            "html_url": f"https://github.test/{self.repository}/pull/{number}",
            "head": {"ref": body["head"], "label": f"{owner}:{body['head']}"},
            "base": {"ref": body["base"]},
        }
        self.pulls.append(pull)
        return pull


class Handler(http.server.BaseHTTPRequestHandler):
    fake: FakeGitHub

    def log_message(self, format: str, *args: object) -> None:
        pass  # no access log in pytest's output

    def reply(self, status: int, data: object) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def route(self, method: str) -> None:
        fake = self.fake
        url = urllib.parse.urlsplit(self.path)
        fake.requests.append((method, url.path))
        auth = self.headers.get("Authorization", "")
        if auth not in (f"token {fake.token}", f"Bearer {fake.token}"):
            return self.reply(401, {"message": "Bad credentials"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        base = f"/repos/{fake.repository}"
        query = dict(urllib.parse.parse_qsl(url.query))
        if method == "GET" and url.path == base:
            return self.reply(200, fake.repo_json())
        if method == "GET" and url.path == f"{base}/pulls":
            found = [
                pull
                for pull in fake.pulls
                if pull["state"] == query.get("state", "open")
                and ("head" not in query or pull["head"]["label"] == query["head"])
                and ("base" not in query or pull["base"]["ref"] == query["base"])
            ]
            return self.reply(200, found)
        if method == "POST" and url.path == f"{base}/pulls":
            if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in fake.pulls):
                return self.reply(422, {"message": "A pull request already exists"})
            return self.reply(201, fake.new_pull(body))
        if method == "PATCH" and url.path.startswith(f"{base}/pulls/"):
            pull = fake.pulls[int(url.path.rsplit("/", 1)[1]) - 1]
            pull.update({key: body[key] for key in ("title", "body") if key in body})
            return self.reply(200, pull)
        return self.reply(404, {"message": "Not Found"})

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PATCH(self) -> None:
        self.route("PATCH")


def serve(fake: FakeGitHub) -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    handler = type("BoundHandler", (Handler,), {"fake": fake})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread
