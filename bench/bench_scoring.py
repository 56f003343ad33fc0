"""Scoring throughput and peak memory: score.py (the scoring job) vs evaluate's way, on 1x and 8x the
demo's scoring batch, side by side and interleaved.

The batch is the demo's (`retrainer/demo.py` lands `synthetic.scoring_batch(seed=8)`: 1,500 unlabelled
players x 26 weeks = 39,000 telemetry rows, one CSV); 8x is 12,000 players (312,000 rows) landed as 8
CSV part files cut by player, as Spark writes them. The model is trained once on the demo's training
landing (`synthetic.generate(seed=0)`, preprocess, then train.py with few iterations and train_gb.py:
training quality does not change scoring cost) and packaged as evaluate packages it.

Each measurement runs in a fresh subprocess (imports done, the artifact loaded and called once on 20
players before the clock starts, so neither side pays TensorFlow's import or first-call set-up), one of:

* ``evaluate``: what evaluate does with an artifact: read every part file into one frame,
  `artifact.load(...)`, `Scorer.score(frame)` on the whole frame; scores stay in memory;
* ``score.py``: `score.main(...)` exactly as the Processing job runs it (artifact load, chunked read,
  features, scores, drift, flags.parquet + flags.csv + summary.json + drift.json written), at its
  default --chunk-rows and at a small one.

Figures: wall seconds of that call, rows/s (landed rows) and players/s, and peak memory per landed
row = (peak RSS after the call - RSS just before it) / rows, with the peak reset to the current RSS
just before the call (/proc/self/clear_refs, Linux >= 4.0), so it is the call's own peak and not the
imports'. The peak is the kernel's high-water mark (VmHWM, what getrusage's ru_maxrss reports for a
single-threaded process; ru_maxrss itself also keeps exited threads' peaks, which TensorFlow's pool
threads carry past the reset). Where the reset is refused the figure is an upper bound (it says so).
Seconds: the best of the repeats (on shared cores the other processes only ever add time); memory:
the median. Runs interleave the sides (alternating order) within each batch size; read `uptime`'s load with them:
at a load of 4-5 on 2 cores one side's seconds move by 2x between runs, the memory figures by ~1%.

    .venv/bin/python -m bench.bench_scoring [--repeats 2] [--families scarcegan,gradient-boosting] [--multiples 1,8]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
CONTAINER = REPO / "training_containers" / "scarcegan"

DEMO_PLAYERS = 1500  # synthetic.scoring_batch's default, what the demo lands
SMALL_CHUNK = 40_000


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", CONTAINER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reset_peak() -> bool:
    """Linux >= 4.0: set the peak RSS (what ru_maxrss reports) back to the current RSS, so the peak
    after the call is the call's own, not the import's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_kib() -> int:
    """The process's peak RSS: VmHWM, the kernel's high-water mark that ru_maxrss reads too. Read
    directly because ru_maxrss also keeps the peak of exited threads (TensorFlow's pool threads
    carry the import-time peak past a reset); where /proc is absent, ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rss_kib() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


# ---------------------------------------------------------------- one measurement (child process)
def child(way: str, archive: str, data: str, chunk_rows: int) -> dict:
    import pandas as pd
    from scarcegan import artifact

    score = _load("score")
    files = sorted(Path(data).glob("*.csv"))
    # off the clock: imports (keras for ScarceGAN), the first load, and the model's first call (TF
    # sets up its thread pools and allocator there: ~160 MiB that do not grow with the batch)
    warm = pd.read_csv(files[0], dtype={"player_id": str}, nrows=26 * 20)
    artifact.load(archive).score(warm)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if way == "score.py":
            (base / "input" / "model").mkdir(parents=True)
            shutil.copy(archive, base / "input" / "model" / "model.tar.gz")
            (base / "input" / "data").symlink_to(Path(data).resolve(), target_is_directory=True)
        reset = _reset_peak()
        rss_before = _rss_kib()
        peak_before = _peak_kib()
        started = time.perf_counter()
        if way == "evaluate":
            frame = pd.concat([pd.read_csv(f, dtype={"player_id": str}) for f in files], ignore_index=True)
            scored = artifact.load(archive).score(frame)
            rows, players = len(frame), len(scored)
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                summary = score.main(base, "scarcegan", 1, chunk_rows=chunk_rows)
            rows, players = summary["landed_rows"], summary["rows"]
        seconds = time.perf_counter() - started
        peak_after = _peak_kib()
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "rows": rows, "players": players, "peak_reset": reset, "rss_before_kib": rss_before,
            "peak_before_kib": peak_before, "peak_after_kib": peak_after, "ru_maxrss_kib": maxrss}


def measure(way: str, archive: Path, data: Path, chunk_rows: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", way, str(archive), str(data), str(chunk_rows)],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"child {way} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- setup (parent)
def train_models(root: Path, families: list[str], iterations: int) -> dict[str, Path]:
    """The demo's training landing through preprocess and the training jobs, packaged as evaluate does."""
    from scarcegan import artifact

    from retrainer import synthetic

    synthetic.write_batch(synthetic.generate(seed=0), root / "input" / "data")
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        assert _load("preprocess").cli(["--base-dir", str(root)]) == 0
    processed = root / "output"
    channels = ["--train", str(processed / "train"), "--validation", str(processed / "validation")]
    archives = {}
    for family in families:
        model_dir = root / family
        with contextlib.redirect_stdout(io.StringIO()):
            if family == "scarcegan":
                code = _load("train").cli(["--iterations", str(iterations), "--model-dir", str(model_dir),
                                           "--output-data-dir", str(root / "o1"), *channels])
            else:
                code = _load("train_gb").cli(["--model-dir", str(model_dir), "--output-data-dir",
                                              str(root / "o2"), *channels])
        assert code == 0, family
        kind = json.loads((model_dir / "candidates.json").read_text())["candidates"][0]["kind"]
        metadata = json.loads((model_dir / kind / "metadata.json").read_text())
        archives[family] = root / f"{family}.tar.gz"
        artifact.package(archives[family], model_dir / kind, processed / "artifacts" / "pipeline.json", metadata,
                         processed / "artifacts" / "statistics.json")
    return archives


