"""Model Monitor model-quality statistics (binary_classification_metrics) for one candidate."""

from __future__ import annotations

import numpy as np

from .metrics import best_constant, binary_metrics, bootstrap_std, fbeta

RATE_KEYS = ("recall", "precision", "accuracy", "true_positive_rate", "true_negative_rate",
             "false_positive_rate", "false_negative_rate", "f0_5", "f1", "f2")


def model_quality_statistics(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray,
                             evaluation_time: str, resamples: int = 30, seed: int = 0) -> dict:
    """The statistics.json that ModelMetrics.ModelQuality.Statistics points at.

    Each metric is ``{"value", "standard_deviation"}``; deviations come from a seeded bootstrap.
    """
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    m = binary_metrics(y_true, y_pred, scores)
    std = bootstrap_std(y_true, y_pred, scores, resamples, seed)
    constant = best_constant(y_true)
    constant_precision = constant["precision"]
    constant_recall = constant["recall"]

    def entry(value: float, key: str | None) -> dict:
        return {"value": float(value), "standard_deviation": float(std.get(key, 0.0)) if key else 0.0}

    metrics: dict = {
        "confusion_matrix": {"0": {"0": m["tn"], "1": m["fp"]}, "1": {"0": m["fn"], "1": m["tp"]}},
    }
    for key in RATE_KEYS:
        metrics[key] = entry(m[key], key)
    for key in ("recall", "precision", "accuracy"):
        name = f"{key}_best_constant_classifier"
        metrics[name] = entry(constant[key], name)
    for beta, key in ((0.5, "f0_5"), (1.0, "f1"), (2.0, "f2")):
        metrics[f"{key}_best_constant_classifier"] = entry(
            fbeta(constant_precision, constant_recall, beta), None)
    metrics["auc"] = entry(m["auc_roc"], "auc_roc")
    return {
        "version": 0.0,
        "dataset": {"item_count": int(len(y_true)), "evaluation_time": evaluation_time},
        "binary_classification_metrics": metrics,
    }
