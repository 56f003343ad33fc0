"""Processing job: landing batch -> validated rows, a fitted FeaturePipeline, splits of model inputs.

    python3 preprocess.py --base-dir /opt/ml/processing [--input-format telemetry|features]
        [--id-column NAME] [--categorical-columns a,b] [--heavy-tail auto|signed-log|none]
        [--folds K] [--test-fraction F] [--split-seed S]

The data parameters (family "data" of parameters.json) come, in this order of precedence, from the
arguments, the landing's input/data/_manifest.json, and the schema's defaults. Inputs and outputs:
training_containers/README.md (preprocess.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from scarcegan.errors import DataError
from scarcegan.features import RECENT_WEEKS, STATISTICS
from scarcegan.inputs import MANIFEST, RESERVED_COLUMNS, InputSpec, check_rows, feature_columns, part_files, read_part
from scarcegan.parameters import family_defaults, family_schema, parse_family, validate_family
from scarcegan.pipeline import FeaturePipeline, _per_player
from scarcegan.schema import (
    GROUPS,
    ID_COLUMN,
    LABEL_COLUMN,
    POSITIVE_CLASS,
    TELEMETRY_COLUMNS,
    UNLABELED_GROUP,
    WEEK_COLUMN,
)
from scarcegan.shards import (
    FOLD_COLUMN,
    PARTIALS,
    SAMPLE_PLAYERS,
    Partial,
    SplitWriter,
    merge_quality,
    player_hash,
    resource_config,
    split_files,
)
from scarcegan.splits import VALIDATION_SHARE, assign_folds, split_players
from scarcegan.tabular import category_text

FAMILY = "data"
CHUNK_ROWS = 250_000  # landed rows per chunk (whole part files; docs/decisions/0402)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV through pyarrow: float32 features written in their shortest exact form, ~10x faster than
    pandas' float_format (measured: 2.8 s of a 4 s preprocess on 7,000 players)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pa_csv.write_csv(table, path, pa_csv.WriteOptions(quoting_style="needed"))


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, set[str]]:
    """(arguments, names of the data parameters given explicitly). Unknown names exit 1."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-dir", default="/opt/ml/processing")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS,
                        help="landed rows per chunk (whole part files)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_family(FAMILY, argv, parser)
    flags = {token.split("=", 1)[0].lstrip("-").replace("-", "_") for token in argv if token.startswith("--")}
    given = {name.replace("-", "_") for name in family_schema(FAMILY)} & flags
    return args, given


def resolve_parameters(base: Path, given: dict) -> tuple[dict, dict]:
    """(values, source of each: argument | manifest | default). The manifest is JSON, flat or under
    "parameters", kebab or snake keys; keys other than data parameters are left to other readers."""
    values, sources = family_defaults(FAMILY), dict.fromkeys(family_defaults(FAMILY), "default")
    manifest_path = base / "input" / "data" / MANIFEST
    if manifest_path.is_file():
        shown = f"input/data/{MANIFEST}"
        try:
            manifest = json.loads(manifest_path.read_text() or "{}")
        except json.JSONDecodeError as exc:
            raise DataError(shown, f"is not valid JSON: {exc}") from None
        if not isinstance(manifest, dict):
            raise DataError(shown, "must be a JSON object")
        manifest = manifest.get("parameters", manifest)
        ours = {k: v for k, v in manifest.items() if str(k).replace("_", "-") in family_schema(FAMILY)}
        try:
            typed = validate_family(FAMILY, ours)
        except DataError as exc:
            raise DataError(shown, exc.problem) from None
        for key in ours:
            name = str(key).replace("-", "_")
            values[name], sources[name] = typed[name], "manifest"
    if given:
        typed = validate_family(FAMILY, given)
        for name in given:
            values[name], sources[name] = typed[name], "argument"
    return values, sources


