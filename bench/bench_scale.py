"""Preprocess at scale: time per row and peak memory at 4x, 16x and 64x the demo's players, one vs two
shards, and a projection to 100 M players x 52 weeks (issue 15; docs/decisions/0400-0402).

    python bench/bench_scale.py [--scales 4,16,64] [--chunk-rows 250000] [--workdir DIR]

The data: the demo batch (`synthetic.generate(seed=0)`: 7,060 players x 26 weeks = 183,560 rows)
replicated with new player ids (replica r: `r<r>-<id>`), written player-partitioned as Parquet part
files (one per 1,000 players, as `synthetic.write_batch` does), so every scale has the demo's
distributions and the k-x batch is k times the rows and players. Each preprocess runs in a fresh
subprocess as the Processing job runs it (`preprocess.main(base_dir)` after the imports): seconds =
wall time of the call, peak RSS = the process's `ru_maxrss` (imports included: what an instance
needs), `above imports` = peak minus the RSS before the call. Two shards = two such processes at once,
each with its ShardedByS3Key share of the files (retrainer/local/instances.py), then the merge a
consumer does (`write_merged`), as the wall of the pair. The machine's load (`uptime`) is printed
before and after: the seconds move with it, the memory does not.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CONTAINER = ROOT / "training_containers" / "scarcegan"

from retrainer import synthetic  # noqa: E402
from retrainer.local import instances  # noqa: E402

TARGET_PLAYERS, TARGET_WEEKS = 100_000_000, 52
OUTPUTS = ("train", "validation", "test", "artifacts")

RUN_ONE = """
import json, os, resource, sys, time
import preprocess  # run in the container's code folder, as the job runs it
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
before = rss()
started = time.perf_counter()
preprocess.main({base!r}, chunk_rows={chunk_rows})
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "before": before,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))
"""


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S607


def write_replicas(demo: dict[str, pd.DataFrame], folder: Path, replicas: range) -> None:
    for replica in replicas:
        renamed = {group: frame.assign(player_id="r" + str(replica) + "-" + frame["player_id"].astype(str))
                   for group, frame in demo.items()}
        staging = folder.parent / f".r{replica}"
        for path in synthetic.write_batch(renamed, staging, fmt="parquet"):
            target = folder / path.parent.name / f"r{replica:03d}-{path.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
        shutil.rmtree(staging)


def link_tree(source: Path, target: Path, replicas: int) -> None:
    """The first ``replicas`` replicas of ``source``'s landing, as hard links."""
    for path in source.rglob("*.parquet"):
        if int(path.name[1:4]) < replicas:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)


def run(base: Path, chunk_rows: int) -> dict:
    code = RUN_ONE.format(base=str(base), chunk_rows=chunk_rows)
    done = subprocess.run([sys.executable, "-c", code], cwd=CONTAINER, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"preprocess failed on {base}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_sharded(data: Path, root: Path, count: int, chunk_rows: int) -> tuple[float, Path]:
    """Wall seconds of ``count`` instances at once plus the consumer-side merge; the landed outputs."""
    (root / "processing/input").mkdir(parents=True)
    shutil.copytree(data, root / "processing/input/data", copy_function=os.link)
    outputs = [root / "processing/output" / name for name in OUTPUTS]
    data_in = root / "processing/input/data"
    hosts = instances.processing_instances(  # unlabeled sharded, labelled whole (docs/decisions/0401)
        root, count, [(data_in / g, instances.SHARDED if g == "unlabeled" else "FullyReplicated")
                      for g in ("unlabeled", "risky", "dormant", "normal", "heavy")], outputs)
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-c", RUN_ONE.format(
                                   base=str(h.root / "processing"), chunk_rows=chunk_rows)], cwd=CONTAINER,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for h in hosts]
    for process in processes:
        _, err = process.communicate()
        if process.returncode:
            raise SystemExit(f"a shard failed:\n{err[-3000:]}")
    landed = root / "s3"
    for host in hosts:
        shutil.copytree(host.root / "processing/output", landed, dirs_exist_ok=True)
    import preprocess

    preprocess.write_merged(landed / "artifacts", landed / "train")
    return time.perf_counter() - started, landed


