"""The self-contained inference artifact: what is registered, and what scores new players.

``model.tar.gz`` holds, at its root:

* the model file: ``model.keras`` (family ``scarcegan``) or ``model.joblib`` (``gradient-boosting``);
* ``pipeline.json``: preprocess's `FeaturePipeline` (features, heavy-tail transform, encoding,
  scaler), so raw landing rows go in, not pre-scaled features;
* ``metadata.json``: family, kind, score definition, decision threshold, feature names and the
  ``content_hash`` of the two files above.

The archive is byte-for-byte deterministic (sorted members, mtime 0, no owner, gzip without a
timestamp; Keras' own zip rewritten without its save date), so its sha256 identifies the model:
a re-run that trains the same weights produces the same key and registers nothing new.

``load(path).score(raw_rows)`` -> ``DataFrame[player_id, score, flagged]``; a player is flagged
when ``score >= threshold``. Keras is imported only for a ScarceGAN artifact.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .schema import ID_COLUMN, POSITIVE_CLASS

ARTIFACT_FORMAT = 2
MODEL_FILES = {"scarcegan": "model.keras", "gradient-boosting": "model.joblib"}
SCORE_DEFINITIONS = {
    "scarcegan": "P(risky) / (P(risky) + max P(other class)) from the supervised head's softmax: "
                 "> 0.5 exactly when risky is the most probable class",
    "gradient-boosting": "P(risky) of the gradient-boosting classifier (risky vs every other "
                         "labelled group)",
}
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
SCORE_CHUNK = 65536


class ArtifactError(DataError):
    """An archive that is not a scoring artifact of this format (e.g. an old-format champion)."""


def scarcegan_score(probabilities: np.ndarray, class_order: list[str] | tuple[str, ...]) -> np.ndarray:
    """Risky against its strongest rival, in [0, 1]; 0.5 is the argmax decision boundary."""
    p = np.asarray(probabilities, dtype=np.float64)
    risky = list(class_order).index(POSITIVE_CLASS)
    rival = np.delete(p, risky, axis=1).max(axis=1)
    total = p[:, risky] + rival
    return np.where(total > 0, p[:, risky] / np.where(total > 0, total, 1.0), 0.0)


# ---------------------------------------------------------------- writing
def package(archive_path: str | Path, model_dir: str | Path, pipeline_json: str | Path,
            metadata: dict) -> str:
    """Write the artifact; returns the sha256 of the archive (the registration content key)."""
    family = metadata["family"]
    if family not in MODEL_FILES:
        raise ArtifactError(str(model_dir), f"unknown model family {family!r}")
    model_name = MODEL_FILES[family]
    model_path = Path(model_dir) / model_name
    if not model_path.is_file():
        raise ArtifactError(str(model_dir), f"has no {model_name}")
    pipeline_path = Path(pipeline_json)
    if not pipeline_path.is_file():
        raise ArtifactError(str(pipeline_path), "missing (preprocess writes artifacts/pipeline.json)")
    model_bytes = model_path.read_bytes()
    if model_name.endswith(".keras"):
        model_bytes = _stable_keras_zip(model_bytes)
    members = {model_name: model_bytes, "pipeline.json": pipeline_path.read_bytes()}
    digest = hashlib.sha256()
    for name in sorted(members):
        digest.update(name.encode() + b"\0" + hashlib.sha256(members[name]).digest())
    for key in ("family", "kind", "threshold", "feature_names"):
        if key not in metadata:
            raise ArtifactError("metadata.json", f"needs {key!r}")
    full = {**metadata, "artifact_format": ARTIFACT_FORMAT, "model_file": model_name,
            "score_definition": metadata.get("score_definition", SCORE_DEFINITIONS[family]),
            "decision_rule": f"flag when score >= {metadata['threshold']}",
            "content_hash": digest.hexdigest()}
    members["metadata.json"] = json.dumps(full, indent=2, sort_keys=True, default=_json_default).encode()
    data = _deterministic_tar_gz(members)
    archive = Path(archive_path)
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _deterministic_tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(members[name]), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(members[name]))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _stable_keras_zip(data: bytes) -> bytes:
    """The same .keras file without its save date and with fixed zip timestamps."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in sorted(source.namelist()):
            content = source.read(name)
            if name == "metadata.json":
                meta = json.loads(content)
                meta.pop("date_saved", None)
                content = json.dumps(meta, sort_keys=True).encode()
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, content)
    return out.getvalue()


