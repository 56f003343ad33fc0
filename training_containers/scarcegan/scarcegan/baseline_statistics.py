"""Per-feature baseline in SageMaker Model Monitor's statistics.json shape (a useful subset)."""

from __future__ import annotations

import numpy as np
import pandas as pd

BUCKETS = 10
SKETCH_POINTS = 64


def numerical_statistics(values: np.ndarray) -> dict:
    values = values[~np.isnan(values)]
    n = len(values)
    lo, hi = (float(values.min()), float(values.max())) if n else (0.0, 0.0)
    counts, edges = np.histogram(values, bins=BUCKETS, range=(lo, hi if hi > lo else lo + 1.0))
    quantiles = np.quantile(values, np.linspace(0, 1, SKETCH_POINTS)) if n else np.array([])
    return {
        "common": {"num_present": n, "num_missing": 0},
        "mean": float(values.mean()) if n else 0.0,
        "sum": float(values.sum()),
        "std_dev": float(values.std()) if n else 0.0,
        "min": lo,
        "max": hi,
        "distribution": {
            "kll": {
                "buckets": [{"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]),
                             "count": float(counts[i])} for i in range(BUCKETS)],
                "sketch": {"parameters": {"c": 0.64, "k": 2048.0},
                           "data": [[float(q) for q in quantiles]]},
            }
        },
    }


def baseline_statistics(frame: pd.DataFrame) -> dict:
    """statistics.json for the model's input features (every column of ``frame``)."""
    return {
        "version": 0.0,
        "dataset": {"item_count": int(len(frame))},
        "features": [
            {"name": name, "inferred_type": "Fractional",
             "numerical_statistics": numerical_statistics(frame[name].to_numpy(dtype=float))}
            for name in frame.columns
        ],
    }
