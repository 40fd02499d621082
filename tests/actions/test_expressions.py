"""The harness's expression subset follows GitHub's rules where the actions rely on them, and
refuses what it does not implement instead of guessing."""

from __future__ import annotations

import pytest

from tests.actions.expressions import (
    ExpressionError,
    condition,
    context_lookup,
    evaluate,
    substitute,
)

CONTEXTS: dict[str, dict] = {
    "inputs": {"pull": "true", "post": "false", "learning-rate": "", "target": "docker"},
    "github": {"token": "t0k", "event": {"pull_request": {"number": 7}}},
    "env": {"HOME": "/root"},
    "steps": {"route": {"outputs": {"runs-on": '["ubuntu-latest"]'}}},
}
LOOKUP = context_lookup(CONTEXTS)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("inputs.pull == 'true' && '--pull' || '--no-pull'", "--pull"),
        ("inputs.post == 'true' && '--post' || '--no-post'", "--no-post"),
        ("inputs.target == 'DOCKER'", True),  # strings compare ignoring case
        ("inputs.learning-rate != ''", False),
        ("!inputs.learning-rate", True),
        ("github.event.pull_request.number == 7", True),
        ("steps.route.outputs.runs-on", '["ubuntu-latest"]'),
        ("github.event.missing", None),
        ("'it''s'", "it's"),
        ("(inputs.pull == 'false') || (env.HOME == '/root')", True),
    ],
)
def test_values(text: str, value: object) -> None:
    assert evaluate(text, LOOKUP) == value


def test_substitution_in_strings_and_defaults() -> None:
    assert substitute("key-${{ github.token }}-${{ inputs.post }}", LOOKUP) == "key-t0k-false"
    assert substitute("${{ github.event.missing }}", LOOKUP) == ""


@pytest.mark.parametrize(
    ("text", "status", "runs"),
    [
        ("inputs.pull == 'true'", "success", True),
        ("inputs.pull == 'true'", "failure", False),  # implicit success() &&
        ("always() && inputs.pull == 'true'", "failure", True),
        ("${{ failure() }}", "failure", True),
        ("failure()", "success", False),
    ],
)
def test_step_conditions(text: str, status: str, runs: bool) -> None:
    assert condition(text, LOOKUP, status) is runs


@pytest.mark.parametrize(
    "text",
    [
        "fromJSON(steps.route.outputs.runs-on)",  # a function the harness does not implement
        "matrix.python",  # an unsupported context
        "inputs.nonexistent",  # an input the action does not declare
        "steps.ghost.outputs.x",  # a step that does not exist
        "inputs.pull ==",  # incomplete
        "github['token']",  # index syntax
    ],
)
def test_anything_else_fails_loudly(text: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(text, LOOKUP)
