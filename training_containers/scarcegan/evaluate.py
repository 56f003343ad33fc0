"""Processing job: every distinct candidate of both families and the approved champion, scored on
the same test players through their deployable artifacts, with bootstrap intervals.

Contract: training_containers/README.md (evaluate.py). Arguments: parameters.json's "evaluation"
family (--champion-metric, --champion-margin, --min-precision, --bootstrap-resamples) plus the
per-run gate and identity (--min-recall, --max-flagged-share, --champion-version, --seed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scarcegan import artifact, shards
from scarcegan.errors import DataError
from scarcegan.inputs import read_part
from scarcegan.metrics import INTERVAL_LEVEL, binary_metrics, curve_points, interval, metrics_with_intervals
from scarcegan.model_quality import model_quality_statistics
from scarcegan.parameters import parse_family
from scarcegan.pipeline import FeaturePipeline
from scarcegan.schema import ID_COLUMN, LABEL_COLUMN, LABELLED_GROUPS, POSITIVE_CLASS

FAMILY = "evaluation"
REPORT_KEYS = ("family", "iteration", "threshold", "precision", "recall", "f1", "auc_pr", "auc_roc",
               "recall_at_precision", "share_flagged", "tp", "fp", "tn", "fn", "n")
METRIC_KEYS = {"pr-auc": "pr_auc", "recall-at-precision": "recall_at_precision", "f1": "f1", "recall": "recall"}
BEST_RULE = ("among candidates that pass the gate (recall >= min_recall, share flagged <= "
             "max_flagged_share), the highest test value of the champion metric (ties: recall, then "
             "precision); if none passes, the highest champion metric overall")
# The raw-row path (the artifact's own pipeline) and test.csv's features must give the same scores.
AGREEMENT_MEAN_ABS = 0.01
AGREEMENT_FLAG_SHARE = 0.02


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--base-dir", default="/opt/ml/processing")
    parser.add_argument("--min-recall", type=float, default=0.5, help="absolute gate: test recall floor")
    parser.add_argument("--max-flagged-share", type=float, default=0.05,
                        help="absolute gate: ceiling on the share of test players flagged")
    parser.add_argument("--champion-version", default="", help="the approved version in input/champion/")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    return parse_family(FAMILY, argv, parser)


# ---------------------------------------------------------------- inputs
def read_csv(path: Path, shown: str, what: str, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A split file, read as preprocess reads landings (ids, labels and categoricals as text)."""
    if not path.is_file():
        raise DataError(shown, f"missing ({what})")
    frame = read_part(path, shown, (ID_COLUMN, LABEL_COLUMN, *text_columns))
    if frame.empty:
        raise DataError(shown, "has no rows")
    for column in (ID_COLUMN, LABEL_COLUMN):
        if column not in frame.columns:
            raise DataError(shown, f"missing column {column}")
    frame[LABEL_COLUMN] = frame[LABEL_COLUMN].fillna("")
    unknown = sorted(set(frame[LABEL_COLUMN]) - set(LABELLED_GROUPS))
    if unknown:
        raise DataError(shown, f"unknown label(s) {unknown}")
    return frame


def unpack(archive: Path, into: Path, shown: str, what: str) -> Path:
    if not archive.is_file():
        raise DataError(shown, f"missing ({what})")
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(shown, f"cannot be unpacked: {exc}") from None
    return into


def candidate_folders(root: Path, shown: str) -> dict[str, tuple[Path, dict]]:
    """``{kind: (folder, metadata)}`` of one training job's output, in candidates.json order."""
    listing = root / "candidates.json"
    if listing.is_file():
        kinds = [c["kind"] for c in json.loads(listing.read_text())["candidates"]]
    else:
        kinds = sorted(p.parent.name for p in root.glob("*/metadata.json"))
    found = {}
    for kind in kinds:
        meta_path = root / kind / "metadata.json"
        if not meta_path.is_file():
            continue
        metadata = json.loads(meta_path.read_text())
        metadata.setdefault("family", "scarcegan")  # training jobs before the family field
        metadata.setdefault("kind", kind)
        if (root / kind / artifact.MODEL_FILES.get(metadata["family"], "?")).is_file():
            found[kind] = (root / kind, metadata)
    if not found:
        raise DataError(shown, "contains no candidate (<kind>/metadata.json with its model file)")
    return found


