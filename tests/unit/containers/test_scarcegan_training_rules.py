"""Hyperparameter parsing, candidate-selection rule and metrics: no training needed."""

import numpy as np
import pytest
from scarcegan.candidates import CandidateTracker, distinct
from scarcegan.errors import DataError
from scarcegan.hyperparameters import Hyperparameters
from scarcegan.metrics import average_precision, binary_metrics, curve_points, roc_auc
from scarcegan.training import sampling_cdf


def test_hyperparameters_arrive_as_strings():
    hp = Hyperparameters.from_strings({"iterations": "500", "alpha": "0.6", "balanced_batches": "false",
                                       "variant": '"no-leeway"', "learning_rate": "1e-3"})
    assert hp.iterations == 500 and hp.alpha == 0.6 and hp.balanced_batches is False
    assert hp.effective_alpha == 1.0  # no-leeway switches the leeway off


def test_vanilla_variant_switches_every_scarcegan_ingredient_off():
    hp = Hyperparameters.from_strings({"variant": "vanilla-ssgan"})
    assert hp.effective() == {"alpha": 1.0, "beta": 0.0, "pull_away_weight": 0.0,
                              "generator_objective": "feature-matching", "balanced_batches": False}


@pytest.mark.parametrize("values, message", [
    ({"iterations": "0"}, "--iterations must be > 0"),
    ({"iterations": "ten"}, "--iterations expects int, got 'ten'"),
    ({"alpha": "1.5"}, "--alpha must be in (0, 1]"),
    ({"variant": "bigger"}, "--variant must be one of"),
    ({"candidates": "best-recall,worst"}, "--candidates must be"),
])
def test_invalid_hyperparameters_are_rejected_clearly(values, message):
    with pytest.raises(DataError) as error:
        Hyperparameters.from_strings(values)
    assert error.value.file == "hyperparameters"
    assert message in error.value.problem


def test_train_cli_exits_1_on_bad_hyperparameter(train, tmp_path, capsys):
    code = train.cli(["--iterations", "0", "--model-dir", str(tmp_path), "--sagemaker_program", "train.py"])
    assert code == 1
    assert capsys.readouterr().err.strip() == "ERROR: arguments: --iterations must be in [1, 1000000], got 0"


def test_train_cli_refuses_an_unknown_hyperparameter_in_one_line(train, tmp_path, capsys):
    # Given a hyperparameter name the scarcegan family does not publish (a typo)
    (tmp_path / "hyperparameters.json").write_text('{"iteration": "10", "sagemaker_program": "train.py"}')

    # When the training job starts
    code = train.cli(["--config-dir", str(tmp_path), "--model-dir", str(tmp_path / "model"), "train"])

    # Then it exits 1 before training, naming the parameter and what is allowed
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("ERROR: arguments: unknown parameter --iteration (allowed: ")
    assert "--iterations" in err and "\n" not in err and not (tmp_path / "model").exists()


def test_hyperparameter_defaults_come_from_parameters_json():
    from scarcegan.parameters import family_defaults

    assert Hyperparameters().as_dict() == family_defaults("scarcegan")


def _m(recall, precision, f1=None):
    f1 = f1 if f1 is not None else (2 * recall * precision / (recall + precision) if recall + precision else 0)
    return {"recall": recall, "precision": precision, "f1": f1}


def test_kinds_that_pick_the_same_checkpoint_become_one_candidate_with_aliases():
    # Given a run whose best recall, best F1 and last checkpoints are the same iteration
    tracker = CandidateTracker(("best-recall", "best-precision", "best-f1", "last"), recall_floor=0.8)
    history = {100: _m(0.5, 0.9), 200: _m(0.9, 0.6)}
    for iteration, metrics in history.items():
        tracker.update(iteration, metrics, lambda i=iteration: [i])

    # When the candidates are made distinct
    chosen = distinct(tracker.finish(200, history[200], [200]))

    # Then one model per iteration remains, the other rule names recorded as its aliases
    assert {k: (c.iteration, aliases) for k, (c, aliases) in chosen.items()} == {
        "best-recall": (200, ["best-precision", "best-f1", "last"])}


