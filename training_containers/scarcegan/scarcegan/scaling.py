"""Standard scaler fitted on the training split only, saved as scaler.json.

It also carries the heavy-tail choice (``signed_log``: the columns put on the sign(x)*log1p(|x|)
scale before standardising), so anything that applies scaler.json to feature columns (drift.py)
sees exactly the model inputs. The whole input path (reading rows, features, encoding, this scaler)
is `scarcegan.pipeline.FeaturePipeline` (pipeline.json).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .features import signed_log1p


@dataclass
class Scaler:
    feature_names: list[str]
    mean: list[float]
    scale: list[float]
    input_format: str = "telemetry"
    # telemetry: the weekly columns and summary settings; features: categorical levels.
    spec: dict = field(default_factory=dict)
    signed_log: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, frame: pd.DataFrame, input_format: str = "telemetry",
            spec: dict | None = None, signed_log: list[str] | None = None) -> Scaler:
        """Fit on unscaled rows; ``signed_log`` columns are log-scaled first (as in transform)."""
        signed_log = [c for c in (signed_log or []) if c in frame.columns]
        values = _log_columns(frame, signed_log).to_numpy(dtype=float)
        mean = values.mean(axis=0)
        std = values.std(axis=0)
        scale = np.where(std > 1e-12, std, 1.0)
        return cls(list(frame.columns), mean.tolist(), scale.tolist(), input_format, spec or {},
                   signed_log)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        values = _log_columns(frame[self.feature_names], self.signed_log).to_numpy(dtype=float)
        scaled = (values - np.asarray(self.mean)) / np.asarray(self.scale)
        return pd.DataFrame(scaled, index=frame.index, columns=self.feature_names)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> Scaler:
        return cls(**json.loads(Path(path).read_text()))


def _log_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if not columns:
        return frame
    out = frame.copy()
    for column in columns:
        out[column] = signed_log1p(out[column].to_numpy(dtype=float))
    return out
