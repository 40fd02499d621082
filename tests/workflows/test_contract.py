"""Contract tests for the workflows and actions: the security rules of DESIGN.md section 5, the
wiring between workflows, actions and `ml` commands, and the DVC pipeline's agreement with both.
Nothing here can run a workflow, so these rules are checked on the files themselves."""

from __future__ import annotations

import re
import shlex

import pytest
import typer
import yaml
from typer.core import TyperGroup
from typer.main import get_command

from ml import options
from ml.cli import COMMANDS, app
from ml.config import Params
from ml.results.run import ResultPaths
from tests.paths import REPO_ROOT
from tests.workflows import rules
from tests.workflows.kit_files import (
    KIT_CHECKOUT,
    KIT_REPOSITORY,
    WORKFLOWS,
    YamlFile,
    actions,
    all_files,
    kit_workflows,
    local_action,
    output_values,
    steps_of,
    workflows,
)

KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def cli_group() -> TyperGroup:
    group = get_command(app)
    assert isinstance(group, TyperGroup)  # an app with several commands is a group
    return group


GROUP = cli_group()


def command_options(name: str) -> set[str]:
    """Every option spelling of `ml <name>` (both halves of --flag/--no-flag)."""
    command = GROUP.get_command(typer.Context(GROUP), name)
    assert command is not None, f"ml has no command {name}"
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


FILES = {file.name: file for file in all_files()}


def ids(files) -> list[str]:
    return [file.name for file in files]


# --- pins and expressions --------------------------------------------------------------------


@pytest.mark.parametrize("file", all_files(), ids=ids(all_files()))
def test_third_party_uses_are_pinned_to_a_commit_with_its_version(file: YamlFile) -> None:
    assert rules.unpinned_uses(file) == []


@pytest.mark.parametrize("file", all_files(), ids=ids(all_files()))
def test_no_expression_inside_run(file: YamlFile) -> None:
    assert rules.expressions_in_run(file) == []


@pytest.mark.parametrize("file", all_files(), ids=ids(all_files()))
def test_checkouts_keep_no_credentials(file: YamlFile) -> None:
    for where, step in steps_of(file):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert (step.get("with") or {}).get("persist-credentials") is False, where


# --- permissions, timeouts, secrets, concurrency ---------------------------------------------


@pytest.mark.parametrize("file", workflows(), ids=ids(workflows()))
def test_permissions_are_empty_at_the_top_and_granted_per_job_with_a_reason(
    file: YamlFile,
) -> None:
    assert file.data.get("permissions") == {}, f"{file.name}: needs `permissions: {{}}`"
    for job_id, job in file.jobs.items():
        assert "permissions" in job, f"{file.name}: job {job_id} has no permissions"
    for line in file.text.splitlines():
        granted = re.match(r"^\s+[a-z-]+: (read|write)\b(.*)$", line)
        if granted:
            assert "# Needed to" in granted[2], f"{file.name}: no reason given: {line.strip()}"


@pytest.mark.parametrize("file", workflows(), ids=ids(workflows()))
def test_every_job_with_steps_has_a_timeout(file: YamlFile) -> None:
    for job_id, job in file.jobs.items():
        if "steps" in job:
            assert isinstance(job.get("timeout-minutes"), int), f"{file.name}: job {job_id}"
        else:
            assert "uses" in job  # a reusable workflow call: the called jobs carry timeouts


def test_no_secrets_inherit_anywhere() -> None:
    for file in workflows():
        for job_id, job in file.jobs.items():
            assert job.get("secrets") != "inherit", f"{file.name}: job {job_id}"
        assert "secrets: inherit" not in file.text


@pytest.mark.parametrize("file", workflows(), ids=ids(workflows()))
def test_triggered_workflows_have_a_concurrency_group(file: YamlFile) -> None:
    if not file.reusable:
        assert "group" in (file.data.get("concurrency") or {}), file.name


# --- fork pull requests and self-hosted runners ----------------------------------------------


