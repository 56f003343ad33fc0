"""The `features` input format: one row per player, numeric columns plus categoricals.

Categoricals are one-hot encoded with the levels seen in the training data; a level first seen
later encodes as all zeros rather than failing the job.
"""

from __future__ import annotations

import pandas as pd

from .schema import ID_COLUMN


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


def categorical_levels(frame: pd.DataFrame, categorical: list[str]) -> dict[str, list[str]]:
    return {c: sorted(frame[c].dropna().astype(str).unique().tolist()) for c in categorical}


def encode(frame: pd.DataFrame, numeric: list[str], levels: dict[str, list[str]]) -> pd.DataFrame:
    """Numeric columns as float plus one 0/1 column ``<column>=<level>`` per known level."""
    out = frame.set_index(ID_COLUMN)[numeric].astype(float)
    for column, values in levels.items():
        text = frame[column].astype(str).to_numpy()
        for level in values:
            out[f"{column}={level}"] = (text == level).astype(float)
    return out
