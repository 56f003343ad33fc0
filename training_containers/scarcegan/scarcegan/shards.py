"""Sharded preprocessing: mergeable partial statistics, their deterministic merge, and split readers.

Each preprocess instance featurises a disjoint shard of players and writes, per shard, the players'
*unscaled* per-player features (Parquet, float32) and one partial (`_partials/<shard>.json` + its
hash sample `_partials/<shard>-sample.parquet`). Everything global — the scaler's moments, category
level counts, the heavy-tail choice, gap medians, the baseline of the model inputs — is computed by
`merge` from those partials alone, in the same order whatever the number of shards, so the fitted
FeaturePipeline does not depend on how the players were cut (docs/decisions/0400).

* moments: (count, mean, M2) per column, raw and signed-log, combined with Chan's formula;
* levels: counts per level, summed;
* quantile-based choices (heavy tails, medians, the baseline's buckets and sketch): a bottom-k
  sample by a stable hash of the player id (the SAMPLE_PLAYERS training players of smallest hash):
  merging keeps the k smallest of the union, so the sample is a function of the player set only.
  With at most SAMPLE_PLAYERS training players it is every player, and the figures are exact.
* split and fold of a labelled player: the stratified seeded split over every labelled player,
  which every instance has whole (docs/decisions/0401); unlabeled players all train.

Consumers (train.py, train_gb.py, evaluate.py) call `load_pipeline(folder)` and read splits with
`iter_split` / `read_split`, which scale each batch through the merged pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .baseline_statistics import baseline_statistics
from .errors import DataError
from .features import heavy_tail_columns, signed_log1p, tail_ratio
from .schema import ID_COLUMN, LABEL_COLUMN
from .tabular import MAX_LEVELS, MIN_LEVEL_COUNT, category_text

PARTIALS = "_partials"
SAMPLE_PLAYERS = 100_000  # bottom-k hash sample of training players (quantiles, baseline buckets)
READ_BATCH_ROWS = 65_536  # players per batch when a consumer streams a split
FOLD_COLUMN = "fold"
HASH_KEY = "scarcegan-shards"  # 16 characters: pandas' siphash key


# ---- stable hashes ----
def player_hash(ids, salt: int | str = "") -> np.ndarray:
    """uint64 per id: the same for an id whatever process, machine, shard or order."""
    text = np.asarray([f"{salt}\x1f{i}" for i in ids], dtype=object)
    return pd.util.hash_array(text, hash_key=HASH_KEY, categorize=False).astype(np.uint64)


def unit(hashes: np.ndarray) -> np.ndarray:
    """uint64 hashes -> floats uniform in [0, 1)."""
    return (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)


# ---- the host's place among the instances ----
def resource_config(base_dir: Path) -> tuple[str, list[str]]:
    """(current_host, hosts) from SageMaker's resourceconfig.json beside the processing base
    directory (/opt/ml/config/ for /opt/ml/processing); one host when there is none."""
    path = Path(base_dir).parent / "config" / "resourceconfig.json"
    if path.is_file():
        config = json.loads(path.read_text())
        hosts = list(config.get("hosts") or [config.get("current_host", "algo-1")])
        return str(config.get("current_host", hosts[0])), hosts
    return "algo-1", ["algo-1"]


# ---- moments ----
def _moments(values: np.ndarray) -> list[float]:
    values = values[~np.isnan(values)]
    n = len(values)
    if not n:
        return [0.0, 0.0, 0.0]
    mean = float(values.mean())
    return [float(n), mean, float(((values - mean) ** 2).sum())]


def _combine(a: list[float], b: list[float]) -> list[float]:
    (na, ma, qa), (nb, mb, qb) = a, b
    n = na + nb
    if n == 0:
        return [0.0, 0.0, 0.0]
    delta = mb - ma
    return [n, ma + delta * nb / n, qa + qb + delta * delta * na * nb / n]


@dataclass
class Partial:
    """What one shard knows about its training players (train split + unlabeled)."""

    shard: str
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    rows: int = 0
    moments: dict = field(default_factory=dict)  # column -> {"raw": [n, mean, M2], "log": [...], "missing": m}
    levels: dict = field(default_factory=dict)  # column -> {level: count}
    quality: dict = field(default_factory=dict)  # mergeable counts (see merge_quality)
    sample: pd.DataFrame | None = None  # "_hash" + player_id + numeric + categorical, bottom-k by hash
    sample_players: int = SAMPLE_PLAYERS
    settings: dict = field(default_factory=dict)  # input_format, id_column, heavy_tail, telemetry

    def update(self, base: pd.DataFrame, categories: pd.DataFrame) -> None:
        """Add the training players of one chunk: ``base`` numeric (index player_id), ``categories``."""
        if base.empty:
            return
        if not self.numeric and not self.categorical:
            self.numeric, self.categorical = list(base.columns), list(categories.columns)
        self.rows += len(base)
        for column in self.numeric:
            values = base[column].to_numpy(dtype=float)
            entry = self.moments.setdefault(column, {"raw": [0.0, 0.0, 0.0], "log": [0.0, 0.0, 0.0],
                                                     "missing": 0})
            entry["raw"] = _combine(entry["raw"], _moments(values))
            entry["log"] = _combine(entry["log"], _moments(signed_log1p(values)))
            entry["missing"] += int(np.isnan(values).sum())
        for column in self.categorical:
            counts = pd.Series(category_text(categories[column])).value_counts()
            into = self.levels.setdefault(column, {})
            for level, count in counts.items():
                into[str(level)] = into.get(str(level), 0) + int(count)
        chunk = pd.concat([base, categories], axis=1).reset_index()
        chunk.insert(0, "_hash", player_hash(chunk[ID_COLUMN]))
        self.sample = _bottom_k(pd.concat([self.sample, chunk], ignore_index=True)
                                if self.sample is not None else chunk, self.sample_players)

    # ---- files ----
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{self.shard}.json").write_text(json.dumps(
            {"shard": self.shard, "numeric": self.numeric, "categorical": self.categorical,
             "rows": self.rows, "moments": self.moments, "levels": self.levels,
             "quality": self.quality, "sample_players": self.sample_players,
             "settings": self.settings}, indent=1))
        if self.sample is not None:
            sample = self.sample.copy()
            sample["_hash"] = sample["_hash"].astype(np.uint64)
            sample.to_parquet(folder / f"{self.shard}-sample.parquet", index=False)

    @classmethod
    def load(cls, path: Path) -> Partial:
        data = json.loads(path.read_text())
        partial = cls(data["shard"], data["numeric"], data["categorical"], data["rows"], data["moments"],
                      data["levels"], data["quality"], None, data.get("sample_players", SAMPLE_PLAYERS),
                      data.get("settings", {}))
        partial.sample_path = path.with_name(f"{data['shard']}-sample.parquet")  # read when merged
        return partial

    def read_sample(self) -> pd.DataFrame | None:
        if self.sample is not None:
            return self.sample
        path = getattr(self, "sample_path", None)
        if path is None or not Path(path).is_file():
            return None
        sample = pd.read_parquet(path)
        sample[ID_COLUMN] = sample[ID_COLUMN].astype(str)
        return sample


def _bottom_k(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """The k rows of smallest hash, ordered by (hash, player id): independent of the input order."""
    frame = frame.sort_values(["_hash", ID_COLUMN], kind="stable")
    return frame.head(k).reset_index(drop=True)


def partial_files(folder: Path) -> list[Path]:
    return sorted(p for p in (Path(folder) / PARTIALS).glob("*.json"))


def load_partials(folder: Path) -> list[Partial]:
    files = partial_files(folder)
    if not files:
        raise DataError(f"{folder}/{PARTIALS}/", "no partial statistics (run preprocess first)")
    return [Partial.load(path) for path in files]


# ---- the merge ----
@dataclass
class Merged:
    numeric: list[str]
    categorical: list[str]
    rows: int
    moments: dict
    levels: dict
    sample: pd.DataFrame
    quality: dict
    settings: dict


def merge_partials(partials: list[Partial]) -> Merged:
    """One deterministic combination of the shards' partials (sorted by shard name)."""
    every = sorted(partials, key=lambda p: p.shard)
    partials = [p for p in every if p.rows]
    if not partials:
        raise DataError(PARTIALS, "no training players in any shard")
    numeric, categorical = partials[0].numeric, partials[0].categorical
    for partial in partials[1:]:
        if (partial.numeric, partial.categorical) != (numeric, categorical):
            raise DataError(f"{PARTIALS}/{partial.shard}.json",
                            f"feature columns differ from shard {partials[0].shard}: "
                            f"{sorted(set(partial.numeric + partial.categorical) ^ set(numeric + categorical))}")
    moments: dict = {}
    levels: dict = {c: {} for c in categorical}
    for partial in partials:
        for column in numeric:
            entry = moments.setdefault(column, {"raw": [0.0, 0.0, 0.0], "log": [0.0, 0.0, 0.0], "missing": 0})
            theirs = partial.moments[column]
            entry["raw"] = _combine(entry["raw"], theirs["raw"])
            entry["log"] = _combine(entry["log"], theirs["log"])
            entry["missing"] += theirs["missing"]
        for column in categorical:
            for level, count in partial.levels.get(column, {}).items():
                levels[column][level] = levels[column].get(level, 0) + count
    k = min(p.sample_players for p in partials)
    sample = None  # one shard's sample at a time: memory ~2k rows whatever the number of shards
    for partial in partials:
        theirs = partial.read_sample()
        if theirs is not None:
            sample = _bottom_k(theirs if sample is None else pd.concat([sample, theirs], ignore_index=True), k)
    for partial in every:
        if partial.settings.get("labelled_files") != partials[0].settings.get("labelled_files"):
            raise DataError(f"{PARTIALS}/{partial.shard}.json",
                            f"instance {partial.shard} saw other labelled part files than {partials[0].shard}: "
                            "the labelled groups must reach every instance whole (FullyReplicated; only "
                            "the unlabeled group is ShardedByS3Key, docs/decisions/0401)")
        if partial.settings != partials[0].settings:
            raise DataError(f"{PARTIALS}/{partial.shard}.json",
                            f"settings differ from shard {partials[0].shard}: {partial.settings}")
    return Merged(numeric, categorical, sum(p.rows for p in partials), moments, levels, sample,
                  merge_quality([p.quality for p in every]), partials[0].settings)


