"""Synthetic longitudinal player telemetry with a planted, honestly hard rare class.

One row per player per week. What is planted (and why it is hard):

* ``dormant``, ``normal`` and ``heavy`` overlap in level: a busy normal player looks like a quiet
  heavy one, so the negative classes are not separable by any single column.
* ``risky`` (about 1% of players) starts like a normal or heavy player; from an onset week on
  it escalates: deposits and losses grow week over week, play moves to the night, weeks become
  more volatile. A quarter of them escalate only mildly. The signal is in the trajectory
  (trend, volatility, recent change), not in the level of one column.
* Decoys carry one symptom each without being risky: heavy players whose play grows steadily,
  night owls, normal players with one holiday spike, dormant players who come back late.
* Labels are weak: a few labelled heavy/normal players are really escalating (label noise).
* ``unlabeled`` mixes every kind of player, a hidden ~1% of risky ones, and behaviour no label
  covers (bonus hunters, scripted bots).

Harder, more realistic options (off by default, so the demo and its measured figures stay as they
are): ``heavy_tails`` (deposit sizes lognormal with Pareto whales, so money columns span orders of
magnitude), ``categoricals`` (per-player ``platform``, ``country``, ``payment_method``; risky players
only partly over-represented in some levels, and many rare countries) and ``shift`` (a population
shift for scoring/test batches: more money and activity, a different platform mix, a level never
seen in training). `featurised_batch()` is the kind of table a real user brings: one row per player,
categoricals, heavy tails, a few gaps, ~60 labelled positives among a few thousand rows.

The same seed always gives the same frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GROUPS = ("unlabeled", "risky", "dormant", "normal", "heavy")
TELEMETRY_COLUMNS = (
    "sessions",
    "minutes_played",
    "deposits",
    "deposit_amount",
    "bets",
    "net_loss",
    "night_share",
)

# Kinds of player the generator knows; groups are mixtures of kinds.
_KINDS = ("dormant", "normal", "heavy", "risky", "bonus_hunter", "bot")


CATEGORICAL_COLUMNS = ("platform", "country", "payment_method")
PLATFORMS = ("ios", "android", "web")
COUNTRIES = tuple(f"c{i:02d}" for i in range(40))  # a few big markets, a long tail of rare ones
PAYMENT_METHODS = ("card", "bank_transfer", "e_wallet", "prepaid", "crypto")
UNSEEN_PLATFORM = "console"  # appears only under shift


def _player_params(kind: np.ndarray, rng: np.random.Generator,
                   heavy_tails: bool = False) -> dict[str, np.ndarray]:
    """Per-player latent parameters, drawn by kind with deliberate overlap between kinds."""
    n = len(kind)
    is_ = {k: kind == k for k in _KINDS}
    base_sessions = np.select(
        [is_["dormant"], is_["normal"], is_["heavy"], is_["risky"], is_["bonus_hunter"], is_["bot"]],
        [
            rng.lognormal(np.log(1.0), 0.6, n),
            rng.lognormal(np.log(4.0), 0.5, n),
            rng.lognormal(np.log(9.0), 0.45, n),
            rng.lognormal(np.log(5.5), 0.55, n),  # between normal and heavy
            rng.lognormal(np.log(3.0), 0.4, n),
            rng.lognormal(np.log(40.0), 0.3, n),
        ],
    )
    minutes_per_session = np.where(is_["bot"], rng.lognormal(np.log(3.0), 0.3, n),
                                   rng.lognormal(np.log(22.0), 0.35, n))
    deposit_rate = np.select(
        [is_["dormant"], is_["heavy"], is_["bonus_hunter"], is_["bot"]],
        [base_sessions * 0.15, base_sessions * 0.3, base_sessions * 1.2, base_sessions * 0.02],
        default=base_sessions * 0.25,
    )
    deposit_size = np.select(
        [is_["heavy"], is_["bonus_hunter"], is_["bot"]],
        [rng.lognormal(np.log(60.0), 0.5, n), rng.lognormal(np.log(10.0), 0.3, n),
         rng.lognormal(np.log(20.0), 0.3, n)],
        default=rng.lognormal(np.log(30.0), 0.5, n),
    )
    if heavy_tails:  # wider sizes and a Pareto tail of whales in every kind, risky or not
        whale = rng.random(n) < 0.06
        deposit_size = (deposit_size * rng.lognormal(0.0, 0.8, n)
                        * np.where(whale, 1.0 + rng.pareto(1.2, n) * 5.0, 1.0))
    loss_ratio = np.select(
        [is_["bonus_hunter"], is_["bot"]],
        [rng.normal(-0.2, 0.1, n), rng.normal(0.05, 0.05, n)],
        default=rng.normal(0.35, 0.12, n),
    )
    night = np.select(
        [is_["bot"]],
        [rng.uniform(0.4, 0.55, n)],
        default=np.clip(rng.beta(2.0, 6.0, n), 0.0, 1.0),
    )
    noise = np.where(is_["bot"], 0.05, rng.uniform(0.2, 0.4, n))
    return {
        "base_sessions": base_sessions,
        "minutes_per_session": minutes_per_session,
        "deposit_rate": deposit_rate,
        "deposit_size": deposit_size,
        "loss_ratio": loss_ratio,
        "night": night,
        "noise": noise,
        "bets_per_minute": rng.lognormal(np.log(2.0), 0.3, n),
    }


def _simulate(kind: np.ndarray, weeks: int, rng: np.random.Generator,
              escalating: np.ndarray | None = None, heavy_tails: bool = False,
              shift: float = 0.0) -> dict[str, np.ndarray]:
    """Weekly telemetry [players, weeks] for players of the given kinds.

    ``escalating`` marks players who follow a risky trajectory whatever their kind (label noise);
    ``shift`` scales activity by (1 + shift/2) and money by (1 + shift).
    """
    n = len(kind)
    p = _player_params(kind, rng, heavy_tails)
    if shift:
        p["base_sessions"] = p["base_sessions"] * (1.0 + shift / 2)
        p["deposit_size"] = p["deposit_size"] * (1.0 + shift)
    t = np.arange(weeks, dtype=float)[None, :]
    risky = (kind == "risky") | (escalating if escalating is not None else False)

    # Risky trajectory: onset, then exponential growth of money, night shift and volatility.
    onset = rng.integers(weeks // 5, max(int(weeks * 0.6), weeks // 5 + 1), n)[:, None]
    mild = rng.random(n) < 0.25
    rate = np.where(mild, rng.uniform(0.035, 0.06, n), rng.uniform(0.06, 0.12, n))[:, None]
    after = np.clip(t - onset, 0.0, None)
    escalation = np.where(risky[:, None], np.exp(rate * after), 1.0)
    chase = np.where(risky[:, None], 1.0 + 0.6 * (escalation - 1.0), 1.0)  # deposits grow faster
    night_shift = np.where(risky[:, None],
                           np.minimum(after * rng.uniform(0.006, 0.02, n)[:, None], 0.35), 0.0)
    loss_drift = np.where(risky[:, None], np.minimum(after * 0.012, 0.3), 0.0)
    volatility = p["noise"][:, None] * np.where(risky[:, None], 1.0 + 0.04 * after, 1.0)

    # Decoys: steady growers among heavy players, holiday spikes, late comebacks of dormant ones.
    grower = (kind == "heavy") & (rng.random(n) < 0.15)
    growth = np.where(grower[:, None], np.exp(rng.uniform(0.02, 0.06, n)[:, None] * t), 1.0)
    spiker = (kind == "normal") & (rng.random(n) < 0.12)
    spike_week = rng.integers(0, weeks, n)[:, None]
    spike = np.where(spiker[:, None] & (t == spike_week), rng.uniform(3.0, 6.0, n)[:, None], 1.0)
    comeback = (kind == "dormant") & (rng.random(n) < 0.1)
    back_week = rng.integers(weeks // 2, max(weeks - 2, weeks // 2 + 1), n)[:, None]
    back = np.where(comeback[:, None] & (t >= back_week), rng.uniform(3.0, 6.0, n)[:, None], 1.0)
    owl = (kind == "normal") & (rng.random(n) < 0.1)
    night_base = np.where(owl, rng.uniform(0.35, 0.65, n), p["night"])[:, None]

    def jitter(scale: np.ndarray) -> np.ndarray:
        return rng.lognormal(0.0, 1.0, (n, weeks)) ** scale

    activity = p["base_sessions"][:, None] * growth * spike * back * escalation ** 0.5
    sessions = rng.poisson(activity * jitter(volatility))
    minutes = sessions * p["minutes_per_session"][:, None] * jitter(0.15)
    bets = np.rint(minutes * p["bets_per_minute"][:, None] * jitter(0.1))
    deposits = rng.poisson(p["deposit_rate"][:, None] * growth * spike * back * chase
                           * jitter(volatility))
    deposit_amount = deposits * p["deposit_size"][:, None] * escalation ** 0.5 * jitter(volatility)
    loss_ratio = p["loss_ratio"][:, None] + loss_drift + rng.normal(0.0, 0.15, (n, weeks))
    net_loss = deposit_amount * loss_ratio
    night_share = np.clip(night_base + night_shift + rng.normal(0.0, 0.06, (n, weeks)), 0.0, 1.0)
    night_share = np.where(sessions > 0, night_share, 0.0)
    return {
        "sessions": sessions.astype(np.int64),
        "minutes_played": np.round(minutes, 1),
        "deposits": deposits.astype(np.int64),
        "deposit_amount": np.round(deposit_amount, 2),
        "bets": bets.astype(np.int64),
        "net_loss": np.round(net_loss, 2),
        "night_share": np.round(night_share, 3),
    }


def _frame(ids: np.ndarray, kinds: np.ndarray, weeks: int, rng: np.random.Generator,
           escalating: np.ndarray | None = None, heavy_tails: bool = False,
           shift: float = 0.0) -> pd.DataFrame:
    n = len(kinds)
    series = _simulate(kinds, weeks, rng, escalating, heavy_tails, shift)
    frame = pd.DataFrame({
        "player_id": np.repeat([f"p{i:07d}" for i in ids], weeks),
        "week": np.tile(np.arange(1, weeks + 1), n),
    })
    for column in TELEMETRY_COLUMNS:
        frame[column] = series[column].reshape(-1)
    return frame


def generate(seed: int = 0, n_unlabeled: int = 3000, n_risky: int = 60, n_dormant: int = 1200,
             n_normal: int = 2000, n_heavy: int = 800, weeks: int = 26,
             hidden_risky_share: float = 0.01, uncovered_share: float = 0.06,
             label_noise: float = 0.01, heavy_tails: bool = False, categoricals: bool = False,
             shift: float = 0.0) -> dict[str, pd.DataFrame]:
    """Five groups of weekly telemetry (``player_id``, ``week``, telemetry columns).

    ``hidden_risky_share`` of unlabeled players are risky, ``uncovered_share`` behave in a way
    no label covers; ``label_noise`` of labelled heavy/normal players really escalate.
    ``heavy_tails``, ``categoricals`` (adds CATEGORICAL_COLUMNS, constant per player) and ``shift``
    make it harder (module docstring); off, the frames are exactly those of earlier versions.
    """
    groups, _ = generate_with_truth(seed, n_unlabeled, n_risky, n_dormant, n_normal, n_heavy,
                                    weeks, hidden_risky_share, uncovered_share, label_noise,
                                    heavy_tails, categoricals, shift)
    return groups


def generate_with_truth(seed: int = 0, n_unlabeled: int = 3000, n_risky: int = 60,
                        n_dormant: int = 1200, n_normal: int = 2000, n_heavy: int = 800,
                        weeks: int = 26, hidden_risky_share: float = 0.01,
                        uncovered_share: float = 0.06, label_noise: float = 0.01,
                        heavy_tails: bool = False, categoricals: bool = False, shift: float = 0.0,
                        ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Like ``generate``, plus the hidden truth: ``player_id``, ``group``, ``kind``, ``escalating``."""
    if min(n_unlabeled, n_risky, n_dormant, n_normal, n_heavy) < 0 or weeks < 2:
        raise ValueError("sizes must be >= 0 and weeks >= 2")
    if shift < 0:
        raise ValueError("shift must be >= 0")
    rng = np.random.default_rng(seed)
    # Player ids are drawn without replacement over all groups: an id says nothing of its group.
    ids = iter(np.array_split(
        rng.permutation(10 * (n_unlabeled + n_risky + n_dormant + n_normal + n_heavy) + 10)[
            : n_risky + n_dormant + n_normal + n_heavy + n_unlabeled],
        np.cumsum([n_risky, n_dormant, n_normal, n_heavy])))
    groups: dict[str, pd.DataFrame] = {}
    truth = []
    for name, size in (("risky", n_risky), ("dormant", n_dormant), ("normal", n_normal),
                       ("heavy", n_heavy)):
        kinds = np.full(size, name)
        noisy = np.zeros(size, dtype=bool)
        if name in ("normal", "heavy"):
            noisy = rng.random(size) < label_noise
        groups[name] = _frame(next(ids), kinds, weeks, rng, noisy, heavy_tails, shift)
        truth.append(_truth(name, groups[name], weeks, kinds, noisy | (kinds == "risky")))
    mix = {"risky": hidden_risky_share, "bonus_hunter": uncovered_share / 2,
           "bot": uncovered_share / 2}
    rest = 1.0 - sum(mix.values())
    mix.update({"dormant": rest * 0.3, "normal": rest * 0.5, "heavy": rest * 0.2})
    kinds = rng.choice(list(mix), size=n_unlabeled, p=np.array(list(mix.values())))
    groups["unlabeled"] = _frame(next(ids), kinds, weeks, rng, None, heavy_tails, shift)
    truth.append(_truth("unlabeled", groups["unlabeled"], weeks, kinds, kinds == "risky"))
    truth_table = pd.concat(truth, ignore_index=True)
    if categoricals:  # own random stream: the telemetry stays that of the same seed without them
        attributes = _categoricals(truth_table, np.random.default_rng([seed, 17]), shift)
        for name, frame in groups.items():
            groups[name] = frame.merge(attributes, on="player_id", how="left", sort=False)
    return {name: groups[name] for name in GROUPS}, truth_table