# ---------------------------------------------------------------- scoring
def score_candidate(scorer: artifact.Scorer, raw: pd.DataFrame, test: pd.DataFrame, kind: str) -> tuple[np.ndarray, dict]:
    """Scores of test's players in test's order through the artifact on raw rows, and the check
    that the same artifact on test.csv's features agrees."""
    from_raw = scorer.score(raw).set_index(ID_COLUMN)["score"]
    players = test[ID_COLUMN].astype(str)
    missing = players[~players.isin(from_raw.index)]
    if len(missing):
        raise DataError("input/test/raw.csv", f"has no rows for {len(missing)} test player(s), e.g. {missing.iloc[0]} "
                                              f"(candidate {kind})")
    scores = from_raw.reindex(players).to_numpy(float)
    from_features = scorer.score_features(test).set_index(ID_COLUMN)["score"].reindex(players).to_numpy(float)
    difference = np.abs(scores - from_features)
    flags_differ = int(((scores >= scorer.threshold) != (from_features >= scorer.threshold)).sum())
    check = {"players": len(players), "max_abs_score_difference": float(difference.max()),
             "mean_abs_score_difference": float(difference.mean()), "flag_disagreements": flags_differ}
    if difference.mean() > AGREEMENT_MEAN_ABS or flags_differ > AGREEMENT_FLAG_SHARE * len(players):
        raise DataError("input/artifacts/pipeline.json",
                        f"candidate {kind}: scoring raw.csv through the packaged pipeline disagrees with "
                        f"test.csv's features (mean |difference| {difference.mean():.4f}, {flags_differ} "
                        f"flag(s) differ of {len(players)}): the pipeline is not the one test.csv was made with")
    return scores, check


def measure(truth: np.ndarray, scores: np.ndarray, threshold: float, settings: dict) -> tuple[dict, dict, dict]:
    """(flat figures, {metric: {value, low, high, standard_deviation}}, bootstrap draws)."""
    flagged = scores >= threshold
    m = binary_metrics(truth, flagged, scores)
    intervals, draws = metrics_with_intervals(truth, scores, threshold, settings["min_precision"],
                                              settings["bootstrap_resamples"], settings["seed"])
    flat = {"threshold": float(threshold), **{k: m[k] for k in ("precision", "recall", "f1", "auc_pr", "auc_roc",
                                                                 "share_flagged", "tp", "fp", "tn", "fn", "n")},
            "recall_at_precision": intervals["recall_at_precision"]["value"], "rare_class_recall": m["recall"],
            "confusion_matrix": {"0": {"0": m["tn"], "1": m["fp"]}, "1": {"0": m["fn"], "1": m["tp"]}}}
    return flat, intervals, draws


def champion_entry(base: Path, raw: pd.DataFrame, test: pd.DataFrame, truth: np.ndarray, settings: dict,
                   version: str) -> tuple[dict | None, str, dict | None, np.ndarray | None]:
    """(champion report or None, note, draws, scores). Never fails the job: an incomparable champion
    is reported with the reason."""
    archive = base / "input" / "champion" / "model.tar.gz"
    if not archive.is_file():
        return None, "no champion: no approved version was given (input/champion/model.tar.gz absent)", None, None
    try:
        scorer = artifact.load(archive)
        scored = scorer.score(raw).set_index(ID_COLUMN)["score"]
        players = test[ID_COLUMN].astype(str)
        if not players.isin(scored.index).all():
            raise DataError("input/champion/model.tar.gz",
                            f"scored {int(players.isin(scored.index).sum())} of {len(players)} test players")
        scores = scored.reindex(players).to_numpy(float)
    except Exception as exc:  # noqa: BLE001 - any failure makes the champion incomparable, not the run
        reason = exc.problem if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
        note = f"champion not comparable: {reason}"
        return {"version": version, "comparable": False, "reason": note, "metrics": None}, note, None, None
    flat, intervals, draws = measure(truth, scores, scorer.threshold, settings)
    entry = {"version": version, "comparable": True, "family": scorer.family,
             "kind": scorer.metadata.get("kind", ""), "content_hash": scorer.metadata.get("content_hash", ""),
             **flat, "metrics": intervals}
    return entry, f"champion {version or '(unnamed)'} re-scored on the same {len(truth)} test players", draws, scores


