"""Each workflow rule catches the mistake it exists for (the kit itself passes them all:
test_contract.py)."""

from __future__ import annotations

from pathlib import Path

from tests.workflows import rules
from tests.workflows.kit_files import parse

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"


def workflow(text: str):
    return parse(Path("example.yml"), text)


def test_unpinned_and_uncommented_uses_are_caught() -> None:
    file = workflow(
        "jobs:\n  a:\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        f"      - uses: {CHECKOUT}\n"
        f"      - uses: {CHECKOUT} # v4.2.2\n"
        "      - uses: ./actions/setup\n"
    )
    assert rules.unpinned_uses(file) == [
        "actions/checkout@v4 is not pinned to a commit SHA",
        f"{CHECKOUT} has no `# vX.Y.Z` comment",
    ]


def test_the_kits_major_tag_is_allowed_only_for_its_reusable_workflows() -> None:
    allowed = workflow(
        "jobs:\n  a:\n    uses: runwright/runwright/.github/workflows/reusable-pr.yml@v1\n"
    )
    assert rules.unpinned_uses(allowed) == []
    other = workflow("jobs:\n  a:\n    uses: someone/else/.github/workflows/x.yml@v1\n")
    assert rules.unpinned_uses(other) != []


def test_an_expression_in_run_is_caught() -> None:
    file = workflow(
        "jobs:\n  a:\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    assert rules.expressions_in_run(file) == [
        "example.yml job a step 0: an expression inside run:"
    ]


def test_a_routed_job_without_the_same_repository_condition_is_caught() -> None:
    routed = "    runs-on: ${{ fromJSON(needs.route.outputs.runs-on) }}\n"
    bad = workflow(f"jobs:\n  train:\n{routed}")
    assert rules.fork_reachable_runners(bad) == [
        "job train may run a fork's code on '${{ fromJSON(needs.route.outputs.runs-on) }}'"
    ]
    guarded = workflow(f"jobs:\n  train:\n{routed}    if: {rules.SAME_REPO}\n")
    approved = workflow(f"jobs:\n  train:\n{routed}    environment: gpu\n")
    hosted = workflow("jobs:\n  lint:\n    runs-on: ubuntu-latest\n")
    labelled = workflow("jobs:\n  train:\n    runs-on: [self-hosted, gpu]\n")
    assert rules.fork_reachable_runners(guarded) == []
    assert rules.fork_reachable_runners(approved) == []
    assert rules.fork_reachable_runners(hosted) == []
    assert rules.fork_reachable_runners(labelled) != []


def test_a_kit_action_used_without_the_kits_checkout_is_caught() -> None:
    plain = workflow("jobs:\n  a:\n    steps:\n      - uses: ./actions/train\n")
    assert rules.kit_actions_without_kit_checkout(plain) == [
        "job a: ./actions/train resolves in the caller's repository"
    ]
    callers_ref = workflow(
        "jobs:\n  a:\n    steps:\n"
        f"      - uses: {CHECKOUT} # v4.2.2\n"
        "        with: {path: .runwright-kit, repository: '${{ github.repository }}'}\n"
        "      - uses: ./.runwright-kit/actions/train\n"
    )
    assert rules.kit_actions_without_kit_checkout(callers_ref) == [
        "job a: ./.runwright-kit/actions/train before the kit's checkout at its commit"
    ]
