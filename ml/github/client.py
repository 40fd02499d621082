"""The one way the kit talks to the GitHub REST API: PyGithub, pointed at GITHUB_API_URL, with one
retry policy and one way of turning GitHub's refusals into a `UserError`; and the few calls
`ml deploy` and `ml monitor` make (a comment on the pull requests of a commit, one marked issue,
a workflow dispatch).

Client: PyGithub. It is the most used Python client of the GitHub REST API, follows
GITHUB_API_URL as `base_url` (GitHub Enterprise Server, a local test server), pages through
`Link` headers, and retries through urllib3's Retry with GitHub's rate-limit rules built in
(GithubRetry waits for Retry-After / X-RateLimit-Reset, and retries a 403 only when it is a rate
limit). The runner janitor imports this module in an environment holding only PyGithub and typer:
nothing here may import more than they bring.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ml.errors import UserError
from ml.github import env as github_env

if TYPE_CHECKING:
    from github import Auth, Github
    from github.Issue import Issue
    from github.Repository import Repository

log = logging.getLogger(__name__)

RETRIES = 4  # per request, on 5xx, 429 and rate-limited 403
BACKOFF_SECONDS = 1.0  # urllib3 waits 0, 2, 4, 8 s between the retries
MAX_RATE_LIMIT_WAIT_SECONDS = 300  # a longer rate-limit reset fails the step instead of waiting
TIMEOUT_SECONDS = 30  # per request: connect and read
PER_PAGE = 100  # GitHub's maximum: fewest requests when listing


def connection_options() -> dict:
    """What every PyGithub client of the kit shares: address, retries, timeout, page size."""
    from github import GithubRetry
    from urllib3 import Retry

    retry = GithubRetry(
        total=RETRIES,
        backoff_factor=BACKOFF_SECONDS,
        status_forcelist=[429, *range(500, 600)],
        # POST is retried too, as PyGithub does by default: a 5xx after GitHub stored a comment
        # is the one case that could leave a second one behind, rarer than a lost report.
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"POST", "PATCH"},
        max_rate_limit_wait=MAX_RATE_LIMIT_WAIT_SECONDS,
    )
    return {
        "base_url": github_env.api_url(),
        "retry": retry,
        "timeout": TIMEOUT_SECONDS,
        "per_page": PER_PAGE,
    }


def client(auth: Auth.Auth | None = None) -> Github:
    """A client acting with `auth`, by default the job's GITHUB_TOKEN. Lazy: objects are fetched
    when an attribute needs them, so a lookup costs no request of its own."""
    from github import Auth, Github

    return Github(auth=auth or Auth.Token(github_env.token()), lazy=True, **connection_options())


def app_installation_auth(app_id: str, private_key: str, repository: str) -> Auth.Auth:
    """Credentials of a GitHub App's installation on `repository` ('owner/name'): the App's JWT
    finds the installation, whose short-lived token PyGithub then mints and renews."""
    from github import Auth, GithubIntegration

    app = Auth.AppAuth(app_id, private_key)
    owner, name = repository.split("/")
    integration = GithubIntegration(auth=app, **connection_options())
    return app.get_installation_auth(integration.get_repo_installation(owner, name).id)


def repository_client(auth: Auth.Auth | None = None) -> Repository:
    """The repository GITHUB_REPOSITORY names, as a PyGithub object to call the API through."""
    return client(auth).get_repo(github_env.repository_name())


def configured() -> bool:
    """Whether the environment names a repository and a token to act with."""
    try:
        github_env.repository_name()
        github_env.token()
    except UserError:
        return False
    return True


def refusal(exc: Exception) -> str:
    """GitHub's own message of a GithubException, such as 'Bad credentials'."""
    data = getattr(exc, "data", None)
    return str(data.get("message") if isinstance(data, dict) else data)


@contextlib.contextmanager
def api_errors(context: str = "", refused_hint: str = "") -> Iterator[None]:
    """Turn what PyGithub and requests raise into one line naming the API, the status and
    GitHub's message; `context` (' for octo/models PR #7') says what was being done, and
    `refused_hint` what to do about a 401 or 403."""
    from github import (
        GithubException,
        RateLimitExceededExceedsMaxWait,
        RateLimitExceededException,
    )
    from requests import RequestException
    from requests.exceptions import RetryError

    where = f"GitHub API at {github_env.api_url()}"
    try:
        yield
    except RateLimitExceededExceedsMaxWait as exc:
        raise UserError(
            f"GitHub rate limit{context}: the reset is {exc.wait:.0f} s away"
        ) from None
    except RateLimitExceededException:
        raise UserError(
            f"GitHub rate limit{context}: still limited after {RETRIES} retries"
        ) from None
    except GithubException as exc:
        hint = f" ({refused_hint})" if refused_hint and exc.status in (401, 403) else ""
        raise UserError(f"{where} answered {exc.status} ({refusal(exc)}){context}{hint}") from None
    except RetryError as exc:
        raise UserError(f"{where} kept failing after {RETRIES} retries{context}: {exc}") from None
    except RequestException as exc:
        raise UserError(f"{where} cannot be reached{context}: {exc}") from None


def comment_on_pulls_of(sha: str, body: str) -> list[int]:
    """Comment on every merged pull request that `sha` belongs to; their numbers."""
    numbers = []
    with api_errors(f" commenting on the pull requests of {sha[:12]}"):
        for pull in repository_client().get_commit(sha).get_pulls():
            if pull.merged_at is None and pull.merge_commit_sha != sha:
                continue
            pull.create_issue_comment(body)
            numbers.append(pull.number)
    return numbers


def marked_issue_body(marker: str, label: str) -> str | None:
    """The body of the open issue labelled `label` whose body carries `marker`; None if none."""
    with api_errors(f" reading the {label!r} issue"):
        issue = marked_issue(repository_client(), f"<!-- {marker} -->", label)
    return None if issue is None else issue.body or ""


def upsert_issue(marker: str, title: str, body: str, label: str) -> tuple[int, str]:
    """Update the open issue whose body carries `marker`, or open one: (number, 'updated' or
    'opened'). The marker keeps it to one issue however often the monitor reports."""
    marked = f"<!-- {marker} -->"
    text = f"{body.rstrip()}\n\n{marked}\n"
    with api_errors(f" updating the {label!r} issue"):
        repo = repository_client()
        issue = marked_issue(repo, marked, label)
        if issue is not None:
            issue.edit(title=title, body=text)
            return issue.number, "updated"
        issue = repo.create_issue(title=title, body=text, labels=[label])
    return issue.number, "opened"


def marked_issue(repo: Repository, marked: str, label: str) -> Issue | None:
    for issue in repo.get_issues(state="open", labels=[label]):
        if marked in (issue.body or ""):
            return issue
    return None


def dispatch_workflow(workflow: str, ref: str, inputs: dict[str, str]) -> bool:
    """Start `workflow` (a file name such as retrain.yml) on `ref`; True when GitHub accepted.
    A refusal (422: an input the workflow does not declare, a ref it does not know) is logged
    with GitHub's reason and returns False."""
    from github import GithubException

    with api_errors(f" dispatching {workflow}"):
        flow = repository_client().get_workflow(workflow)
        try:
            flow.create_dispatch(ref, inputs, throw=True)
        except GithubException as exc:
            if exc.status != 422:
                raise
            log.warning("GitHub refused to dispatch %s on %s: %s", workflow, ref, refusal(exc))
            return False
    return True
