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


# ---- heavy tails: which numeric model inputs get sign(x) * log1p(|x|) ----
HEAVY_TAIL_MODES = ("auto", "signed-log", "none")
TAIL_RATIO_LIMIT = 5.0  # normal: 1.7, exponential: 3.6, lognormal(sigma=1): 6.3, Pareto(1.5): 14


def tail_ratio(values: np.ndarray) -> float:
    """How far the 1%/99% quantiles reach from the median, in interquartile ranges.

    Robust: a few extreme values move it only as far as they move the 1%/99% quantiles. A column
    that is mostly one value (zero deposits for most players) is judged on its other values;
    0 for a constant column.
    """
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return 0.0
    q01, q25, q50, q75, q99 = np.quantile(values, (0.01, 0.25, 0.5, 0.75, 0.99))
    if q75 - q25 <= 1e-12:
        rest = values[np.abs(values - q50) > 1e-12]
        return tail_ratio(rest) if len(rest) >= 0.05 * len(values) and len(rest) < len(values) else 0.0
    return float(max(q99 - q50, q50 - q01) / (q75 - q25))


def is_heavy_tailed(values: np.ndarray) -> bool:
    """The `auto` rule: heavy when the tails reach more than TAIL_RATIO_LIMIT interquartile ranges
    from the median AND the signed log shortens them by a quarter or more (it does not for values
    far below 1, where log1p is nearly the identity). Flags (at most two distinct values) are never
    transformed."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(np.unique(values[:10000])) <= 2:
        return False
    ratio = tail_ratio(values)
    return ratio > TAIL_RATIO_LIMIT and tail_ratio(signed_log1p(values)) < 0.75 * ratio


def heavy_tail_columns(frame: pd.DataFrame, mode: str = "auto") -> list[str]:
    """The numeric columns of ``frame`` (training rows) to put on the signed log scale."""
    if mode not in HEAVY_TAIL_MODES:
        raise ValueError(f"heavy-tail mode must be one of {HEAVY_TAIL_MODES}, got {mode!r}")
    if mode == "none":
        return []
    columns = [c for c in frame.columns if len(np.unique(frame[c].dropna().to_numpy()[:10000])) > 2]
    if mode == "signed-log":
        return columns
    return [c for c in columns if is_heavy_tailed(frame[c].to_numpy(dtype=float))]


def week_positions(weeks: pd.Series) -> np.ndarray:
    """Week number -> position in time. Whole-number weeks keep their spacing (a week nobody played
    is still a week), so a player's features do not depend on which other players share the batch;
    other week labels (or a very sparse numbering such as yyyyww) are ranked."""
    values = weeks.to_numpy()
    if pd.api.types.is_numeric_dtype(weeks) and len(values):
        numbers = values.astype(float)
        if np.all(np.mod(numbers, 1) == 0):
            span = numbers.max() - numbers.min() + 1
            if span <= max(4 * len(np.unique(numbers)), 64):
                return (numbers - numbers.min()).astype(np.int64)
    codes, _ = pd.factorize(weeks, sort=True)
    return codes


def to_cube(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(player ids in first-seen order, array [players, weeks, columns] with NaN for gaps)."""
    player_codes, players = pd.factorize(frame[ID_COLUMN], sort=False)
    week_codes = week_positions(frame[WEEK_COLUMN])
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
