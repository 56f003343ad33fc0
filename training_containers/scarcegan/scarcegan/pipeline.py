"""The whole way from landed rows to model inputs, fitted once on training rows: FeaturePipeline.

preprocess fits it on the training players (labelled training split + unlabeled) and produces every
split THROUGH `transform`, and a registered model carries its pipeline.json to score new players, so
training and scoring cannot disagree on a feature. Steps of `transform(raw rows)`:

1. validate the rows as the landing's input format (DataError naming the problem); the landing's id
   column becomes ``player_id``;
2. one row per player: telemetry -> trajectory statistics (`features.extract_features`; declared
   categoricals: the player's latest value); features -> the numeric columns as they are;
3. numeric gaps (features format) -> the training median plus a ``<column>__missing`` flag;
4. categoricals -> one-hot columns of the training levels plus ``<column>=__unseen__``;
5. heavy-tailed columns -> sign(x)*log1p(|x|), chosen at fit (`features.heavy_tail_columns`);
6. standardised with the training mean/std -> float32, columns exactly `feature_names`.

Steps 5-6 are the `Scaler` (scaler.json), kept for readers of feature columns such as drift.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .features import RECENT_WEEKS, STATISTICS, extract_features, heavy_tail_columns, tail_ratio
from .inputs import (
    InputSpec,
    check_numeric,
    check_one_row_per_player,
    check_rows,
    feature_columns,
    normalise_ids,
    read_part,
)
from .scaling import Scaler
from .schema import ID_COLUMN, TELEMETRY_COLUMNS, WEEK_COLUMN
from .tabular import categorical_levels, encode_categoricals, fill_gaps

KIND = "scarcegan.FeaturePipeline"
VERSION = 1


@dataclass
class FeaturePipeline:
    input_format: str
    id_column: str
    numeric_columns: list[str]  # before encoding: raw columns (features) or trajectory statistics
    categorical_levels: dict[str, list[str]]
    medians: dict[str, float]
    heavy_tail: dict  # {"mode": auto|signed-log|none, "columns": [...], "tail_ratio": {column: r}}
    scaler: Scaler
    telemetry: dict = field(default_factory=dict)  # {"columns", "statistics", "recent_weeks"}

    # ---- what the model sees ----
    @property
    def feature_names(self) -> list[str]:
        return list(self.scaler.feature_names)

    @property
    def categorical_columns(self) -> list[str]:
        return list(self.categorical_levels)

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(self.input_format, self.id_column, tuple(self.categorical_columns))

    # ---- fit on training rows ----
    @classmethod
    def fit(cls, rows: pd.DataFrame, spec: InputSpec, heavy_tail: str = "auto",
            recent_weeks: int = RECENT_WEEKS, shown: str = "training rows") -> FeaturePipeline:
        """Fit on the raw rows of the training players (already validated or not: they are checked)."""
        telemetry: dict = {}
        rows = rows.reset_index(drop=True)
        if spec.input_format == "telemetry":
            telemetry = {"columns": list(TELEMETRY_COLUMNS), "statistics": list(STATISTICS),
                         "recent_weeks": int(recent_weeks)}
            rows = check_rows(rows.copy(), spec, shown, TELEMETRY_COLUMNS)
            categorical = list(spec.categorical_columns)
        else:
            rows = check_rows(rows.copy(), spec, shown)
            numeric, categorical = feature_columns(rows, spec, shown)
            if not numeric and not categorical:
                raise DataError(shown, f"no feature columns besides the id column {spec.id_column}")
        base, categories = _per_player(rows, spec.input_format, telemetry,
                                       None if spec.input_format == "telemetry" else numeric, categorical)
        medians = {c: float(np.nanmedian(base[c])) if base[c].notna().any() else 0.0
                   for c in base.columns if base[c].isna().any()}
        levels = categorical_levels(categories, categorical)
        logged = heavy_tail_columns(base, heavy_tail)
        unscaled = pd.concat([fill_gaps(base, medians), encode_categoricals(categories, levels)], axis=1)
        scaler = Scaler.fit(unscaled, spec.input_format,
                            {**telemetry, "categorical_levels": levels}, signed_log=logged)
        ratios = {c: round(tail_ratio(base[c].to_numpy(dtype=float)), 3) for c in base.columns}
        return cls(spec.input_format, spec.id_column, list(base.columns), levels, medians,
                   {"mode": heavy_tail, "columns": logged, "tail_ratio": ratios}, scaler, telemetry)

    # ---- rows -> model inputs ----
    def transform(self, raw: pd.DataFrame, shown: str = "rows") -> pd.DataFrame:
        """Raw landed rows (telemetry: many per player; features: one per player; extra columns such
        as ``label`` are ignored) -> one float32 row per player, index ``player_id``, columns
        `feature_names`. Raises DataError on rows the pipeline cannot read."""
        if raw is None or len(raw) == 0:
            raise DataError(shown, "no rows to transform")
        spec = self.input_spec
        raw = raw.reset_index(drop=True)
        if self.input_format == "telemetry":
            rows = check_rows(raw.copy(), spec, shown, self.telemetry["columns"])
            base, categories = _per_player(rows, "telemetry", self.telemetry, None, self.categorical_columns)
        else:
            rows = normalise_ids(raw.copy(), spec, shown)
            missing = [c for c in (*self.numeric_columns, *self.categorical_columns) if c not in rows.columns]
            if missing:
                raise DataError(shown, f"missing column(s) {', '.join(missing)} {spec.format_hint()}")
            rows = rows[[ID_COLUMN, *self.numeric_columns, *self.categorical_columns]]
            check_numeric(rows, shown, self.numeric_columns, allow_missing=True)
            check_one_row_per_player(rows, shown)
            base, categories = _per_player(rows, "features", self.telemetry, self.numeric_columns,
                                           self.categorical_columns)
        return self.finish(base, categories)

    def per_player(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Validated rows -> (unscaled numeric table, categorical table), one row per player: what
        a preprocess shard stores and `finish` completes (docs/decisions/0400)."""
        if self.input_format == "telemetry":
            return _per_player(rows, "telemetry", self.telemetry, None, self.categorical_columns)
        return _per_player(rows, "features", self.telemetry, self.numeric_columns, self.categorical_columns)

    def finish(self, base: pd.DataFrame, categories: pd.DataFrame) -> pd.DataFrame:
        """Per-player tables -> gaps filled, one-hot, signed log, standardised; float32 model inputs."""
        unscaled = pd.concat([fill_gaps(base[self.numeric_columns], self.medians),
                              encode_categoricals(categories, self.categorical_levels)], axis=1)
        out = self.scaler.transform(unscaled).astype(np.float32)
        out.index.name = ID_COLUMN
        return out

    # ---- fit from shards' partial statistics ----
    @classmethod
    def from_partials(cls, partials: list) -> FeaturePipeline:
        """The pipeline of the union of the shards, from their mergeable partials (scarcegan.shards)."""
        from .shards import merge_partials

        merged = merge_partials(partials)
        return cls.from_merged(merged)

    @classmethod
    def from_merged(cls, merged) -> FeaturePipeline:
        from .shards import fit_scaler_moments, heavy_columns, kept_levels, training_tail_ratios

        settings, sample, numeric = merged.settings, merged.sample, merged.numeric
        medians = {c: float(np.nanmedian(sample[c].to_numpy(dtype=float)))
                   if sample[c].notna().any() else 0.0
                   for c in numeric if merged.moments[c]["missing"]}
        levels = {c: kept_levels(merged.levels[c]) for c in merged.categorical}
        mode = settings.get("heavy_tail", "auto")
        logged = heavy_columns(sample, numeric, mode)
        names, mean, scale = fit_scaler_moments(merged, medians, logged, levels)
        telemetry = settings.get("telemetry", {})
        scaler = Scaler(names, mean, scale, settings["input_format"],
                        {**telemetry, "categorical_levels": levels}, signed_log=logged)
        return cls(settings["input_format"], settings["id_column"], list(numeric), levels, medians,
                   {"mode": mode, "columns": logged, "tail_ratio": training_tail_ratios(sample, numeric)},
                   scaler, telemetry)

    def read_rows(self, path: str | Path, shown: str | None = None) -> pd.DataFrame:
        """Rows of a CSV/Parquet file as the landing declared them (ids and categoricals as text)."""
        return read_part(Path(path), shown or str(path),
                         (self.id_column, ID_COLUMN, *self.categorical_columns))

    # ---- pipeline.json ----
    def to_dict(self) -> dict:
        return {"kind": KIND, "version": VERSION, "input_format": self.input_format,
                "id_column": self.id_column, "telemetry": self.telemetry,
                "numeric_columns": self.numeric_columns, "categorical_levels": self.categorical_levels,
                "medians": self.medians, "heavy_tail": self.heavy_tail,
                "feature_names": self.feature_names, "scaler": self.scaler.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> FeaturePipeline:
        if data.get("kind") != KIND or data.get("version", 0) > VERSION:
            raise DataError("pipeline.json", f"not a {KIND} of version <= {VERSION}")
        return cls(data["input_format"], data["id_column"], data["numeric_columns"],
                   data["categorical_levels"], data["medians"], data["heavy_tail"],
                   Scaler(**data["scaler"]), data.get("telemetry", {}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> FeaturePipeline:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(str(path), f"cannot be read: {exc}") from None
        return cls.from_dict(data)


def _per_player(rows: pd.DataFrame, input_format: str, telemetry: dict, numeric: list[str] | None,
                categorical: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(numeric table, categorical table), both one row per player in first-seen order."""
    if input_format == "telemetry":
        base = extract_features(rows, telemetry["columns"], telemetry["recent_weeks"])
        latest = rows.sort_values(WEEK_COLUMN, kind="stable").groupby(ID_COLUMN, sort=False)
        categories = (latest[categorical].last().reindex(base.index) if categorical
                      else pd.DataFrame(index=base.index))
        return base, categories
    frame = rows.set_index(ID_COLUMN)
    base = frame[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    return base, frame[categorical]