def main(base_dir: str | Path = "/opt/ml/processing", input_format: str | None = None,
         id_column: str | None = None, categorical_columns: str | None = None,
         heavy_tail: str | None = None, folds: int | None = None, test_fraction: float | None = None,
         split_seed: int | None = None, *, seed: int | None = None,
         validation_share: float = VALIDATION_SHARE, recent_weeks: int = RECENT_WEEKS,
         chunk_rows: int = CHUNK_ROWS, sample_players: int = SAMPLE_PLAYERS) -> dict:
    """Run the step on this instance's shard of the landing; returns the data-quality report.
    Raises DataError on bad input.

    A data parameter left None comes from the landing's _manifest.json, else the schema default.
    ``seed`` is the old name of ``split_seed``. The landing is read in chunks of at most
    ``chunk_rows`` rows (whole part files; a player's rows stay in one file: docs/decisions/0400).
    """
    base = Path(base_dir)
    if split_seed is None and seed is not None:
        split_seed = seed
    given = {k: v for k, v in dict(input_format=input_format, id_column=id_column,
                                   categorical_columns=categorical_columns, heavy_tail=heavy_tail,
                                   folds=folds, test_fraction=test_fraction,
                                   split_seed=split_seed).items() if v is not None}
    params, sources = resolve_parameters(base, given)
    spec = InputSpec.from_parameters(params["input_format"], params["id_column"],
                                     params["categorical_columns"])
    host, hosts = resource_config(base)
    shard = f"{hosts.index(host):05d}-of-{len(hosts):05d}" if host in hosts else host
    data_dir, out = base / "input" / "data", base / "output"
    telemetry = ({"columns": list(TELEMETRY_COLUMNS), "statistics": list(STATISTICS),
                  "recent_weeks": int(recent_weeks)} if spec.input_format == "telemetry" else {})
    partial = Partial(shard, sample_players=sample_players,
                      settings={"input_format": spec.input_format, "id_column": spec.id_column,
                                "heavy_tail": params["heavy_tail"], "telemetry": telemetry})
    writers = {"train": SplitWriter(out / "train", "train", shard),
               "unlabeled": SplitWriter(out / "train", "unlabeled", shard),
               "validation": SplitWriter(out / "validation", "val", shard),
               "test": SplitWriter(out / "test", "test", shard),
               "raw": SplitWriter(out / "test", "raw", shard)}
    quality: dict = {"shard": shard, "host": host, "groups": {}, "splits": {},
                     "risky_per_fold": [0] * params["folds"]}
    # Labelled players are few (labels are scarce) and every instance has all of them (their group
    # folders are FullyReplicated inputs): each computes the same stratified split from them, the
    # first instance featurises them; the unlabeled players are sharded (docs/decisions/0401).
    first_host = host not in hosts or host == hosts[0]
    labelled, fingerprint = _labelled_players(data_dir, base, spec)
    labelled["split"] = split_players(labelled[LABEL_COLUMN].to_numpy(), params["test_fraction"],
                                      validation_share, params["split_seed"])
    train_players = labelled[labelled["split"] == "train"]
    fold_of = dict(zip(train_players[ID_COLUMN], assign_folds(train_players[LABEL_COLUMN].to_numpy(),
                                                              params["folds"], params["split_seed"]),
                       strict=True))
    split_of = dict(zip(labelled[ID_COLUMN], labelled["split"], strict=True))
    del labelled, train_players
    partial.settings["labelled_files"] = fingerprint  # the same on every instance, checked at the merge
    columns: tuple[list[str], list[str]] | None = None  # features format: (numeric, categorical)
    seen: list[np.ndarray] = []  # hashes of the players featurised so far (8 bytes a player)
    try:
        for group in GROUPS:
            files = part_files(data_dir / group)
            entry = quality["groups"][group] = {"files": [_shown(p, base) for p in files], "rows": 0,
                                                "players": 0}
            if spec.input_format == "telemetry":
                entry.update(weeks=[], players_with_missing_weeks=0, negative_values={})
            if group != UNLABELED_GROUP and not first_host:
                entry["files"] = []  # counted by the first instance
                continue
            if not files:
                if len(hosts) == 1 or group != UNLABELED_GROUP:
                    raise DataError(f"{_shown(data_dir / group, base)}/",
                                    "no risky labels: the risky group has no data files"
                                    if group == POSITIVE_CLASS else "no data files (group is empty)")
                continue
            for rows in _chunks(files, base, spec, chunk_rows):
                if spec.input_format == "features":
                    found = feature_columns(rows, spec, entry["files"][0])
                    if columns is None:
                        columns = found
                    elif found != columns and set(found[0] + found[1]) != set(columns[0] + columns[1]):
                        raise DataError(rows.attrs["shown"], "columns differ from the first part file: "
                                        f"{sorted(set(found[0] + found[1]) ^ set(columns[0] + columns[1]))}")
                    numeric, categorical = columns
                else:
                    numeric, categorical = None, list(spec.categorical_columns)
                base_table, categories = _per_player(rows, spec.input_format, telemetry, numeric, categorical)
                ids = base_table.index.to_numpy()
                seen.append(player_hash(ids))
                _count(entry, rows, ids, spec, group)
                quality["ignored_columns"] = sorted(set(quality.get("ignored_columns", []))
                                                    | {c for c in rows.columns if c in RESERVED_COLUMNS})
                if group == UNLABELED_GROUP:
                    split = np.full(len(ids), "unlabeled", dtype=object)
                else:
                    split = np.array([split_of[i] for i in ids], dtype=object)
                fold = np.array([fold_of.get(i, -1) for i in ids], dtype=np.int64)
                training = np.isin(split, ("train", "unlabeled"))
                partial.update(base_table[training], categories[training])
                stored = base_table.astype(np.float32)
                for column in categories.columns:
                    stored[column] = category_text(categories[column]).astype(str)
                stored.index.name = ID_COLUMN
                stored = stored.reset_index()
                stored.insert(1, LABEL_COLUMN, "" if group == UNLABELED_GROUP else group)
                for name in ("train", "unlabeled", "validation", "test"):
                    chosen = split == name
                    if not chosen.any():
                        continue
                    frame = stored[chosen]
                    if name == "train":
                        frame = frame.copy()
                        frame.insert(2, FOLD_COLUMN, fold[chosen].astype(np.int64))
                        if group == POSITIVE_CLASS:
                            for f in fold[chosen]:
                                quality["risky_per_fold"][int(f)] += 1
                    writers[name].write(frame.reset_index(drop=True))
                    counts = quality["splits"].setdefault(SPLIT_FILES[name], {})
                    counts[group] = counts.get(group, 0) + int(chosen.sum())
                test_ids = set(ids[split == "test"])
                if test_ids:
                    raw = rows[rows[ID_COLUMN].isin(test_ids)]
                    raw = raw.drop(columns=[c for c in RESERVED_COLUMNS if c in raw.columns])
                    raw.insert(1, LABEL_COLUMN, group)
                    writers["raw"].write(_raw_types(raw.reset_index(drop=True)))
        _check_players_once(seen, data_dir, base, spec)
    finally:
        for writer in writers.values():
            writer.close()
    if len(hosts) == 1:
        for name, writer in writers.items():  # one instance: every split exists, as before sharding
            if not writer.rows and name != "raw":
                label = "unlabeled" if name == "unlabeled" else "labelled"
                raise DataError(f"{_shown(data_dir, base)}/", f"no {label} players for the {name} split")
    partial.quality = quality
    for folder in ("train", "artifacts"):
        partial.save(out / folder / PARTIALS)
    artifacts = out / "artifacts"
    report = _quality_report(merge_quality([quality]), base, spec, params, sources, partial)
    (artifacts / f"data_quality-{shard}.json").write_text(json.dumps(report, indent=2))
    if len(hosts) == 1:  # the whole batch is here: also write the merged views people read
        merged = write_merged(out / "artifacts", out / "train")
        return {**merged, "seed": params["split_seed"], "parameters": report["parameters"]}
    return report