def _categoricals(truth: pd.DataFrame, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    """Per-player platform, country, payment method. Risky (escalating) players lean to some levels
    (crypto and e-wallets, mobile) without owning them: most players of those levels are not risky,
    and most risky players look like anyone else."""
    n = len(truth)
    risky = truth["escalating"].to_numpy(dtype=bool)
    bot = (truth["kind"] == "bot").to_numpy()
    platform_p = np.array([0.4, 0.4, 0.2])
    platform = rng.choice(PLATFORMS, n, p=platform_p)
    lean = risky & (rng.random(n) < 0.3)
    platform = np.where(lean, rng.choice(PLATFORMS[:2], n), platform)
    platform = np.where(bot & (rng.random(n) < 0.7), "web", platform)
    if shift:
        moved = rng.random(n) < min(0.5, 0.2 * shift)
        platform = np.where(moved, rng.choice(["web", UNSEEN_PLATFORM], n), platform)
    weights = 1.0 / np.arange(1, len(COUNTRIES) + 1) ** 1.3  # Zipf: rare countries are many
    country = rng.choice(COUNTRIES, n, p=weights / weights.sum())
    pay_normal = np.array([0.55, 0.2, 0.15, 0.07, 0.03])
    pay_risky = np.array([0.35, 0.1, 0.3, 0.1, 0.15])
    payment = np.where(risky, rng.choice(PAYMENT_METHODS, n, p=pay_risky),
                       rng.choice(PAYMENT_METHODS, n, p=pay_normal))
    return pd.DataFrame({"player_id": truth["player_id"].to_numpy(), "platform": platform,
                         "country": country, "payment_method": payment})


def _truth(group: str, frame: pd.DataFrame, weeks: int, kinds: np.ndarray,
           escalating: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"player_id": frame["player_id"].to_numpy()[::weeks], "group": group,
                         "kind": kinds, "escalating": escalating})


