"""Feature extraction from weekly series."""

import numpy as np
import pandas as pd
import pytest
from scarcegan.features import STATISTICS, extract_features, feature_names, series_statistics


def _stats(series):
    cube = np.asarray(series, float)[None, :, None]
    return dict(zip(STATISTICS, series_statistics(cube, recent_weeks=2)[0, 0], strict=True))


def test_linear_series_has_its_slope_and_no_volatility():
    s = _stats([1, 3, 5, 7, 9, 11])
    assert s["mean"] == pytest.approx(6.0)
    assert s["slope"] == pytest.approx(2.0)
    assert s["volatility"] == pytest.approx(0.0)
    assert s["recent_change"] == pytest.approx((9 + 11) / 2 - (1 + 3 + 5 + 7) / 4)
    assert s["max"] == pytest.approx(11.0)


def test_alternating_series_is_volatile_without_trend():
    s = _stats([0, 2, 0, 2, 0, 2])
    # sum((t - 2.5) * (y - 1)) = 3, sum((t - 2.5)^2) = 17.5: a small slope from the last high week
    assert s["slope"] == pytest.approx(3 / 17.5, rel=1e-6)
    assert s["volatility"] == pytest.approx(np.std([2, -2, 2, -2, 2]))  # std of week-over-week diffs


def test_missing_weeks_are_ignored_not_zeroed():
    s = _stats([2, np.nan, 6, 8])
    assert s["mean"] == pytest.approx(16 / 3)
    assert s["slope"] == pytest.approx(2.0)
    assert s["max"] == pytest.approx(8.0)


def test_extract_features_one_row_per_player_named_columns():
    frame = pd.DataFrame({
        "player_id": ["a"] * 4 + ["b"] * 4,
        "week": [1, 2, 3, 4] * 2,
        "x": [0, 0, 0, 0, 1, 2, 3, 4],
        "night_share": [0.1, 0.2, 0.3, 0.4, 0.0, 0.0, 0.0, 0.0],
    })
    out = extract_features(frame.sample(frac=1, random_state=0), columns=("x", "night_share"),
                           recent_weeks=1)
    assert list(out.columns) == feature_names(("x", "night_share"))
    assert out.loc["a", "x__slope"] == pytest.approx(0.0)
    assert out.loc["b", "x__slope"] > 0  # increasing on the log scale too
    assert out.loc["b", "x__max"] == pytest.approx(np.log1p(4))  # counts on a log scale
    assert out.loc["a", "night_share__slope"] == pytest.approx(0.1)  # shares are kept as is
