"""Read template.yaml as CloudFormation would: parameters with defaults and overrides, Globals merged
into functions, intrinsic functions evaluated against the physical names the local stack assigns.

Only what the template uses is supported; anything else raises, naming the construct, so the local
stack can never silently diverge from what `sam deploy` creates.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"  # moto's default account
NO_VALUE = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()  # dropped from maps and lists
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) read as their long forms."""


def _tag(name: str) -> Callable[[yaml.Loader, yaml.Node], Any]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short in ["Ref", "Condition"]:
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _short in ["GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap", "Base64"]:
    _CfnLoader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))


def load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Resolver:
    """Evaluates intrinsics. `refs` and `attributes` fill in as resources are created."""

    template: dict[str, Any]
    stack_name: str
    region: str
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.refs.update(
            {
                "AWS::StackName": self.stack_name,
                "AWS::Region": self.region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NoValue": NO_VALUE,
            }
        )
        for name, spec in self.template.get("Parameters", {}).items():
            if name in self.parameter_overrides:
                value: Any = str(self.parameter_overrides[name])
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                raise ValueError(f"template parameter {name} has no default and no local value")
            if spec["Type"] == "CommaDelimitedList":
                value = [v.strip() for v in value.split(",")]
            self.refs[name] = value
        self.conditions: dict[str, bool] = {}
        for name in self.template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        """A named condition, evaluated once (conditions may refer to other conditions)."""
        if name not in self.conditions:
            definitions = self.template.get("Conditions", {})
            if name not in definitions:
                raise KeyError(f"condition {name}: not defined in Conditions")
            self.conditions[name] = bool(self._evaluate(definitions[name]))
        return self.conditions[name]

    def _evaluate(self, expression: Any) -> Any:
        """Condition functions (Fn::Equals/Not/And/Or, Condition) over parameter values."""
        if isinstance(expression, dict) and len(expression) == 1:
            (key, arg), = expression.items()
            if key == "Fn::Equals":
                left, right = (self._evaluate(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Fn::And":
                return all(self._evaluate(v) for v in arg)
            if key == "Fn::Or":
                return any(self._evaluate(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.resolve(expression)

    # -- resources in creation order
    def resources(self) -> list[tuple[str, dict[str, Any]]]:
        resources = self.template["Resources"]
        ordered: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in ordered:
                return
            if name in path:
                raise ValueError(f"circular reference: {' -> '.join(path + (name,))}")
            for dep in sorted(_references(resources[name]) & resources.keys()):
                visit(dep, path + (name,))
            ordered.append(name)

        for name in resources:
            visit(name, ())
        # a resource whose Condition is false is not created, as in CloudFormation
        return [(name, resources[name]) for name in ordered if self.condition_holds(resources[name])]

    def condition_holds(self, resource: dict[str, Any]) -> bool:
        return "Condition" not in resource or self.condition(resource["Condition"])

    def function_properties(self, properties: dict[str, Any]) -> dict[str, Any]:
        """A function's properties with the template's Globals.Function merged in, as SAM does."""
        merged = copy.deepcopy(self.template.get("Globals", {}).get("Function", {}))
        for key, value in properties.items():
            if key == "Environment":
                variables = merged.get("Environment", {}).get("Variables", {})
                merged["Environment"] = {"Variables": {**variables, **value.get("Variables", {})}}
            else:
                merged[key] = value
        return merged

    # -- intrinsics
    def resolve(self, value: Any) -> Any:
        """The value with intrinsics evaluated; AWS::NoValue removes the key or item, as in CloudFormation."""
        resolved = self._resolve(value)
        return None if resolved is NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self._resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::If":
                name, if_true, if_false = arg
                return self._resolve(if_true if self.condition(name) else if_false)
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
                return self._evaluate(value)
            if key == "Fn::GetAtt":
                return self._get_att(*(arg if isinstance(arg, list) else arg.split(".", 1)))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(v) for v in self.resolve(items))
            if key == "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = self.resolve(arg)
                return text.split(separator)
            if key.startswith("Fn::"):
                raise NotImplementedError(f"{key} is not supported by the local stack's template reader")
        resolved = {k: self._resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name not in self.refs:
            raise KeyError(f"!Ref {name}: no such parameter, or resource not created yet")
        return self.refs[name]

    def _get_att(self, name: str, attribute: str) -> Any:
        try:
            return self.attributes[name][attribute]
        except KeyError:
            raise KeyError(f"!GetAtt {name}.{attribute}: not available on the local stack") from None

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self._get_att(*name.split(".", 1)))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)


def _references(value: Any) -> set[str]:
    """Logical ids a resource's definition refers to (Ref, GetAtt, ${} in Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= _references(v)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add((arg if isinstance(arg, list) else arg.split("."))[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {m.split(".")[0] for m in _SUB_VARIABLE.findall(text)}
                if not isinstance(arg, str):
                    found |= _references(arg[1])
            else:
                found |= _references(arg)
    return found


def substitute_definition(definition: str, substitutions: dict[str, Any]) -> str:
    """DefinitionSubstitutions as AWS::Serverless::StateMachine applies them; every ${X} must be given."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise KeyError(f"state machine definition uses ${{{name}}} but DefinitionSubstitutions has no {name}")
        return str(substitutions[name])

    return _SUB_VARIABLE.sub(replace, definition)
