"""The fake GitHub REST API: the one stand-in for GitHub in the tests, since GitHub cannot be
reached from them. It runs on 127.0.0.1 (tests/loopback_http.py), code under test finds it
through GITHUB_API_URL as it would a GitHub Enterprise Server, and it holds one repository's
state in memory for tests to set up and inspect. It serves every endpoint the kit calls:

    GET    /repos/{repo}                                  the repository
    GET    /repos/{repo}/pulls?state=&head=&base=         pull requests (paged)
    POST   /repos/{repo}/pulls                            open one
    PATCH  /repos/{repo}/pulls/{number}                   edit one
    GET    /repos/{repo}/commits/{sha}                    a commit
    GET    /repos/{repo}/commits/{sha}/pulls              its pull requests (paged)
    GET    /repos/{repo}/issues?state=&labels=            issues (paged)
    POST   /repos/{repo}/issues                           open one
    GET    /repos/{repo}/issues/{number}                  an issue or pull request
    PATCH  /repos/{repo}/issues/{number}                  edit an issue
    GET    /repos/{repo}/issues/{number}/comments         comments (paged)
    POST   /repos/{repo}/issues/{number}/comments         comment
    PATCH  /repos/{repo}/issues/comments/{id}             edit a comment
    GET    /repos/{repo}/actions/workflows/{file or id}   a workflow
    POST   /repos/{repo}/actions/workflows/{file or id}/dispatches
    GET    /repos/{repo}/actions/runners                  self-hosted runners (paged)
    DELETE /repos/{repo}/actions/runners/{id}             remove one
    POST   /{repos/{repo} or orgs/{owner}}/actions/runners/generate-jitconfig
    GET    /{repos/{repo} or orgs/{owner}}/installation   the App's installation (App JWT)
    POST   /app/installations/{id}/access_tokens          an installation token (App JWT)

It behaves like GitHub where the kit depends on it: 401 without a known token; 403 when the token
may not do it (a read-only fork token writing, the job's token administering runners); 404 for
an unknown repository, issue, pull request, comment, workflow or runner; 422 for a duplicate pull
request, an unknown commit, and a dispatch with an unknown ref or with inputs the workflow does
not declare (the fake is told the declared inputs); lists paged with `Link: rel="next"`.
`fail_next` scripts a failure (5xx, a rate limit) before the normal answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import yaml

from tests.loopback_http import LoopbackServer, read_json, reply

APP_ID = "123456"
INSTALLATION_ID = 42
INSTALLATION_TOKEN = "ghs_installation_token_for_tests"
MAX_PER_PAGE = 100  # GitHub's own cap
ROLES = ("read", "write", "admin")  # each may do what the ones before it may
FORBIDDEN = {"message": "Resource not accessible by integration"}
NOT_FOUND = {"message": "Not Found"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    auth: str
    body: dict


@dataclass
class Failure:
    method: str
    path: str | None  # a regex searched in the path; None: any path
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)


def app_private_key() -> str:
    """A fresh RSA key in PEM, as GitHub hands out for an App."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def dispatch_inputs(workflow_file: Path) -> dict[str, dict]:
    """The `workflow_dispatch` inputs a workflow file declares, to tell the fake."""
    workflow = yaml.safe_load(workflow_file.read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True)) or {}  # YAML 1.1 reads `on` as true
    return ((triggers.get("workflow_dispatch") or {}).get("inputs")) or {}


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


