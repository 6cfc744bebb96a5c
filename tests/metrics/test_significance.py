"""The paired bootstrap interval against scipy.stats.bootstrap, and its plumbing into summary.csv."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from srbench.interfaces import ResultRow
from srbench.metrics.significance import N_RESAMPLES, paired_bootstrap, significant, spread
from srbench.rundir import load_run_dir, summarise, write_summary


def _pairs(n: int, gain: float, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.normal(27.0, 3.0, n)  # per-image PSNR of a reference: images differ a lot
    return ref + gain + rng.normal(0.0, noise, n), ref


def _scipy_interval(a: np.ndarray, b: np.ndarray, seed: int) -> tuple[float, float]:
    from scipy import stats

    res = stats.bootstrap((a, b), lambda x, y, axis=-1: np.mean(x - y, axis=axis), paired=True, vectorized=True,
                          method="percentile", n_resamples=N_RESAMPLES, confidence_level=0.95,
                          rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@pytest.mark.parametrize(("n", "gain", "noise"), [(100, 0.05, 0.3), (14, 0.3, 0.5), (5, 0.03, 0.05), (100, 0.0, 1.0)])
def test_interval_agrees_with_scipy_bootstrap(n: int, gain: float, noise: float) -> None:
    a, b = _pairs(n, gain, noise, seed=n)
    delta, lo, hi = paired_bootstrap(a, b)
    assert delta == pytest.approx(np.mean(a - b), abs=1e-12)
    # an independent draw (another seed): agreement up to Monte Carlo error, within 0.01 dB
    s_lo, s_hi = _scipy_interval(a, b, seed=12345)
    assert lo == pytest.approx(s_lo, abs=0.01) and hi == pytest.approx(s_hi, abs=0.01)
    assert lo <= delta <= hi


def test_same_draw_as_scipy_gives_the_same_interval() -> None:
    a, b = _pairs(100, 0.1, 0.4, seed=3)
    _, lo, hi = paired_bootstrap(a, b, seed=7)
    s_lo, s_hi = _scipy_interval(a, b, seed=7)
    assert (lo, hi) == pytest.approx((s_lo, s_hi), abs=1e-12)


def test_interval_is_seeded_and_shrinks_with_noise() -> None:
    a, b = _pairs(50, 0.2, 0.5, seed=1)
    assert paired_bootstrap(a, b) == paired_bootstrap(a, b)
    _, lo, hi = paired_bootstrap(a, b)
    a2, b2 = _pairs(50, 0.2, 0.05, seed=1)
    _, lo2, hi2 = paired_bootstrap(a2, b2)
    assert hi2 - lo2 < (hi - lo) / 5
    assert significant(lo2, hi2) is True


def test_pairing_matters() -> None:
    """A 0.05 dB gain on images whose PSNR spread is 3 dB: significant paired, not unpaired."""
    a, b = _pairs(100, 0.05, 0.02, seed=2)
    _, lo, hi = paired_bootstrap(a, b)
    assert significant(lo, hi) is True
    _, lo_u, hi_u = paired_bootstrap(a, np.random.default_rng(0).permutation(b))
    assert significant(lo_u, hi_u) is False


def test_undefined_cases() -> None:
    assert all(math.isnan(x) for x in paired_bootstrap([], []))
    delta, lo, hi = paired_bootstrap([30.0], [29.0])
    assert delta == 1.0 and math.isnan(lo) and math.isnan(hi)
    delta, lo, hi = paired_bootstrap([math.inf, 30.0], [29.0, 29.0])
    assert delta == math.inf and math.isnan(lo)
    assert paired_bootstrap([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]) == (1.0, 1.0, 1.0)
    assert significant(math.nan, 1.0) is None and significant(-0.1, 0.2) is False and significant(-0.3, -0.1)
    with pytest.raises(ValueError, match="pair up"):
        paired_bootstrap([1.0, 2.0], [1.0])
    assert spread([1.0]) != spread([1.0]) and spread([1.0, 3.0]) == pytest.approx(math.sqrt(2))
    assert math.isnan(spread([1.0, math.inf]))


def _rows(models: dict[str, np.ndarray], dataset: str = "d", metric: str = "psnr") -> list[ResultRow]:
    return [ResultRow(m, dataset, 4, f"img{i}", metric, float(v)) for m, vals in models.items()
            for i, v in enumerate(vals)]


def test_summary_has_std_and_the_interval_to_bicubic(tmp_path: Path) -> None:
    a, b = _pairs(20, 0.5, 0.2, seed=4)
    rows = _rows({"bicubic": b, "srresnet": a})
    s = {r.model: r for r in summarise(rows)}
    assert s["bicubic"].reference is None and math.isnan(s["bicubic"].delta)
    assert s["srresnet"].reference == "bicubic"
    assert s["srresnet"].std == pytest.approx(np.std(a, ddof=1))
    ids = sorted(range(20), key=lambda i: f"img{i}")  # pairs in image-id order
    got = (s["srresnet"].delta, s["srresnet"].ci_low, s["srresnet"].ci_high)
    assert got == pytest.approx(paired_bootstrap(a[ids], b[ids]))
    # pairs by image id, whatever the order of the rows
    shuffled = _rows({"bicubic": b}) + list(reversed(_rows({"srresnet": a})))
    assert {r.model: r for r in summarise(shuffled)}["srresnet"].ci_low == s["srresnet"].ci_low
    # another reference, or none
    to_srresnet = {r.model: r for r in summarise(rows, reference="srresnet")}
    assert to_srresnet["bicubic"].delta == pytest.approx(-np.mean(a - b))
    assert all(r.reference is None and math.isnan(r.ci_low) for r in summarise(rows, reference=None))
    assert all(r.reference is None for r in summarise(_rows({"srresnet": a, "srgan": b})))  # no bicubic


def test_summary_csv_round_trips_and_schema_1_stays_readable(tmp_path: Path) -> None:
    from tests.report.fakerun import write_run

    a, b = _pairs(8, 0.5, 0.2, seed=5)
    rows = _rows({"bicubic": b, "srresnet": a})
    run_dir = write_run(tmp_path / "r", [(r.model, r.dataset, r.scale, r.image, r.metric, r.value) for r in rows],
                        write_summary=False)
    write_summary(run_dir / "summary.csv", summarise(rows))
    header = (run_dir / "summary.csv").read_text().splitlines()[0]
    assert header == "model,dataset,scale,metric,value,n_images,std,reference,delta,ci_low,ci_high"
    got = load_run_dir(run_dir).summary.set_index("model")
    want = {r.model: r for r in summarise(rows)}["srresnet"]
    assert got.loc["srresnet", "ci_low"] == want.ci_low and got.loc["srresnet", "reference"] == "bicubic"
    assert got.loc["bicubic", "reference"] == "" and math.isnan(got.loc["bicubic", "delta"])
    # schema 1: the six columns only
    means = summarise(rows)  # (summary.csv must be the mean of results.csv: the readers check it)
    (run_dir / "summary.csv").write_text("model,dataset,scale,metric,value,n_images\n" + "".join(
        f"{r.model},{r.dataset},{r.scale},{r.metric},{r.value!r},{r.n_images}\n" for r in means))
    old = load_run_dir(run_dir).summary
    assert old.loc[0, "value"] == means[0].value and math.isnan(old.loc[0, "ci_low"]) and old.loc[0, "reference"] == ""
