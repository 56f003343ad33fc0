"""Drift of scored players' model inputs against the model's training baseline, by PSI.

The baseline is preprocess's ``statistics.json`` (Model Monitor's statistics shape, built on the
scaled model inputs of the training players). Each feature's scoring values are counted into the
baseline's buckets (values outside the training range go to the end buckets) and compared by the
population stability index. Counts add up, so a batch scored in chunks gives exactly the figure of
the whole batch (`DriftCounts`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EPSILON = 1e-4  # an empty bucket counts as this share, so PSI stays finite


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two bucket-count vectors (0: same; > 0.2: a real shift)."""
    e = np.maximum(expected / max(expected.sum(), 1), EPSILON)
    a = np.maximum(actual / max(actual.sum(), 1), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def bucket_edges(buckets: list[dict]) -> np.ndarray:
    return np.array([b["lower_bound"] for b in buckets] + [buckets[-1]["upper_bound"]], dtype=float)


def bucket_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the baseline's buckets; NaNs are not counted."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return counts.astype(float)


def feature_psi(values: np.ndarray, buckets: list[dict]) -> float:
    expected = np.array([b["count"] for b in buckets], dtype=float)
    return psi(expected, bucket_counts(values, bucket_edges(buckets)))


def _buckets(feature: dict) -> list[dict] | None:
    try:
        buckets = feature["numerical_statistics"]["distribution"]["kll"]["buckets"]
    except (KeyError, TypeError):
        return None
    return buckets or None


class DriftCounts:
    """Bucket counts of the scored features, added chunk by chunk; `result()` gives the PSI figures."""

    def __init__(self, statistics: dict, feature_names: list[str] | None = None):
        wanted = None if feature_names is None else set(feature_names)
        self.expected: dict[str, np.ndarray] = {}
        self.edges: dict[str, np.ndarray] = {}
        for feature in statistics.get("features", []):
            buckets = _buckets(feature)
            if buckets is None or (wanted is not None and feature["name"] not in wanted):
                continue
            self.edges[feature["name"]] = bucket_edges(buckets)
            self.expected[feature["name"]] = np.array([b["count"] for b in buckets], dtype=float)
        self.actual = {name: np.zeros_like(counts) for name, counts in self.expected.items()}
        self.players = 0

    def add(self, features: pd.DataFrame) -> None:
        for name, edges in self.edges.items():
            if name in features.columns:
                self.actual[name] += bucket_counts(features[name].to_numpy(), edges)
        self.players += len(features)

    def result(self) -> dict:
        """{players, max_feature_psi, feature_of_max, features: {name: psi}}; None without features."""
        per_feature = {name: round(psi(self.expected[name], self.actual[name]), 6) for name in self.expected}
        worst = max(per_feature, key=per_feature.get) if per_feature else None
        return {"players": int(self.players), "max_feature_psi": per_feature[worst] if worst else None,
                "feature_of_max": worst, "features": per_feature}


def drift_of(features: pd.DataFrame, statistics: dict) -> dict:
    """The PSI figures of one frame of model inputs (see `DriftCounts.result`)."""
    counts = DriftCounts(statistics, list(features.columns))
    counts.add(features)
    return counts.result()


def put_max_psi(namespace: str, model: str, value: float) -> None:
    """``MaxFeaturePSI`` (dimension ``Model``) in CloudWatch, where the stack's drift alarm watches it."""
    import boto3  # in the images; credentials are the job role's

    boto3.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[{
        "MetricName": "MaxFeaturePSI", "Dimensions": [{"Name": "Model", "Value": model}], "Value": value}])
