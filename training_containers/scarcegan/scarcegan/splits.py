"""Stratified train/validation/test split and k-fold assignment, seeded."""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "validation", "test")
# Validation only picks ScarceGAN's checkpoints; the estimate comes from test and the CV folds.
# It takes this share of the labelled players left after test (docs/decisions/0110-*.md).
VALIDATION_SHARE = 0.1


def split_players(labels: np.ndarray, test_fraction: float, validation_share: float = VALIDATION_SHARE,
                  seed: int = 0) -> np.ndarray:
    """Split name per labelled player, stratified by class: ``test_fraction`` of each class to test,
    then ``validation_share`` of the rest to validation, the remainder to train.

    A class with at least three players keeps at least one in test and one in validation (so the
    rare class is measurable and checkpoints can be chosen on it) and at least one in train.
    """
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=object)
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        n = len(index)
        n_test = int(round(n * test_fraction))
        n_val = int(round((n - n_test) * validation_share))
        if n >= 3:
            n_test = min(max(n_test, 1), n - 2)
            n_val = min(max(n_val, 1), n - n_test - 1)
        else:
            n_test, n_val = 0, 0
        out[index[:n_test]] = "test"
        out[index[n_test:n_test + n_val]] = "validation"
        out[index[n_test + n_val:]] = "train"
    return out


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float,
                     seed: int) -> np.ndarray:
    """Split name per row; every class keeps its share in each split.

    A class with at least three members gets at least one in validation and in test, so
    the rare class is always measurable.
    """
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=object)
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        n = len(index)
        n_test = int(round(n * test_fraction))
        n_val = int(round(n * val_fraction))
        if n >= 3:
            n_test = max(n_test, 1) if test_fraction > 0 else 0
            n_val = max(n_val, 1) if val_fraction > 0 else 0
        n_test = min(n_test, n)
        n_val = min(n_val, n - n_test)
        out[index[:n_test]] = "test"
        out[index[n_test:n_test + n_val]] = "validation"
        out[index[n_test + n_val:]] = "train"
    return out


def assign_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number (0..k-1) per row, dealt round-robin within each class after shuffling."""
    rng = np.random.default_rng(seed + 1)
    folds = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        folds[index] = (np.arange(len(index)) + offset) % k
        offset += len(index)  # spread small classes over different folds
    return folds