def archive_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- reading
@dataclass
class Scorer:
    """Raw rows -> ``player_id, score, flagged`` with the artifact's own pipeline and threshold."""

    metadata: dict
    pipeline: Any
    model: Any = field(repr=False)

    @property
    def family(self) -> str:
        return self.metadata["family"]

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])

    def score(self, raw_rows: pd.DataFrame) -> pd.DataFrame:
        """Score landing rows (telemetry or featurised, as the pipeline was fitted on)."""
        return self.score_features(self.pipeline.transform(raw_rows))

    def score_features(self, features: pd.DataFrame) -> pd.DataFrame:
        """Score already-transformed features (indexed by player_id, or with a player_id column)."""
        frame = features.set_index(ID_COLUMN) if ID_COLUMN in features.columns else features
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise ArtifactError("features", f"missing feature column(s) {missing[:5]} the model expects")
        scores = self.score_values(frame[self.feature_names].to_numpy(np.float32))
        return pd.DataFrame({ID_COLUMN: frame.index.astype(str).to_numpy(), "score": scores,
                             "flagged": scores >= self.threshold})

    def score_values(self, x: np.ndarray) -> np.ndarray:
        if self.family == "scarcegan":
            # eager calls in fixed-size chunks: no tf.function retraced per input shape
            chunks = [np.asarray(self.model(x[i:i + SCORE_CHUNK], training=False))
                      for i in range(0, len(x), SCORE_CHUNK)]
            probabilities = np.concatenate(chunks) if chunks else np.zeros((0, len(self.metadata["class_order"])))
            return scarcegan_score(probabilities, self.metadata["class_order"])
        return np.asarray(self.model.predict_proba(x)[:, 1], dtype=np.float64)


def load(path: str | Path) -> Scorer:
    """A Scorer from a model.tar.gz or an unpacked artifact folder. Raises ArtifactError."""
    path = Path(path)
    shown = str(path)
    if path.is_dir():
        return _load_folder(path, shown)
    if not path.is_file():
        raise ArtifactError(shown, "missing")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with tarfile.open(path) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArtifactError(shown, f"cannot be unpacked: {exc}") from None
        return _load_folder(Path(tmp), shown)


def _load_folder(folder: Path, shown: str) -> Scorer:
    from .pipeline import FeaturePipeline

    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise ArtifactError(shown, "old-format or foreign artifact: no metadata.json")
    try:
        metadata = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(shown, f"metadata.json is not valid JSON: {exc}") from None
    if metadata.get("artifact_format") != ARTIFACT_FORMAT or not (folder / "pipeline.json").is_file():
        found = sorted(p.name for p in folder.iterdir())
        raise ArtifactError(shown, f"old-format artifact (format {metadata.get('artifact_format', 1)}, "
                                   f"files {found}): it carries no pipeline.json to rebuild features "
                                   f"from raw rows")
    family = metadata.get("family")
    model_path = folder / MODEL_FILES.get(family, "?")
    if not model_path.is_file():
        raise ArtifactError(shown, f"has no model file for family {family!r}")
    pipeline = FeaturePipeline.load(folder / "pipeline.json")
    if list(pipeline.feature_names) != list(metadata["feature_names"]):
        raise ArtifactError(shown, "pipeline.json's features differ from the model's feature_names")
    if family == "scarcegan":
        import keras

        model = keras.models.load_model(model_path, compile=False)
    else:
        import joblib
        import sklearn

        trained_with = metadata.get("sklearn_version")
        if trained_with and trained_with != sklearn.__version__:
            raise ArtifactError(shown, f"trained with scikit-learn {trained_with}; this image has "
                                       f"{sklearn.__version__} (pickled models load only under the same version)")
        model = joblib.load(model_path)
    return Scorer(metadata, pipeline, model)