def kept_levels(counts: dict[str, int], min_count: int = MIN_LEVEL_COUNT,
                max_levels: int = MAX_LEVELS) -> list[str]:
    """As tabular.categorical_levels, from counts: seen >= min_count (else the most frequent one),
    the most frequent max_levels (ties: by name), sorted."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = [level for level, count in ordered if count >= min_count][:max_levels] or [ordered[0][0]]
    return sorted(kept)


def fit_scaler_moments(merged: Merged, medians: dict[str, float], logged: list[str],
                       levels: dict[str, list[str]]) -> tuple[list[str], list[float], list[float]]:
    """(feature names, mean, scale) of the model inputs, from moments: numeric columns (gaps filled
    with the median, signed log where chosen), then ``__missing`` flags, then one-hot levels."""
    n = float(merged.rows)
    names, means, scales = [], [], []

    def add(name: str, m: list[float]) -> None:
        std = float(np.sqrt(max(m[2], 0.0) / m[0])) if m[0] else 0.0
        names.append(name)
        means.append(m[1])
        scales.append(std if std > 1e-12 else 1.0)

    for column in merged.numeric:
        entry = merged.moments[column]
        present = entry["log" if column in logged else "raw"]
        missing = entry["missing"]
        if missing and column in medians:
            fill = medians[column]
            fill = float(signed_log1p(np.array([fill]))[0]) if column in logged else fill
            present = _combine(present, [float(missing), fill, 0.0])
        add(column, present)
    for column in medians:
        p = merged.moments[column]["missing"] / n
        add(f"{column}__missing", [n, p, n * p * (1 - p)])
    from .tabular import UNSEEN
    for column, kept in levels.items():
        counts = merged.levels[column]
        for level in (*kept, UNSEEN):
            c = (n - sum(counts.get(v, 0) for v in kept)) if level == UNSEEN else counts.get(level, 0)
            p = c / n
            add(f"{column}={level}", [n, p, n * p * (1 - p)])
    return names, means, scales


def baseline_from_sample(scaled_sample: pd.DataFrame, population: int) -> dict:
    """statistics.json of the model inputs from the hash sample, counts scaled to the population
    (exact when the sample is every training player)."""
    stats = baseline_statistics(scaled_sample)
    factor = population / max(len(scaled_sample), 1)
    stats["dataset"]["item_count"] = int(population)
    stats["dataset"]["sample_items"] = int(len(scaled_sample))
    if factor != 1:
        for feature in stats["features"]:
            numerical = feature["numerical_statistics"]
            numerical["common"]["num_present"] = int(population)
            numerical["sum"] = float(numerical["mean"] * population)
            for bucket in numerical["distribution"]["kll"]["buckets"]:
                bucket["count"] = float(bucket["count"] * factor)
    return stats


# ---- mergeable data-quality counts ----
def merge_quality(parts: list[dict]) -> dict:
    """Sum counts, union week sets, keep the first non-empty lists (files are per shard: concatenated)."""
    out: dict = {"groups": {}, "splits": {}, "risky_per_fold": [], "shards": []}
    for part in parts:
        out["shards"].append(part.get("shard"))
        out["ignored_columns"] = sorted(set(out.get("ignored_columns", [])) | set(part.get("ignored_columns", [])))
        for group, entry in part.get("groups", {}).items():
            into = out["groups"].setdefault(group, {"files": [], "rows": 0, "players": 0})
            into["files"] += entry.get("files", [])
            into["rows"] += entry.get("rows", 0)
            into["players"] += entry.get("players", 0)
            if "weeks" in entry:
                into["week_values"] = sorted(set(into.get("week_values", [])) | set(entry["weeks"]))
                into["players_with_missing_weeks"] = (into.get("players_with_missing_weeks", 0)
                                                      + entry.get("players_with_missing_weeks", 0))
            for column, count in entry.get("negative_values", {}).items():
                negative = into.setdefault("negative_values", {})
                negative[column] = negative.get(column, 0) + count
        for split, counts in part.get("splits", {}).items():
            into = out["splits"].setdefault(split, {})
            for label, count in counts.items():
                into[label] = into.get(label, 0) + count
        folds = part.get("risky_per_fold", [])
        if len(out["risky_per_fold"]) < len(folds):
            out["risky_per_fold"] += [0] * (len(folds) - len(out["risky_per_fold"]))
        for i, count in enumerate(folds):
            out["risky_per_fold"][i] += count
    for entry in out["groups"].values():
        weeks = entry.pop("week_values", None)
        if weeks is not None:
            entry["weeks"] = {"min": weeks[0] if weeks else None, "max": weeks[-1] if weeks else None,
                              "distinct": len(weeks)}
    return out


# ---- consumers ----
def load_pipeline(folder: str | Path):
    """The FeaturePipeline of a preprocess output folder: merged from its `_partials/`, else its
    pipeline.json (an output written before sharding)."""
    from .pipeline import FeaturePipeline

    folder = Path(folder)
    if partial_files(folder):
        return FeaturePipeline.from_partials(load_partials(folder))
    if (folder / "pipeline.json").is_file():
        return FeaturePipeline.load(folder / "pipeline.json")
    raise DataError(f"{folder}/", f"neither {PARTIALS}/ nor pipeline.json (run preprocess first)")


def split_files(folder: str | Path, name: str) -> list[Path]:
    """The shards of one split: ``<name>-<shard>.parquet``, in shard order."""
    return sorted(Path(folder).glob(f"{name}-*.parquet"))


def iter_split(folder: str | Path, name: str, pipeline, batch_rows: int = READ_BATCH_ROWS,
               shuffle_seed: int | None = None) -> Iterator[pd.DataFrame]:
    """Scaled model inputs of one split, ``batch_rows`` players at a time: player_id, label,
    [fold], then `pipeline.feature_names` (float32). Memory: one batch. ``shuffle_seed``: the
    files in a seeded random order (a stream that is not read to its end still draws from all
    shards' players: each shard is a uniform share of them)."""
    files = split_files(folder, name)
    if shuffle_seed is not None:
        files = [files[i] for i in np.random.default_rng(shuffle_seed).permutation(len(files))]
    if not files and (Path(folder) / f"{name}.csv").is_file():  # an output written before sharding
        frame = pd.read_csv(Path(folder) / f"{name}.csv", dtype={ID_COLUMN: str, LABEL_COLUMN: str},
                            keep_default_na=False)
        yield frame
        return
    for path in files:
        try:
            handle = pq.ParquetFile(path)
        except (OSError, ValueError) as exc:
            raise DataError(str(path), f"cannot be read as Parquet: {exc}") from None
        for batch in handle.iter_batches(batch_size=batch_rows):
            yield finish_split(batch.to_pandas(), pipeline)


def finish_split(base: pd.DataFrame, pipeline) -> pd.DataFrame:
    """A stored split batch (unscaled per-player columns) -> player_id, label, [fold], features."""
    keys = [c for c in (ID_COLUMN, LABEL_COLUMN, FOLD_COLUMN) if c in base.columns]
    indexed = base.set_index(ID_COLUMN)
    features = pipeline.finish(indexed[pipeline.numeric_columns].astype(float),
                               indexed[pipeline.categorical_columns])
    out = features.reset_index()
    for position, column in enumerate(keys[1:], start=1):
        out.insert(position, column, base[column].to_numpy())
    return out


def read_split(folder: str | Path, name: str, pipeline=None, columns: list[str] | None = None) -> pd.DataFrame:
    """A whole split as one frame (small splits: labelled players, validation, test)."""
    pipeline = pipeline or load_pipeline(folder)
    frames = [frame if columns is None else frame[columns] for frame in iter_split(folder, name, pipeline)]
    if not frames:
        return pd.DataFrame(columns=[ID_COLUMN, LABEL_COLUMN, *pipeline.feature_names])
    return pd.concat(frames, ignore_index=True)


class SplitWriter:
    """Appends batches of one split to ``<folder>/<name>-<shard>.parquet`` (row groups per chunk)."""

    def __init__(self, folder: Path, name: str, shard: str):
        self.path = Path(folder) / f"{name}-{shard}.parquet"
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, table.schema)
        elif table.schema != self.writer.schema:
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def training_tail_ratios(sample: pd.DataFrame, numeric: list[str]) -> dict[str, float]:
    return {c: round(tail_ratio(sample[c].to_numpy(dtype=float)), 3) for c in numeric}


