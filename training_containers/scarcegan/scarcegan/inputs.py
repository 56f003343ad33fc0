"""Reading and validating landed rows: one folder per group, Spark-style CSV or Parquet part files.

A landing declares how it is read (`InputSpec`: input format, id column, categorical columns); every
problem becomes a DataError naming the file and, where a declaration would fix it, how to declare it,
so the job's FailureReason says exactly what to do. The same row checks serve preprocess (per file)
and `FeaturePipeline.transform` (rows of players to score).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .schema import GROUPS, ID_COLUMN, INPUT_FORMATS, POSITIVE_CLASS, TELEMETRY_COLUMNS, WEEK_COLUMN

SUFFIXES = (".csv", ".parquet")
RESERVED_COLUMNS = ("label", "fold")  # written by preprocess; never a feature of a landing
MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class InputSpec:
    """How a landing is read. ``categorical_columns`` empty: inferred (features) / none (telemetry)."""

    input_format: str = "telemetry"
    id_column: str = ID_COLUMN
    categorical_columns: tuple[str, ...] = ()

    @classmethod
    def from_parameters(cls, input_format: str = "telemetry", id_column: str = ID_COLUMN,
                        categorical_columns: str | Sequence[str] = "") -> InputSpec:
        if input_format not in INPUT_FORMATS:
            raise DataError("arguments", f"--input-format must be one of {', '.join(INPUT_FORMATS)}, "
                                         f"got {input_format!r}")
        if isinstance(categorical_columns, str):
            categorical_columns = [c.strip() for c in categorical_columns.split(",")]
        return cls(input_format, id_column, tuple(c for c in categorical_columns if c))

    def format_hint(self) -> str:
        other = "features" if self.input_format == "telemetry" else "telemetry"
        return (f"for input format '{self.input_format}' (declare another with input-format={other} "
                f"in the landing's {MANIFEST} or --param input-format={other})")

    def id_hint(self) -> str:
        return (f"the id column is '{self.id_column}' (declare another with id-column=NAME in the "
                f"landing's {MANIFEST} or --param id-column=NAME)")


def part_files(folder: Path) -> list[Path]:
    """Data files of one group; markers (`_SUCCESS`, `_manifest.json`) and hidden files are skipped."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES
                  and not p.name.startswith(("_", ".")))


def read_part(path: Path, shown: str, text_columns: Sequence[str] = (ID_COLUMN,)) -> pd.DataFrame:
    """One part file; ``text_columns`` are read as text (ids, declared categoricals: '007' stays '007')."""
    try:
        if path.suffix == ".parquet":
            try:
                frame = pd.read_parquet(path)
            except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                raise DataError(shown, f"cannot be read as Parquet (truncated or corrupt?): "
                                       f"{type(exc).__name__}: {exc}") from None
            for column in text_columns:
                if column in frame.columns:
                    frame[column] = _as_text(frame[column])
            return frame
        frame = pd.read_csv(path, dtype={c: str for c in text_columns})
        _check_last_line(path, shown, len(frame.columns))
        return frame
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(shown, "file is empty (no header, no rows)") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:  # parser errors are bad input, not bugs
        raise DataError(shown, f"cannot be read as CSV: {type(exc).__name__}: {exc}") from None


def _check_last_line(path: Path, shown: str, n_columns: int) -> None:
    """A CSV cut mid-row parses as a short last row of NaNs: name it as the truncation it is."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65536))
        tail = handle.read()
    lines = [line for line in tail.splitlines() if line.strip()]
    if len(lines) < 2 or n_columns <= 1:
        return
    fields = next(csv.reader(io.StringIO(lines[-1].decode("utf-8", errors="replace"))), [])
    if len(fields) < n_columns:
        raise DataError(shown, f"last line has {len(fields)} of {n_columns} fields "
                               "(file truncated?)")


def normalise_ids(frame: pd.DataFrame, spec: InputSpec, shown: str) -> pd.DataFrame:
    """The landing's id column becomes ``player_id`` (text, non-empty); raises DataError otherwise."""
    if spec.id_column not in frame.columns:
        if spec.id_column != ID_COLUMN and ID_COLUMN in frame.columns:
            pass  # rows written by preprocess itself (test/raw.csv) already say player_id
        else:
            raise DataError(shown, f"missing column(s) {spec.id_column} {spec.format_hint()}; "
                                   f"{spec.id_hint()}")
    elif spec.id_column != ID_COLUMN:
        if ID_COLUMN in frame.columns:
            raise DataError(shown, f"has both the id column {spec.id_column} and a column {ID_COLUMN}; "
                                   f"rename or drop {ID_COLUMN}")
        frame = frame.rename(columns={spec.id_column: ID_COLUMN})
    n_missing = int(frame[ID_COLUMN].isna().sum())
    if n_missing:
        raise DataError(shown, f"column {spec.id_column} (the id column) has {n_missing} empty value(s)")
    frame[ID_COLUMN] = _as_text(frame[ID_COLUMN])
    return frame


