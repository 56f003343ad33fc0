"""The supervised challenger: scikit-learn's HistGradientBoostingClassifier, risky vs the rest.

Cross-validation over preprocess's folds gives three things one fit cannot:
  * out-of-fold (OOF) scores for every labelled training player, from a model that never saw it;
  * per-fold metrics (mean and spread), each fold's flags decided by a threshold chosen on the
    OTHER folds' OOF scores, so no fold grades a threshold it helped choose;
  * the deployed threshold: the one that maximises F1 over all OOF scores.
The deployed model is then refitted on every labelled training player.

The estimator is a scikit-learn Pipeline: quantile bins (``KBinsDiscretizer``, 255 bins, without
sample weights) then ``HistGradientBoostingClassifier``. The bins are the ones the classifier would
make itself without weights; scikit-learn 1.9 computes weighted bins (``gb-class-weight balanced``)
with one Python-level percentile per bin edge, ~7 s per fit on the demo data against ~0.02 s here.
Small data is fitted on one thread: OpenMP threads on a busy 2-core machine ran ~7x slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import average_precision, binary_metrics, recall_at_precision, roc_auc

CV_METRICS = ("pr_auc", "roc_auc", "precision", "recall", "f1", "recall_at_precision", "share_flagged")
CV_MIN_PRECISION = 0.5  # the precision floor of the CV recall_at_precision figure


MAX_BINS = 255
ONE_THREAD_BELOW_CELLS = 2_000_000  # rows x features under which threads cost more than they give


def build(params: dict):
    """The estimator for ``{gb_max_iter, gb_learning_rate, ...}`` (parameters.json, family gradient-boosting)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import KBinsDiscretizer

    bins = KBinsDiscretizer(n_bins=MAX_BINS, encode="ordinal", strategy="quantile",
                            quantile_method="averaged_inverted_cdf")
    return make_pipeline(bins, HistGradientBoostingClassifier(
        max_iter=int(params["gb_max_iter"]), learning_rate=float(params["gb_learning_rate"]),
        max_leaf_nodes=int(params["gb_max_leaf_nodes"]), min_samples_leaf=int(params["gb_min_samples_leaf"]),
        l2_regularization=float(params["gb_l2_regularization"]),
        class_weight="balanced" if params["gb_class_weight"] == "balanced" else None,
        max_bins=MAX_BINS, early_stopping=False, random_state=int(params["gb_seed"])))


def fit(params: dict, x: np.ndarray, y: np.ndarray):
    """A fitted estimator; one thread for small data, bin-width warnings of constant columns muted."""
    import warnings

    from threadpoolctl import threadpool_limits

    threads = 1 if x.size < ONE_THREAD_BELOW_CELLS else None
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Bb]ins whose width are too small.*")
        warnings.filterwarnings("ignore", message=".*Feature .* is constant.*")
        return build(params).fit(x, y)


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (flag when score >= it) with the highest F1; ties: the higher threshold."""
    y_true, scores = np.asarray(y_true, bool), np.asarray(scores, float)
    n_pos = int(y_true.sum())
    if n_pos == 0 or len(scores) == 0:
        return 0.5
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, hits = scores[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), len(sorted_scores) - 1]
    tp = np.cumsum(hits)[last]
    precision, recall = tp / (last + 1), tp / n_pos
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return float(sorted_scores[last[int(np.argmax(f1))]])


def fold_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    m = binary_metrics(y_true, scores >= threshold)
    return {"pr_auc": average_precision(y_true, scores), "roc_auc": roc_auc(y_true, scores),
            "precision": m["precision"], "recall": m["recall"], "f1": m["f1"],
            "recall_at_precision": recall_at_precision(y_true, scores, CV_MIN_PRECISION),
            "share_flagged": m["share_flagged"]}


@dataclass
class CrossValidation:
    oof_scores: np.ndarray
    threshold: float
    folds: list[dict]

    def summary(self) -> dict[str, dict[str, float]]:
        """``{metric: {mean, std, min, max, folds}}`` over the folds."""
        out = {}
        for key in CV_METRICS:
            values = np.array([f[key] for f in self.folds], float)
            out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                        "min": float(values.min()), "max": float(values.max()), "folds": len(values)}
        return out


def cross_validate(x: np.ndarray, y: np.ndarray, folds: np.ndarray, params: dict,
                   on_fold=None) -> CrossValidation:
    """Out-of-fold scores, an honest threshold per fold, and the deployed threshold."""
    y = np.asarray(y, bool)
    folds = np.asarray(folds)
    oof = np.zeros(len(y))
    ids = sorted(np.unique(folds).tolist())
    for k in ids:
        held = folds == k
        model = fit(params, x[~held], y[~held])
        oof[held] = model.predict_proba(x[held])[:, 1]
    rows = []
    for k in ids:
        held = folds == k
        threshold = best_f1_threshold(y[~held], oof[~held])
        row = {"fold": int(k), "players": int(held.sum()), "positives": int(y[held].sum()),
               "threshold": threshold, **fold_metrics(y[held], oof[held], threshold)}
        rows.append(row)
        if on_fold:
            on_fold(row)
    return CrossValidation(oof, best_f1_threshold(y, oof), rows)


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold ids 0..k-1, each class dealt round-robin after a seeded shuffle (a fallback when the
    split files carry no fold column)."""
    y = np.asarray(y, bool)
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(y), int)
    for value in (True, False):
        idx = np.flatnonzero(y == value)
        folds[rng.permutation(idx)] = np.arange(len(idx)) % k
    return folds