def pull_request_workflows() -> list[YamlFile]:
    """Workflows a pull request starts, directly or as a reusable workflow its caller calls."""
    direct = [w for w in workflows() if "pull_request" in w.triggers]
    called = {
        call.split("/")[-1].split("@")[0]
        for w in direct
        for call in (job.get("uses", "") for job in w.jobs.values())
        if call
    }
    return direct + [w for w in kit_workflows() if w.path.name in called]


def test_no_workflow_uses_pull_request_target() -> None:
    for file in workflows():
        assert "pull_request_target" not in file.triggers, file.name


def test_fork_pull_requests_cannot_reach_a_self_hosted_runner() -> None:
    files = pull_request_workflows()
    assert {f.path.name for f in files} >= {"pr.yml", "reusable-pr.yml"}
    routed = [job for f in files for job in f.jobs.values() if "needs.route" in str(job)]
    assert routed, "no job on a routed runner was checked: the test would prove nothing"
    for file in files:
        assert rules.fork_reachable_runners(file) == [], file.name


def test_routed_runners_come_from_the_route_action() -> None:
    for file in kit_workflows():
        for job_id, job in file.jobs.items():
            found = re.search(r"needs\.(\w+)\.outputs\.runs-on", str(job.get("runs-on", "")))
            if not found:
                continue
            routes = [s for _, s in steps_of(file) if str(s.get("uses", "")).endswith("/route")]
            assert found[1] in job.get("needs", []) and routes, f"{file.name}: {job_id}"


def test_a_search_that_found_nothing_better_is_reported_by_a_job_other_than_tune() -> None:
    """With nothing to push no push job runs: a GitHub-hosted job of reusable-pr.yml with the
    report job's permissions puts what the search tried on the comment. The tune job, which
    runs the pull request's code, keeps `contents: read` alone. (Run under act with a real
    search: tests/workflows/act/test_remediation.py.)"""
    jobs = FILES[".github/workflows/reusable-pr.yml"].jobs
    tune = jobs["tune"]
    assert granted(tune) == {"contents": LEVELS["read"]}
    (upload,) = [s for s in tune["steps"] if str(s.get("uses", "")).startswith("actions/upload-")]
    assert upload["with"]["name"] == "runwright-tuned"
    assert upload["if"] == "steps.remediate.outputs.remediated == 'true'"  # changed or not
    assert tune["outputs"]["remediated"] == "${{ steps.remediate.outputs.remediated }}"
    (reporter,) = [
        job for job in jobs.values() if job.get("needs") in ("tune", ["tune"]) and "steps" in job
    ]
    condition = " ".join(reporter["if"].split())
    assert "needs.tune.outputs.remediated == 'true'" in condition
    assert "needs.tune.outputs.changed == 'false'" in condition  # else the push job reports
    assert "!cancelled()" in condition and "inputs.post-report" in condition
    assert reporter["runs-on"] == "ubuntu-latest"  # never the routed runner
    assert granted(reporter) == granted(jobs["report"])
    uses = [str(step.get("uses", "")) for step in reporter["steps"]]
    downloads = [s for s in reporter["steps"] if "download-artifact" in str(s.get("uses", ""))]
    assert [step["with"]["name"] for step in downloads] == ["runwright-tuned"]
    assert uses[-1] == f"./{KIT_CHECKOUT}/actions/report"  # posts: `post` defaults to true
    assert "post" not in (reporter["steps"][-1].get("with") or {})


# --- the caller-checkout problem -------------------------------------------------------------


@pytest.mark.parametrize("file", kit_workflows(), ids=ids(kit_workflows()))
def test_reusable_workflows_reach_the_kit_through_its_own_checkout(file: YamlFile) -> None:
    """`./actions/x` in a reusable workflow would resolve in the caller's repository. Every kit
    action is used from a checkout of the kit at the workflow's own commit instead."""
    if file.reusable:
        assert rules.kit_actions_without_kit_checkout(file) == []
        assert f"./{KIT_CHECKOUT}/actions/" in file.text


