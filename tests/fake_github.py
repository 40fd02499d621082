"""A stand-in for the GitHub REST API: the one fake in the test suite, because GitHub itself
cannot be reached from tests. It serves exactly the endpoints `ml.report.comment` calls through
PyGithub, on 127.0.0.1, and tests point GITHUB_API_URL at it:

    GET   /repos/{owner}/{repo}/issues/{number}/comments?per_page=&page=   (Link: rel="next")
    POST  /repos/{owner}/{repo}/issues/{number}/comments
    PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}

Scripted failures (`fail_next`) answer a request with a given status before the normal reply,
to test 403, 5xx and rate-limit handling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.loopback_http import LoopbackServer, read_json, reply

MAX_PER_PAGE = 100  # GitHub's own cap
LIST = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$")
EDIT = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$")


@dataclass
class Failure:
    method: str
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)


class FakeGitHub(LoopbackServer):
    def __init__(self, repository: str = "octo/models", token: str = "test-token"):
        super().__init__()
        self.repository = repository
        self.token = token
        self.comments: dict[int, list[dict]] = {}  # PR number -> comments, oldest first
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.failures: list[Failure] = []
        self.next_id = 1000

    def add_comment(self, number: int, body: str, login: str = "someone") -> dict:
        with self.lock:
            self.next_id += 1
            comment = {
                "id": self.next_id,
                "body": body,
                "user": {"login": login},
                "url": f"{self.url}/repos/{self.repository}/issues/comments/{self.next_id}",
                "html_url": f"https://github.example/{self.repository}/pull/{number}",
            }
            self.comments.setdefault(number, []).append(comment)
            return comment

    def fail_next(self, method: str, status: int, message: str, **headers: str) -> None:
        self.failures.append(Failure(method, status, message, headers))

    def count(self, method: str) -> int:
        return sum(1 for seen, _ in self.requests if seen == method)

    def handle(self, request, method: str) -> None:
        self.requests.append((method, request.path))
        payload = read_json(request)
        if request.headers.get("Authorization") not in (f"token {self.token}",):
            return reply(request, 401, {"message": "Bad credentials"})
        failure = next((f for f in self.failures if f.method == method), None)
        if failure:
            self.failures.remove(failure)
            return reply(request, failure.status, {"message": failure.message}, failure.headers)
        url = urlsplit(request.path)
        listing, editing = LIST.match(url.path), EDIT.match(url.path)
        if listing and f"{listing[1]}/{listing[2]}" == self.repository:
            number = int(listing[3])
            if method == "GET":
                return self.list_page(request, number, parse_qs(url.query))
            if method == "POST":
                return reply(request, 201, self.add_comment(number, payload["body"], "bot"))
        if editing and method == "PATCH":
            for comment in (c for thread in self.comments.values() for c in thread):
                if comment["id"] == int(editing[3]):
                    comment["body"] = payload["body"]
                    return reply(request, 200, comment)
        return reply(request, 404, {"message": "Not Found"})

    def list_page(self, request, number: int, query: dict) -> None:
        per_page = min(int(query.get("per_page", ["30"])[0]), MAX_PER_PAGE)
        page = int(query.get("page", ["1"])[0])
        thread = self.comments.get(number, [])
        items = thread[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(thread):
            base = f"{self.url}/repos/{self.repository}/issues/{number}/comments"
            headers["Link"] = f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"'
        reply(request, 200, items, headers)
