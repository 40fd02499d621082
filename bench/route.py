"""`ml route`: what looking at the model costs, and that the kit's own models do not pay for it.

Measured: wall time of the whole `python -m ml route` process (start-up, params, rules) in a
clone of the repository, alternating between

  before     train.model mlp on the bundled wine set, the route rules without a condition on the
             model's layers (what `ml route` read before rules could look at the model)
  built-in   the same mlp with the shipped rules, whose `layers: [convolution, attention]` rule
             is answered without building the kit's own model
  own-model  examples/tabular's own model (models/net.py) with the same rules: the model is built
             (TensorFlow imported) to see its layers

Goal: median(built-in) / median(before) <= 1.1: the layers rule costs the built-in models
nothing. The own model's figure is reported: the price of a rule that needs the model.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import _common as common
import yaml

NAME = "route"
GOAL_RATIO = 1.1


def params_files(clone: Path, env: dict) -> dict[str, Path]:
    shipped = yaml.safe_load((clone / "params.yaml").read_text(encoding="utf-8"))
    mlp = dict(shipped, prepare={"source": {"bundled": "wine"}})
    mlp["train"] = dict(shipped["train"], model="mlp")
    before = dict(mlp)
    before["route"] = dict(
        shipped["route"],
        rules=[rule for rule in shipped["route"]["rules"] if "layers" not in rule],
    )
    example = clone / "examples/tabular"
    common.run([sys.executable, "make_data.py"], example, env)
    own = yaml.safe_load((example / "params.yaml").read_text(encoding="utf-8"))
    own["route"] = shipped["route"]
    files = {"before": (clone, before), "built-in": (clone, mlp), "own-model": (example, own)}
    paths = {}
    for name, (where, params) in files.items():
        path = where / f"params-{name}.yaml"
        path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
        paths[name] = path
    return paths


def route_case(params: Path, env: dict):
    def case() -> common.Timing:
        command = [sys.executable, "-m", "ml", "route", "--params", str(params)]
        return common.timed(command, params.parent, env)

    return case


def main() -> int:
    args = common.base_parser(__doc__, repeats=7).parse_args()
    repeats = 1 if args.quick else args.repeats
    with common.workspace(NAME, args.keep) as root:
        clone = common.clone_repo(args.repo, root / "kit", common.tool_env())
        env = common.tool_env(PYTHONPATH=str(clone))
        paths = params_files(clone, env)
        cases = {name: route_case(path, env) for name, path in paths.items()}
        print(f"Timing 1 warm-up + {repeats} alternating `ml route` runs ...", flush=True)
        timings = common.interleave(cases, repeats, warmup=1)
        decisions = {name: ts[-1].output.strip().splitlines()[-1] for name, ts in timings.items()}
        shutil.rmtree(clone / "examples/tabular/data", ignore_errors=True)
    return report(timings, decisions, args.quick)


def report(timings: dict[str, list[common.Timing]], decisions: dict, quick: bool) -> int:
    wall = {name: [t.wall for t in ts] for name, ts in timings.items()}
    stats = {name: common.summary(values) for name, values in wall.items()}
    common.print_table(
        ["case", "median s", "min s", "max s", "runs"],
        [
            [name, *(f"{s[k]:.3f}" for k in ("median", "min", "max")), s["n"]]
            for name, s in stats.items()
        ],
    )
    for name, decision in decisions.items():
        print(f"{name}: {decision}")
    base = stats["before"]["median"]
    own_ratio = stats["own-model"]["median"] / base
    print(f"ratio own-model / before (building the model to see its layers): {own_ratio:.2f}")
    ratio = stats["built-in"]["median"] / base
    result = common.print_goal("ratio built-in / before (median ml route)", ratio, GOAL_RATIO)
    common.write_results(
        NAME,
        {
            "goal": {"ratio_max": GOAL_RATIO},
            "wall_seconds": wall,
            "summary": stats,
            "ratio": ratio,
            "own_model_ratio": own_ratio,
            "result": result,
            "quick": quick,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
