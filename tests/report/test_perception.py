"""NIQE in the report (perception-distortion plane), the paper tables and the regression check."""

from __future__ import annotations

from pathlib import Path

import pytest

from srbench.check import PASS, REGRESSION, check, save_baseline
from srbench.report import plots
from srbench.report.html import write_report
from srbench.report.tables import render_table
from tests.report.fakerun import write_run

REASON = "LPIPS unavailable: the alex ImageNet backbone weights are not in the torch hub cache"


def _rows(with_lpips: bool) -> list[tuple[str, str, int, str, str, float]]:
    rows = []
    for model, psnr, niqe, lpips in (("bicubic", 28.4, 7.5, 0.41), ("srgan", 26.1, 3.2, 0.12),
                                     ("srresnet", 29.1, 6.1, 0.33)):
        rows += [(model, "set5", 4, "im", "psnr", psnr), (model, "set5", 4, "im", "niqe", niqe)]
        if with_lpips:
            rows.append((model, "set5", 4, "im", "lpips", lpips))
    return rows


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list, str]]:
    calls: list[tuple[list, str]] = []
    real = plots.perception_distortion_plot

    def spy(points, title, perceptual="LPIPS"):  # noqa: ANN001, ANN202
        calls.append((list(points), perceptual))
        return real(points, title, perceptual)

    monkeypatch.setattr(plots, "perception_distortion_plot", spy)
    return calls


def test_plane_uses_niqe_without_lpips(tmp_path: Path, captured: list) -> None:
    run = write_run(tmp_path / "run", _rows(False), meta={"protocol": {"lpips": {"available": False,
                                                                               "reason": REASON}}})
    html = write_report(run).read_text(encoding="utf-8")
    assert "Perception-distortion plane, Set5" in html and "perceptual quality (NIQE)" in html
    assert "Perception-distortion plane drawn with NIQE instead of LPIPS: " + REASON in html
    assert "data:image/svg" in html
    (points, axis), = captured
    assert axis == "NIQE"
    assert sorted(points) == [("bicubic", 28.4, 7.5), ("srgan", 26.1, 3.2), ("srresnet", 29.1, 6.1)]


def test_plane_prefers_lpips(tmp_path: Path, captured: list) -> None:
    html = write_report(write_run(tmp_path / "run", _rows(True))).read_text(encoding="utf-8")
    assert "perceptual quality (LPIPS)" in html and "instead of LPIPS" not in html
    assert [axis for _, axis in captured] == ["LPIPS"]
    assert ("srgan", 26.1, 0.12) in captured[0][0]


def test_plane_skipped_without_a_perceptual_metric(tmp_path: Path) -> None:
    rows = [r for r in _rows(False) if r[4] == "psnr"]
    html = write_report(write_run(tmp_path / "run", rows)).read_text(encoding="utf-8")
    assert "Perception-distortion plane skipped" in html and "add niqe to --metrics" in html


def test_table_shows_niqe_lower_is_better(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", _rows(False))  # run.json has no niqe metadata: the metric table's
    md = render_table([run], metrics=("psnr", "niqe"), fmt="markdown")
    niqe_row = next(line for line in md.splitlines() if "NIQE" in line)
    assert "NIQE \u2193" in niqe_row
    assert "**3.2000**" in niqe_row and "7.5000" in niqe_row and "**7.5000**" not in niqe_row


def test_check_gates_on_niqe_in_its_direction(tmp_path: Path) -> None:
    base = save_baseline(write_run(tmp_path / "base", _rows(False)), tmp_path / "base.json")

    def run_with(niqe_srgan: float, name: str) -> Path:
        rows = [r if r[:1] != ("srgan",) or r[4] != "niqe" else (*r[:5], niqe_srgan) for r in _rows(False)]
        return write_run(tmp_path / name, rows)

    assert check(run_with(3.205, "same"), base).status == PASS  # within the default 0.01
    assert check(run_with(3.1, "better"), base).status == PASS  # lower NIQE is an improvement
    worse = check(run_with(3.25, "worse"), base)
    assert worse.status == REGRESSION
    assert [r.status for r in worse.rows if r.metric == "niqe" and r.model == "srgan"] == ["regression"]
    assert check(run_with(3.25, "tol"), base, tolerances={"niqe": 0.1}).status == PASS
