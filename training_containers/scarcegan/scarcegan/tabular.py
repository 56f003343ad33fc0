"""Per-player table columns: numeric gaps and categorical one-hot encoding, fitted on training rows.

Categoricals are one-hot encoded with the levels the training rows show often enough; every other
value (a level first seen when scoring, a level too rare to learn from) goes to one ``=__unseen__``
column rather than failing the job or vanishing. A missing value is the level ``__missing__``.
Numeric gaps (features format only) are filled with the training median, with a ``__missing``
indicator column where the training rows had gaps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .inputs import as_text
from .schema import ID_COLUMN

UNSEEN = "__unseen__"
MISSING = "__missing__"
MIN_LEVEL_COUNT = 5  # a level seen in fewer training rows is not learnable: it goes to __unseen__
MAX_LEVELS = 30  # per column, the most frequent first


def column_kinds(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric columns, categorical columns), player_id excluded, in file order."""
    numeric, categorical = [], []
    for column in frame.columns:
        if column == ID_COLUMN:
            continue
        is_number = pd.api.types.is_numeric_dtype(frame[column])
        (numeric if is_number and not pd.api.types.is_bool_dtype(frame[column])
         else categorical).append(column)
    return numeric, categorical


def category_text(values: pd.Series) -> np.ndarray:
    return as_text(values).fillna(MISSING).to_numpy(dtype=object)


def categorical_levels(frame: pd.DataFrame, categorical: list[str],
                       min_count: int = MIN_LEVEL_COUNT, max_levels: int = MAX_LEVELS) -> dict[str, list[str]]:
    """Kept levels per column: seen at least ``min_count`` times (or the column's most frequent
    level, so a tiny training set still has one), at most ``max_levels``, sorted."""
    levels = {}
    for column in categorical:
        counts = pd.Series(category_text(frame[column])).value_counts()
        kept = counts[counts >= min_count].index[:max_levels].tolist() or counts.index[:1].tolist()
        levels[column] = sorted(str(level) for level in kept)
    return levels


def level_columns(levels: dict[str, list[str]]) -> list[str]:
    return [f"{column}={level}" for column, values in levels.items() for level in (*values, UNSEEN)]


def encode_categoricals(frame: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    """0/1 columns ``<column>=<level>`` per kept level plus ``<column>=__unseen__``."""
    out = {}
    for column, values in levels.items():
        text = category_text(frame[column])
        known = np.isin(text, values)
        for level in values:
            out[f"{column}={level}"] = (text == level).astype(float)
        out[f"{column}={UNSEEN}"] = (~known).astype(float)
    return pd.DataFrame(out, index=frame.index, columns=level_columns(levels))


def fill_gaps(frame: pd.DataFrame, medians: dict[str, float]) -> pd.DataFrame:
    """Gaps in the columns of ``medians`` -> the median, plus a ``<column>__missing`` 0/1 column."""
    out = frame.copy()
    for column, median in medians.items():
        gaps = out[column].isna()
        out[f"{column}__missing"] = gaps.astype(float)
        out[column] = out[column].fillna(median)
    return out


def encode(frame: pd.DataFrame, numeric: list[str], levels: dict[str, list[str]]) -> pd.DataFrame:
    """Numeric columns as float plus the one-hot columns (kept for callers of the old API)."""
    out = frame.set_index(ID_COLUMN)[numeric].astype(float)
    return pd.concat([out, encode_categoricals(frame.set_index(ID_COLUMN), levels)], axis=1)
