"""Binary metrics for the rare class, in numpy, and their stratified bootstrap intervals.

With ~12 risky players in a test split one number is noise: every figure evaluate reports comes
with a stratified bootstrap interval (positives and negatives resampled separately, so every
resample keeps the split's class counts). The same seed draws the same resamples for every model,
so models scored on the same players are compared on the same resamples (paired).
"""

from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, int]:
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    return {"tp": int((y_true & y_pred).sum()), "fp": int((~y_true & y_pred).sum()),
            "tn": int((~y_true & ~y_pred).sum()), "fn": int((y_true & ~y_pred).sum())}


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def fbeta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    return _ratio((1 + b2) * precision * recall, b2 * precision + recall)


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney U with average ranks for ties; 0.5 when one class is absent."""
    y_true = np.asarray(y_true, bool)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores))
    # average rank per tied block
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    block_rank = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(block_rank, counts)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (step-wise)."""
    y_true = np.asarray(y_true, bool)
    n_pos = int(y_true.sum())
    if n_pos == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    scores_sorted, hits = np.asarray(scores)[order], y_true[order]
    tp = np.cumsum(hits)
    # evaluate only at the last index of each tied score block
    last = np.r_[np.flatnonzero(np.diff(scores_sorted) != 0), len(scores_sorted) - 1]
    precision = tp[last] / (last + 1)
    recall = tp[last] / n_pos
    previous = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - previous) * precision))


def binary_metrics(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None = None) -> dict:
    """Counts and rates for the positive (risky) class."""
    c = confusion(y_true, y_pred)
    n = len(y_true)
    precision = _ratio(c["tp"], c["tp"] + c["fp"])
    recall = _ratio(c["tp"], c["tp"] + c["fn"])
    out = {
        **c,
        "n": n,
        "precision": precision,
        "recall": recall,
        "f1": fbeta(precision, recall, 1.0),
        "f0_5": fbeta(precision, recall, 0.5),
        "f2": fbeta(precision, recall, 2.0),
        "accuracy": _ratio(c["tp"] + c["tn"], n),
        "true_positive_rate": recall,
        "true_negative_rate": _ratio(c["tn"], c["tn"] + c["fp"]),
        "false_positive_rate": _ratio(c["fp"], c["tn"] + c["fp"]),
        "false_negative_rate": _ratio(c["fn"], c["tp"] + c["fn"]),
        "share_flagged": _ratio(c["tp"] + c["fp"], n),
    }
    if scores is not None:
        out["auc_roc"] = roc_auc(y_true, scores)
        out["auc_pr"] = average_precision(y_true, scores)
    return out


def best_constant(y_true: np.ndarray) -> dict[str, float]:
    """Metrics of the best constant classifier (always predict the majority class)."""
    y_true = np.asarray(y_true, bool)
    share = float(y_true.mean()) if len(y_true) else 0.0
    if share >= 0.5:  # always positive
        return {"recall": 1.0, "precision": share, "accuracy": share}
    return {"recall": 0.0, "precision": 0.0, "accuracy": 1.0 - share}


def recall_at_precision(y_true: np.ndarray, scores: np.ndarray, min_precision: float) -> float:
    """Highest recall over score thresholds whose precision is >= min_precision (0 if none)."""
    y_true = np.asarray(y_true, bool)
    n_pos = int(y_true.sum())
    if n_pos == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, float), kind="mergesort")
    scores_sorted, hits = np.asarray(scores, float)[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(scores_sorted) != 0), len(scores_sorted) - 1]
    tp = np.cumsum(hits)[last]
    ok = tp / (last + 1) >= min_precision
    return float(tp[ok].max() / n_pos) if ok.any() else 0.0


SCORE_METRICS = ("precision", "recall", "f1", "pr_auc", "roc_auc", "recall_at_precision", "share_flagged")
INTERVAL_LEVEL = 0.90


def score_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float, min_precision: float) -> dict:
    """The figures a reviewer compares models on; flagged = score >= threshold."""
    y_true, scores = np.asarray(y_true, bool), np.asarray(scores, float)
    m = binary_metrics(y_true, scores >= threshold, scores)
    return {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"], "pr_auc": m["auc_pr"],
            "roc_auc": m["auc_roc"], "recall_at_precision": recall_at_precision(y_true, scores, min_precision),
            "share_flagged": m["share_flagged"]}


