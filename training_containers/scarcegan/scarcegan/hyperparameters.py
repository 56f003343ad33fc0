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
from dataclasses import dataclass, fields

from .errors import DataError

VARIANTS = ("scarcegan", "vanilla-ssgan", "no-leeway", "no-bad-generator")
CANDIDATE_KINDS = ("best-recall", "best-precision", "best-f1", "last")
SOURCE = "hyperparameters"


@dataclass(frozen=True)
class Hyperparameters:
    iterations: int = 6000
    batch_size: int = 32
    unlabeled_batch_size: int = 64
    learning_rate: float = 0.002
    generator_learning_rate: float = 0.002
    adam_beta1: float = 0.5
    alpha: float = 0.7
    beta: float = 0.1
    pull_away_weight: float = 1.0
    latent_dim: int = 10
    generator_units: int = 30
    trunk_units: str = "15,21,8"
    leaky_slope: float = 0.2
    balanced_batches: bool = True
    sample_interval: int = 100
    seed: int = 0
    variant: str = "scarcegan"
    candidates: str = ",".join(CANDIDATE_KINDS)
    recall_floor: float = 0.8
    jit_compile: bool = False

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
