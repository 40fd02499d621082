"""Report sections drawn as tables: the model, confusion matrix, ONNX checks, the architecture
search's trials, and the reproducibility footer."""

from __future__ import annotations

import json

from ml.config import ParamsError, parse_params
from ml.results.run import RunResults, confusion_matrix

FULL_MATRIX_CLASSES = 20  # above this the matrix is too wide for a comment: list top confusions
TUNE_ROWS = 10


def describe_model(head: RunResults) -> str:
    """'cnn (filters [32, 64], ...; learning rate 0.002) · MLflow run `abc`' from the params."""
    try:
        train = parse_params(head.params or {}).train
    except ParamsError:
        return "unknown (params.yaml is not valid)"
    if train.model == "cnn":
        shape = (
            f"filters {train.cnn.filters}, kernel {train.cnn.kernel_size}, "
            f"dense {train.cnn.dense_units}, dropout {train.cnn.dropout_rate:g}"
        )
    else:
        shape = f"units {train.mlp.units}, dropout {train.mlp.dropout_rate:g}"
    text = f"**{train.model}** ({shape}; learning rate {train.learning_rate:g})"
    run_id = (head.train or {}).get("mlflow_run_id")
    if run_id:
        text += f" · MLflow run `{run_id[:12]}`"
    tune = head.tune or {}
    best = tune.get("best")
    if best:
        count = len(tune["trials"])
        noun = "candidate" if candidates_only(tune["trials"]) else "search trial"
        text += f" · best of {count} {noun}{'s' if count != 1 else ''} (trial {best['number']})"
    return text


def confusion_section(head: RunResults) -> list[str]:
    if head.task != "classification" or not head.predictions:
        return []
    labels, counts = confusion_matrix(head)
    title = "### Confusion matrix (test set; rows: actual, columns: predicted)"
    if len(labels) > FULL_MATRIX_CLASSES:
        return [title, "", *top_confusions(labels, counts), ""]
    lines = [
        "| actual ╲ predicted | " + " | ".join(f"`{label}`" for label in labels) + " |",
        "|---" + "|--:" * len(labels) + "|",
    ]
    for i, label in enumerate(labels):
        cells = [cell(n, i == j) for j, n in enumerate(counts[i])]
        lines.append(f"| `{label}` | " + " | ".join(cells) + " |")
    return [title, "", *lines, "", *per_class(head), ""]


def cell(count: int, diagonal: bool) -> str:
    if diagonal:
        return f"**{count}**"
    return "·" if count == 0 else str(count)  # a dot keeps the few mistakes easy to spot


def top_confusions(labels: list[str], counts: list[list[int]], limit: int = 15) -> list[str]:
    mistakes = sorted(
        ((n, labels[i], labels[j]) for i, row in enumerate(counts) for j, n in enumerate(row)),
        reverse=True,
    )
    mistakes = [m for m in mistakes if m[0] and m[1] != m[2]][:limit]
    lines = [f"{len(labels)} classes; the most frequent mistakes:", ""]
    lines += ["| actual | predicted | rows |", "|---|---|--:|"]
    return lines + [f"| `{a}` | `{p}` | {n} |" for n, a, p in mistakes]


def per_class(head: RunResults) -> list[str]:
    classes = (head.evaluate or {}).get("per_class") or {}
    if not classes:
        return []
    lines = ["<details><summary>Per-class precision and recall</summary>", ""]
    lines += ["| class | precision | recall | support |", "|---|--:|--:|--:|"]
    for label, row in classes.items():
        lines.append(
            f"| `{label}` | {row['precision']:.4f} | {row['recall']:.4f} | {row['support']} |"
        )
    return [*lines, "", "</details>"]


def onnx_section(head: dict | None, base: dict | None) -> list[str]:
    title = "### ONNX model"
    if not head:
        return [title, "", "Not exported (no `metrics/export.json`).", ""]
    base = base or {}

    def verified(report: dict) -> str:
        if not report:
            return "—"
        mark = "✅" if report.get("verified") else "❌"
        return (
            f"{mark} {report.get('test_rows')} test rows, max abs diff "
            f"{report.get('max_abs_diff', float('nan')):.1e}, {report.get('label_flips')} flips"
        )

    def size(report: dict) -> str:
        return f"{report['size_bytes'] / 1024:.1f} KiB" if "size_bytes" in report else "—"

    def latency(report: dict, key: str) -> str:
        value = (report.get("latency") or {}).get(key)
        return "—" if value is None else f"{value:.3f} ms"

    rows = [
        ("matches Keras", verified(head), verified(base)),
        ("size", size(head), size(base)),
        ("latency, 1 row (p50)", *(latency(r, "single_row_p50_ms") for r in (head, base))),
        ("latency, 1 row (p99)", *(latency(r, "single_row_p99_ms") for r in (head, base))),
        ("latency, batch of 256", *(latency(r, "batch_256_ms") for r in (head, base))),
    ]
    lines = ["| | this PR | base |", "|---|---|---|"]
    lines += [f"| {name} | {now} | {before} |" for name, now, before in rows]
    return [title, "", *lines, ""]