def featurised(groups: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, pd.DataFrame]:
    """One row per player: summary numbers plus categorical columns, for ``--input-format features``.

    Groups generated with ``categoricals=True`` keep their own (partly risk-related) categoricals;
    otherwise ``platform`` and ``region`` are drawn carrying no label signal. The numeric columns are
    coarse whole-period summaries (money as raw totals: heavy-tailed where the deposits are), so the
    trajectory signal is only partly kept.
    """
    rng = np.random.default_rng(seed + 1)
    out: dict[str, pd.DataFrame] = {}
    for name, frame in groups.items():
        weeks = frame["week"].max()
        late = frame[frame["week"] > weeks - 4].groupby("player_id", sort=False)
        whole = frame.groupby("player_id", sort=False)
        table = pd.DataFrame({
            "player_id": whole.size().index,
            "avg_sessions": whole["sessions"].mean().to_numpy(),
            "total_deposit_amount": whole["deposit_amount"].sum().to_numpy(),
            "total_net_loss": whole["net_loss"].sum().to_numpy(),
            "avg_night_share": whole["night_share"].mean().to_numpy(),
            "recent_deposits": late["deposits"].sum().reindex(whole.size().index).to_numpy(),
            "weeks_active": (frame["sessions"] > 0).groupby(frame["player_id"], sort=False).sum().to_numpy(),
        })
        n = len(table)
        present = [c for c in CATEGORICAL_COLUMNS if c in frame.columns]
        if present:
            table["max_deposit_amount"] = whole["deposit_amount"].max().to_numpy()
            table["recent_deposit_amount"] = (late["deposit_amount"].sum()
                                              .reindex(whole.size().index).fillna(0.0).to_numpy())
            # the engineered "growth" columns real exports carry: noisy ratios
            early = frame[frame["week"] <= weeks - 4].groupby("player_id", sort=False)
            early_mean = early["deposit_amount"].mean().reindex(whole.size().index).fillna(0.0).to_numpy()
            table["deposit_growth"] = np.round(table["recent_deposit_amount"].to_numpy() / 4 / (early_mean + 10.0), 4)
            table["recent_night_share"] = (late["night_share"].mean().reindex(whole.size().index)
                                           .fillna(0.0).to_numpy())
            for column in present:
                table[column] = whole[column].first().to_numpy()
        else:
            table["platform"] = rng.choice(["ios", "android", "web"], n, p=[0.4, 0.4, 0.2])
            table["region"] = rng.choice(["north", "south", "east", "west"], n)
        out[name] = table
    return out


