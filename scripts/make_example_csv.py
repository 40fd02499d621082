"""Write the CSV used by the README's "Bring your own CSV" example, without any download.

The rows are scikit-learn's bundled wine data (178 Italian wines, 13 chemical measurements,
three cultivars). To look like a table a team would really have, the script

- names the target classes (the cultivars behind the data: Barolo, Grignolino, Barbera),
- adds a synthetic categorical column, `region`, derived from the proline level with some noise,
  so it carries a little signal,
- blanks a few values of `magnesium` and `region`, to exercise the missing-value rules.

The output is the same for the same --seed. Usage:

    python scripts/make_example_csv.py                  # writes data/raw/wine.csv
    python scripts/make_example_csv.py --out /tmp/x.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine

CULTIVARS = {0: "barolo", 1: "grignolino", 2: "barbera"}
REGIONS = ["north", "east", "south", "west"]  # assigned by proline quartile, then shuffled a bit
REGION_NOISE = 0.2  # fraction of rows whose region is redrawn at random
MISSING_ROWS = 9  # blanked values per column (about 5 % of 178 rows)
MISSING_COLUMNS = ("magnesium", "region")


def make_table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame: pd.DataFrame = load_wine(as_frame=True).frame
    frame = frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    quartile = pd.qcut(frame["proline"], q=len(REGIONS), labels=False).to_numpy(copy=True)
    redraw = rng.random(len(frame)) < REGION_NOISE
    quartile[redraw] = rng.integers(0, len(REGIONS), size=int(redraw.sum()))
    frame.insert(0, "region", pd.Series(np.array(REGIONS)[quartile], dtype=object))
    frame["cultivar"] = frame.pop("target").map(CULTIVARS)
    for column in MISSING_COLUMNS:
        rows = rng.choice(len(frame), size=MISSING_ROWS, replace=False)
        frame.loc[rows, column] = np.nan
    # Shuffle so the file is not sorted by class, as exported tables seldom are.
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write a small tabular CSV (wine cultivars, with a categorical column and "
        "missing values) for the README's bring-your-own-CSV example."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("data/raw/wine.csv"),
        help="Where to write the CSV (default: %(default)s).",
    )
    parser.add_argument(
        "--seed", type=int, default=42, help="Random seed; same seed, same file (default: 42)."
    )
    args = parser.parse_args(argv)
    frame = make_table(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(
        f"Wrote {args.out}: {len(frame)} rows, {frame.shape[1]} columns, "
        f"target 'cultivar' ({', '.join(CULTIVARS.values())}); "
        f"{MISSING_ROWS} missing values in each of {', '.join(MISSING_COLUMNS)}"
    )


if __name__ == "__main__":
    main()