def check_columns(frame: pd.DataFrame, shown: str, required: Sequence[str],
                  spec: InputSpec | None = None) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        hint = f" {spec.format_hint()}" if spec else ""
        raise DataError(shown, f"missing column(s) {', '.join(missing)}{hint}")


def check_numeric(frame: pd.DataFrame, shown: str, columns: Sequence[str], allow_missing: bool = False,
                  hint: str = "") -> None:
    for column in columns:
        values = frame[column]
        if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = values[coerced.isna() & values.notna()]
            if len(bad) or not allow_missing:
                example = bad.iloc[0] if len(bad) else values.iloc[0]
                row = int(np.flatnonzero(values.index == bad.index[0])[0]) + 1 if len(bad) else 1
                raise DataError(shown, f"column {column} has non-numeric value {example!r} (row {row})"
                                       f"{hint}")
            values = coerced
        array = values.to_numpy(dtype=float)
        n_nan = int(np.isnan(array).sum())
        if n_nan and not allow_missing:
            raise DataError(shown, f"column {column} has {n_nan} missing/NaN value(s)")
        n_inf = int(np.isinf(array).sum())
        if n_inf:
            raise DataError(shown, f"column {column} has {n_inf} infinite value(s)")


def feature_columns(frame: pd.DataFrame, spec: InputSpec, shown: str) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns of a features-format frame, in file order.

    Declared categoricals must exist; otherwise a column is numeric when its values are numbers
    (a mostly-numeric text column is a numeric column with bad values, reported as such).
    """
    missing = [c for c in spec.categorical_columns if c not in frame.columns]
    if missing:
        raise DataError(shown, f"missing declared categorical column(s) {', '.join(missing)}")
    numeric, categorical = [], []
    for column in frame.columns:
        if column in (ID_COLUMN, *RESERVED_COLUMNS):
            continue
        values = frame[column]
        if column in spec.categorical_columns:
            categorical.append(column)
        elif pd.api.types.is_bool_dtype(values):
            categorical.append(column)
        elif pd.api.types.is_numeric_dtype(values) or _mostly_numeric(values):
            numeric.append(column)
        elif spec.categorical_columns:
            raise DataError(shown, f"column {column} is not numeric and not among the declared "
                                   f"categorical-columns ({','.join(spec.categorical_columns)})")
        else:
            categorical.append(column)
    return numeric, categorical


def check_rows(frame: pd.DataFrame, spec: InputSpec, shown: str,
               telemetry_columns: Sequence[str] = TELEMETRY_COLUMNS) -> pd.DataFrame:
    """Validate one frame of landed rows; returns it with ``player_id`` as the id column."""
    if spec.input_format == "telemetry":
        missing = [c for c in (WEEK_COLUMN, *telemetry_columns) if c not in frame.columns]
        if spec.id_column not in frame.columns and ID_COLUMN not in frame.columns:
            missing.insert(0, spec.id_column)
        if missing:
            hint = spec.format_hint()
            if spec.id_column in missing:
                hint += f"; {spec.id_hint()}"
            raise DataError(shown, f"missing column(s) {', '.join(missing)} {hint}")
        frame = normalise_ids(frame, spec, shown)
        check_numeric(frame, shown, (WEEK_COLUMN, *telemetry_columns))
        dup = frame.duplicated([ID_COLUMN, WEEK_COLUMN]).to_numpy()
        if dup.any():
            first = frame.iloc[int(dup.argmax())]
            raise DataError(shown, f"{int(dup.sum())} duplicate player-week row(s), e.g. "
                                   f"player {first[ID_COLUMN]} week {first[WEEK_COLUMN]}")
        missing_cats = [c for c in spec.categorical_columns if c not in frame.columns]
        if missing_cats:
            raise DataError(shown, f"missing declared categorical column(s) {', '.join(missing_cats)}")
        return frame
    frame = normalise_ids(frame, spec, shown)
    numeric, _ = feature_columns(frame, spec, shown)
    check_numeric(frame, shown, numeric, allow_missing=True,
                  hint=" (declare it in categorical-columns if it is a category)")
    check_one_row_per_player(frame, shown)
    return frame


def check_one_row_per_player(frame: pd.DataFrame, shown: str) -> None:
    dup = frame.duplicated([ID_COLUMN]).to_numpy()
    if dup.any():
        raise DataError(shown, f"{int(dup.sum())} duplicate player row(s), e.g. player "
                               f"{frame[ID_COLUMN].iloc[int(dup.argmax())]} (input format 'features' "
                               "has one row per player; weekly rows are input-format=telemetry)")


def read_group(data_dir: Path, group: str, base_dir: Path, spec: InputSpec | str = "telemetry",
               columns: Sequence[str] = TELEMETRY_COLUMNS) -> pd.DataFrame:
    """All part files of one group, validated; raises DataError on the first problem."""
    if isinstance(spec, str):
        spec = InputSpec(spec)
    folder = data_dir / group
    shown_folder = f"{_shown(folder, base_dir)}/"
    files = part_files(folder)
    if not files:
        problem = "no data files (group is empty)"
        if group == POSITIVE_CLASS:
            problem = "no risky labels: the risky group has no data files"
        raise DataError(shown_folder, problem)
    frames = []
    text = (spec.id_column, ID_COLUMN, *spec.categorical_columns)
    for path in files:
        shown = _shown(path, base_dir)
        frame = read_part(path, shown, text)
        if frame.empty:  # a header-only part is fine; an empty group is caught below
            if spec.id_column not in frame.columns:
                raise DataError(shown, f"missing column(s) {spec.id_column} {spec.format_hint()}; "
                                       f"{spec.id_hint()}")
            frame = frame.rename(columns={spec.id_column: ID_COLUMN})
        else:
            frame = check_rows(frame, spec, shown, columns)
        frame.attrs["file"] = shown
        frames.append(frame)
    if spec.input_format == "features":
        reference = list(frames[0].columns)
        for path, frame in zip(files, frames, strict=True):
            if set(frame.columns) != set(reference):
                raise DataError(_shown(path, base_dir), "columns differ from "
                                f"{frames[0].attrs['file']}: {sorted(set(frame.columns) ^ set(reference))}")
    table = pd.concat(frames, ignore_index=True)
    key = [ID_COLUMN, WEEK_COLUMN] if spec.input_format == "telemetry" else [ID_COLUMN]
    if len(frames) > 1 and table.duplicated(key).any():
        raise DataError(shown_folder, "duplicate rows across part files for "
                                      f"{'player-week' if len(key) == 2 else 'player'} keys")
    if table.empty:
        problem = "no rows (group is empty)"
        if group == POSITIVE_CLASS:
            problem = "no risky labels: the risky group has no rows"
        raise DataError(shown_folder, problem)
    table.attrs["files"] = [f.attrs["file"] for f in frames]
    return table


def read_batch(data_dir: Path, base_dir: Path, spec: InputSpec | str = "telemetry") -> dict[str, pd.DataFrame]:
    if isinstance(spec, str):
        spec = InputSpec(spec)
    groups = {group: read_group(data_dir, group, base_dir, spec) for group in GROUPS}
    if spec.input_format == "features":
        columns = set(groups[POSITIVE_CLASS].columns)
        for group, frame in groups.items():
            if set(frame.columns) != columns:
                raise DataError(f"{_shown(data_dir / group, base_dir)}/",
                                f"columns differ from group {POSITIVE_CLASS}: "
                                f"{sorted(set(frame.columns) ^ columns)}")
    seen: dict[str, str] = {}
    for group, frame in groups.items():
        for player in frame[ID_COLUMN].unique():
            if player in seen:
                raise DataError(f"{_shown(data_dir / group, base_dir)}/",
                                f"player {player} also appears in group {seen[player]}")
            seen[player] = group
    return groups


def _as_text(values: pd.Series) -> pd.Series:
    """Ids and categories as text; whole floats without '.0' (CSV readers turn 7 into 7.0)."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if len(whole) and np.all(np.mod(whole.to_numpy(), 1) == 0):
            return values.map(lambda v: v if pd.isna(v) else str(int(v)))
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.map(lambda v: v if pd.isna(v) else str(v))
    return values.map(lambda v: v if pd.isna(v) or isinstance(v, str) else str(v))


def as_text(values: pd.Series) -> pd.Series:
    return _as_text(values)


def _mostly_numeric(values: pd.Series) -> bool:
    """A text column whose values are mostly numbers is a numeric column with bad values."""
    present = values.dropna()
    return len(present) > 0 and pd.to_numeric(present, errors="coerce").notna().mean() > 0.5


def _shown(path: Path, base_dir: Path) -> str:
    try:
        return str(path.relative_to(base_dir))
    except ValueError:
        return str(path)
