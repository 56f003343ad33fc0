"""Which checkpoints become candidate models: the business rule, in one place.

Validation metrics are measured for the risky class at every sample interval; each kind keeps
the checkpoint that is best by its rule:

  * ``best-recall``:    highest validation risky recall (ties: higher precision, then earlier);
  * ``best-precision``: highest precision among checkpoints whose recall >= ``recall_floor``
                        (ties: higher recall); if none reaches the floor, the best-recall one;
  * ``best-f1``:        highest F1 (ties: higher recall, then earlier);
  * ``last``:           the final iteration.

Kinds that pick the same iteration are the same model: `distinct` keeps one candidate per
iteration (the first kind in ``--candidates`` order) and records the other kinds as its aliases,
so a run never registers one checkpoint under several names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RULES = {
    "best-recall": "highest validation risky recall; ties by precision, then earlier iteration",
    "best-precision": "highest validation risky precision with recall >= recall_floor; "
                      "fallback to best-recall when no checkpoint reaches the floor",
    "best-f1": "highest validation risky F1; ties by recall, then earlier iteration",
    "last": "the final iteration",
}


@dataclass
class Candidate:
    kind: str
    iteration: int
    metrics: dict
    weights: list = field(repr=False)
    floor_met: bool = True


class CandidateTracker:
    """Keeps the best checkpoint per kind while training runs."""

    def __init__(self, kinds: tuple[str, ...], recall_floor: float):
        self.kinds = kinds
        self.recall_floor = recall_floor
        self.best: dict[str, Candidate] = {}

    @staticmethod
    def _key(kind: str, m: dict) -> tuple:
        if kind == "best-recall":
            return (m["recall"], m["precision"])
        if kind == "best-f1":
            return (m["f1"], m["recall"])
        return (m["precision"], m["recall"])

    def update(self, iteration: int, metrics: dict, weights_fn) -> None:
        """``weights_fn`` is called only when some kind takes this checkpoint."""
        weights = None

        def take(kind: str, floor_met: bool = True) -> None:
            nonlocal weights
            if weights is None:
                weights = weights_fn()
            self.best[kind] = Candidate(kind, iteration, dict(metrics), weights, floor_met)

        for kind in self.kinds:
            current = self.best.get(kind)
            if kind == "last":
                continue
            if kind == "best-precision":
                meets = metrics["recall"] >= self.recall_floor
                if current is None or (meets and not current.floor_met):
                    take(kind, meets)
                elif meets == current.floor_met:
                    key = self._key(kind, metrics) if meets else self._key("best-recall", metrics)
                    old = (self._key(kind, current.metrics) if meets
                           else self._key("best-recall", current.metrics))
                    if key > old:
                        take(kind, meets)
                continue
            if current is None or self._key(kind, metrics) > self._key(kind, current.metrics):
                take(kind)

    def finish(self, iteration: int, metrics: dict, weights: list) -> dict[str, Candidate]:
        if "last" in self.kinds:
            self.best["last"] = Candidate("last", iteration, dict(metrics), weights)
        return {k: self.best[k] for k in self.kinds if k in self.best}


def distinct(chosen: dict[str, Candidate]) -> dict[str, tuple[Candidate, list[str]]]:
    """``{kind: (candidate, aliases)}``: one entry per distinct iteration, in ``chosen``'s order."""
    kept: dict[int, str] = {}
    out: dict[str, tuple[Candidate, list[str]]] = {}
    for kind, candidate in chosen.items():
        if candidate.iteration in kept:
            out[kept[candidate.iteration]][1].append(kind)
            continue
        kept[candidate.iteration] = kind
        out[kind] = (candidate, [])
    return out