def test_candidate_rule_picks_each_kind_by_its_metric():
    tracker = CandidateTracker(("best-recall", "best-precision", "best-f1", "last"), recall_floor=0.8)
    history = {100: _m(0.9, 0.1), 200: _m(0.8, 0.5), 300: _m(0.6, 0.9), 400: _m(0.7, 0.3)}
    for iteration, metrics in history.items():
        tracker.update(iteration, metrics, lambda i=iteration: [i])
    chosen = tracker.finish(400, history[400], [400])
    assert {k: c.iteration for k, c in chosen.items()} == {
        "best-recall": 100, "best-precision": 200, "best-f1": 300, "last": 400}
    assert chosen["best-recall"].weights == [100]


def test_best_precision_falls_back_to_best_recall_below_the_floor():
    tracker = CandidateTracker(("best-precision",), recall_floor=0.95)
    tracker.update(1, _m(0.5, 0.9), lambda: [1])
    tracker.update(2, _m(0.7, 0.2), lambda: [2])
    chosen = tracker.finish(2, _m(0.7, 0.2), [2])
    assert chosen["best-precision"].iteration == 2 and not chosen["best-precision"].floor_met


def test_balanced_sampling_gives_each_class_equal_mass():
    labels = np.array([0] * 90 + [3] * 10)
    cdf = sampling_cdf(labels, balanced=True)
    assert cdf[89] == pytest.approx(0.5, abs=1e-6) and cdf[-1] == 1.0


def test_binary_metrics_and_aucs_on_a_small_case():
    truth = np.array([1, 1, 0, 0, 0], bool)
    scores = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    flagged = scores >= 0.5
    m = binary_metrics(truth, flagged, scores)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (1, 1, 2, 1)
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["share_flagged"] == 0.4
    assert roc_auc(truth, scores) == pytest.approx(5 / 6)  # 5 of 6 pos/neg pairs ordered right
    assert average_precision(truth, scores) == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))


def test_curve_points_walk_every_threshold_and_are_downsampled():
    truth = np.array([1, 1, 0, 0, 0], bool)
    scores = np.array([0.9, 0.4, 0.6, 0.2, 0.1])

    curves = curve_points(truth, scores)

    assert curves["precision_recall"] == {"recall": [0.0, 0.5, 0.5, 1.0, 1.0, 1.0],
                                          "precision": [1.0, 1.0, 0.5, 2 / 3, 0.5, 0.4]}
    assert curves["roc"]["false_positive_rate"] == [0.0, 0.0, 1 / 3, 1 / 3, 2 / 3, 1.0]
    assert curves["roc"]["true_positive_rate"] == [0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert curves["auc_roc"] == pytest.approx(5 / 6) and (curves["positives"], curves["negatives"]) == (2, 3)
    many = curve_points(np.arange(1000) % 20 == 0, np.linspace(1, 0, 1000), max_points=50)
    assert len(many["roc"]["true_positive_rate"]) == 50 and many["roc"]["true_positive_rate"][-1] == 1.0


def test_hyperparameters_json_is_read_and_arguments_win(train, tmp_path):
    (tmp_path / "hyperparameters.json").write_text(
        '{"iterations": "250", "batch-size": "16", "sagemaker_program": "\\"train.py\\""}')
    _, hyper = train.parse_args(["--config-dir", str(tmp_path), "--batch-size", "8", "train"])
    hp = Hyperparameters.from_values(hyper)
    assert (hp.iterations, hp.batch_size) == (250, 8)


def test_snake_case_hyperparameter_flags_are_accepted_too(train):
    _, hyper = train.parse_args(["--sample_interval", "7", "--learning-rate", "0.01"])
    assert hyper["sample_interval"] == 7 and hyper["learning_rate"] == 0.01


def test_training_is_reproducible_for_a_seed():
    from scarcegan.training import ScarceGANTrainer

    rng = np.random.default_rng(0)
    x, xu = rng.normal(size=(40, 6)).astype(np.float32), rng.normal(size=(60, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 3] * 10, dtype=np.int32)
    hp = Hyperparameters.from_strings({"seed": "5", "batch_size": "8", "unlabeled_batch_size": "8"})
    runs = [ScarceGANTrainer(hp, x, y, xu) for _ in range(2)]
    losses = [r.run(np.int32(15)).numpy() for r in runs]
    np.testing.assert_array_equal(losses[0], losses[1])
    np.testing.assert_array_equal(runs[0].predict_proba(x), runs[1].predict_proba(x))