SPLIT_FILES = {"train": "train/train", "unlabeled": "train/unlabeled", "validation": "validation/val",
               "test": "test/test"}


def write_merged(artifacts: Path, train_dir: Path | None = None) -> dict:
    """Merge the partials under ``artifacts/_partials`` into pipeline.json, scaler.json,
    statistics.json, folds.csv and data_quality.json (the merged report): the same files whatever
    the number of shards. Returns the merged data-quality report."""
    from scarcegan.shards import merged_views

    merged, pipeline, baseline = merged_views(artifacts)
    pipeline.save(artifacts / "pipeline.json")
    pipeline.scaler.save(artifacts / "scaler.json")
    (artifacts / "statistics.json").write_text(json.dumps(baseline, indent=2))
    if train_dir is not None and split_files(train_dir, "train"):
        folds = pd.concat([pd.read_parquet(p, columns=[ID_COLUMN, LABEL_COLUMN, FOLD_COLUMN])
                           for p in split_files(train_dir, "train")], ignore_index=True)
        write_csv(folds, artifacts / "folds.csv")
    settings = merged.settings
    params = {"input_format": settings["input_format"], "id_column": settings["id_column"],
              "heavy_tail": settings["heavy_tail"]}
    report = _merged_report(merged.quality, pipeline, params)
    (artifacts / "data_quality.json").write_text(json.dumps(report, indent=2))
    return report


