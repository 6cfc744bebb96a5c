"""srbench check --paired (significance of a regression) and --format github (workflow annotations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from srbench.check import PASS, REGRESSION, BaselineError, check, save_baseline
from srbench.cli import cli
from srbench.metrics.significance import paired_bootstrap
from tests.report.fakerun import write_run

N = 20


def _run(root: Path, shift: float, noise: float, seed: int, ssim_shift: float = 0.0) -> Path:
    """bicubic + srresnet on 20 images; srresnet's PSNR moved by ``shift`` dB with per-image ``noise``."""
    base = np.random.default_rng(0).normal(27.0, 3.0, N)
    jitter = np.random.default_rng(seed).normal(0.0, noise, N) if noise else np.zeros(N)
    rows = []
    for i in range(N):
        rows += [("bicubic", "b100", 4, f"im{i:02d}", "psnr", base[i]),
                 ("bicubic", "b100", 4, f"im{i:02d}", "ssim", 0.7),
                 ("srresnet", "b100", 4, f"im{i:02d}", "psnr", base[i] + 1.0 + shift + jitter[i]),
                 ("srresnet", "b100", 4, f"im{i:02d}", "ssim", 0.8 + ssim_shift)]
    return write_run(root, rows)


@pytest.fixture()
def baseline(tmp_path: Path) -> Path:
    return save_baseline(_run(tmp_path / "base", 0.0, 0.0, 0), tmp_path / "base.json")


def _row(result, model: str, metric: str):
    return next(r for r in result.rows if (r.model, r.metric) == (model, metric))


def test_baseline_stores_per_image_values(baseline: Path) -> None:
    doc = json.loads(baseline.read_text())
    entry = next(e for e in doc["per_image"] if (e["model"], e["metric"]) == ("srresnet", "psnr"))
    assert entry["dataset"] == "b100" and entry["scale"] == 4 and len(entry["values"]) == N


def test_noisy_small_drop_is_not_significant(baseline: Path, tmp_path: Path) -> None:
    """-0.08 dB on average, but +-1 dB per image: a tolerance regression, not a significant one."""
    run = _run(tmp_path / "noisy", -0.08, 1.0, seed=3)
    plain = check(run, baseline)
    assert plain.status == REGRESSION and _row(plain, "srresnet", "psnr").status == "regression"
    paired = check(run, baseline, paired=True)
    r = _row(paired, "srresnet", "psnr")
    assert r.ci_low < 0 < r.ci_high, r
    assert paired.status == PASS and r.status == "not-significant"
    # the interval is the paired bootstrap of current - baseline over the same images
    cur = np.array([v for (m, *_rest, k, v) in _values(run) if (m, k) == ("srresnet", "psnr")])
    base = np.array([v for (m, *_rest, k, v) in _values(tmp_path / "base") if (m, k) == ("srresnet", "psnr")])
    assert (r.ci_low, r.ci_high) == pytest.approx(paired_bootstrap(cur, base)[1:])
    assert "not significant" in paired.to_markdown() and "95% CI" in paired.to_text()


def _values(run_dir: Path) -> list[tuple]:
    import csv

    with open(run_dir / "results.csv", newline="") as f:
        return [(r["model"], r["dataset"], r["scale"], r["image"], r["metric"], float(r["value"]))
                for r in csv.DictReader(f)]


def test_consistent_drop_is_a_significant_regression(baseline: Path, tmp_path: Path) -> None:
    run = _run(tmp_path / "worse", -0.2, 0.05, seed=4, ssim_shift=-0.01)
    res = check(run, baseline, paired=True)
    assert res.status == REGRESSION
    r = _row(res, "srresnet", "psnr")
    assert r.status == "regression" and r.ci_high < 0
    # a constant shift: zero-width interval away from 0 (SSIM)
    s = _row(res, "srresnet", "ssim")
    assert s.status == "regression" and s.ci_low == s.ci_high == pytest.approx(-0.01)
    # regressions listed first
    assert [x.status for x in res.rows][:2] == ["regression", "regression"]


def test_within_tolerance_stays_ok_with_an_interval(baseline: Path, tmp_path: Path) -> None:
    res = check(_run(tmp_path / "same", 0.0, 0.0, 0), baseline, paired=True)
    assert res.status == PASS and {r.status for r in res.rows} == {"ok"}
    assert _row(res, "srresnet", "psnr").ci_low == 0.0


def test_paired_needs_per_image_values_in_the_baseline(baseline: Path, tmp_path: Path) -> None:
    doc = json.loads(baseline.read_text())
    del doc["per_image"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    run = _run(tmp_path / "r", 0.0, 0.0, 0)
    assert check(run, old).status == PASS  # unpaired: fine
    with pytest.raises(BaselineError, match="no per-image values.*baseline save"):
        check(run, old, paired=True)
    result = CliRunner().invoke(cli, ["check", str(run), "-b", str(old), "--paired"])
    assert result.exit_code != 0 and "no per-image values" in result.output


def test_github_format_annotations_and_step_summary(baseline: Path, tmp_path: Path) -> None:
    run = _run(tmp_path / "worse", -0.2, 0.05, seed=4)
    summary = tmp_path / "step_summary.md"
    result = CliRunner().invoke(cli, ["check", str(run), "-b", str(baseline), "--format", "github"],
                                env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == REGRESSION, result.output
    lines = result.output.splitlines()
    errors = [x for x in lines if x.startswith("::error file=")]
    assert len(errors) == 1 and "srbench regression%3A srresnet b100 x4 psnr" in errors[0]
    assert "::psnr of srresnet on b100 x4: current" in errors[0]
    assert lines[0].startswith("::error file=")  # regressions first
    assert any(x.startswith("::error::srbench check: REGRESSION") for x in lines)
    text = summary.read_text()
    assert "REGRESSION (exit 1)" in text and "**Not passing:**" in text
    # the text table follows, regression first
    table = lines[lines.index(next(x for x in lines if x.startswith("model "))) + 2]
    assert table.startswith("srresnet") and "regression" in table


def test_github_escapes_and_warnings(baseline: Path, tmp_path: Path) -> None:
    run = _run(tmp_path / "noisy", -0.08, 1.0, seed=3)
    res = check(run, baseline, paired=True)
    gh = res.to_github(file="baselines/a,b:c.json")
    assert "file=baselines/a%2Cb%3Ac.json" in gh
    assert any(x.startswith("::warning file=") and "not-significant" in x for x in gh.splitlines())
    assert gh.splitlines()[-1].startswith("::notice::srbench check: PASS")
    assert "100%25" in _gh("100%")


def _gh(text: str) -> str:
    from srbench.check import _gh_data

    return _gh_data(text)