def land(root: Path, multiple: int) -> Path:
    """``multiple`` x the demo's scoring batch, one CSV part per 1,500 players."""
    import numpy as np
    import pandas as pd

    from retrainer import synthetic

    batch = synthetic.scoring_batch(seed=8, players=DEMO_PLAYERS * multiple)
    folder = root / f"scoring-{multiple}x"
    folder.mkdir(parents=True)
    part = pd.factorize(batch["player_id"])[0] // DEMO_PLAYERS
    for i in np.unique(part):
        batch[part == i].to_csv(folder / f"part-{i:05d}.csv", index=False)
    return folder


def uptime() -> str:
    command = shutil.which("uptime")
    if command is None:
        return "(uptime not installed) loadavg " + Path("/proc/loadavg").read_text().strip()
    return subprocess.run([command], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--families", default="scarcegan", help="scarcegan (what the stack scores by default), gradient-boosting")
    parser.add_argument("--multiples", default="1,8")
    parser.add_argument("--iterations", type=int, default=300, help="ScarceGAN training iterations")
    args = parser.parse_args()
    families = [f for f in args.families.split(",") if f]
    multiples = [int(m) for m in args.multiples.split(",")]
    default_chunk = _load("score").CHUNK_ROWS
    sides = [("evaluate", default_chunk), ("score.py", default_chunk), ("score.py", SMALL_CHUNK)]
    started = time.perf_counter()
    print(f"uptime before: {uptime()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archives = train_models(root / "run", families, args.iterations)
        batches = {m: land(root, m) for m in multiples}
        print(f"setup (training landing, preprocess, {', '.join(families)}, batches) "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        results: dict[tuple, list[dict]] = {}
        for repeat in range(args.repeats):
            for family in families:
                for multiple in multiples:
                    order = sides if repeat % 2 == 0 else sides[::-1]  # interleaved, alternating order
                    for way, chunk in order:
                        run = measure(way, archives[family], batches[multiple], chunk)
                        results.setdefault((family, multiple, way, chunk), []).append(run)
        if not all(r["peak_reset"] for runs in results.values() for r in runs):
            print("note: the peak RSS could not be reset: memory figures are upper bounds")
        print(f"\n{'family':<18} {'batch':>5} {'side':<26} {'rows':>8} {'players':>7} {'seconds':>8} "
              f"{'rows/s':>9} {'players/s':>9} {'peak B/row':>10} {'peak MiB':>8}")
        for (family, multiple, way, chunk), runs in results.items():
            seconds = min(r["seconds"] for r in runs)
            rows, players = runs[0]["rows"], runs[0]["players"]
            peak = statistics.median((r["peak_after_kib"] - r["rss_before_kib"]) * 1024 for r in runs)
            side = "evaluate (whole frame)" if way == "evaluate" else f"score.py --chunk-rows {chunk}"
            print(f"{family:<18} {multiple:>4}x {side:<26} {rows:>8} {players:>7} {seconds:>8.2f} "
                  f"{rows / seconds:>9.0f} {players / seconds:>9.0f} {peak / rows:>10.0f} {peak / 2**20:>8.1f}")
        print("\nratios (score.py / evaluate, same family and batch; time: >1 = slower; memory: <1 = less):")
        for family in families:
            for multiple in multiples:
                base = results[(family, multiple, "evaluate", default_chunk)]
                t0 = min(r["seconds"] for r in base)
                m0 = statistics.median(r["peak_after_kib"] - r["rss_before_kib"] for r in base)
                for chunk in (default_chunk, SMALL_CHUNK):
                    runs = results[(family, multiple, "score.py", chunk)]
                    t = min(r["seconds"] for r in runs)
                    m = statistics.median(r["peak_after_kib"] - r["rss_before_kib"] for r in runs)
                    print(f"  {family:<18} {multiple}x chunk {chunk:>6}: time {t / t0:.2f}x, peak memory {m / m0:.2f}x")
    print(f"\ntotal {time.perf_counter() - started:.0f} s; uptime after: {uptime()}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))))
    else:
        main()
