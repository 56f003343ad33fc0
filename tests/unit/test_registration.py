import pytest
from core.errors import RegistrationError
from core.registration import MAX_METADATA_VALUE, Candidate, register

from tests.utils.events import sample
from tests.utils.fakes import FakeObjects, FakeRegistry

STATISTICS = {
    "version": 0.0,
    "binary_classification_metrics": {
        name: {"value": value, "standard_deviation": 0.01}
        for name, value in {"recall": 0.9, "precision": 0.5, "f1": 0.643, "auc": 0.97}.items()
    },
}


@pytest.fixture
def candidate():
    return Candidate.model_validate(sample("register_candidate.json"))


def artifacts_for(candidate, statistics=STATISTICS):
    objects = FakeObjects(documents={candidate.quality_url: statistics})
    objects.objects[candidate.model_data_url.removeprefix("s3://")] = {"etag": "e", "size": 1}
    return objects


def test_candidate_becomes_a_pending_version_with_metrics_and_lineage(candidate):
    registry = FakeRegistry()

    result = register(candidate, "img:inference", artifacts_for(candidate), registry)

    request = registry.created[0]
    assert result["already_registered"] is False and result["kind"] == "best-f1"
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == candidate.quality_url
    assert request["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == candidate.model_data_url
    metadata = request["CustomerMetadataProperties"]
    assert metadata["RunId"] == candidate.run_id and metadata["ModelKind"] == "best-f1"
    assert metadata["TriggerType"] == "data-landing" and metadata["DataVersion"] == "sha256:ab12"
    assert metadata["Metric.recall"] == "0.9" and metadata["Hp.iterations"] == "1500"
    assert not any(k.startswith("Hp.sagemaker_") for k in metadata)
    assert all(len(v) <= MAX_METADATA_VALUE for v in metadata.values())


def test_a_retried_registration_registers_nothing_twice(candidate):
    registry, artifacts = FakeRegistry(), artifacts_for(candidate)
    first = register(candidate, "img", artifacts, registry)
    again = register(candidate, "img", artifacts, registry)

    assert again["already_registered"] is True and again["model_package_arn"] == first["model_package_arn"]
    assert len(registry.created) == 1


def test_missing_artifact_or_bad_metrics_register_nothing(candidate):
    registry = FakeRegistry()
    with pytest.raises(RegistrationError, match="model artifact of candidate 'best-f1' is missing"):
        register(candidate, "img", FakeObjects(documents={candidate.quality_url: STATISTICS}), registry)
    with pytest.raises(RegistrationError, match="not a model-quality statistics file"):
        register(candidate, "img", artifacts_for(candidate, {"regression_metrics": {}}), registry)
    assert registry.created == []
