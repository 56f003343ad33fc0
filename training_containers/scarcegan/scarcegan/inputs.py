"""Reading and validating the landing batch: one folder per group, Spark-style part files.

Every problem becomes a DataError naming the file, so the job's FailureReason says exactly
what to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .schema import GROUPS, ID_COLUMN, POSITIVE_CLASS, TELEMETRY_COLUMNS, WEEK_COLUMN

SUFFIXES = (".csv", ".parquet")


def part_files(folder: Path) -> list[Path]:
    """Data files of one group; markers (`_SUCCESS`) and hidden files are skipped."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES
                  and not p.name.startswith(("_", ".")))


def read_part(path: Path, shown: str) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise DataError(shown, "Parquet input needs pyarrow, which this image lacks; "
                                       "land CSV instead") from None
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={ID_COLUMN: str})
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(shown, "file is empty (no header, no rows)") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:  # parser errors are bad input, not bugs
        raise DataError(shown, f"cannot be read: {type(exc).__name__}: {exc}") from None


def check_columns(frame: pd.DataFrame, shown: str, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(shown, f"missing column(s) {', '.join(missing)}")


def check_numeric(frame: pd.DataFrame, shown: str, columns: Sequence[str]) -> None:
    for column in columns:
        values = frame[column]
        if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = values[coerced.isna() & values.notna()]
            example = bad.iloc[0] if len(bad) else values.iloc[0]
            raise DataError(shown, f"column {column} has non-numeric value {example!r} "
                                   f"(row {bad.index[0] + 1 if len(bad) else 1})")
        array = values.to_numpy(dtype=float)
        n_nan = int(np.isnan(array).sum())
        if n_nan:
            raise DataError(shown, f"column {column} has {n_nan} missing/NaN value(s)")
        n_inf = int(np.isinf(array).sum())
        if n_inf:
            raise DataError(shown, f"column {column} has {n_inf} infinite value(s)")


def check_ids(frame: pd.DataFrame, shown: str) -> None:
    n_missing = int(frame[ID_COLUMN].isna().sum())
    if n_missing:
        raise DataError(shown, f"column {ID_COLUMN} has {n_missing} empty value(s)")


def read_group(data_dir: Path, group: str, base_dir: Path, input_format: str,
               columns: Sequence[str] = TELEMETRY_COLUMNS) -> pd.DataFrame:
    """All part files of one group, validated; raises DataError on the first problem."""
    folder = data_dir / group
    shown_folder = f"{_shown(folder, base_dir)}/"
    files = part_files(folder)
    if not files:
        problem = "no data files (group is empty)"
        if group == POSITIVE_CLASS:
            problem = "no risky labels: the risky group has no data files"
        raise DataError(shown_folder, problem)
    frames = []
    for path in files:
        shown = _shown(path, base_dir)
        frame = read_part(path, shown)
        if frame.empty:  # a header-only part is fine; an empty group is caught below
            check_columns(frame, shown, (ID_COLUMN,))
        elif input_format == "telemetry":
            check_columns(frame, shown, (ID_COLUMN, WEEK_COLUMN, *columns))
            check_ids(frame, shown)
            check_numeric(frame, shown, (WEEK_COLUMN, *columns))
            dup = frame.duplicated([ID_COLUMN, WEEK_COLUMN])
            if dup.any():
                first = frame.loc[dup.idxmax()]
                raise DataError(shown, f"{int(dup.sum())} duplicate player-week row(s), e.g. "
                                       f"player {first[ID_COLUMN]} week {first[WEEK_COLUMN]}")
        else:
            check_columns(frame, shown, (ID_COLUMN,))
            check_ids(frame, shown)
            numeric = [c for c in frame.columns if c != ID_COLUMN
                       and (pd.api.types.is_numeric_dtype(frame[c]) or _mostly_numeric(frame[c]))]
            check_numeric(frame, shown, numeric)
            dup = frame.duplicated([ID_COLUMN])
            if dup.any():
                raise DataError(shown, f"{int(dup.sum())} duplicate player row(s), e.g. player "
                                       f"{frame.loc[dup.idxmax(), ID_COLUMN]}")
        frame.attrs["file"] = shown
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    key = [ID_COLUMN, WEEK_COLUMN] if input_format == "telemetry" else [ID_COLUMN]
    if len(frames) > 1 and table.duplicated(key).any():
        raise DataError(shown_folder, "duplicate rows across part files for "
                                      f"{'player-week' if len(key) == 2 else 'player'} keys")
    if table.empty:
        problem = "no rows (group is empty)"
        if group == POSITIVE_CLASS:
            problem = "no risky labels: the risky group has no rows"
        raise DataError(shown_folder, problem)
    return table


def read_batch(data_dir: Path, base_dir: Path, input_format: str) -> dict[str, pd.DataFrame]:
    groups = {group: read_group(data_dir, group, base_dir, input_format) for group in GROUPS}
    seen: dict[str, str] = {}
    for group, frame in groups.items():
        for player in frame[ID_COLUMN].unique():
            if player in seen:
                raise DataError(f"{_shown(data_dir / group, base_dir)}/",
                                f"player {player} also appears in group {seen[player]}")
            seen[player] = group
    return groups


def _mostly_numeric(values: pd.Series) -> bool:
    """A text column whose values are mostly numbers is a numeric column with bad values."""
    present = values.dropna()
    return len(present) > 0 and pd.to_numeric(present, errors="coerce").notna().mean() > 0.5


def _shown(path: Path, base_dir: Path) -> str:
    try:
        return str(path.relative_to(base_dir))
    except ValueError:
        return str(path)