def stratified_resamples(y_true: np.ndarray, resamples: int, seed: int):
    """Row indices of each bootstrap resample: positives and negatives drawn separately."""
    y_true = np.asarray(y_true, bool)
    pos, neg = np.flatnonzero(y_true), np.flatnonzero(~y_true)
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield np.concatenate([rng.choice(pos, len(pos)) if len(pos) else pos,
                              rng.choice(neg, len(neg)) if len(neg) else neg])


def bootstrap_draws(y_true: np.ndarray, scores: np.ndarray, threshold: float, min_precision: float,
                    resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Each metric of `score_metrics` over the stratified resamples (same seed: same resamples)."""
    y_true, scores = np.asarray(y_true, bool), np.asarray(scores, float)
    draws = [score_metrics(y_true[idx], scores[idx], threshold, min_precision)
             for idx in stratified_resamples(y_true, resamples, seed)]
    return {k: np.array([d[k] for d in draws]) for k in SCORE_METRICS}


def interval(value: float, draws: np.ndarray, level: float = INTERVAL_LEVEL) -> dict[str, float]:
    """``{value, low, high, standard_deviation}``: the percentile interval of the draws, widened
    where needed so that it contains the point value (a degenerate resample distribution, e.g.
    recall 1.0 with a few positives, can otherwise exclude it)."""
    if len(draws) == 0:
        return {"value": float(value), "low": float(value), "high": float(value), "standard_deviation": 0.0}
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    return {"value": float(value), "low": float(min(low, value)), "high": float(max(high, value)),
            "standard_deviation": float(np.std(draws))}


def metrics_with_intervals(y_true: np.ndarray, scores: np.ndarray, threshold: float, min_precision: float,
                           resamples: int, seed: int, level: float = INTERVAL_LEVEL) -> tuple[dict, dict]:
    """(``{metric: {value, low, high, standard_deviation}}``, the raw draws for paired comparisons)."""
    point = score_metrics(y_true, scores, threshold, min_precision)
    draws = bootstrap_draws(y_true, scores, threshold, min_precision, resamples, seed)
    return {k: interval(point[k], draws[k], level) for k in SCORE_METRICS}, draws


def bootstrap_std(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray,
                  resamples: int = 30, seed: int = 0) -> dict[str, float]:
    """Standard deviation of each metric over seeded stratified bootstrap resamples of the rows."""
    draws: dict[str, list[float]] = {}
    for idx in stratified_resamples(y_true, resamples, seed):
        m = binary_metrics(y_true[idx], y_pred[idx], scores[idx])
        m.update({f"{k}_best_constant_classifier": v for k, v in best_constant(y_true[idx]).items()})
        for key, value in m.items():
            draws.setdefault(key, []).append(float(value))
    return {k: float(np.std(v)) for k, v in draws.items()}


def _downsample(points: list[tuple[float, float]], max_points: int) -> list[tuple[float, float]]:
    """At most max_points, evenly spaced, always keeping the first and the last."""
    if len(points) <= max_points:
        return points
    keep = np.unique(np.linspace(0, len(points) - 1, max_points).round().astype(int))
    return [points[i] for i in keep]


def curve_points(y_true: np.ndarray, scores: np.ndarray, max_points: int = 200) -> dict:
    """Precision-recall and ROC points at every distinct score threshold (high to low), downsampled.

    PR starts at (recall 0, precision 1) and ROC at (0, 0); both end with every player flagged.
    """
    y_true = np.asarray(y_true, bool)
    scores = np.asarray(scores, float)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    order = np.argsort(-scores, kind="mergesort")
    scores_sorted, hits = scores[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(scores_sorted) != 0), len(scores_sorted) - 1]  # end of each tied block
    flagged = last + 1
    tp = np.cumsum(hits)[last]
    recall = tp / max(n_pos, 1)
    fpr = (flagged - tp) / max(n_neg, 1)
    pr = [(0.0, 1.0)] + [(float(r), float(p)) for r, p in zip(recall, tp / flagged, strict=True)]
    roc = [(0.0, 0.0)] + [(float(f), float(t)) for f, t in zip(fpr, recall, strict=True)]
    pr, roc = _downsample(pr, max_points), _downsample(roc, max_points)
    return {
        "positives": n_pos,
        "negatives": n_neg,
        "precision_recall": {"recall": [r for r, _ in pr], "precision": [p for _, p in pr]},
        "roc": {"false_positive_rate": [f for f, _ in roc], "true_positive_rate": [t for _, t in roc]},
        "auc_pr": average_precision(y_true, scores),
        "auc_roc": roc_auc(y_true, scores),
    }