# ---------------------------------------------------------------- decisions
def passes_gate(entry: dict, min_recall: float, max_flagged_share: float) -> tuple[bool, list[str]]:
    reasons = []
    if entry["recall"] < min_recall:
        reasons.append(f"recall {entry['recall']:.3f} < {min_recall}")
    if entry["share_flagged"] > max_flagged_share:
        reasons.append(f"share flagged {entry['share_flagged']:.4f} > {max_flagged_share}")
    return not reasons, reasons


def pick_best(report: dict[str, dict], metric: str) -> str:
    def key(k: str) -> tuple:
        return (report[k]["metrics"][metric]["value"], report[k]["recall"], report[k]["precision"])

    passing = [k for k in report if report[k]["gate"]["passed"]]
    return max(passing or list(report), key=key)


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def main(base_dir: str | Path = "/opt/ml/processing", champion_metric: str = "pr-auc",
         champion_margin: float = 0.0, min_precision: float = 0.5, bootstrap_resamples: int = 200,
         min_recall: float = 0.5, max_flagged_share: float = 0.05, champion_version: str = "",
         seed: int = 0) -> dict:
    """Evaluate; returns evaluation.json's content. Raises DataError on bad input."""
    base = Path(base_dir)
    metric = METRIC_KEYS[champion_metric]
    settings = {"champion_metric": champion_metric, "metric_key": metric, "champion_margin": champion_margin,
                "min_precision": min_precision, "bootstrap_resamples": bootstrap_resamples,
                "min_recall": min_recall, "max_flagged_share": max_flagged_share, "seed": seed}
    out = base / "output"
    pipeline_json = base / "input/artifacts/pipeline.json"
    baseline = base / "input/artifacts/statistics.json"  # preprocess's baseline of the model inputs
    if shards.partial_files(base / "input/artifacts"):  # a sharded preprocess: merge its partials here
        _, pipeline, statistics = shards.merged_views(base / "input/artifacts")
        pipeline_json, baseline = out / "report/pipeline.json", out / "report/statistics.json"
        pipeline.save(_parent(pipeline_json))
        baseline.write_text(json.dumps(statistics, indent=2))
    elif not pipeline_json.is_file():
        raise DataError("input/artifacts/pipeline.json", "missing (run preprocess first)")
    pipeline = FeaturePipeline.load(pipeline_json)
    categoricals = tuple(pipeline.categorical_columns)
    test_dir = base / "input/test"
    if shards.split_files(test_dir, "test"):
        test = shards.load_split(test_dir, "test", pipeline)
        raw = pd.concat([read_part(p, f"input/test/{p.name}", (ID_COLUMN, LABEL_COLUMN, *categoricals))
                         for p in shards.split_files(test_dir, "raw")], ignore_index=True)
        if raw.empty:
            raise DataError("input/test/raw-*.parquet", "missing (the test players' landing rows, from preprocess)")
    else:
        test = read_csv(test_dir / "test.csv", "input/test/test.csv", "run preprocess first")
        raw = read_csv(test_dir / "raw.csv", "input/test/raw.csv", "the test players' landing rows, from preprocess",
                       categoricals)
    truth = (test[LABEL_COLUMN] == POSITIVE_CLASS).to_numpy()
    evaluation_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    report: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    draws: dict[str, dict] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [("model", "the ScarceGAN training job's model.tar.gz", True),
                ("challenger", "the gradient-boosting training job's model.tar.gz", False)]
        folders: dict[str, tuple[Path, dict]] = {}
        for channel, what, required in jobs:
            archive, shown = base / "input" / channel / "model.tar.gz", f"input/{channel}/model.tar.gz"
            if not archive.is_file() and not required:
                notes.append(f"no challenger: {shown} absent")
                continue
            root = unpack(archive, Path(tmp) / channel, shown, what)
            for kind, found in candidate_folders(root, shown).items():
                if kind in folders:
                    raise DataError(shown, f"candidate kind {kind} also comes from another training job")
                folders[kind] = found
        for kind, (folder, metadata) in folders.items():
            package = out / "models" / kind / "model.tar.gz"
            content_key = artifact.package(package, folder, pipeline_json, metadata,
                                           baseline if baseline.is_file() else None)
            scorer = artifact.load(package)
            scores, check = score_candidate(scorer, raw, test, kind)
            flat, intervals, draws[kind] = measure(truth, scores, scorer.threshold, settings)
            quality = model_quality_statistics(truth, scores >= scorer.threshold, scores, evaluation_time,
                                               bootstrap_resamples, seed)
            _write_json(out / "quality" / kind / "statistics.json", quality)
            curves[kind] = curve_points(truth, scores)
            flagged = scores >= scorer.threshold
            by_group = {g: float(flagged[(test[LABEL_COLUMN] == g).to_numpy()].mean())
                        for g in LABELLED_GROUPS if (test[LABEL_COLUMN] == g).any()}
            passed, reasons = passes_gate(flat, min_recall, max_flagged_share)
            report[kind] = {
                "kind": kind, "family": metadata["family"], "aliases": list(metadata.get("aliases", [])),
                "iteration": metadata.get("iteration"), "rule": metadata.get("rule", ""),
                **flat, "metrics": intervals,
                "cv": metadata.get("cv"), "validation_metrics": metadata.get("validation_metrics"),
                "flagged_share_by_group": by_group,
                "artifact_check": check, "gate": {"passed": passed, "reasons": reasons},
                "content_key": content_key,
                "quality_statistics": f"quality/{kind}/statistics.json",
                "model_package": f"models/{kind}/model.tar.gz",
            }

    champion, champion_note, champion_draws, champion_scores = champion_entry(
        base, raw, test, truth, settings, champion_version)
    comparable = bool(champion and champion["comparable"])
    if comparable:
        curves["champion"] = curve_points(truth, champion_scores)
    for kind, entry in report.items():
        if comparable:
            mine, theirs = entry["metrics"][metric]["value"], champion["metrics"][metric]["value"]
            entry["beats_champion"] = bool(mine > theirs + champion_margin)
            delta = draws[kind][metric] - champion_draws[metric]
            entry["vs_champion"] = {"metric": metric, **interval(mine - theirs, delta)}
        else:
            entry["beats_champion"] = True
            entry["vs_champion"] = None

    best = pick_best(report, metric)
    summary = {"best": best, **{key: report[best][key] for key in ("recall", "precision", "f1", "share_flagged")}}
    register = [{"kind": k, "family": e["family"], "model_package": e["model_package"],
                 "quality_statistics": e["quality_statistics"], "content_key": e["content_key"],
                 "beats_champion": e["beats_champion"],
                 "metrics": {name: {b: v[b] for b in ("value", "low", "high")} for name, v in e["metrics"].items()},
                 "cv": {name: {b: v[b] for b in ("mean", "std", "folds")} for name, v in e["cv"].items()}
                 if e.get("cv") else None,
                 "aliases": e["aliases"]}
                for k, e in report.items() if e["gate"]["passed"]]
    evaluation = {
        **report, "best": best, "summary": summary,
        "candidates": list(report),
        "champion": champion,
        "champion_comparable": comparable,
        "champion_note": champion_note,
        "register": register,
        "best_rule": BEST_RULE,
        "intervals": {"method": "stratified bootstrap percentile interval (positives and negatives resampled "
                                "separately; paired across models)", "level": INTERVAL_LEVEL,
                      "resamples": bootstrap_resamples, "seed": seed,
                      "test_players": int(len(truth)), "test_positives": int(truth.sum())},
        "settings": {k: v for k, v in settings.items() if k != "metric_key"},
        "notes": notes,
    }
    _write_json(out / "report" / "evaluation.json", evaluation)
    _write_json(out / "report" / "curves.json", curves)
    rows = []
    for kind, entry in report.items():
        row = {"kind": kind, **{key: entry[key] for key in REPORT_KEYS}}
        for name, v in entry["metrics"].items():
            row[f"{name}_low"], row[f"{name}_high"] = v["low"], v["high"]
        rows.append({**row, "gate_passed": entry["gate"]["passed"], "beats_champion": entry["beats_champion"],
                     "aliases": ",".join(entry["aliases"]), "best": kind == best})
    pd.DataFrame(rows).to_csv(out / "report" / "evaluation.csv", index=False)
    return evaluation


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, default=_plain))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def cli(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        evaluation = main(args.base_dir, args.champion_metric, args.champion_margin, args.min_precision,
                          args.bootstrap_resamples, args.min_recall, args.max_flagged_share,
                          args.champion_version, args.seed)
    except DataError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return 1
    except SystemExit as exc:  # parse_family has printed its one ERROR line
        return int(exc.code or 0)
    best = evaluation["best"]
    print(json.dumps({"best": best, "recall": evaluation[best]["recall"],
                      "share_flagged": evaluation[best]["share_flagged"],
                      "register": [r["kind"] for r in evaluation["register"]],
                      "champion": evaluation["champion_note"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