class FakeGitHub(LoopbackServer):
    def __init__(
        self, repository: str = "octo/models", token: str = "test-token", default_branch="main"
    ):
        super().__init__()
        self.repository, self.owner = repository, repository.split("/")[0]
        self.token = token
        self.default_branch = default_branch
        self.branches = {default_branch}
        self.tokens = {token: "write"}  # token -> role; the job's token may write, not administer
        self.app_key: str | None = None  # the App's private key, once install_app() is called
        self.pulls: list[dict] = []
        self.issues: dict[int, dict] = {}
        self.comments: dict[int, list[dict]] = {}  # issue or PR number -> comments, oldest first
        self.commits: set[str] = set()
        self.workflows: dict[str, dict] = {}  # file name -> {"id", "inputs"}
        self.dispatches: list[dict] = []
        self.runners: list[dict] = []
        self.requests: list[Request] = []
        self.failures: list[Failure] = []
        self.next_id = 1000
        self.repo_url = f"{self.url}/repos/{repository}"

    # --- set-up and inspection --------------------------------------------------------------

    def environment(self, sha: str | None = None) -> dict[str, str]:
        """The Actions variables that point code under test at this fake."""
        env = {
            "GITHUB_API_URL": self.url,
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_TOKEN": self.token,
        }
        return env | ({"GITHUB_SHA": sha} if sha else {})

    def add_token(self, token: str, role: str) -> None:
        """Accept `token` with a role: read (a fork's token), write (the job's), admin."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        self.tokens[token] = role

    def install_app(self, private_key_pem: str) -> None:
        """Install the App APP_ID, whose JWTs `private_key_pem` signs, on the repository."""
        self.app_key = private_key_pem

    def declare_workflow(self, file_name: str, inputs: dict[str, dict] | None = None) -> None:
        """A workflow with a `workflow_dispatch` trigger declaring `inputs` (name -> spec)."""
        self.workflows[file_name] = {"id": 4200 + len(self.workflows), "inputs": inputs or {}}

    def add_pull(
        self,
        number: int | None = None,
        *,
        head: str = "feature",
        base: str | None = None,
        merge_commit_sha: str | None = None,
        title: str = "A change",
        body: str = "",
    ) -> dict:
        """A pull request; with `merge_commit_sha` it is merged, and that commit is known."""
        with self.lock:
            number = number or self.next_number()
            head_sha = f"{number:040x}"
            pull: dict[str, Any] = {
                "id": number,
                "number": number,
                "state": "closed" if merge_commit_sha else "open",
                "title": title,
                "body": body,
                "url": f"{self.repo_url}/pulls/{number}",
                "issue_url": f"{self.repo_url}/issues/{number}",
                "html_url": f"https://github.test/{self.repository}/pull/{number}",
                "head": {"ref": head, "label": f"{self.owner}:{head}", "sha": head_sha},
                "base": {"ref": base or self.default_branch},
                "merged_at": "2026-01-01T00:00:00Z" if merge_commit_sha else None,
                "merge_commit_sha": merge_commit_sha,
            }
            self.pulls.append(pull)
            self.commits |= {head_sha} | ({merge_commit_sha} if merge_commit_sha else set())
            return pull

    def add_comment(self, number: int, body: str, login: str = "someone") -> dict:
        with self.lock:
            self.next_id += 1
            comment = {
                "id": self.next_id,
                "body": body,
                "user": {"login": login},
                "url": f"{self.repo_url}/issues/comments/{self.next_id}",
                "html_url": f"https://github.test/{self.repository}/pull/{number}",
            }
            self.comments.setdefault(number, []).append(comment)
            return comment

    def fail_next(
        self,
        method: str,
        status: int,
        message: str,
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `method` request (whose path matches the regex `path`, if given) with
        `status` and `message` instead of the normal reply; once."""
        self.failures.append(Failure(method, path, status, message, headers or {}))

    def count(self, method: str) -> int:
        return sum(1 for request in self.requests if request.method == method)

    def paths(self, method: str) -> list[str]:
        return [request.path for request in self.requests if request.method == method]

    # --- the HTTP side ----------------------------------------------------------------------

    def handle(self, request, method: str) -> None:
        url = urlsplit(request.path)
        seen = Request(
            method,
            url.path,
            dict(parse_qsl(url.query)),
            request.headers.get("Authorization", ""),
            read_json(request),
        )
        with self.lock:
            self.requests.append(seen)
            answer = self.answer(seen)
        reply(request, answer.status, answer.body, answer.headers)

    def answer(self, request: Request) -> Answer:
        if request.path in (
            f"/repos/{self.repository}/installation",
            f"/orgs/{self.owner}/installation",
            f"/app/installations/{INSTALLATION_ID}/access_tokens",
        ):
            return self.app_endpoint(request)
        role = self.role(request.auth)
        if role is None:
            message = "Bad credentials" if request.auth else "Requires authentication"
            return Answer(401, {"message": message})
        failure = self.scripted_failure(request)
        if failure:
            return Answer(failure.status, {"message": failure.message}, failure.headers)
        repo, org = f"/repos/{self.repository}", f"/orgs/{self.owner}"
        if request.path == repo or request.path.startswith(repo + "/"):
            return self.route(request, request.path.removeprefix(repo), role)
        if request.path == f"{org}/actions/runners/generate-jitconfig":
            return self.route(request, request.path.removeprefix(org), role)
        return Answer(404, NOT_FOUND)

    def scripted_failure(self, request: Request) -> Failure | None:
        for failure in self.failures:
            if failure.method == request.method and re.search(failure.path or "", request.path):
                self.failures.remove(failure)
                return failure
        return None

    def role(self, auth: str) -> str | None:
        scheme, _, credential = auth.partition(" ")
        return self.tokens.get(credential) if scheme.lower() in ("token", "bearer") else None

    def app_endpoint(self, request: Request) -> Answer:
        """The installation lookup and the token exchange, both authenticated by the App JWT."""
        if self.app_key is None:
            return Answer(404, NOT_FOUND)
        if not self.app_jwt_ok(request.auth):
            return Answer(401, {"message": "A JSON web token could not be decoded"})
        if request.method == "GET":
            return Answer(200, {"id": INSTALLATION_ID, "app_id": int(APP_ID)})
        self.tokens[INSTALLATION_TOKEN] = "admin"
        return Answer(201, {"token": INSTALLATION_TOKEN, "expires_at": "2099-01-01T00:00:00Z"})

    def app_jwt_ok(self, auth: str) -> bool:
        import jwt
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        assert self.app_key is not None  # checked by the caller
        key = serialization.load_pem_private_key(self.app_key.encode(), None).public_key()
        assert isinstance(key, rsa.RSAPublicKey)  # install_app() makes RS256 keys
        try:
            claims = jwt.decode(auth.removeprefix("Bearer ").strip(), key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return False
        # GitHub refuses JWTs valid for more than 10 minutes.
        return str(claims.get("iss")) == APP_ID and claims["exp"] - claims["iat"] <= 600

    def route(self, request: Request, path: str, role: str) -> Answer:
        method = request.method
        needed = "admin" if "/actions/runners" in path else "read" if method == "GET" else "write"
        if ROLES.index(role) < ROLES.index(needed):
            return Answer(403, FORBIDDEN)
        for pattern, verb, handler in self.routes():
            if verb == method and (match := re.fullmatch(pattern, path)):
                return handler(request, *match.groups())
        return Answer(404, NOT_FOUND)

    def routes(self) -> list[tuple[str, str, Callable[..., Answer]]]:
        return [
            (r"", "GET", lambda request: Answer(200, self.repo_json())),
            (r"/pulls", "GET", self.list_pulls),
            (r"/pulls", "POST", self.create_pull),
            (r"/pulls/(\d+)", "PATCH", self.edit_pull),
            (r"/commits/(\w+)", "GET", self.get_commit),
            (r"/commits/(\w+)/pulls", "GET", self.commit_pulls),
            (r"/issues", "GET", self.list_issues),
            (r"/issues", "POST", self.create_issue),
            (r"/issues/(\d+)", "GET", self.get_issue),
            (r"/issues/(\d+)", "PATCH", self.edit_issue),
            (r"/issues/(\d+)/comments", "GET", self.list_comments),
            (r"/issues/(\d+)/comments", "POST", self.create_comment),
            (r"/issues/comments/(\d+)", "PATCH", self.edit_comment),
            (r"/actions/workflows/([\w.-]+)", "GET", self.get_workflow),
            (r"/actions/workflows/([\w.-]+)/dispatches", "POST", self.dispatch),
            (r"/actions/runners", "GET", self.list_runners),
            (r"/actions/runners/(\d+)", "DELETE", self.remove_runner),
            (r"/actions/runners/generate-jitconfig", "POST", self.jit_config),
        ]

    def page(self, request: Request, items: list, wrap=None) -> Answer:
        """One page of `items` and, when more follow, a `Link: rel="next"` to the next."""
        per_page = min(int(request.query.get("per_page", 30)), MAX_PER_PAGE)
        number = int(request.query.get("page", 1))
        chunk = items[(number - 1) * per_page : number * per_page]
        headers = {}
        if number * per_page < len(items):
            query = request.query | {"per_page": str(per_page), "page": str(number + 1)}
            headers["Link"] = f'<{self.url}{request.path}?{urlencode(query)}>; rel="next"'
        return Answer(200, wrap(chunk, len(items)) if wrap else chunk, headers)

    def next_number(self) -> int:
        """Issues and pull requests share one sequence of numbers, as on GitHub."""
        return max([0, *self.issues, *(p["number"] for p in self.pulls)]) + 1

    # --- repository, pull requests, commits -------------------------------------------------

    def repo_json(self) -> dict:
        return {
            "id": 1,
            "name": self.repository.split("/")[1],
            "full_name": self.repository,
            "owner": {"login": self.owner, "id": 1},
            "default_branch": self.default_branch,
            "url": self.repo_url,
            "html_url": f"https://github.test/{self.repository}",
        }

    def list_pulls(self, request: Request) -> Answer:
        query = request.query
        found = [
            pull
            for pull in self.pulls
            if query.get("state", "open") in (pull["state"], "all")
            and ("head" not in query or pull["head"]["label"] == query["head"])
            and ("base" not in query or pull["base"]["ref"] == query["base"])
        ]
        return self.page(request, found)

    def create_pull(self, request: Request) -> Answer:
        body = request.body
        if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in self.pulls):
            return Answer(422, {"message": f"A pull request already exists for {body['head']}."})
        pull = self.add_pull(
            head=body["head"], base=body["base"], title=body["title"], body=body.get("body", "")
        )
        return Answer(201, pull)

    def edit_pull(self, request: Request, number: str) -> Answer:
        pull = next((p for p in self.pulls if p["number"] == int(number)), None)
        if pull is None:
            return Answer(404, NOT_FOUND)
        pull.update({k: request.body[k] for k in ("title", "body", "state") if k in request.body})
        return Answer(200, pull)

    def get_commit(self, request: Request, sha: str) -> Answer:
        if sha not in self.commits:
            return Answer(422, {"message": f"No commit found for SHA: {sha}"})
        return Answer(200, {"sha": sha, "url": f"{self.repo_url}/commits/{sha}"})

    def commit_pulls(self, request: Request, sha: str) -> Answer:
        if sha not in self.commits:
            return Answer(422, {"message": f"No commit found for SHA: {sha}"})
        found = [p for p in self.pulls if sha in (p["merge_commit_sha"], p["head"]["sha"])]
        return self.page(request, found)

    # --- issues and comments ----------------------------------------------------------------

    def issue_json(self, number: int) -> dict:
        return self.issues[number] | {
            "number": number,
            "url": f"{self.repo_url}/issues/{number}",
            "html_url": f"https://github.test/{self.repository}/issues/{number}",
        }

    def list_issues(self, request: Request) -> Answer:
        state = request.query.get("state", "open")
        labels = set(request.query.get("labels", "").split(",")) - {""}
        found = [
            self.issue_json(number)
            for number, issue in self.issues.items()
            if state in (issue["state"], "all")
            and labels <= {label["name"] for label in issue["labels"]}
        ]
        return self.page(request, found)

    def create_issue(self, request: Request) -> Answer:
        number = self.next_number()
        self.issues[number] = {
            "title": request.body["title"],
            "body": request.body.get("body", ""),
            "labels": [{"name": name} for name in request.body.get("labels", [])],
            "state": "open",
        }
        return Answer(201, self.issue_json(number))

    def get_issue(self, request: Request, number: str) -> Answer:
        if int(number) in self.issues:
            return Answer(200, self.issue_json(int(number)))
        pull = next((p for p in self.pulls if p["number"] == int(number)), None)
        return Answer(200, pull | {"url": pull["issue_url"]}) if pull else Answer(404, NOT_FOUND)

    def edit_issue(self, request: Request, number: str) -> Answer:
        if int(number) not in self.issues:
            return Answer(404, NOT_FOUND)
        changes = {k: request.body[k] for k in ("title", "body", "state") if k in request.body}
        self.issues[int(number)].update(changes)
        return Answer(200, self.issue_json(int(number)))

    def has_issue(self, number: str) -> bool:
        return int(number) in self.issues or any(p["number"] == int(number) for p in self.pulls)

    def list_comments(self, request: Request, number: str) -> Answer:
        if not self.has_issue(number):
            return Answer(404, NOT_FOUND)
        return self.page(request, self.comments.get(int(number), []))

    def create_comment(self, request: Request, number: str) -> Answer:
        if not self.has_issue(number):
            return Answer(404, NOT_FOUND)
        return Answer(201, self.add_comment(int(number), request.body["body"], "bot"))

    def edit_comment(self, request: Request, comment_id: str) -> Answer:
        for comment in (c for thread in self.comments.values() for c in thread):
            if comment["id"] == int(comment_id):
                comment["body"] = request.body["body"]
                return Answer(200, comment)
        return Answer(404, NOT_FOUND)

    # --- workflows and runners --------------------------------------------------------------

    def workflow(self, name: str) -> tuple[str, dict] | None:
        """A workflow by file name or by id, as GitHub finds it."""
        for file_name, flow in self.workflows.items():
            if name in (file_name, str(flow["id"])):
                return file_name, flow
        return None

    def get_workflow(self, request: Request, name: str) -> Answer:
        found = self.workflow(name)
        if found is None:
            return Answer(404, NOT_FOUND)
        file_name, flow = found
        return Answer(
            200,
            {
                "id": flow["id"],
                "name": file_name,
                "path": f".github/workflows/{file_name}",
                "state": "active",
                "url": f"{self.repo_url}/actions/workflows/{flow['id']}",
            },
        )

    def dispatch(self, request: Request, name: str) -> Answer:
        found = self.workflow(name)
        if found is None:
            return Answer(404, NOT_FOUND)
        file_name, flow = found
        ref, inputs = request.body.get("ref", ""), request.body.get("inputs") or {}
        if ref.removeprefix("refs/heads/") not in self.branches:
            return Answer(422, {"message": f"No ref found for: {ref}"})
        unexpected = sorted(set(inputs) - set(flow["inputs"]))
        if unexpected:
            return Answer(422, {"message": f"Unexpected inputs provided: {unexpected}"})
        for input_name, spec in flow["inputs"].items():
            if (spec or {}).get("required") and input_name not in inputs:
                return Answer(422, {"message": f"Required input '{input_name}' not provided"})
        self.dispatches.append({"workflow": file_name, "ref": ref, "inputs": inputs})
        return Answer(204, None)

    def list_runners(self, request: Request) -> Answer:
        return self.page(
            request, self.runners, lambda chunk, total: {"total_count": total, "runners": chunk}
        )

    def remove_runner(self, request: Request, runner_id: str) -> Answer:
        if all(r["id"] != int(runner_id) for r in self.runners):
            return Answer(404, NOT_FOUND)
        self.runners = [r for r in self.runners if r["id"] != int(runner_id)]
        return Answer(204, None)

    def jit_config(self, request: Request) -> Answer:
        jit = {"runner": {"id": 7, **request.body}, "encoded_jit_config": "ZmFrZS1qaXQ="}
        return Answer(201, jit)
