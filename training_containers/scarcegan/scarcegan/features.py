"""Per-player features from weekly series: level, trend, volatility, recent change, peak.

The risky signal is a trajectory, so each telemetry column is summarised by how it moves, not
only by its level. Money and count columns are put on a signed log scale first so that a whale
and a small player escalating by the same factor look alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .schema import ID_COLUMN, TELEMETRY_COLUMNS, WEEK_COLUMN

STATISTICS = ("mean", "slope", "volatility", "recent_change", "max")
SHARE_COLUMNS = ("night_share",)  # already in [0, 1]: kept as is
RECENT_WEEKS = 4


def feature_names(columns: Sequence[str] = TELEMETRY_COLUMNS) -> list[str]:
    return [f"{column}__{stat}" for column in columns for stat in STATISTICS]


def signed_log1p(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def to_cube(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(player ids in first-seen order, array [players, weeks, columns] with NaN for gaps)."""
    player_codes, players = pd.factorize(frame[ID_COLUMN], sort=False)
    week_codes, _ = pd.factorize(frame[WEEK_COLUMN], sort=True)
    cube = np.full((len(players), week_codes.max() + 1, len(columns)), np.nan)
    cube[player_codes, week_codes, :] = frame[list(columns)].to_numpy(dtype=float)
    return np.asarray(players), cube


def series_statistics(cube: np.ndarray, recent_weeks: int = RECENT_WEEKS) -> np.ndarray:
    """[players, weeks, columns] -> [players, columns, len(STATISTICS)], NaN-aware."""
    present = ~np.isnan(cube)
    count = present.sum(axis=1)
    safe = np.where(present, cube, 0.0)
    mean = safe.sum(axis=1) / np.maximum(count, 1)

    t = np.arange(cube.shape[1], dtype=float)[None, :, None]
    t_mean = (t * present).sum(axis=1) / np.maximum(count, 1)
    dt = np.where(present, t - t_mean[:, None, :], 0.0)
    dy = np.where(present, cube - mean[:, None, :], 0.0)
    sxx = (dt * dt).sum(axis=1)
    slope = np.divide((dt * dy).sum(axis=1), sxx, out=np.zeros_like(mean), where=sxx > 0)

    diffs = np.diff(cube, axis=1)
    diff_present = ~np.isnan(diffs)
    n_diff = diff_present.sum(axis=1)
    diffs = np.where(diff_present, diffs, 0.0)
    diff_mean = diffs.sum(axis=1) / np.maximum(n_diff, 1)
    diff_var = (np.where(diff_present, diffs - diff_mean[:, None, :], 0.0) ** 2).sum(axis=1)
    volatility = np.sqrt(diff_var / np.maximum(n_diff, 1))

    k = min(recent_weeks, max(cube.shape[1] - 1, 1))
    recent, earlier = present[:, -k:], present[:, :-k]
    recent_mean = np.where(recent, cube[:, -k:], 0.0).sum(axis=1) / np.maximum(recent.sum(axis=1), 1)
    earlier_mean = np.where(earlier, cube[:, :-k], 0.0).sum(axis=1) / np.maximum(earlier.sum(axis=1), 1)
    recent_change = np.where((recent.sum(axis=1) > 0) & (earlier.sum(axis=1) > 0),
                             recent_mean - earlier_mean, 0.0)

    peak = np.where(count > 0, np.max(np.where(present, cube, -np.inf), axis=1), 0.0)
    return np.stack([mean, slope, volatility, recent_change, peak], axis=-1)


def extract_features(frame: pd.DataFrame, columns: Sequence[str] = TELEMETRY_COLUMNS,
                     recent_weeks: int = RECENT_WEEKS) -> pd.DataFrame:
    """Weekly telemetry rows -> one row per player (index ``player_id``), ``feature_names`` columns."""
    players, cube = to_cube(frame, columns)
    for i, column in enumerate(columns):
        if column not in SHARE_COLUMNS:
            cube[:, :, i] = signed_log1p(cube[:, :, i])
    stats = series_statistics(cube, recent_weeks).reshape(len(players), -1)
    return pd.DataFrame(stats, index=pd.Index(players, name=ID_COLUMN),
                        columns=feature_names(columns))
