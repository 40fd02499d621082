"""A stand-in for the GitHub REST API, the one fake in these tests: GitHub cannot be reached from
here. It runs on 127.0.0.1 (ThreadingHTTPServer, port 0), tests point GITHUB_API_URL at it, and
it serves the endpoints `ml deploy` and `ml monitor` call through PyGithub:

    GET   /repos/{repo}/commits/{sha}                      the commit
    GET   /repos/{repo}/commits/{sha}/pulls                pull requests of the commit
    POST  /repos/{repo}/issues/{number}/comments           comment on a PR or issue
    GET   /repos/{repo}/issues?state=open&labels=...       open issues with a label
    POST  /repos/{repo}/issues                             open an issue
    PATCH /repos/{repo}/issues/{number}                    edit an issue
    GET   /repos/{repo}/actions/workflows/{file}           a workflow
    POST  /repos/{repo}/actions/workflows/{file}/dispatches  dispatch it (by file name or id)

Objects carry the `url` fields PyGithub follows, pointing back at this server.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.loopback_http import LoopbackServer, read_json, reply


class FakeGitHub(LoopbackServer):
    def __init__(self, repository: str = "octo/models", token: str = "test-token") -> None:
        super().__init__()
        self.repository = repository
        self.token = token
        self.pulls_by_sha: dict[str, list[int]] = {}
        self.comments: dict[int, list[str]] = {}
        self.issues: dict[int, dict] = {}
        self.workflows = {"retrain.yml": 4242}
        self.dispatches: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.next_number = 100
        self.repo_url = f"{self.url}/repos/{repository}"

    def environment(self, sha: str = "a" * 40) -> dict[str, str]:
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_TOKEN": self.token,
            "GITHUB_SHA": sha,
        }

    def pull(self, number: int) -> dict:
        return {
            "number": number,
            "url": f"{self.repo_url}/pulls/{number}",
            "issue_url": f"{self.repo_url}/issues/{number}",
            "merged_at": "2026-01-01T00:00:00Z",
            "merge_commit_sha": next(
                (sha for sha, numbers in self.pulls_by_sha.items() if number in numbers), None
            ),
            "state": "closed",
        }

    def issue(self, number: int) -> dict:
        return self.issues[number] | {"number": number, "url": f"{self.repo_url}/issues/{number}"}

    def handle(self, request, method: str) -> None:
        payload = read_json(request)
        url = urlsplit(request.path)
        with self.lock:
            self.requests.append((method, request.path))
            if request.headers.get("Authorization") != f"token {self.token}":
                return reply(request, 401, {"message": "Bad credentials"})
            prefix = f"/repos/{self.repository}"
            if not url.path.startswith(prefix):
                return reply(request, 404, {"message": "Not Found"})
            status, body = self.route(
                method, url.path[len(prefix) :], parse_qs(url.query), payload
            )
        reply(request, status, body)

    def route(self, method: str, path: str, query: dict, payload: dict) -> tuple[int, object]:
        if match := re.fullmatch(r"/commits/(\w+)", path):
            return 200, {"sha": match[1], "url": f"{self.repo_url}/commits/{match[1]}"}
        if match := re.fullmatch(r"/commits/(\w+)/pulls", path):
            return 200, [self.pull(number) for number in self.pulls_by_sha.get(match[1], [])]
        if (match := re.fullmatch(r"/issues/(\d+)/comments", path)) and method == "POST":
            self.comments.setdefault(int(match[1]), []).append(payload["body"])
            return 201, {"id": len(self.comments), "body": payload["body"]}
        if path == "/issues" and method == "GET":
            labels = set(query.get("labels", [""])[0].split(",")) - {""}
            return 200, [
                self.issue(number)
                for number, issue in self.issues.items()
                if issue["state"] == "open"
                and labels <= {label["name"] for label in issue["labels"]}
            ]
        if path == "/issues" and method == "POST":
            self.next_number += 1
            labels = [{"name": name} for name in payload.get("labels", [])]
            self.issues[self.next_number] = {
                "title": payload["title"], "body": payload["body"], "labels": labels,
                "state": "open",
            }  # fmt: skip
            return 201, self.issue(self.next_number)
        if (match := re.fullmatch(r"/issues/(\d+)", path)) and method == "PATCH":
            self.issues[int(match[1])].update(payload)
            return 200, self.issue(int(match[1]))
        if match := re.fullmatch(r"/actions/workflows/([\w.-]+)", path):
            if match[1] not in self.workflows:
                return 404, {"message": "Not Found"}
            number = self.workflows[match[1]]
            return 200, {"id": number, "path": f".github/workflows/{match[1]}",
                         "url": f"{self.repo_url}/actions/workflows/{number}"}  # fmt: skip
        if match := re.fullmatch(r"/actions/workflows/([\w.-]+)/dispatches", path):
            if match[1] not in self.workflows and not match[1].isdigit():
                return 404, {"message": "Not Found"}
            self.dispatches.append({"workflow": match[1]} | payload)
            return 204, None
        return 404, {"message": "Not Found"}
