"""Every goal line the benchmarks recorded in bench/results/*.json, with PASS or MISS.

`make bench` prints this after running every benchmark; on its own it shows the latest figures
of each benchmark, with when, on which commit and at which load average they were measured.
"""

from __future__ import annotations

import json
import sys

import _common as common


def main() -> int:
    records = sorted(common.RESULTS_DIR.glob("*.json"))
    if not records:
        print(f"no results in {common.RESULTS_DIR}: run `make bench` first")
        return 1
    print("Goals (latest run of each benchmark):")
    for path in records:
        record = json.loads(path.read_text(encoding="utf-8"))
        load = record.get("machine", {}).get("load_average_1m", {})
        commit = (record.get("commit") or "?")[:7]
        if record.get("working_tree", {}).get("changed"):
            commit += " with uncommitted changes"
        loads = f"{load.get('start')}-{load.get('end')}"
        where = f"{record.get('measured_at', '?')}, commit {commit}, load {loads}"
        quick = ", --quick: not a measurement" if record.get("quick") else ""
        lines = record.get("goal_lines") or [{"line": "(no goal line recorded)"}]
        for goal in lines:
            print(f"  {record['benchmark']}: {goal['line']}  [{where}{quick}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
