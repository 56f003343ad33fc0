from pathlib import Path

import pytest

from retrainer.local.template import Resolver, load, substitute_definition

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def resolver():
    return Resolver(load(ROOT / "template.yaml"), "s", "eu-west-1", {"ProcessingImageUri": "p", "TrainingImageUri": "t", "InferenceImageUri": "i", "ChallengerImageUri": "c"})


def test_parameters_take_overrides_then_defaults(resolver):
    assert resolver.refs["ProcessingImageUri"] == "p"
    assert resolver.refs["ModelName"] == "scarcegan"
    assert resolver.refs["CandidateKinds"] == ["best-recall", "best-precision", "best-f1", "last"]
    assert resolver.refs["TrainInstanceCount"] == "1"  # a Ref to a Number is a string, as in CloudFormation


def test_resources_come_after_what_they_reference(resolver):
    order = [name for name, _ in resolver.resources()]
    assert order.index("TriggerDeadLetterQueue") < order.index("TriggerQueue")
    assert order.index("RegisterModelsFunction") < order.index("RetrainStateMachine") < order.index("StartRetrainingFunction")


def test_intrinsics_resolve_against_created_resources(resolver):
    resolver.refs["LandingBucket"] = "bucket-1"
    resolver.attributes["LandingBucket"] = {"Arn": "arn:aws:s3:::bucket-1"}
    assert resolver.resolve({"Fn::Sub": "${LandingBucket.Arn}/incoming/${ModelName}/*"}) == "arn:aws:s3:::bucket-1/incoming/scarcegan/*"
    assert resolver.resolve({"Fn::Join": [",", {"Ref": "CandidateKinds"}]}) == "best-recall,best-precision,best-f1,last"
    assert resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}"}) == "arn:aws:x:eu-west-1"
    with pytest.raises(KeyError, match="Nope"):
        resolver.resolve({"Ref": "Nope"})
    with pytest.raises(NotImplementedError, match="Fn::ImportValue"):
        resolver.resolve({"Fn::ImportValue": "x"})


def test_globals_merge_into_functions_like_sam(resolver):
    properties = resolver.function_properties({"Handler": "h", "Environment": {"Variables": {"A": "1"}}})
    assert properties["Runtime"] == "python3.11" and properties["Handler"] == "h"
    assert properties["Environment"]["Variables"]["A"] == "1"
    assert properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "retrainer"


def test_a_missing_definition_substitution_is_an_error():
    assert substitute_definition('{"a": "${X}"}', {"X": "1"}) == '{"a": "1"}'
    with pytest.raises(KeyError, match="DefinitionSubstitutions has no Y"):
        substitute_definition('"${Y}"', {})
