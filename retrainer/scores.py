"""`retrainer scores [<batch>] [--out FILE]`: scoring runs and the players they flagged.

Scoring runs start on their own (a `scoring/<model>/<batch>/_SUCCESS` landing, or an approval that
re-scores the newest batch); this reads them back from the run ledger and the flags they wrote."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from typing import Any

from retrainer_core.names import split_s3_uri

from retrainer import target

FLAG_COLUMNS = ("player_id", "score", "flagged", "model_version")


def add_arguments(command: str, parser: Any) -> None:
    parser.add_argument("batch", nargs="?", help="a scoring batch (scoring/<model>/<batch>/); without it, list the scoring runs")
    parser.add_argument("--out", help="write every scored row (player_id, score, flagged, model_version) as CSV to FILE")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(run=_scores)


def scoring_runs(ledger: Any, model: str, limit: int = 200) -> list[dict[str, Any]]:
    """The model's scoring runs, newest first (a query on the ledger's RunsByStart index)."""
    return ledger.runs(limit, model=model, where={"kind": "scoring"})


def latest_for(runs: list[dict[str, Any]], batch: str) -> dict[str, Any] | None:
    """The batch's newest finished scoring run (an approval may have scored it again since)."""
    done = [r for r in runs if r.get("batch") == batch and r["status"] == "SUCCEEDED"]
    return max(done, key=lambda r: r.get("ended_at", ""), default=None)


def flag_rows(s3: Any, flags_uri: str) -> list[dict[str, str]]:
    bucket, prefix = split_s3_uri(flags_uri)
    body = s3.get_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/flags.csv")["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def _scores(args: argparse.Namespace) -> int:
    from retrainer_core.ledger import Ledger

    session, stack = target.session(target.Location.from_environment())
    found = scoring_runs(Ledger(stack["outputs"]["RunLedgerTableName"]), target.model_of(stack))
    if not args.batch:
        if args.json:
            print(json.dumps([{k: v for k, v in r.items() if k != "spec"} for r in found], default=str))
            return 0
        print(f"{'scoring run':<42} {'status':<10} {'batch':<28} {'model':>6} {'rows':>7} {'flagged':>8}  started")
        for run in found:
            scored = run.get("scoring", {})
            version = run.get("model_version", {}).get("version", "-")
            print(f"{run['run_id']:<42} {run['status']:<10} {run.get('batch', '-'):<28} {'v' + str(version):>6} "
                  f"{scored.get('rows', '-'):>7} {scored.get('flagged', '-'):>8}  {run['started_at']}")
        return 0
    run = latest_for(found, args.batch)
    if run is None:
        states = sorted({r["status"] for r in found if r.get("batch") == args.batch})
        print(f"retrainer scores: no finished scoring run of batch {args.batch!r}"
              + (f" (its runs: {', '.join(states)})" if states else ""), file=sys.stderr)
        return 2
    rows = flag_rows(session.client("s3"), run["scoring"]["flags_uri"])
    if args.out:
        with open(args.out, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=FLAG_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    flagged = sum(r["flagged"].lower() == "true" for r in rows)
    summary = {"batch": args.batch, "run_id": run["run_id"], "rows": len(rows), "flagged": flagged,
               "model_version": run["model_version"]["version"], "flags_uri": run["scoring"]["flags_uri"],
               **({"out": args.out} if args.out else {})}
    print(json.dumps(summary) if args.json else
          f"{args.batch}: {len(rows)} players scored by v{summary['model_version']}, {flagged} flagged"
          f" ({summary['flags_uri']})" + (f"; every row in {args.out}" if args.out else ""))
    return 0