def candidates_only(trials: list[dict]) -> bool:
    """Every trial was a fixed tune.candidates entry: "train several, keep the best"."""
    return bool(trials) and all(row.get("candidate") is not None for row in trials)


def remediation_section(remediation: dict | None) -> list[str]:
    """What `ml remediate` tried after the failed gate, what won, and the gate with it."""
    if not remediation:
        return []
    before, after = remediation["gate_before"], remediation["gate_after"]
    best, budget = remediation["best"], remediation["budget"]
    verdict = "✅ passes" if after["passed"] else "❌ still fails"
    tried = "candidate" if remediation.get("candidates_only") else "trial"
    tried += "" if remediation["trials"] == 1 else "s"
    won = f"trial {best['number']}, {remediation['metric']} {best['value']:.4f}"
    tried_lines = [
        f"- **Gate before:** ❌ {before['reason']}",
        f"- **Tried:** {remediation['trials']} {tried} (budget: `tune.trials` "
        f"{budget['trials']}, `tune.timeout_minutes` {budget['timeout_minutes']:g})",
    ]
    if not remediation["changes"]:  # `ml remediate` re-trained nothing: the verdict stands
        return [
            "### Remediation: the gate failed, the kit tuned — nothing beat this pull "
            "request's settings",
            "",
            *tried_lines,
            f"- **Best:** {won}, with this pull request's own settings",
            f"- **Gate:** {verdict} · {after['reason']}",
            "",
            "Nothing was re-trained and nothing is pushed. To search further, widen params.yaml "
            "`tune` (`space`, `candidates`, `trials`) or change the model or the data.",
            "",
        ]
    lines = [
        f"### Remediation: the gate failed, the kit tuned — with the winner it {verdict}",
        "",
        *tried_lines,
        f"- **Won:** {won}",
        f"- **Gate with the winner** (whole pipeline re-trained): {verdict} · {after['reason']}",
        "",
        "| param | this PR | winner |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{change['key']}` | {value_cell(change['before'])} | {value_cell(change['after'])} |"
        for change in remediation["changes"]
    ]
    return [*lines, ""]


def value_cell(value: object) -> str:
    return "`" + json.dumps(value).replace("|", "\\|").replace("`", "'") + "`"


def tune_section(tune: dict | None) -> list[str]:
    if not tune or not tune.get("trials"):
        return []
    trials = tune["trials"]
    metric = tune["metric"]
    if candidates_only(trials):
        title = f"Candidates: {len(trials)} trained, the best kept, by"
    else:
        title = f"Architecture search: {len(trials)} trials, best by"
    lines = [
        f"### {title} {metric} ({tune['direction']})",
        "",
        f"| rank | trial | state | {metric} | epochs | seconds | settings |",
        "|--:|--:|---|--:|--:|--:|---|",
    ]
    for row in trials[:TUNE_ROWS]:
        value = "—" if row.get("value") is None else f"{row['value']:.4f}"
        settings = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in row["overrides"].items())
        lines.append(
            f"| {row['rank']} | {row['number']} | {row['state']} | {value} | "
            f"{row.get('epochs', '—')} | {row.get('seconds', '—')} | {settings or '(as is)'} |"
        )
    if len(trials) > TUNE_ROWS:
        lines.append(f"\n{len(trials) - TUNE_ROWS} more trials in `metrics/tune.json`.")
    return [*lines, ""]


def footer(head_commit: str | None, head: RunResults, environment: dict) -> list[str]:
    rows = [
        ("git commit", head_commit),
        ("PR head commit", environment.get("pr_head")),
        ("dvc.lock sha256", environment.get("dvc_lock_sha256")),
        ("MLflow run", (head.train or {}).get("mlflow_run_id")),
        ("runner", environment.get("runner")),
        ("GPU", environment.get("gpu") or "none"),
    ]
    rows += sorted((environment.get("versions") or {}).items())
    lines = ["<details><summary>Reproduce this run</summary>", "", "| | |", "|---|---|"]
    lines += [f"| {name} | `{value}` |" for name, value in rows if value]
    checkout = f"git checkout {head_commit}\n" if head_commit else ""
    lines += ["", "```sh", f"{checkout}dvc repro", "```", "", "</details>"]
    return lines
