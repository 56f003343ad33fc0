"""scarcegan/parameters.py: every script reads its parameters from parameters.json, typed and checked."""

import argparse
import json

import pytest
from scarcegan.errors import DataError
from scarcegan.parameters import (
    SCHEMA_PATH,
    family_defaults,
    family_schema,
    parse_family,
    validate_family,
)


def _parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-dir", default="/opt/ml/processing")
    return parser


def _error_line(capsys, argv, family="data"):
    with pytest.raises(SystemExit) as exit_info:
        parse_family(family, argv, _parser())
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 1
    assert len(lines) == 1 and lines[0].startswith("ERROR: arguments: ")
    return lines[0]


def test_defaults_come_from_parameters_json():
    # Given the published schema
    schema = json.loads(SCHEMA_PATH.read_text())["families"]["data"]["parameters"]
    # When a script parses no arguments
    args = parse_family("data", [], _parser())
    # Then every data parameter has the schema's default, under its snake_case name
    assert family_schema("data") == schema
    for name, spec in schema.items():
        assert getattr(args, name.replace("-", "_")) == spec["default"]
    assert family_defaults("data")["test_fraction"] == schema["test-fraction"]["default"]


def test_values_arrive_typed_in_kebab_or_snake_case():
    args = parse_family("data", ["--folds", "3", "--test_fraction", "0.25", "--input-format=features",
                                 "--base-dir", "/tmp/x"], _parser())
    assert (args.folds, args.test_fraction, args.input_format, args.base_dir) == (3, 0.25, "features", "/tmp/x")


def test_sagemaker_own_arguments_are_ignored():
    # Given what SageMaker's images add to a script's command line
    argv = ["train", "--sagemaker_program", "train.py", "--sagemaker-submit-directory=s3://b/c.tgz",
            "--model_dir", "s3://bucket/model", "--split-seed", "7"]
    # Then they are neither refused nor parsed as ours
    assert parse_family("data", argv, _parser()).split_seed == 7


def test_unknown_parameter_is_one_line_naming_the_allowed_ones(capsys):
    line = _error_line(capsys, ["--no-such-param", "1"])
    assert line.startswith("ERROR: arguments: unknown parameter --no-such-param (allowed: ")
    assert "--input-format" in line and "--base-dir" in line


def test_an_abbreviation_is_a_typo_not_a_guess(capsys):
    assert "unknown parameter --fold " in _error_line(capsys, ["--fold", "3"])


@pytest.mark.parametrize(("argv", "expected"), [
    (["--folds", "x"], "--folds expects int, got 'x'"),
    (["--folds", "1"], "--folds must be in [2, 20], got 1"),
    (["--input-format", "csv"], "--input-format must be one of telemetry, features, got 'csv'"),
    (["--id-column", "a/b"], "--id-column must match"),
])
def test_bad_values_name_the_rule(capsys, argv, expected):
    assert expected in _error_line(capsys, argv)


def test_other_families_parse_with_the_same_rules(capsys):
    args = parse_family("gradient-boosting", ["--gb-max-iter", "50"], argparse.ArgumentParser())
    assert args.gb_max_iter == 50 and args.gb_class_weight == "balanced"
    assert "unknown parameter --folds" in _error_line(capsys, ["--folds", "3"], family="gradient-boosting")


def test_validate_family_checks_a_mapping_without_exiting():
    typed = validate_family("scarcegan", {"iterations": "300", "balanced_batches": "false",
                                          "sagemaker_program": "train.py"})
    assert typed["iterations"] == 300 and typed["balanced_batches"] is False
    with pytest.raises(DataError, match="unknown parameter --no-such"):
        validate_family("scarcegan", {"no_such": "1"})
    with pytest.raises(DataError, match="unknown parameter family"):
        family_schema("nope")