def _labelled_players(data_dir: Path, base: Path, spec: InputSpec) -> tuple[pd.DataFrame, list]:
    """(player_id, label) of every labelled player, sorted by id (the split does not depend on how the
    files are cut), and the labelled files' (name, size) fingerprint. One file at a time, ids kept."""
    text = (spec.id_column, ID_COLUMN, *spec.categorical_columns)
    seen: dict[str, str] = {}
    frames, fingerprint = [], []
    for group in GROUPS:
        if group == UNLABELED_GROUP:
            continue
        ids = []
        for path in part_files(data_dir / group):
            fingerprint.append([path.relative_to(data_dir).as_posix(), path.stat().st_size])
            frame = read_part(path, _shown(path, base), text)
            column = spec.id_column if spec.id_column in frame.columns else ID_COLUMN
            if column in frame.columns and len(frame):
                ids.append(pd.unique(frame[column].dropna().astype(str)))
        unique = pd.unique(np.concatenate(ids)) if ids else np.array([], dtype=object)
        for player in unique:
            if player in seen:
                raise DataError(f"{_shown(data_dir / group, base)}/",
                                f"player {player} also appears in group {seen[player]}")
            seen[player] = group
        frames.append(pd.DataFrame({ID_COLUMN: unique, LABEL_COLUMN: group}))
    players = pd.concat(frames, ignore_index=True).sort_values(ID_COLUMN, ignore_index=True)
    return players, fingerprint


def _chunks(files: list[Path], base: Path, spec: InputSpec, chunk_rows: int):
    """Validated rows of whole part files, packed into chunks of <= chunk_rows rows (a file larger
    than chunk_rows is a chunk of its own: the per-chunk memory bound is the larger of the two)."""
    text = (spec.id_column, ID_COLUMN, *spec.categorical_columns)
    pending: list[pd.DataFrame] = []
    size = 0
    for path in files:
        shown = _shown(path, base)
        frame = read_part(path, shown, text)
        if frame.empty:
            if spec.id_column not in frame.columns and ID_COLUMN not in frame.columns:
                raise DataError(shown, f"missing column(s) {spec.id_column} {spec.format_hint()}; "
                                       f"{spec.id_hint()}")
            continue
        frame = check_rows(frame, spec, shown)
        frame.attrs["shown"] = shown
        if pending and size + len(frame) > chunk_rows:
            yield _join(pending, spec)
            pending, size = [], 0
        pending.append(frame)
        size += len(frame)
    if pending:
        yield _join(pending, spec)
    elif files and not pending and size == 0:
        folder = files[0].parent
        while folder.name not in GROUPS and folder != folder.parent:
            folder = folder.parent
        group = folder.name
        raise DataError(f"{_shown(folder, base)}/", "no risky labels: the risky group has no rows"
                        if group == POSITIVE_CLASS else "no rows (group is empty)")


def _join(frames: list[pd.DataFrame], spec: InputSpec) -> pd.DataFrame:
    if spec.input_format == "features":
        reference = set(frames[0].columns)
        for frame in frames[1:]:
            if set(frame.columns) != reference:
                raise DataError(frame.attrs["shown"], f"columns differ from {frames[0].attrs['shown']}: "
                                f"{sorted(set(frame.columns) ^ reference)}")
    rows = pd.concat(frames, ignore_index=True)
    key = [ID_COLUMN, WEEK_COLUMN] if spec.input_format == "telemetry" else [ID_COLUMN]
    if len(frames) > 1 and rows.duplicated(key).any():
        folder = Path(frames[0].attrs["shown"]).parent
        raise DataError(f"{folder}/", "duplicate rows across part files for "
                                      f"{'player-week' if len(key) == 2 else 'player'} keys")
    rows.attrs["shown"] = frames[0].attrs["shown"]
    return rows


def _count(entry: dict, rows: pd.DataFrame, ids: np.ndarray, spec: InputSpec, group: str) -> None:
    entry["rows"] += int(len(rows))
    entry["players"] += int(len(ids))
    if spec.input_format != "telemetry":
        return
    weeks = rows.groupby(ID_COLUMN)[WEEK_COLUMN].nunique()
    distinct = np.unique(rows[WEEK_COLUMN].to_numpy())
    entry["weeks"] = sorted(set(entry["weeks"]) | {_number(w) for w in distinct})
    entry["players_with_missing_weeks"] += int((weeks < len(distinct)).sum())
    for column in TELEMETRY_COLUMNS:
        if column != "net_loss":
            n = int((rows[column] < 0).sum())
            if n:
                entry["negative_values"][column] = entry["negative_values"].get(column, 0) + n


def _raw_types(raw: pd.DataFrame) -> pd.DataFrame:
    """Landed rows as Parquet wants them: text columns as text (mixed object columns cannot be
    written), numbers as they are."""
    for column in raw.columns:
        if raw[column].dtype == object:
            raw[column] = raw[column].map(lambda v: v if v is None or isinstance(v, str) or pd.isna(v) else str(v))
    return raw