def featurised_batch(seed: int = 0, shift: float = 0.0, missing_share: float = 0.03,
                     n_unlabeled: int = 3000, n_risky: int = 60, n_dormant: int = 1200,
                     n_normal: int = 2000, n_heavy: int = 800, weeks: int = 26,
                     with_truth: bool = False):
    """The realistic featurised landing: one row per player, heavy-tailed money, categoricals that
    are only partly informative, ``missing_share`` of ``avg_night_share`` unknown, ~60 labelled
    positives among ~4,000 labelled rows. ``shift`` > 0 gives a shifted population (scoring or an
    out-of-distribution test). Returns groups (and the truth table with ``with_truth``)."""
    groups, truth = generate_with_truth(seed, n_unlabeled, n_risky, n_dormant, n_normal, n_heavy,
                                        weeks, heavy_tails=True, categoricals=True, shift=shift)
    tables = featurised(groups, seed)
    rng = np.random.default_rng([seed, 29])
    for table in tables.values():
        gaps = rng.random(len(table)) < missing_share
        table.loc[gaps, "avg_night_share"] = np.nan
    return (tables, truth) if with_truth else tables


PLAYERS_PER_PART = 1000  # default part size: the demo's 3,000 unlabeled players land in 3 files


def write_batch(groups: dict[str, pd.DataFrame], out_dir: str | Path, fmt: str = "csv",
                parts: int | None = None) -> list[Path]:
    """Write ``<out_dir>/<group>/part-0000i.<fmt>`` (Spark style; CSV or Parquet) and return the paths.

    Player-partitioned: a player's rows stay in one file, so a preprocess with N instances and
    ``ShardedByS3Key`` gives each instance whole players (docs/decisions/0400). ``parts`` files per
    group; None: one per PLAYERS_PER_PART players (at least one)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unsupported format {fmt!r}")
    if parts is not None and parts < 1:
        raise ValueError("parts must be >= 1")
    written = []
    for name, frame in groups.items():
        folder = Path(out_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        ids = frame["player_id"] if "player_id" in frame.columns else frame.iloc[:, 0]  # a renamed id column: first
        n_parts = parts or max(1, -(-ids.nunique() // PLAYERS_PER_PART))
        codes = pd.factorize(ids)[0] % n_parts if n_parts > 1 else np.zeros(len(frame), int)
        for part in range(n_parts):
            path = folder / f"part-{part:05d}.{fmt}"
            chunk = frame[codes == part]
            if fmt == "csv":
                chunk.to_csv(path, index=False)
            else:
                chunk.to_parquet(path, index=False)
            written.append(path)
    return written


def scoring_batch(seed: int = 1, players: int = 1500, drift: float = 0.0, weeks: int = 26) -> pd.DataFrame:
    """Weekly telemetry of players being scored (no labels), for the drift check. ``drift`` scales the
    activity and money columns by (1 + drift): 0 is the training population, 2 a strong shift."""
    frame = generate(seed=seed, n_unlabeled=players, n_risky=1, n_dormant=1, n_normal=1, n_heavy=1, weeks=weeks)["unlabeled"].copy()
    if drift:
        for column in ("sessions", "minutes_played", "deposits", "deposit_amount", "bets", "net_loss"):
            if column in frame.columns:
                frame[column] = frame[column] * (1 + drift)
    return frame
