"""Standard scaler fitted on the training split only, saved as scaler.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class Scaler:
    feature_names: list[str]
    mean: list[float]
    scale: list[float]
    input_format: str = "telemetry"
    # telemetry: the weekly columns and summary settings; features: categorical levels.
    spec: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame, input_format: str = "telemetry",
            spec: dict | None = None) -> Scaler:
        values = frame.to_numpy(dtype=float)
        mean = values.mean(axis=0)
        std = values.std(axis=0)
        scale = np.where(std > 1e-12, std, 1.0)
        return cls(list(frame.columns), mean.tolist(), scale.tolist(), input_format, spec or {})

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        values = frame[self.feature_names].to_numpy(dtype=float)
        scaled = (values - np.asarray(self.mean)) / np.asarray(self.scale)
        return pd.DataFrame(scaled, index=frame.index, columns=self.feature_names)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> Scaler:
        return cls(**json.loads(Path(path).read_text()))
