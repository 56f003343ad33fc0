"""The `Name=value;` lines a job prints, read with the job's own MetricDefinitions (the regexes SageMaker
applies on AWS): the one parser behind the report's curves and the MLflow metric history."""

from __future__ import annotations

import math
import re
from typing import Any


def metric_lines(lines: list[str], definitions: list[dict[str, str]]) -> list[dict[str, float]]:
    """Per line that matches any definition, {name: value}; nan/inf left out (SageMaker drops them)."""
    patterns = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
    found: list[dict[str, float]] = []
    for line in lines:
        values: dict[str, float] = {}
        for name, pattern in patterns:
            match = pattern.search(line)
            if not match:
                continue
            try:
                value = float(match.group(1))
            except (ValueError, IndexError):
                continue
            if math.isfinite(value):
                values[name] = value
        if values:
            found.append(values)
    return found


def metric_history(events: list[dict[str, Any]], definitions: list[dict[str, str]], step_metric: str = "Iteration") -> list[dict[str, Any]]:
    """MLflow metric points from log events ({timestamp (ms), message}): each line's values at the
    step its `step_metric` names (else the line's order among metric lines), at the line's time."""
    points: list[dict[str, Any]] = []
    index = 0
    for event in events:
        for values in metric_lines([event.get("message") or ""], definitions):
            index += 1
            step = int(values.pop(step_metric, index))
            points += [{"key": name, "value": value, "step": step, "timestamp": int(event["timestamp"])}
                       for name, value in values.items()]
    return points
