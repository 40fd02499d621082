"""The report's Mermaid charts are valid `xychart-beta`: checked by a structural validator of the
grammar here, and, where Node and `npm ci --prefix tests/mermaid` are available, by Mermaid's
own parser run offline."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import pytest

from ml.report import mermaid
from ml.report.markdown import render
from tests.ml.report import cases as report_cases
from tests.paths import REPO_ROOT

MERMAID_DIR = REPO_ROOT / "tests" / "mermaid"
EXAMPLE_REPORT = REPO_ROOT / "docs" / "example-report.md"
NUMBER = r"-?\d+(?:\.\d+)?"
LABEL = r'"[^"\n]*"'
DIRECTIVE = re.compile(r"^%%\{init: (\{.*\})\}%%$")
TITLE = re.compile(rf"^    title {LABEL}$")
X_AXIS = re.compile(rf"^    x-axis \[({LABEL}(?:, {LABEL})*)\]$")
Y_AXIS = re.compile(rf"^    y-axis {LABEL} ({NUMBER}) --> ({NUMBER})$")
SERIES = re.compile(rf"^    (line|bar) \[({NUMBER}(?:, {NUMBER})*)\]$")


def validate_xychart(block: str) -> None:
    """Raise AssertionError unless `block` is a fenced xychart-beta chart of the form the kit
    writes: directive, title, x-axis with bracketed labels, y-axis with a range, then line/bar
    series of plain numbers, one per label, inside the range."""
    lines = block.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```", "not a fenced mermaid block"
    directive = DIRECTIVE.match(lines[1])
    assert directive, f"bad init directive: {lines[1]}"
    json.loads(directive[1])
    assert lines[2] == "xychart-beta", f"not an xychart-beta: {lines[2]}"
    assert TITLE.match(lines[3]), f"bad title: {lines[3]}"
    x_axis = X_AXIS.match(lines[4])
    assert x_axis, f"bad x-axis: {lines[4]}"
    labels = re.findall(LABEL, x_axis[1])
    y_axis = Y_AXIS.match(lines[5])
    assert y_axis, f"bad y-axis: {lines[5]}"
    low, high = float(y_axis[1]), float(y_axis[2])
    assert low < high, f"empty y range {low} --> {high}"
    series = lines[6:-1]
    assert series, "no series"
    for line in series:
        match = SERIES.match(line)
        assert match, f"bad series: {line}"
        values = [float(v) for v in match[2].split(", ")]
        assert len(values) == len(labels), f"{len(values)} values for {len(labels)} labels"
        assert all(low <= v <= high for v in values), f"values outside {low}..{high}"


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n.*?^```$", markdown, flags=re.S | re.M)


def all_report_blocks() -> list[str]:
    """The charts of every golden-file case and of the example report in docs/."""
    blocks = []
    for case in report_cases.cases().values():
        blocks += mermaid_blocks(render(case))
    return blocks + mermaid_blocks(EXAMPLE_REPORT.read_text(encoding="utf-8"))


def test_every_report_chart_passes_the_structural_validator() -> None:
    blocks = all_report_blocks()
    assert len(blocks) >= 10
    for block in blocks:
        validate_xychart(block)


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ("xychart-beta", "xychart-alpha"),
        ('x-axis ["', 'x-axis "'),
        (" --> ", " - "),
        ("    line [", "    line [1e-05, "),
        ('    title "', "    title '"),
    ],
)
def test_the_validator_rejects_broken_charts(find: str, replace: str) -> None:
    block = all_report_blocks()[0]
    broken = block.replace(find, replace, 1)
    assert broken != block
    with pytest.raises(AssertionError):
        validate_xychart(broken)


def test_the_validator_rejects_a_short_series() -> None:
    block = all_report_blocks()[0]
    shorter = re.sub(r"(    line \[[^\]]*), [^,\]]+\]", r"\1]", block, count=1)
    with pytest.raises(AssertionError, match="values for"):
        validate_xychart(shorter)


def test_xychart_refuses_what_mermaid_cannot_draw() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        mermaid.xychart("t", ["a", "b", "c"], [mermaid.Series("s", [1, 2])], "y")
    with pytest.raises(ValueError, match="not every value is a finite number"):
        mermaid.xychart("t", ["a", "b"], [mermaid.Series("s", [1, math.nan])], "y")


def test_numbers_never_use_exponents_and_labels_never_break_quotes() -> None:
    assert mermaid.number(1e-7) == "0"
    assert mermaid.number(-2.5e-5) == "-0.000025"
    assert mermaid.number(12345.678) == "12345.678"
    assert mermaid.quoted('say "hi"\nthere') == "\"say 'hi' there\""


def test_long_histories_are_thinned_keeping_both_ends() -> None:
    kept = mermaid.thinned(200)
    assert len(kept) == mermaid.MAX_POINTS and kept[0] == 0 and kept[-1] == 199
    assert mermaid.thinned(5) == [0, 1, 2, 3, 4]


def mermaid_parser() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: Mermaid's own parser was not run")
    if not (MERMAID_DIR / "node_modules" / "mermaid").is_dir():
        pytest.skip("Mermaid is not installed: run `npm ci --prefix tests/mermaid`")
    return [node, str(MERMAID_DIR / "parse.mjs")]


def parse_with_mermaid(sources: list[str]) -> list[dict]:
    result = subprocess.run(
        mermaid_parser(), input=json.dumps(sources), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_mermaid_itself_parses_every_report_chart() -> None:
    sources = [
        block.removeprefix("```mermaid\n").removesuffix("\n```") for block in all_report_blocks()
    ]
    broken = "xychart-beta\n    x-axis [a, b\n    line [1, 2]"  # proves the parser can refuse
    results = parse_with_mermaid([*sources, broken])
    assert results[-1]["ok"] is False and "Parse error" in results[-1]["error"]
    for source, outcome in zip(sources, results, strict=False):
        assert outcome == {"ok": True, "type": "xychart"}, f"{outcome}\n{source}"