def called_workflow(file: YamlFile, reference: str) -> YamlFile:
    if reference.startswith("./.github/workflows/"):
        assert file.path.parent == WORKFLOWS, f"{file.name}: {reference} is not in its repo"
        name = reference.rsplit("/", 1)[1]
    else:
        match = rules.KIT_CALL.match(reference)
        assert match, f"{file.name}: {reference} does not call the kit as {KIT_REPOSITORY}@vN"
        name = match["file"]
    target = FILES.get(f".github/workflows/{name}")
    assert target is not None and target.reusable, f"{file.name}: {name} is not reusable"
    return target


@pytest.mark.parametrize("file", workflows(), ids=ids(workflows()))
def test_calls_to_reusable_workflows_match_their_inputs_and_secrets(file: YamlFile) -> None:
    for job_id, job in file.jobs.items():
        if "uses" not in job:
            continue
        spec = called_workflow(file, job["uses"]).triggers["workflow_call"]
        inputs, secrets = spec.get("inputs") or {}, spec.get("secrets") or {}
        for key in job.get("with") or {}:
            assert key in inputs, f"{file.name}: job {job_id} passes unknown input {key}"
        for key in job.get("secrets") or {}:
            assert key in secrets, f"{file.name}: job {job_id} passes unknown secret {key}"


# --- permissions: what each job's actions do on GitHub with the job's token --------------------

LEVELS = {"none": 0, "read": 1, "write": 2}


def granted(job: dict) -> dict[str, int]:
    """A job's `permissions:` as {scope: level}; a scope not listed is none."""
    permissions = job.get("permissions") or {}
    assert isinstance(permissions, dict), f"permissions listed per scope, not {permissions!r}"
    return {scope: LEVELS[level] for scope, level in permissions.items()}


def needed_by(name: str | None, step: dict) -> dict[str, str]:
    """The permissions kit action `name` needs, used as `step`, for its command's API calls."""
    if name == "deploy":  # comments the deploy report on the merged pull request
        return {"pull-requests": "write"}
    if name == "monitor":  # opens or updates the issue about drift or an unhealthy service
        return {"issues": "write"}
    if name == "pull-request":  # pushes the results branch, opens its pull request
        return {"contents": "write", "pull-requests": "write"}
    if name == "push-params":  # pushes the tuned params.yaml, updates the report comment
        return {"contents": "write", "pull-requests": "write"}
    if name == "report" and str((step.get("with") or {}).get("post", "true")) != "false":
        return {"pull-requests": "write"}  # posts the sticky comment
    return {}


def test_jobs_grant_what_their_actions_do_on_github() -> None:
    checked = set()
    for file in workflows():
        for job_id, job in file.jobs.items():
            for step in job.get("steps") or []:
                name = local_action(str(step.get("uses", "")))
                for scope, level in needed_by(name, step).items():
                    has = granted(job).get(scope, 0)
                    assert has >= LEVELS[level], f"{file.name}: {job_id} needs {scope}: {level}"
                    checked.add(name)
    assert checked >= {"deploy", "monitor", "pull-request", "push-params", "report"}, checked


@pytest.mark.parametrize("name", sorted(actions()))
def test_actions_hand_their_command_the_token_they_take(name: str) -> None:
    """Actions runs no step with GITHUB_TOKEN in its environment unless `env:` puts it there."""
    declared = actions()[name].data.get("inputs") or {}
    wants_token = bool(needed_by(name, {}))
    assert ("github-token" in declared) == wants_token, f"{name}: a github-token input"
    if wants_token:
        assert declared["github-token"]["default"] == "${{ github.token }}", name
        for where, step in steps_of(actions()[name]):
            if "python -m ml" in str(step.get("run", "")):
                env = step.get("env") or {}
                assert env.get("GITHUB_TOKEN") == "${{ inputs.github-token }}", where


