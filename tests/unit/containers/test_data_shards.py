"""Sharded preprocess: N instances, each a disjoint share of the part files, give the outputs of one.

The instances are laid out as the local stack lays them out (retrainer/local/instances.py: each its
resourceconfig.json and its ShardedByS3Key share of the landing) and run one after the other here.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scarcegan import shards
from scarcegan.errors import DataError
from scarcegan.pipeline import FeaturePipeline

from retrainer.local import instances
from retrainer.synthetic import featurised_batch, generate, write_batch
from tests.utils.shards import assert_same_outputs, read_output

SMALL = dict(n_unlabeled=400, n_risky=30, n_dormant=120, n_normal=200, n_heavy=100, weeks=8)


def preprocess_inputs(data: Path) -> list[tuple[Path, str]]:
    """The Preprocess inputs of docs/decisions/0401: the unlabeled group ShardedByS3Key, the labelled
    groups FullyReplicated."""
    return [(data / group, instances.SHARDED if group == "unlabeled" else "FullyReplicated")
            for group in ("unlabeled", "risky", "dormant", "normal", "heavy")]


def run_sharded(preprocess, data: Path, root: Path, count: int, **arguments) -> Path:
    """Preprocess ``data`` (a landing folder) on ``count`` instances; returns the S3-like output
    folder every instance uploaded to (then merged views written, as a consumer would)."""
    (root / "processing/input").mkdir(parents=True)
    shutil.copytree(data, root / "processing/input/data")
    outputs = [root / "processing/output" / name for name in ("train", "validation", "test", "artifacts")]
    hosts = instances.processing_instances(root, count, preprocess_inputs(root / "processing/input/data"), outputs)
    landed = root / "s3"
    for host in hosts:
        preprocess.main(host.root / "processing", **arguments)
        shutil.copytree(host.root / "processing/output", landed, dirs_exist_ok=True)
    if count > 1:
        preprocess.write_merged(landed / "artifacts", landed / "train")
    return landed


@pytest.mark.parametrize("count", [2, 3])
def test_telemetry_on_n_instances_equals_one_instance(preprocess, tmp_path, count):
    # Given a player-partitioned telemetry landing (several part files per group, 3 unlabeled)
    write_batch(generate(seed=5, **SMALL), tmp_path / "landing", parts=3)
    # When it is preprocessed on one instance and on N, each with its share of the files
    one = run_sharded(preprocess, tmp_path / "landing", tmp_path / "one", 1)
    many = run_sharded(preprocess, tmp_path / "landing", tmp_path / "many", count)
    # Then every instance wrote its own shard, and the merged result is the same
    assert len(shards.split_files(many / "train", "unlabeled")) == count
    assert len(shards.partial_files(many / "artifacts")) == count
    assert_same_outputs(one, many)


def test_features_with_gaps_and_categoricals_on_two_instances_equal_one(preprocess, tmp_path):
    # Given a featurised Parquet landing with heavy tails, categoricals and numeric gaps
    write_batch(featurised_batch(seed=4, **SMALL), tmp_path / "landing", fmt="parquet", parts=2)
    one = run_sharded(preprocess, tmp_path / "landing", tmp_path / "one", 1, input_format="features")
    many = run_sharded(preprocess, tmp_path / "landing", tmp_path / "many", 2, input_format="features")
    pipeline = FeaturePipeline.load(many / "artifacts/pipeline.json")
    assert pipeline.medians and pipeline.categorical_levels and pipeline.heavy_tail["columns"]
    assert_same_outputs(one, many)


def test_merged_partials_equal_a_fit_on_every_training_row(preprocess, tmp_path):
    # Given a featurised landing preprocessed in small chunks on two instances
    write_batch(featurised_batch(seed=4, **SMALL), tmp_path / "landing", fmt="parquet", parts=4)
    many = run_sharded(preprocess, tmp_path / "landing", tmp_path / "many", 2, input_format="features",
                       chunk_rows=150)
    merged = FeaturePipeline.load(many / "artifacts/pipeline.json")
    # When the pipeline is fitted the pre-sharding way on all the training players' rows at once
    training = set(read_output(many, "train/train")["player_id"]) | set(read_output(many, "train/unlabeled")["player_id"])
    rows = pd.concat([merged.read_rows(p) for p in sorted((tmp_path / "landing").rglob("*.parquet"))])
    fitted = FeaturePipeline.fit(rows[rows["player_id"].isin(training)], merged.input_spec, "auto")
    # Then the mergeable statistics give the same pipeline
    assert fitted.feature_names == merged.feature_names
    assert fitted.categorical_levels == merged.categorical_levels
    assert fitted.heavy_tail["columns"] == merged.heavy_tail["columns"]
    assert fitted.medians == pytest.approx(merged.medians)
    np.testing.assert_allclose(fitted.scaler.mean, merged.scaler.mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fitted.scaler.scale, merged.scaler.scale, rtol=1e-9)


def test_preprocess_reads_in_bounded_chunks_with_the_same_result(preprocess, tmp_path, monkeypatch):
    # Given a landing of 6 part files per group of ~100-200 players (8 weeks each)
    write_batch(generate(seed=5, **SMALL), tmp_path / "landing", parts=6)
    whole = run_sharded(preprocess, tmp_path / "landing", tmp_path / "whole", 1)
    largest_file = max(len(pd.read_csv(p)) for p in (tmp_path / "landing").rglob("*.csv"))
    # When it is read in chunks of at most 600 rows
    seen: list[int] = []
    chunks = preprocess._chunks

    def recording(*args, **kwargs):
        for rows in chunks(*args, **kwargs):
            seen.append(len(rows))
            yield rows

    monkeypatch.setattr(preprocess, "_chunks", recording)
    chunked = run_sharded(preprocess, tmp_path / "landing", tmp_path / "chunked", 1, chunk_rows=600)
    # Then no chunk holds more than the bound (whole files: the larger of the bound and a file)
    assert len(seen) > 6 and max(seen) <= max(600, largest_file)
    assert_same_outputs(whole, chunked)


def test_consumers_stream_a_split_in_bounded_batches(preprocess, tmp_path):
    write_batch(generate(seed=5, **SMALL), tmp_path / "landing", parts=2)
    out = run_sharded(preprocess, tmp_path / "landing", tmp_path / "one", 2)
    pipeline = shards.load_pipeline(out / "train")
    batches = list(shards.iter_split(out / "train", "unlabeled", pipeline, batch_rows=64))
    assert max(len(b) for b in batches) <= 64 and sum(len(b) for b in batches) == SMALL["n_unlabeled"]
    assert all(b[pipeline.feature_names].dtypes.eq(np.float32).all() for b in batches)


def test_a_player_split_over_two_chunks_is_refused(preprocess, tmp_path):
    # Given a landing where one player's weeks are in two part files read in different chunks
    groups = generate(seed=5, **SMALL)
    write_batch(groups, tmp_path / "landing", parts=2)
    normal = tmp_path / "landing/normal"
    first, second = sorted(normal.glob("*.csv"))
    a, b = pd.read_csv(first), pd.read_csv(second)
    player = a["player_id"].iloc[0]
    moved = a[(a["player_id"] == player) & (a["week"] >= 4)]
    a.drop(moved.index).to_csv(first, index=False)
    pd.concat([b, moved]).to_csv(second, index=False)
    # Then the job stops with a line that names the player and the layout it needs
    with pytest.raises(DataError, match=f"player {player}'s rows are in more than one chunk"):
        run_sharded(preprocess, tmp_path / "landing", tmp_path / "one", 1, chunk_rows=100)


def test_sharded_by_s3_key_deals_every_object_to_exactly_one_instance():
    keys = [f"g{g}/part-{i:05d}.csv" for g in range(3) for i in range(5)]
    shares = instances.shard_objects(keys, 4)
    assert sorted(k for share in shares for k in share) == sorted(keys)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_labelled_groups_sharded_by_mistake_are_refused_at_the_merge(preprocess, tmp_path):
    # Given every group sharded (the labelled ones should reach every instance whole)
    write_batch(generate(seed=5, **SMALL), tmp_path / "landing", parts=2)
    root = tmp_path / "wrong"
    (root / "processing/input").mkdir(parents=True)
    shutil.copytree(tmp_path / "landing", root / "processing/input/data")
    hosts = instances.processing_instances(root, 2, [(root / "processing/input/data", instances.SHARDED)],
                                           [root / "processing/output/artifacts"])
    for host in hosts:
        preprocess.main(host.root / "processing")
        shutil.copytree(host.root / "processing/output", root / "s3", dirs_exist_ok=True)
    # Then the merge names the layout it needs
    with pytest.raises(DataError, match="FullyReplicated"):
        shards.load_pipeline(root / "s3" / "artifacts")


def test_training_streams_the_unlabeled_players_from_the_parquet_shards(preprocess, train, tmp_path, capsys):
    from scarcegan.hyperparameters import Hyperparameters

    # Given a two-instance preprocess output (two unlabeled shards)
    write_batch(generate(seed=5, **SMALL), tmp_path / "landing", parts=2)
    out = run_sharded(preprocess, tmp_path / "landing", tmp_path / "two", 2)
    # When train runs with the stream threshold at 0 players (every unlabeled player streamed)
    args, hyper = train.parse_args(["--iterations", "40", "--sample-interval", "20", "--batch-size", "8",
                                    "--model-dir", str(tmp_path / "model"), "--train", str(out / "train"),
                                    "--validation", str(out / "validation")])
    summary = train.main(args.model_dir, args.train, args.validation, Hyperparameters.from_values(hyper),
                         stream_above=0)
    # Then it trained from the tf.data stream over both shards and wrote its candidates
    printed = capsys.readouterr().out
    assert f"Unlabeled players: {SMALL['n_unlabeled']} streamed from Parquet shards (tf.data)" in printed
    assert "Iteration=40;" in printed and summary["candidates"]
    metadata = json.loads((tmp_path / "model" / summary["candidates"][0]["kind"] / "metadata.json").read_text())
    assert metadata["feature_names"] == shards.load_pipeline(out / "train").feature_names
