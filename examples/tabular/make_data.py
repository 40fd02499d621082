"""Write data/raw/cars.csv: 600 made-up cars and their fuel efficiency class, without any
download. Efficiency follows engine size, weight, fuel type and age, with noise, so a model has
something to learn and cannot be perfect. The same --seed writes the same file.

    python make_data.py                   # data/raw/cars.csv
    python make_data.py --rows 400 --out /tmp/cars.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

FUELS = {"petrol": 0.0, "diesel": -0.9, "hybrid": -2.2}  # litres per 100 km, against petrol
CLASSES = ("high", "medium", "low")  # efficiency: low consumption is high efficiency


def make_table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    engine = rng.uniform(1.0, 5.0, rows).round(1)
    cylinders = np.clip(np.round(engine * 1.6 + rng.normal(0, 0.6, rows)), 3, 8).astype(int)
    weight = (800 + engine * 260 + rng.normal(0, 150, rows)).round()
    year = rng.integers(2000, 2025, rows)
    fuel = rng.choice(list(FUELS), rows, p=[0.55, 0.3, 0.15])
    consumption = (
        2.0
        + engine * 1.2
        + weight / 700
        + np.array([FUELS[f] for f in fuel])
        - (year - 2000) * 0.05
        + rng.normal(0, 0.6, rows)
    )
    # Thirds of the consumption: each class holds about a third of the cars.
    cuts = np.quantile(consumption, [1 / 3, 2 / 3])
    efficiency = np.array(CLASSES)[np.searchsorted(cuts, consumption)]
    return pd.DataFrame(
        {
            "engine_litres": engine,
            "cylinders": cylinders,
            "weight_kg": weight,
            "year": year,
            "fuel": fuel,
            "efficiency": efficiency,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600, help="How many cars (default 600).")
    parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")
    parser.add_argument("--out", type=Path, default=Path("data/raw/cars.csv"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    make_table(args.rows, args.seed).to_csv(args.out, index=False)
    print(f"wrote {args.rows} rows to {args.out}")


if __name__ == "__main__":
    main()
