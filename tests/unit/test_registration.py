import msgspec
import pytest
from retrainer_core.errors import RegistrationError
from retrainer_core.registration import MAX_METADATA_VALUE, Candidate, register

from tests.utils.events import sample
from tests.utils.fakes import FakeObjects, FakeRegisteredContent, FakeRegistry

STATISTICS = {
    "version": 0.0,
    "binary_classification_metrics": {
        name: {"value": value, "standard_deviation": 0.01}
        for name, value in {"recall": 0.9, "precision": 0.5, "f1": 0.643, "auc": 0.97}.items()
    },
}


@pytest.fixture
def candidate():
    return msgspec.convert(sample("register_candidate.json"), Candidate)


def artifacts_for(candidate, statistics=STATISTICS):
    objects = FakeObjects(documents={candidate.quality_url: statistics})
    objects.objects[candidate.model_data_url.removeprefix("s3://")] = {"etag": "e", "size": 1}
    return objects


def test_candidate_becomes_a_pending_version_with_metrics_and_lineage(candidate):
    registry = FakeRegistry()

    result = register(candidate, "img:inference", artifacts_for(candidate), registry, FakeRegisteredContent())

    request = registry.created[0]
    assert result["already_registered"] is False and result["kind"] == "best-f1"
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == candidate.quality_url
    assert request["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == candidate.model_data_url
    metadata = request["CustomerMetadataProperties"]
    assert metadata["RunId"] == candidate.run_id and metadata["ModelKind"] == "best-f1"
    assert metadata["ModelFamily"] == "scarcegan" and metadata["BeatsChampion"] == "true"
    assert metadata["TriggerType"] == "data-landing" and metadata["DataVersion"] == "sha256:ab12"
    assert metadata["Metric.recall"] == "0.75 [0.5, 0.92]" and metadata["Hp.iterations"] == "1500"
    assert "Hp.gb-max-iter" not in metadata  # the other family's parameters are not this model's
    assert not any(k.startswith("Hp.sagemaker_") for k in metadata)
    assert all(len(v) <= MAX_METADATA_VALUE for v in metadata.values())


def test_a_retried_registration_registers_nothing_twice(candidate):
    registry, artifacts, index = FakeRegistry(), artifacts_for(candidate), FakeRegisteredContent()
    first = register(candidate, "img", artifacts, registry, index)
    again = register(candidate, "img", artifacts, registry, index)

    assert again["already_registered"] is True and again["model_package_arn"] == first["model_package_arn"]
    assert len(registry.created) == 1


def test_the_same_artifact_from_another_run_is_the_same_version(candidate):
    registry, artifacts, index = FakeRegistry(), artifacts_for(candidate), FakeRegisteredContent()
    register(candidate, "img", artifacts, registry, index)
    rerun = msgspec.structs.replace(candidate, run_id="scarcegan-2026-11-24-rerun")

    assert register(rerun, "img", artifacts, registry, index)["already_registered"] is True
    other = msgspec.structs.replace(candidate, content_key="sha256:other", kind="last")
    assert register(other, "img", artifacts, registry, index)["already_registered"] is False
    assert len(registry.created) == 2


def test_a_try_that_stopped_after_creating_the_version_is_found_not_duplicated(candidate):
    registry, artifacts, index = FakeRegistry(), artifacts_for(candidate), FakeRegisteredContent()
    register(candidate, "img", artifacts, registry, index)
    index.items[(candidate.model_package_group, candidate.content_key)].pop("arn")  # crashed before recording it

    again = register(candidate, "img", artifacts, registry, index)

    assert again["already_registered"] is True and len(registry.created) == 1


def test_registration_reads_one_ledger_item_not_the_group(candidate):
    registry, artifacts, index = FakeRegistry(), artifacts_for(candidate), FakeRegisteredContent()
    for n in range(64):
        register(msgspec.structs.replace(candidate, content_key=f"k{n}"), "img", artifacts, registry, index)
    registry.finds = 0

    register(msgspec.structs.replace(candidate, content_key="k7"), "img", artifacts, registry, index)

    assert registry.finds == 0 and len(registry.created) == 64


def test_missing_artifact_or_bad_metrics_register_nothing(candidate):
    registry = FakeRegistry()
    with pytest.raises(RegistrationError, match="model artifact of candidate 'best-f1' is missing"):
        register(candidate, "img", FakeObjects(documents={candidate.quality_url: STATISTICS}), registry, FakeRegisteredContent())
    with pytest.raises(RegistrationError, match="not a model-quality statistics file"):
        register(candidate, "img", artifacts_for(msgspec.structs.replace(candidate, content_key="k2"), {"regression_metrics": {}}),
                 registry, FakeRegisteredContent())
    assert registry.created == []


def run_to_register(candidate, register_list):
    from retrainer_core.registration import RunToRegister

    run = RunToRegister.parse(dict(run_id=candidate.run_id, model=candidate.model, model_package_group=candidate.model_package_group,
                                   trigger=candidate.trigger, data=candidate.data, code_version=candidate.code_version,
                                   parameters=candidate.parameters, paths={"models": "s3://a/steps/evaluate/k/models", "quality": "s3://a/steps/evaluate/k/quality"},
                                   quality_gate={"min_recall": 0.5, "max_flagged_share": 0.05, "report_bucket": "a",
                                                 "report_key": "steps/evaluate/k/report/evaluation.json"},
                                   steps={"train": {"job_name": "rt-train-00"}, "challenger": {"job_name": "rt-challenger-00"}}))
    report = {"register": register_list, "summary": {"best": "best-f1", "recall": 0.2, "share_flagged": 0.3}}
    objects = FakeObjects(documents={run.report_uri: report})
    for entry in register_list:
        objects.documents[f"{run.paths.quality}/{entry['kind']}/statistics.json"] = STATISTICS
        objects.objects[f"a/steps/evaluate/k/models/{entry['kind']}/model.tar.gz"] = {"etag": "e", "size": 1}
    return run, objects


def entry(kind, family="scarcegan"):
    return {"kind": kind, "family": family, "content_key": f"key-{kind}", "beats_champion": True,
            "metrics": {"recall": {"value": 0.9}}}


def test_a_run_registers_every_candidate_past_the_gate_with_its_training_job(candidate):
    from retrainer_core.registration import register_run

    run, objects = run_to_register(candidate, [entry("best-f1"), entry("gb", "gradient-boosting")])
    registry = FakeRegistry()

    results = register_run(run, lambda family: f"img:{family}", objects, registry, FakeRegisteredContent())

    assert [r["kind"] for r in results] == ["best-f1", "gb"] and len(registry.created) == 2
    jobs = {r["CustomerMetadataProperties"]["ModelKind"]: r["CustomerMetadataProperties"]["TrainingJob"] for r in registry.created}
    assert jobs == {"best-f1": "rt-train-00", "gb": "rt-challenger-00"}
    assert registry.created[1]["InferenceSpecification"]["Containers"][0]["Image"] == "img:gradient-boosting"


def test_no_candidate_past_the_gate_or_one_bad_artifact_registers_nothing(candidate):
    from retrainer_core.registration import QualityGateNotMet, register_run

    run, objects = run_to_register(candidate, [])
    with pytest.raises(QualityGateNotMet, match=r"recall >= 0.5 while flagging <= 0.05 .*no model registered"):
        register_run(run, lambda family: "img", objects, FakeRegistry(), FakeRegisteredContent())

    run, objects = run_to_register(candidate, [entry("best-f1"), entry("best-recall")])
    del objects.objects["a/steps/evaluate/k/models/best-recall/model.tar.gz"]
    registry = FakeRegistry()
    with pytest.raises(RegistrationError, match="best-recall"):
        register_run(run, lambda family: "img", objects, registry, FakeRegisteredContent())
    assert registry.created == []  # checked before the first was registered