@pytest.mark.parametrize("file", workflows(), ids=ids(workflows()))
def test_callers_grant_what_the_called_jobs_ask_for(file: YamlFile) -> None:
    """GitHub refuses to run a called workflow whose job asks for more than its caller grants."""
    for job_id, job in file.jobs.items():
        if "uses" not in job:
            continue
        given = granted(job)
        for called_id, called_job in called_workflow(file, job["uses"]).jobs.items():
            for scope, level in granted(called_job).items():
                assert given.get(scope, 0) >= level, (
                    f"{file.name}: job {job_id} grants {scope} less than {called_id} asks for"
                )


@pytest.mark.parametrize("file", all_files(), ids=ids(all_files()))
def test_local_actions_exist_and_get_only_their_inputs(file: YamlFile) -> None:
    for where, step in steps_of(file):
        uses = str(step.get("uses", ""))
        if not uses.startswith("./"):
            continue
        name = local_action(uses)
        assert name in actions(), f"{where}: {uses} is not an action of the kit"
        declared = actions()[name].data.get("inputs") or {}
        given = step.get("with") or {}
        for key in given:
            assert key in declared, f"{where}: {name} has no input {key}"
            assert "deprecationMessage" not in declared[key], f"{where}: {name}'s {key} is refused"
        for key, spec in declared.items():
            if spec.get("required") and "default" not in spec:
                assert key in given, f"{where}: {name} needs input {key}"


# --- workflow and action interfaces ----------------------------------------------------------


def is_sentence(text: object) -> bool:
    words = " ".join(str(text or "").split())
    return len(words.split()) >= 4 and words[0].isupper() and words.endswith(".")


@pytest.mark.parametrize("name", sorted(actions()))
def test_action_inputs_and_outputs_are_kebab_case_and_described(name: str) -> None:
    action = actions()[name].data
    assert is_sentence(action.get("description")), name
    for kind in ("inputs", "outputs"):
        for key, spec in (action.get(kind) or {}).items():
            assert KEBAB.match(key), f"{name}: {kind[:-1]} {key} is not kebab-case"
            assert is_sentence(spec.get("description")), f"{name}: describe {key} in a sentence"


@pytest.mark.parametrize("file", kit_workflows(), ids=ids(kit_workflows()))
def test_workflow_call_inputs_are_typed_and_described(file: YamlFile) -> None:
    if not file.reusable:
        return
    spec = file.triggers["workflow_call"]
    for kind in ("inputs", "secrets", "outputs"):
        for key, entry in (spec.get(kind) or {}).items():
            assert KEBAB.match(key), f"{file.name}: {key}"
            assert is_sentence(entry.get("description")), f"{file.name}: describe {key}"
            if kind == "inputs":
                assert entry.get("type") in ("string", "number", "boolean"), f"{file.name}: {key}"


# Inputs whose values come from people filling in a form (workflow_dispatch); `model` is the old
# name of `model-kind`, still declared so that a value given to it can be refused.
FORM_INPUTS = {"overrides", "epochs", "learning-rate", "model-kind", "model", "data-ref", "name"}


@pytest.mark.parametrize("name", ["route", "experiment"])
def test_form_values_reach_the_shell_only_as_untrusted_env(name: str) -> None:
    for where, step in steps_of(actions()[name]):
        for key, value in (step.get("env") or {}).items():
            referenced = set(re.findall(r"inputs\.([\w-]+)", str(value)))
            if referenced & FORM_INPUTS:
                assert key.startswith("UNTRUSTED_"), f"{where}: {key}"


# --- actions, `ml` commands and the DVC pipeline agree ---------------------------------------


def ml_calls(name: str) -> list[list[str]]:
    """The arguments of every `python -m ml` call, plus the `--flag` literals its env offers."""
    calls = []
    for _, step in steps_of(actions()[name]):
        words = shlex.split(str(step.get("run", "")))
        flags = re.findall(r"'(--[a-z-]+)'", " ".join(map(str, (step.get("env") or {}).values())))
        for start in range(len(words) - 2):
            if words[start : start + 3] == ["python", "-m", "ml"]:
                calls.append(words[start + 3 :] + flags)
    return calls


