"""Processing job: the approved model version scores a landed batch of players and checks its drift.

    python3 score.py --base-dir /opt/ml/processing --model scarcegan --model-version 3
        [--metric-namespace Retrainer/Drift] [--id-column NAME] [--chunk-rows N]

Inputs: ``input/data/`` (the scoring landing: CSV/Parquet part files in any sub-folders, the raw rows
the model was trained on; an optional ``_manifest.json``; names starting with ``_`` or ``.`` are not
data) and ``input/model/model.tar.gz`` (the version's registered artifact, `scarcegan.artifact`).
Outputs, written only once every file has been read and checked: ``output/flags/flags.parquet`` and
``flags.csv`` (player_id, score, flagged, model_version, threshold: every landed player once),
``output/flags/summary.json`` and ``output/drift/drift.json``. Bad input: one ``ERROR: <file>:
<problem>`` line on stderr, exit 1, nothing under ``output/flags``.

The batch is scored in chunks of at most ``--chunk-rows`` landed rows (features: row batches of a file;
telemetry: part files packed together up to that many rows, files sharing a player read together,
then cut into chunks of whole players), so memory follows the chunk, not the batch. Drift is the PSI of the model's own inputs (the artifact's
pipeline output) against the training baseline the artifact carries; bucket counts add up over
chunks, so the figure is that of the whole batch. Contract: training_containers/README.md (score.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from scarcegan import artifact
from scarcegan.drift import DriftCounts, put_max_psi
from scarcegan.errors import DataError
from scarcegan.inputs import MANIFEST, SUFFIXES, _check_last_line, as_text, check_rows, read_part
from scarcegan.parameters import _refused
from scarcegan.schema import ID_COLUMN

CHUNK_ROWS = 250_000  # landed rows per chunk (docs/decisions/0311)
FLAGS_SCHEMA = pa.schema([("player_id", pa.string()), ("score", pa.float64()), ("flagged", pa.bool_()),
                          ("model_version", pa.int64()), ("threshold", pa.float64())])


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one ERROR line, exit 1, as every script of the container
        raise DataError("arguments", message)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                     allow_abbrev=False)
    parser.add_argument("--base-dir", default="/opt/ml/processing")
    parser.add_argument("--model", default="model", help="the model's name (CloudWatch dimension Model)")
    parser.add_argument("--model-version", type=int, required=True,
                        help="the registered version being scored (written on every flag row)")
    parser.add_argument("--metric-namespace", default=None, help="put MaxFeaturePSI in CloudWatch here")
    parser.add_argument("--id-column", default=None,
                        help="the landing's player id column (default: the manifest's, else the model's)")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="landed rows per chunk")
    args, unknown = parser.parse_known_args(argv)
    refused = _refused(unknown)  # SageMaker's own arguments (sagemaker_*) are ignored, as everywhere
    if refused:
        raise DataError("arguments", f"unknown parameter {refused} (allowed: --base-dir, --model, "
                                     "--model-version, --metric-namespace, --id-column, --chunk-rows)")
    if args.chunk_rows < 1:
        raise DataError("arguments", "--chunk-rows must be >= 1")
    return args


# ---------------------------------------------------------------- inputs
def data_files(data_dir: Path) -> list[Path]:
    """Part files of the landing, any depth; a name (file or folder) starting with _ or . is not data."""
    if not data_dir.is_dir():
        return []
    return sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix in SUFFIXES
                  and not any(part.startswith(("_", ".")) for part in p.relative_to(data_dir).parts))


def read_manifest(data_dir: Path) -> dict:
    """The landing's data parameters (flat or under "parameters"), keys in kebab case."""
    path = data_dir / MANIFEST
    if not path.is_file():
        return {}
    shown = f"input/data/{MANIFEST}"
    try:
        manifest = json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as exc:
        raise DataError(shown, f"is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise DataError(shown, "must be a JSON object")
    manifest = manifest.get("parameters", manifest)
    return {str(k).replace("_", "-"): v for k, v in manifest.items()}


def load_model(model_dir: Path) -> artifact.Scorer:
    archive = model_dir / "model.tar.gz"
    if not archive.is_file():
        found = sorted(model_dir.glob("*.tar.gz")) if model_dir.is_dir() else []
        if len(found) != 1:
            raise DataError("input/model/model.tar.gz", "missing (the approved version's registered artifact)")
        archive = found[0]
    try:
        return artifact.load(archive)
    except DataError as exc:
        raise DataError(f"input/model/{archive.name}", exc.problem) from None


def _read_ids(path: Path, shown: str, id_column: str, hint: str) -> tuple[np.ndarray, int]:
    """(distinct ids as text, rows) of one file, its id column read alone."""
    try:
        if path.suffix == ".parquet":
            names = pq.read_schema(path).names
            if id_column not in names:
                raise DataError(shown, f"missing column(s) {id_column} {hint}")
            ids = pq.read_table(path, columns=[id_column]).column(0).to_pandas()
        else:
            header = pd.read_csv(path, nrows=0).columns
            if id_column not in header:
                raise DataError(shown, f"missing column(s) {id_column} {hint}")
            ids = pd.read_csv(path, usecols=[id_column], dtype={id_column: str})[id_column]
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(shown, "file is empty (no header, no rows)") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        kind = "Parquet (truncated or corrupt?)" if path.suffix == ".parquet" else "CSV"
        raise DataError(shown, f"cannot be read as {kind}: {type(exc).__name__}: {exc}") from None
    distinct = pd.Series(ids.dropna().unique())
    return as_text(distinct).to_numpy(), len(ids)  # text made of the distinct ids only: ~25x fewer


def telemetry_chunks(files: list[Path], shown: dict[Path, str], id_column: str, hint: str,
                     chunk_rows: int) -> list[list[Path]]:
    """Files packed into chunks of <= chunk_rows rows; files that share a player are one unit (a
    player's weeks must be featurised together), so a unit larger than chunk_rows is its own chunk."""
    if len(files) == 1:
        return [files]
    parent = list(range(len(files)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    rows = []
    for i, path in enumerate(files):
        ids, n_rows = _read_ids(path, shown[path], id_column, hint)
        rows.append(n_rows)
        for player in ids:
            j = owner.setdefault(player, i)
            if j != i:
                parent[root(i)] = root(j)
    units: dict[int, list[int]] = {}
    for i in range(len(files)):
        units.setdefault(root(i), []).append(i)
    chunks: list[list[Path]] = []
    current: list[Path] = []
    size = 0
    for members in sorted(units.values()):
        unit_rows = sum(rows[i] for i in members)
        if current and size + unit_rows > chunk_rows:
            chunks.append(current)
            current, size = [], 0
        current += [files[i] for i in members]
        size += unit_rows
    if current:
        chunks.append(current)
    return chunks


def _text(frame: pd.DataFrame, text_columns: tuple[str, ...]) -> pd.DataFrame:
    for column in text_columns:
        if column in frame.columns:
            frame[column] = as_text(frame[column])
    return frame


def row_batches(path: Path, shown: str, text_columns: tuple[str, ...], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """One file in batches of <= chunk_rows rows (features format: a row is a player)."""
    try:
        if path.suffix == ".parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield _text(batch.to_pandas(), text_columns)
            return
        _check_last_line(path, shown, len(pd.read_csv(path, nrows=0).columns))
        with pd.read_csv(path, dtype=dict.fromkeys(text_columns, str), chunksize=chunk_rows) as reader:
            yield from reader
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(shown, "file is empty (no header, no rows)") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        kind = "Parquet (truncated or corrupt?)" if path.suffix == ".parquet" else "CSV"
        raise DataError(shown, f"cannot be read as {kind}: {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------- scoring
def landed_chunks(files: list[Path], shown: dict[Path, str], scorer: artifact.Scorer,
                  chunk_rows: int) -> Iterator[tuple[str, list[Path], pd.DataFrame]]:
    """(where, files, raw rows) per chunk; ``where`` names the file, or the first of the files."""
    pipeline = scorer.pipeline
    spec = pipeline.input_spec
    text_columns = (pipeline.id_column, ID_COLUMN, *pipeline.categorical_columns)
    if pipeline.input_format != "telemetry":
        for path in files:
            for batch in row_batches(path, shown[path], text_columns, chunk_rows):
                if len(batch):  # a header-only part holds no player
                    yield shown[path], [path], batch
        return
    hint = spec.format_hint() + f"; {spec.id_hint()}"
    for chunk in telemetry_chunks(files, shown, pipeline.id_column, hint, chunk_rows):
        # ids and categoricals read as text per file, so files of different id types concatenate
        frames = [frame for frame in (read_part(path, shown[path], text_columns) for path in chunk) if len(frame)]
        if not frames:
            continue
        rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        where = shown[chunk[0]] if len(chunk) == 1 else f"{shown[chunk[0]]} (+{len(chunk) - 1} file(s))"
        id_column = pipeline.id_column if pipeline.id_column in rows.columns else ID_COLUMN
        for piece in _by_players(rows, id_column, chunk_rows):
            yield where, chunk, piece


def _by_players(rows: pd.DataFrame, id_column: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Rows read together, cut into pieces of whole players of <= chunk_rows rows (a player with
    more rows than that is a piece of their own)."""
    if len(rows) <= chunk_rows or id_column not in rows.columns:
        yield rows
        return
    codes, _ = pd.factorize(rows[id_column])  # empty ids (-1) are refused by the transform
    per_player = np.bincount(codes[codes >= 0])
    chunk_of, size, current = np.empty(len(per_player) + 1, np.int64), 0, 0
    for player, n in enumerate(per_player):
        if size and size + n > chunk_rows:
            current, size = current + 1, 0
        chunk_of[player], size = current, size + n
    chunk_of[-1] = 0
    for _, part in rows.groupby(chunk_of[codes], sort=True):
        yield part


def _in_file(error: DataError, chunk: list[Path], shown: dict[Path, str], scorer: artifact.Scorer) -> DataError:
    """The error of a chunk of several files, re-checked file by file to name the file at fault (only
    on the error path: the happy path validates each row once, in the pipeline, as evaluate does)."""
    pipeline = scorer.pipeline
    if len(chunk) < 2:
        return error
    text_columns = (pipeline.id_column, ID_COLUMN, *pipeline.categorical_columns)
    for path in chunk:
        frame = read_part(path, shown[path], text_columns)
        if len(frame):
            try:
                check_rows(frame, pipeline.input_spec, shown[path], pipeline.telemetry["columns"])
            except DataError as precise:
                return precise
    return error  # every file is fine alone: the problem is between files (e.g. a week landed twice)


def main(base_dir: str | Path = "/opt/ml/processing", model: str = "model", model_version: int = 0,
         metric_namespace: str | None = None, id_column: str | None = None,
         chunk_rows: int = CHUNK_ROWS) -> dict:
    """Score the batch; returns summary.json's content. Raises DataError on bad input (nothing written)."""
    started = time.perf_counter()
    base = Path(base_dir)
    data_dir = base / "input" / "data"
    scorer = load_model(base / "input" / "model")
    manifest = read_manifest(data_dir)
    declared = manifest.get("input-format")
    if declared and declared != scorer.pipeline.input_format:
        raise DataError(f"input/data/{MANIFEST}", f"declares input-format {declared}, but model version "
                                                  f"{model_version} scores {scorer.pipeline.input_format} rows "
                                                  "(land the rows it was trained on)")
    id_column = id_column or manifest.get("id-column") or scorer.pipeline.id_column
    scorer.pipeline = dataclasses.replace(scorer.pipeline, id_column=str(id_column))
    files = data_files(data_dir)
    if not files:
        raise DataError("input/data/", "no scoring data files (CSV or Parquet part files)")
    shown = {path: str(path.relative_to(base)) for path in files}

    drift = DriftCounts(scorer.baseline, scorer.feature_names) if scorer.baseline else None
    staging = Path(tempfile.mkdtemp(prefix=".score-", dir=base))
    try:
        seen: set[str] = set()
        landed_rows = flagged = chunks = largest = 0
        parquet = pq.ParquetWriter(staging / "flags.parquet", FLAGS_SCHEMA)
        csv_options = pa_csv.WriteOptions(quoting_style="needed")  # as preprocess writes its CSVs
        with parquet, pa_csv.CSVWriter(staging / "flags.csv", FLAGS_SCHEMA, write_options=csv_options) as csv:
            for where, chunk, rows in landed_chunks(files, shown, scorer, chunk_rows):
                try:
                    features = scorer.pipeline.transform(rows, where)
                except DataError as exc:
                    raise _in_file(exc, chunk, shown, scorer) from None
                players = features.index.astype(str)
                again = players[players.isin(seen)] if seen else players[:0]
                if len(again):
                    raise DataError(where, f"player {again[0]} landed in more than one file "
                                           f"({len(again)} player(s) so)")
                seen.update(players)
                scored = scorer.score_features(features)
                table = pa.table({"player_id": scored[ID_COLUMN].to_numpy(dtype=object),
                                  "score": scored["score"].to_numpy(np.float64),
                                  "flagged": scored["flagged"].to_numpy(bool),
                                  "model_version": np.full(len(scored), model_version, np.int64),
                                  "threshold": np.full(len(scored), scorer.threshold)}, schema=FLAGS_SCHEMA)
                parquet.write_table(table)
                csv.write_table(table)
                if drift is not None:
                    drift.add(features)
                landed_rows += len(rows)
                flagged += int(scored["flagged"].sum())
                chunks += 1
                largest = max(largest, len(rows))
                print(f"Chunk={chunks}; ChunkRows={len(rows)}; ChunkPlayers={len(scored)};", flush=True)
        if not seen:
            raise DataError("input/data/", f"no rows to score in {len(files)} data file(s)")

        players = len(seen)
        if drift is not None:
            figures = drift.result()
            note = None if figures["feature_of_max"] else "the baseline shares no feature with the model"
        else:
            figures = {"players": players, "max_feature_psi": None, "feature_of_max": None, "features": {}}
            note = "the model's artifact carries no training baseline (packaged before baselines were)"
        available = note is None
        drift_report = {"model": model, **figures, "available": available, "reason": note,
                        "model_version": model_version, "baseline": "artifact statistics.json" if available else None}
        summary = {
            "rows": players, "flagged": flagged, "flagged_share": flagged / players,
            "threshold": scorer.threshold, "model_version": model_version, "family": scorer.family,
            "kind": scorer.metadata.get("kind", ""), "max_feature_psi": figures["max_feature_psi"],
            "feature_of_max": figures["feature_of_max"], "data_files": len(files),
            "model": model, "landed_rows": landed_rows, "input_format": scorer.pipeline.input_format,
            "id_column": scorer.pipeline.id_column, "drift_available": available, "drift_note": note,
            "chunks": chunks, "chunk_rows": chunk_rows, "largest_chunk_rows": largest,
            "content_hash": scorer.metadata.get("content_hash", ""),
            "seconds": round(time.perf_counter() - started, 3),
        }
        if available and metric_namespace:
            put_max_psi(metric_namespace, model, figures["max_feature_psi"])

        # every check passed: only now does anything appear under output/
        flags_dir, drift_dir = base / "output" / "flags", base / "output" / "drift"
        flags_dir.mkdir(parents=True, exist_ok=True)
        drift_dir.mkdir(parents=True, exist_ok=True)
        (drift_dir / "drift.json").write_text(json.dumps(drift_report, indent=2))
        for name in ("flags.parquet", "flags.csv"):
            os.replace(staging / name, flags_dir / name)
        (flags_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    psi_part = (f" MaxFeaturePSI={figures['max_feature_psi']:.6f}; Feature={figures['feature_of_max']};"
                if available else " Drift=unavailable;")
    print(f"Rows={players}; Flagged={flagged}; FlaggedShare={summary['flagged_share']:.6f};{psi_part}",
          flush=True)
    return summary


def cli(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        main(args.base_dir, args.model, args.model_version, args.metric_namespace, args.id_column,
             args.chunk_rows)
    except DataError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli())