def heavy_columns(sample: pd.DataFrame, numeric: list[str], mode: str) -> list[str]:
    return heavy_tail_columns(sample[numeric].astype(float), mode)


def load_split(folder: str | Path, name: str, pipeline=None, labelled: bool = True) -> pd.DataFrame:
    """A split for a consumer, checked: missing, empty and unknown labels are DataErrors.
    ``pipeline`` None: merged from ``folder`` (or none needed for an output written before sharding)."""
    from .schema import LABELLED_GROUPS

    folder = Path(folder)
    shown = f"{folder}/{name}-*.parquet"
    legacy = folder / f"{name}.csv"
    if not split_files(folder, name):
        if not legacy.is_file():
            raise DataError(shown, "missing (run preprocess first)")
        shown = str(legacy)
        try:
            frame = next(iter_split(folder, name, pipeline))
        except pd.errors.EmptyDataError:
            raise DataError(shown, "is empty (no header, no rows)") from None
    else:
        frame = read_split(folder, name, pipeline)
    if frame.empty:
        raise DataError(shown, "has no rows")
    if labelled:
        unknown = sorted(set(frame[LABEL_COLUMN]) - set(LABELLED_GROUPS))
        if unknown:
            raise DataError(shown, f"unknown label(s) {unknown}")
    return frame


def pipeline_for(folder: str | Path):
    """load_pipeline, or None where the folder holds pre-sharding CSV splits only."""
    folder = Path(folder)
    if not partial_files(folder) and not (folder / "pipeline.json").is_file():
        return None
    return load_pipeline(folder)


def merged_views(folder: str | Path):
    """(merged, FeaturePipeline, statistics.json baseline of the model inputs) from ``folder``'s
    partials: what every consumer of a sharded preprocess derives alike."""
    from .pipeline import FeaturePipeline

    merged = merge_partials(load_partials(Path(folder)))
    pipeline = FeaturePipeline.from_merged(merged)
    sample = merged.sample.set_index(ID_COLUMN)
    scaled = pipeline.finish(sample[pipeline.numeric_columns].astype(float),
                             sample[pipeline.categorical_columns])
    return merged, pipeline, baseline_from_sample(scaled, merged.rows)


def split_players(folder: str | Path, name: str) -> int:
    """Players (rows) of a split from the Parquet footers, without reading it."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in split_files(folder, name))