def renamed_inputs_passed(name: str) -> dict[str, tuple[str, str]]:
    """{input: (ml command, expression)} for every renamed input an action passes to `ml`."""
    prefix = options.renamed_input_variable("")
    passed = {}
    for _, step in steps_of(actions()[name]):
        words = shlex.split(str(step.get("run", "")))
        command = words[words.index("ml") + 1] if "ml" in words else ""
        for variable, value in (step.get("env") or {}).items():
            if variable.startswith(prefix):
                key = variable.removeprefix(prefix).lower().replace("_", "-")
                passed[key] = (command, str(value))
    return passed


@pytest.mark.parametrize("name", sorted(actions()))
def test_a_renamed_input_is_declared_deprecated_and_refused_by_its_command(name: str) -> None:
    """GitHub only warns about an input an action does not declare, so a renamed one stays
    declared, deprecated, and reaches `ml`, which refuses a value (options.RENAMED)."""
    declared = actions()[name].data.get("inputs") or {}
    renamed = {key for key, spec in declared.items() if "deprecationMessage" in spec}
    passed = renamed_inputs_passed(name)
    assert set(passed) == renamed, f"{name}: deprecated inputs and those passed to `ml` differ"
    for key, (command, value) in passed.items():
        assert value == f"${{{{ inputs.{key} }}}}", f"{name}: {key}"
        new, _ = options.RENAMED.get(command, {}).get(f"--{key}", ("", ""))
        assert new, f"{name}: ml {command} does not refuse the renamed input {key}"
        new = new.removeprefix("--")
        assert new in declared, f"{name}: {key} is renamed to {new}, which is not declared"
        assert declared[key]["deprecationMessage"] == f"Renamed to {new}.", f"{name}: {key}"
        assert declared[key]["description"].startswith("Refused: renamed to"), f"{name}: {key}"


@pytest.mark.parametrize("name", sorted(actions()))
def test_actions_call_existing_ml_commands_with_existing_options(name: str) -> None:
    calls = ml_calls(name)
    assert calls, f"{name}: an action runs one `python -m ml` command"
    for command, *args in calls:
        if command not in COMMANDS:
            pytest.skip(f"waits for `ml {command}`, not in this build yet")
        known = command_options(command)
        for arg in args:
            flag = arg.split("=", 1)[0]
            if flag.startswith("--"):
                assert flag in known, f"{name}: ml {command} has no option {flag}"


def test_the_tune_action_writes_its_table_where_ml_tune_and_the_report_do() -> None:
    default = actions()["tune"].data["inputs"]["out"]["default"]
    command = GROUP.get_command(typer.Context(GROUP), "tune")
    assert command is not None
    (out,) = [param for param in command.params if param.name == "out"]
    assert default == str(out.default) == ResultPaths().metric_file("tune")


def test_documented_output_values_are_the_ones_the_commands_write() -> None:
    """Where an output takes one of a fixed set of values, its description lists exactly the
    set the command can write. (tests/actions and tests/ml/monitor check the written values.)"""
    from ml.deploy.report import STATUSES
    from ml.monitor.check import CHECKED, DRIFT_STATUSES, NOTHING_DEPLOYED

    assert output_values("monitor", "status") == {CHECKED, NOTHING_DEPLOYED}
    assert output_values("monitor", "drift") == {*DRIFT_STATUSES, ""}  # empty: nothing deployed
    assert output_values("deploy", "status") == set(STATUSES)


def test_dvc_stages_are_ml_commands_with_their_own_params_section() -> None:
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert stage["cmd"].split()[:4] == ["python", "-m", "ml", name], name
        assert name in COMMANDS, f"stage {name} has no `ml {name}` command"
        for section in stage.get("params", []):
            assert section in Params.model_fields, f"stage {name}: unknown section {section}"
        assert f"ml/{name}.py" in stage["deps"], f"stage {name} must depend on its own module"


def test_params_sections_are_known_to_the_schema() -> None:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    assert set(raw) <= set(Params.model_fields)
    assert "route" in raw
