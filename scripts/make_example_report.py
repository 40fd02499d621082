"""Regenerate docs/example-report.md (and its PNG charts) from a real pipeline run.

In a temporary clone of this repository's HEAD, with this environment's tools:

1. base commit: the shipped params with a deliberately small CNN (filters [8], dense 16),
   `dvc repro`, commit;
2. the "pull request": `ml tune` with a four-trial budget over the shipped search space (it
   writes the best settings into params.yaml and runs `dvc repro`), commit;
3. `ml report --base-ref main` (main = the base commit): the report, copied to docs/ with a
   note on how it was made.

Takes a few minutes on 2 cores. Usage: python scripts/make_example_report.py
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SMALL_CNN = {"filters": [8], "dense_units": 16}
TRIALS = 4


def run(args: list[str], cwd: Path, env: dict) -> str:
    print("+", " ".join(args), flush=True)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def small_cnn_and_short_search(params: dict) -> None:
    params["train"]["cnn"].update(SMALL_CNN)
    params["tune"]["trials"] = TRIALS


def edit_params(path: Path, change) -> None:
    params = yaml.safe_load(path.read_text())
    change(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def main() -> None:
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env |= {"DVC_NO_ANALYTICS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    for name in [n for n in env if n.startswith(("GITHUB_", "MLFLOW_"))]:
        del env[name]
    with tempfile.TemporaryDirectory(prefix="runwright-example-") as tmp:
        repo = Path(tmp) / "repo"
        run(["git", "clone", "--quiet", str(ROOT), str(repo)], Path(tmp), env)
        run(["dvc", "config", "--local", "core.site_cache_dir", f"{tmp}/dvc-site"], repo, env)
        run(["git", "checkout", "--quiet", "-b", "example"], repo, env)
        edit_params(repo / "params.yaml", small_cnn_and_short_search)
        run(["dvc", "repro"], repo, env)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "example: small CNN"], repo, env)
        # The pull request's base branch, named as in a real repository.
        run(["git", "branch", "--force", "main", "HEAD"], repo, env)
        run(["python", "-m", "ml", "tune"], repo, env)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "example: tuned"], repo, env)
        run(["python", "-m", "ml", "report", "--base-ref", "main"], repo, env)
        write_docs(repo)


def write_docs(repo: Path) -> None:
    charts = DOCS / "example-report"
    shutil.rmtree(charts, ignore_errors=True)
    shutil.copytree(repo / "reports/charts", charts)
    report = (repo / "reports/report.md").read_text()
    files = sorted(charts.glob("*.png"))
    pngs = ", ".join(f"[`{path.name}`](example-report/{path.name})" for path in files)
    lines = report.splitlines()
    lines = [f"PNG charts: {pngs}." if line.startswith("PNG charts") else line for line in lines]
    today = datetime.date.today().isoformat()
    note = (
        f"> Example of the pull-request report, generated on {today} by "
        "`python scripts/make_example_report.py` from a real run: the shipped digits pipeline "
        f"with a small CNN (filters [8], dense 16) committed as the base, then `ml tune` with "
        f"{TRIALS} trials and `dvc repro` as the pull request, then "
        "`ml report --base-ref main`. In a pull request the same text is the sticky comment "
        "and the job summary.\n"
    )
    (DOCS / "example-report.md").write_text(note + "\n" + "\n".join(lines) + "\n")
    print(f"wrote {DOCS / 'example-report.md'} and {charts}/")


if __name__ == "__main__":
    main()
