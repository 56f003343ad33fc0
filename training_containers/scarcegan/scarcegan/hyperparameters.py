"""Training hyperparameters: parsed from the strings SageMaker sends, validated, variant-aware.

Variants switch ScarceGAN's ingredients off to measure what each is worth:
  * ``scarcegan``         everything on;
  * ``vanilla-ssgan``     Salimans-style semi-supervised GAN: no leeway (alpha = 1), no
                          false-flag penalty (beta = 0), feature matching without pull-away,
                          labelled batches drawn as the data comes (not class-balanced);
  * ``no-leeway``         alpha = 1, everything else on;
  * ``no-bad-generator``  the generator uses the standard non-saturating GAN loss.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import DataError
from .parameters import family_defaults

VARIANTS = ("scarcegan", "vanilla-ssgan", "no-leeway", "no-bad-generator")
CANDIDATE_KINDS = ("best-recall", "best-precision", "best-f1", "last")
SOURCE = "hyperparameters"
FAMILY = "scarcegan"


_DEFAULTS = family_defaults(FAMILY)  # parameters.json is the one source of names and defaults


@dataclass(frozen=True)
class Hyperparameters:
    iterations: int = _DEFAULTS["iterations"]
    batch_size: int = _DEFAULTS["batch_size"]
    unlabeled_batch_size: int = _DEFAULTS["unlabeled_batch_size"]
    learning_rate: float = _DEFAULTS["learning_rate"]
    generator_learning_rate: float = _DEFAULTS["generator_learning_rate"]
    adam_beta1: float = _DEFAULTS["adam_beta1"]
    alpha: float = _DEFAULTS["alpha"]
    beta: float = _DEFAULTS["beta"]
    pull_away_weight: float = _DEFAULTS["pull_away_weight"]
    latent_dim: int = _DEFAULTS["latent_dim"]
    generator_units: int = _DEFAULTS["generator_units"]
    trunk_units: str = _DEFAULTS["trunk_units"]
    leaky_slope: float = _DEFAULTS["leaky_slope"]
    balanced_batches: bool = _DEFAULTS["balanced_batches"]
    sample_interval: int = _DEFAULTS["sample_interval"]
    seed: int = _DEFAULTS["seed"]
    variant: str = _DEFAULTS["variant"]
    candidates: str = _DEFAULTS["candidates"]
    recall_floor: float = _DEFAULTS["recall_floor"]
    jit_compile: bool = _DEFAULTS["jit_compile"]

    # ---- derived settings, after the variant is applied ----
    @property
    def effective_alpha(self) -> float:
        return 1.0 if self.variant in ("vanilla-ssgan", "no-leeway") else self.alpha

    @property
    def effective_beta(self) -> float:
        return 0.0 if self.variant == "vanilla-ssgan" else self.beta

    @property
    def effective_pull_away_weight(self) -> float:
        return 0.0 if self.variant in ("vanilla-ssgan", "no-bad-generator") else self.pull_away_weight

    @property
    def generator_objective(self) -> str:
        return "standard" if self.variant == "no-bad-generator" else "feature-matching"

    @property
    def effective_balanced_batches(self) -> bool:
        return False if self.variant == "vanilla-ssgan" else self.balanced_batches

    @property
    def trunk(self) -> tuple[int, ...]:
        return tuple(int(u) for u in self.trunk_units.split(","))

    @property
    def candidate_kinds(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.candidates.split(",") if k.strip())

    def effective(self) -> dict:
        """What the run really used, for metadata."""
        return {"alpha": self.effective_alpha, "beta": self.effective_beta,
                "pull_away_weight": self.effective_pull_away_weight,
                "generator_objective": self.generator_objective,
                "balanced_batches": self.effective_balanced_batches}

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_values(cls, values: dict[str, object]) -> Hyperparameters:
        """From typed values keyed by field name (what `parse_family` returns), cross-checked."""
        hp = cls(**{f.name: values[f.name] for f in fields(cls) if values.get(f.name) is not None})
        hp.validate()
        return hp

    @classmethod
    def from_strings(cls, values: dict[str, str | None]) -> Hyperparameters:
        """Build from ``{"iterations": "3000", ...}`` (snake_case keys); None means default."""
        kwargs = {}
        for f in fields(cls):
            raw = values.get(f.name)
            if raw is None:
                continue
            kwargs[f.name] = _convert(f.name, f.type, raw)
        hp = cls(**kwargs)
        hp.validate()
        return hp

    def validate(self) -> None:
        def bad(name: str, rule: str) -> None:
            raise DataError(SOURCE, f"--{name.replace('_', '-')} {rule}, got {getattr(self, name)!r}")

        for name in ("iterations", "batch_size", "unlabeled_batch_size", "latent_dim",
                     "generator_units", "sample_interval"):
            if getattr(self, name) <= 0:
                bad(name, "must be > 0")
        if self.batch_size < 2:
            bad("batch_size", "must be >= 2")
        for name in ("learning_rate", "generator_learning_rate"):
            if not getattr(self, name) > 0:
                bad(name, "must be > 0")
        if not 0.0 < self.alpha <= 1.0:
            bad("alpha", "must be in (0, 1]")
        if not 0.0 <= self.adam_beta1 < 1.0:
            bad("adam_beta1", "must be in [0, 1)")
        for name in ("beta", "pull_away_weight", "leaky_slope"):
            if getattr(self, name) < 0:
                bad(name, "must be >= 0")
        if not 0.0 <= self.recall_floor <= 1.0:
            bad("recall_floor", "must be in [0, 1]")
        if self.variant not in VARIANTS:
            bad("variant", f"must be one of {', '.join(VARIANTS)}")
        unknown = [k for k in self.candidate_kinds if k not in CANDIDATE_KINDS]
        if unknown or not self.candidate_kinds:
            bad("candidates", f"must be a comma-separated subset of {','.join(CANDIDATE_KINDS)}")
        try:
            if not self.trunk or min(self.trunk) <= 0:
                raise ValueError
        except ValueError:
            bad("trunk_units", "must be comma-separated positive integers")


def config_file_arguments(config_dir: str | Path) -> list[str]:
    """/opt/ml/input/config/hyperparameters.json (every value a string) as ``--name=value`` arguments.

    Bring-your-own images get hyperparameters only from this file; script mode also passes them as
    arguments, which come after these and so take precedence. SageMaker's own ``sagemaker_*``
    entries (and the TensorFlow image's ``model_dir``, an S3 URI) are dropped; every other name is
    checked by the family's parser like an argument.
    """
    path = Path(config_dir) / "hyperparameters.json"
    if not path.is_file():
        return []
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(str(path), f"is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(str(path), "must hold one JSON object")
    return [f"--{str(k).replace('_', '-')}={str(v).strip().strip(chr(34))}" for k, v in raw.items()
            if not str(k).startswith(("sagemaker_", "sagemaker-")) and str(k) not in ("model_dir", "model-dir")]


def _convert(name: str, kind: type | str, raw: str) -> object:
    text = str(raw).strip().strip('"')
    kind = {"int": int, "float": float, "bool": bool, "str": str}.get(kind, kind)  # type: ignore[arg-type]
    flag = f"--{name.replace('_', '-')}"
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError
        if kind is int:
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind is float:
            return float(text)
        return text
    except ValueError:
        raise DataError(SOURCE, f"{flag} expects {kind.__name__}, got {text!r}") from None
