"""Typed run parameters. Each model family publishes its schema once, next to its code
(training_containers/scarcegan/parameters.json, published with the code as
s3://<artifacts>/code/<version>/scarcegan/parameters.json); the CLI and the trigger check every
override against it before a run exists, and each script rejects names its family does not list."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from retrainer_core.errors import PermanentTriggerError

SCHEMA_FILE = "parameters.json"


class InvalidParameters(PermanentTriggerError):
    """An override the schema does not allow: the request is refused before a run exists."""


@dataclass(frozen=True)
class Parameter:
    name: str
    family: str
    type: str  # "int" | "float" | "bool" | "str"
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None

    def canonical(self, raw: Any) -> str:
        """The value as the job receives it (SageMaker passes every hyperparameter as a string)."""
        text = str(raw).strip()
        if self.type == "bool":
            if text.lower() in ("true", "1", "yes"):
                return "true"
            if text.lower() in ("false", "0", "no"):
                return "false"
            raise InvalidParameters(f"parameter {self.name}: expects true or false, got {text!r}")
        if self.type in ("int", "float"):
            try:
                number = float(text)
            except ValueError:
                raise InvalidParameters(f"parameter {self.name}: expects {self.type}, got {text!r}") from None
            if not math.isfinite(number) or (self.type == "int" and not number.is_integer()):
                raise InvalidParameters(f"parameter {self.name}: expects {self.type}, got {text!r}")
            if self.min is not None and number < self.min:
                raise InvalidParameters(f"parameter {self.name}: {text} is below its minimum {self.min:g}")
            if self.max is not None and number > self.max:
                raise InvalidParameters(f"parameter {self.name}: {text} is above its maximum {self.max:g}")
            return str(int(number)) if self.type == "int" else repr(number)
        if self.choices and text not in self.choices:
            raise InvalidParameters(f"parameter {self.name}: {text!r} is not one of {', '.join(self.choices)}")
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise InvalidParameters(f"parameter {self.name}: {text!r} does not match {self.pattern}")
        return text


def normalise(name: str) -> str:
    """`batch_size`, `--batch-size` and `batch-size` name the same parameter."""
    return name.strip().lstrip("-").replace("_", "-").lower()


class Schema:
    def __init__(self, document: dict[str, Any]):
        self.families: dict[str, str] = {}  # family -> the step that takes its parameters
        self.parameters: dict[str, Parameter] = {}
        for family, entry in document["families"].items():
            self.families[family] = entry["step"]
            for name, spec in entry["parameters"].items():
                self.parameters[name] = Parameter(
                    name=name, family=family, type=spec["type"], default=spec["default"], min=spec.get("min"),
                    max=spec.get("max"), choices=tuple(spec.get("choices", ())), pattern=spec.get("pattern"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Schema:
        return cls(json.loads(text))

    def validate(self, overrides: dict[str, Any], where: str = "") -> dict[str, str]:
        """{name: value} -> {kebab-name: canonical string}; InvalidParameters names the first bad one."""
        checked: dict[str, str] = {}
        for raw_name, value in overrides.items():
            name = normalise(raw_name)
            parameter = self.parameters.get(name)
            if parameter is None:
                allowed = ", ".join(sorted(self.parameters))
                raise InvalidParameters(f"{where}unknown parameter {raw_name!r} (allowed: {allowed})")
            try:
                checked[name] = parameter.canonical(value)
            except InvalidParameters as error:
                raise InvalidParameters(f"{where}{error}") from None
        return checked

    def only(self, family: str, overrides: dict[str, str], where: str) -> dict[str, str]:
        """Overrides that must all belong to one family (e.g. a landing's manifest: data only)."""
        checked = self.validate(overrides, where)
        foreign = sorted(n for n in checked if self.parameters[n].family != family)
        if foreign:
            raise InvalidParameters(f"{where}{', '.join(foreign)} cannot be set here (only {family} parameters: "
                                    f"{', '.join(self.names(family))})")
        return checked

    def names(self, family: str) -> list[str]:
        return sorted(n for n, p in self.parameters.items() if p.family == family)

    def resolve(self, *layers: dict[str, str]) -> dict[str, dict[str, str]]:
        """Defaults, then each layer of validated overrides on top, grouped by family."""
        values = {n: p.canonical(p.default) for n, p in self.parameters.items()}
        for layer in layers:
            values.update(layer)
        grouped: dict[str, dict[str, str]] = {family: {} for family in self.families}
        for name, value in sorted(values.items()):
            grouped[self.parameters[name].family][name] = value
        return grouped


def read_manifest(document: Any, uri: str) -> dict[str, str]:
    """A landing's `_manifest.json`: {"input-format": "features", "id-column": "...", "categorical-columns": [...]}."""
    if not isinstance(document, dict):
        raise InvalidParameters(f"{uri}: a manifest is a JSON object of data parameters, e.g. "
                                '{"input-format": "features", "id-column": "player_id"}')
    return {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in document.items()}
