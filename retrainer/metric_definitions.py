"""A training job's MetricDefinitions applied to its log lines, as SageMaker applies them: the one
reading of `Name=value;` metrics, used by the local job runner (the job's FinalMetricDataList and
CloudWatch metrics) and by `retrainer report` (the training curves), so both see the same numbers."""

from __future__ import annotations

import math
import re


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