def compare(one: Path, two: Path) -> str:
    from scarcegan import shards

    a = json.loads((one / "artifacts/pipeline.json").read_text())
    b = json.loads((two / "artifacts/pipeline.json").read_text())
    same_fit = all(a[k] == b[k] for k in ("feature_names", "categorical_levels", "medians", "heavy_tail"))
    scaler = max(float(np.max(np.abs(np.subtract(a["scaler"][k], b["scaler"][k])) / np.abs(a["scaler"][k])))
                 for k in ("mean", "scale"))
    worst, rows = 0.0, 0
    p1, p2 = shards.load_pipeline(one / "train"), shards.load_pipeline(two / "train")
    for folder, name in (("train", "train"), ("train", "unlabeled"), ("validation", "val"), ("test", "test")):
        x = shards.read_split(one / folder, name, p1).sort_values("player_id", ignore_index=True)
        y = shards.read_split(two / folder, name, p2).sort_values("player_id", ignore_index=True)
        if len(x) != len(y) or not (x["player_id"] == y["player_id"]).all() or not (x["label"] == y["label"]).all():
            return f"DIFFERENT players or labels in {folder}/{name}"
        worst = max(worst, float(np.abs(x[p1.feature_names].to_numpy() - y[p1.feature_names].to_numpy()).max()))
        rows += len(x)
    stats = json.loads((one / "artifacts/statistics.json").read_text()) == json.loads(
        (two / "artifacts/statistics.json").read_text())
    verdict = "identical" if same_fit and stats and worst <= 1e-5 else "DIFFERENT"
    return (f"{verdict}: {rows:,} players in the same splits, same levels/medians/heavy tails: {same_fit}, "
            f"scaler max relative difference {scaler:.1e}, model inputs max |difference| {worst:.1e}, "
            f"statistics.json equal: {stats}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="4,16,64")
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-scale-"))
    print(f"load before: {uptime()}", flush=True)
    demo = synthetic.generate(seed=0)
    demo_players = sum(f["player_id"].nunique() for f in demo.values())
    demo_rows = sum(len(f) for f in demo.values())
    print(f"demo batch: {demo_players:,} players, {demo_rows:,} telemetry rows; chunk bound "
          f"{args.chunk_rows:,} rows; {os.cpu_count()} CPUs", flush=True)
    started = time.perf_counter()
    full = work / "replicas"
    write_replicas(demo, full, range(max(scales)))
    print(f"wrote {max(scales)} replicas as Parquet parts in {time.perf_counter() - started:.0f} s", flush=True)

    results = {}
    for scale in scales:
        base = work / f"x{scale}"
        link_tree(full, base / "input/data", scale)
        measured = run(base, args.chunk_rows)
        rows = demo_rows * scale
        results[scale] = {**measured, "rows": rows, "players": demo_players * scale,
                          "files": len(list((base / "input/data").rglob("*.parquet")))}
        r = results[scale]
        print(f"{scale:>3}x: {r['players']:>9,} players {rows:>11,} rows {r['files']:>4} files  "
              f"{r['seconds']:7.1f} s  {r['seconds'] / rows * 1e6:6.2f} us/row  peak RSS "
              f"{r['peak'] / 2**20:7.1f} MiB ({(r['peak'] - r['before']) / 2**20:6.1f} MiB above imports)",
              flush=True)
    print()
    print("| ratio | data | time | time per row | peak RSS | peak above imports | target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for small, big in zip(scales, scales[1:], strict=False):
        a, b = results[small], results[big]
        print(f"| {big}x/{small}x | {b['rows'] / a['rows']:.1f} | {b['seconds'] / a['seconds']:.2f} | "
              f"{(b['seconds'] / b['rows']) / (a['seconds'] / a['rows']):.2f} | {b['peak'] / a['peak']:.2f} | "
              f"{(b['peak'] - b['before']) / max(a['peak'] - a['before'], 1):.2f} | "
              f"time <= {4.4 * (b['rows'] / a['rows']) / 4:.1f}, RSS <= 1.3 |")

    shard_scale = 16 if 16 in results else scales[len(scales) // 2]
    print(f"\n1 vs 2 shards on the {shard_scale}x input (each shard its own process, at once; + the merge):")
    one_root, two_root = work / "shards1", work / "shards2"
    one_seconds, one = run_sharded(work / f"x{shard_scale}/input/data", one_root, 1, args.chunk_rows)
    two_seconds, two = run_sharded(work / f"x{shard_scale}/input/data", two_root, 2, args.chunk_rows)
    print(f"  1 shard: {one_seconds:.1f} s wall; 2 shards: {two_seconds:.1f} s wall; "
          f"ratio 1/2 = {one_seconds / two_seconds:.2f} (2 shared cores: at most 2)")
    print(f"  outputs: {compare(one, two)}")

    biggest = results[max(scales)]
    per_row = biggest["seconds"] / biggest["rows"]
    target_rows = TARGET_PLAYERS * TARGET_WEEKS
    hours = target_rows * per_row / 3600
    print(f"\nprojection for {TARGET_PLAYERS:,} players x {TARGET_WEEKS} weeks = {target_rows:,} rows at "
          f"{per_row * 1e6:.2f} us/row (the {max(scales)}x figure, one process on one core of this machine):")
    print(f"  {hours:.1f} instance-hours of preprocess in one process; peak memory per instance stays "
          f"~{biggest['peak'] / 2**20:.0f} MiB whatever the data (chunk bound, not players)")
    for wall in (2.0, 1.0, 0.5):
        n = math.ceil(hours / wall)
        print(f"  done in <= {wall:g} h of compute: {n} instances (ShardedByS3Key; each "
              f"{TARGET_PLAYERS / n / 1e6:.2f} M players, {target_rows / n / 1e6:.0f} M rows), + ~8 min start-up")
    print(f"\nload after: {uptime()}")
    print(f"(work folder {work}; remove it when done)")


if __name__ == "__main__":
    main()