def _check_players_once(seen: list[np.ndarray], data_dir: Path, base: Path, spec: InputSpec) -> None:
    """A player featurised twice (two groups, or two chunks of part files) is bad input."""
    if not seen:
        return
    hashes = np.concatenate(seen)
    unique, counts = np.unique(hashes, return_counts=True)
    if (counts == 1).all():
        return
    twice = set(unique[counts > 1].tolist())
    where: dict[str, str] = {}
    for group in GROUPS:  # the error path only: find a player and where it was first
        for path in part_files(data_dir / group):
            frame = read_part(path, _shown(path, base), (spec.id_column, ID_COLUMN))
            column = spec.id_column if spec.id_column in frame.columns else ID_COLUMN
            for player in pd.unique(frame[column].astype(str)):
                if int(player_hash([player])[0]) not in twice:
                    continue
                if player in where and where[player] != group:
                    raise DataError(f"{_shown(data_dir / group, base)}/",
                                    f"player {player} also appears in group {where[player]}")
                if player in where:
                    raise DataError(f"{_shown(path, base)}",
                                    f"player {player}'s rows are in more than one chunk of part files: "
                                    "a landing must keep each player's rows in one part file "
                                    "(docs/decisions/0400), or raise --chunk-rows")
                where[player] = group
    raise DataError(f"{_shown(data_dir, base)}/", f"{len(twice)} player(s) appear more than once")


def _quality_report(quality: dict, base: Path, spec: InputSpec, params: dict, sources: dict,
                    partial: Partial) -> dict:
    """This shard's data-quality report (data_quality-<shard>.json)."""
    report = {"input_format": spec.input_format, "seed": params["split_seed"], "shard": partial.shard,
              "parameters": {k: {"value": v, "source": sources[k]} for k, v in params.items()},
              "training_players": partial.rows}
    report.update(_counts_report(quality, params["folds"]))
    return report


def _merged_report(quality: dict, pipeline: FeaturePipeline, params: dict) -> dict:
    folds = len(quality["risky_per_fold"])
    report = {"input_format": params["input_format"], "shards": quality["shards"],
              "n_features": len(pipeline.feature_names),
              "features": {"numeric": pipeline.numeric_columns,
                           "categorical_levels": pipeline.categorical_levels,
                           "signed_log": pipeline.heavy_tail["columns"],
                           "filled_gaps": sorted(pipeline.medians)}}
    report.update(_counts_report(quality, folds))
    return report


def _counts_report(quality: dict, n_folds: int) -> dict:
    quality = merge_quality([quality]) if "shards" not in quality else quality
    report: dict = {"groups": {}, "splits": {}, "folds": {}, "warnings": []}
    for group in GROUPS:
        entry = dict(quality["groups"].get(group, {"files": [], "rows": 0, "players": 0}))
        if entry.get("negative_values"):
            report["warnings"].append(f"{group}: negative values in {sorted(entry['negative_values'])}")
        elif "negative_values" in entry:
            entry.pop("negative_values")
        if entry.get("players_with_missing_weeks"):
            report["warnings"].append(f"{group}: {entry['players_with_missing_weeks']} player(s) miss some weeks")
        report["groups"][group] = entry
    for name in SPLIT_FILES.values():
        counts = quality["splits"].get(name, {})
        report["splits"][f"{name}.parquet"] = ({UNLABELED_GROUP: counts.get(UNLABELED_GROUP, 0)}
                                               if name == "train/unlabeled" else dict(counts))
    per_fold = (list(quality["risky_per_fold"]) + [0] * n_folds)[:n_folds]
    report["folds"] = {"k": int(n_folds), "risky_per_fold": per_fold}
    if per_fold and min(per_fold) == 0:
        report["warnings"].append(f"some of the {n_folds} folds hold no risky player: "
                                  "use fewer folds for cross-validated estimates")
    ignored = quality.get("ignored_columns", [])
    for name in ("validation/val", "test/test"):
        n_risky = report["splits"][f"{name}.parquet"].get(POSITIVE_CLASS, 0)
        if n_risky < 10:
            report["warnings"].append(f"{name}.parquet holds {n_risky} risky player(s): one number on "
                                      "it is noise; read its interval")
    if ignored:
        report["warnings"].append(f"landed column(s) {ignored} ignored (preprocess writes them itself)")
    return report


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _number(value) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def cli(argv: list[str] | None = None) -> int:
    args, given = parse_args(argv)
    try:
        report = main(args.base_dir, **{name: getattr(args, name) for name in given},
                      chunk_rows=args.chunk_rows)
    except DataError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return 1
    print(json.dumps({"shard": report.get("shard"), "splits": report["splits"],
                      "signed_log": report.get("features", {}).get("signed_log"),
                      "warnings": report["warnings"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
