"""Typed run parameters: overrides are checked against the families' schema before a run exists; a
landing's manifest says how it is read; the champion and the challenger are part of every run."""

import json

import pytest
from retrainer_core.errors import PermanentTriggerError
from retrainer_core.parameters import InvalidParameters, Schema
from retrainer_core.run_spec import RunSpec
from retrainer_core.triggering import decide

from tests.unit.test_triggering import BUCKET, GROUP_FILES, SETTINGS, landed, landing
from tests.utils.events import manual_request
from tests.utils.fakes import PARAMETER_SCHEMA, FakeObjects, FakeWorkflow

SCHEMA = Schema(json.loads(PARAMETER_SCHEMA.read_text()))


class FakeChampions:
    def __init__(self, champion=None):
        self.champion = champion

    def approved(self, group):
        return self.champion


def manual(overrides):
    from retrainer_core.events import parse_trigger

    return parse_trigger(json.dumps(manual_request(overrides, request_id=f"req-{sorted(overrides)}")))


def test_an_unknown_parameter_is_refused_naming_it_and_the_allowed_ones():
    with pytest.raises(InvalidParameters) as refused:
        SCHEMA.validate({"no_such_param": "1"})
    assert "'no_such_param'" in str(refused.value) and "iterations" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("name, value, problem", [
    ("iterations", "abc", "expects int"), ("iterations", "1.5", "expects int"), ("alpha", "1.5", "above its maximum"),
    ("input-format", "xml", "not one of telemetry, features"), ("balanced_batches", "maybe", "true or false"),
    ("trunk-units", "15,,8", "does not match"),
])
def test_a_bad_value_is_refused_with_its_problem(name, value, problem):
    with pytest.raises(InvalidParameters, match=problem):
        SCHEMA.validate({name: value})


def test_names_are_normalised_and_values_made_canonical_strings():
    assert SCHEMA.validate({"batch_size": 64, "--jit-compile": "yes", "alpha": "0.50"}) == {
        "batch-size": "64", "jit-compile": "true", "alpha": "0.5"}


def test_a_manual_run_with_an_unknown_parameter_starts_nothing(ledger):
    workflow = FakeWorkflow()
    with pytest.raises(PermanentTriggerError, match="unknown parameter 'no_such_param'"):
        decide(manual({"no_such_param": "1"}), SETTINGS, landed(), workflow, ledger)
    assert workflow.started == {} and ledger.runs() == []


def test_each_family_gets_its_own_parameters_and_cache_key(ledger):
    objects = landed()
    first = decide(landing(), SETTINGS, objects, FakeWorkflow(), ledger)
    spec = RunSpec.parse(ledger.run(first.run_id)["spec"])
    assert spec.train.hyperparameters["iterations"] == "1500"  # the stack's default layer
    assert "gb-max-iter" in spec.challenger.hyperparameters and "iterations" not in spec.challenger.hyperparameters
    assert json.loads(spec.challenger.hyperparameters["sagemaker_program"]) == "train_gb.py"
    assert spec.challenger.image == "img:sklearn" and spec.challenger.instance_type == "ml.m5.large"
    assert spec.preprocess.arguments[:2] == ["--base-dir", "/opt/ml/processing"]
    assert spec.train.retry_strategy == {"MaximumRetryAttempts": 2}

    ledger.release("scarcegan", first.run_id)
    workflow = FakeWorkflow()
    decide(manual({"gb_learning_rate": "0.1"}), SETTINGS, objects, workflow, ledger)
    tuned = RunSpec.parse(next(iter(workflow.started.values())))
    assert tuned.challenger.hyperparameters["gb-learning-rate"] == "0.1"
    assert tuned.cache_keys["train"] == spec.cache_keys["train"]  # ScarceGAN is not retrained for a challenger knob
    assert tuned.cache_keys["challenger"] != spec.cache_keys["challenger"]
    assert tuned.cache_keys["evaluate"] != spec.cache_keys["evaluate"]


def test_a_landing_manifest_declares_how_it_is_read(ledger):
    parquet = tuple(name.replace(".csv", ".parquet") for name in GROUP_FILES)
    objects = landed(files=(*parquet, "_manifest.json", "_SUCCESS"))
    manifest = f"s3://{BUCKET}/incoming/scarcegan/2026-11-24/_manifest.json"
    objects.documents[manifest] = {"input_format": "features", "id-column": "account", "categorical-columns": ["country", "os"]}
    workflow = FakeWorkflow()

    decision = decide(landing(), SETTINGS, objects, workflow, ledger)

    spec = RunSpec.parse(workflow.started[decision.run_id])
    arguments = spec.preprocess.arguments
    assert arguments[arguments.index("--input-format") + 1] == "features"
    assert arguments[arguments.index("--id-column") + 1] == "account"
    assert arguments[arguments.index("--categorical-columns") + 1] == "country,os"
    assert spec.data.objects == len(parquet)  # the manifest is not data


def test_a_manifest_may_only_say_how_data_is_read(ledger):
    objects = landed(files=(*GROUP_FILES, "_manifest.json", "_SUCCESS"))
    objects.documents[f"s3://{BUCKET}/incoming/scarcegan/2026-11-24/_manifest.json"] = {"iterations": "5"}
    with pytest.raises(PermanentTriggerError, match="_manifest.json: iterations cannot be set here"):
        decide(landing(), SETTINGS, objects, FakeWorkflow(), ledger)


def test_the_approved_champion_is_re_scored_by_the_run(ledger):
    champion = {"version": 3, "arn": "arn:aws:sagemaker:us-east-1:1:model-package/scarcegan-models/3",
                "model_data_url": "s3://artifacts/steps/evaluate/k/models/best-f1/model.tar.gz"}
    workflow = FakeWorkflow()

    with_champion = decide(landing(), SETTINGS, landed(), workflow, ledger, registry=FakeChampions(champion))
    ledger.release("scarcegan", with_champion.run_id)
    without = decide(landing(event_id="e-2"), SETTINGS, landed(objects=FakeObjects(), etag="other"), FakeWorkflow(), ledger,
                     registry=FakeChampions())

    spec = RunSpec.parse(workflow.started[with_champion.run_id])
    assert spec.champion.version == 3
    assert spec.evaluate.arguments[spec.evaluate.arguments.index("--champion-version") + 1] == "3"
    plain = RunSpec.parse(ledger.run(without.run_id)["spec"])
    assert plain.champion is None and "--champion-version" not in plain.evaluate.arguments
