"""The `Name=value;` lines a job prints, read with the job's own MetricDefinitions (the regexes SageMaker
applies on AWS): the one parser behind the local job runner (FinalMetricDataList, CloudWatch metrics),
the report's curves and the MLflow metric history."""

from __future__ import annotations

import math
import re
from typing import Any


class MetricDefinitions:
    def __init__(self, definitions: list[dict[str, str]]):
        self.patterns = [(d["Name"], re.compile(d["Regex"])) for d in definitions]

    def values(self, line: str) -> list[tuple[str, float]]:
        """(name, value) of each definition whose regex matches the line, in definition order. Its first
        group is the value; a match that is not a finite number (nan, inf, text) is left out."""
        found = []
        for name, pattern in self.patterns:
            match = pattern.search(line)
            if not match:
                continue
            try:
                value = float(match.group(1))
            except (ValueError, IndexError):
                continue
            if math.isfinite(value):
                found.append((name, value))
        return found


def metric_lines(lines: list[str], definitions: list[dict[str, str]]) -> list[dict[str, float]]:
    """Per line that matches any definition, {name: value}."""
    parsing = MetricDefinitions(definitions)
    return [values for values in (dict(parsing.values(line)) for line in lines) if values]


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
