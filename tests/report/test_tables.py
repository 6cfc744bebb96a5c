"""Paper tables: golden files, bold direction, published columns, escaping, LaTeX that compiles."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from srbench.report.tables import load_published, md_escape, render_table, tex_escape
from tests.report.fakerun import write_run
from tests.report.helpers import BICUBIC_RUN, GOLDEN  # the committed bicubic x4 run and its golden tables

UPDATE = bool(os.environ.get("SRBENCH_UPDATE_GOLDEN"))
# To regenerate the goldens after an intended change: SRBENCH_UPDATE_GOLDEN=1 pytest tests/report/test_tables.py


@pytest.fixture(scope="module")
def bicubic_run() -> Path:
    return BICUBIC_RUN


CASES = {
    "bicubic_x4.md": {"fmt": "markdown", "published": True},
    "bicubic_x4.tex": {"fmt": "latex"},
    "bicubic_x4_published_transposed.tex": {"fmt": "latex", "published": True, "transpose": True},
    "bicubic_x4.csv": {"fmt": "csv", "published": True},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(bicubic_run: Path, name: str) -> None:
    got = render_table([bicubic_run], **CASES[name])
    path = GOLDEN / name
    if UPDATE:
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"regenerate with SRBENCH_UPDATE_GOLDEN=1 if intended: {name}"


@pytest.mark.shared
def test_golden_from_a_fresh_run(shared_datasets: Path) -> None:
    """End to end: a new bicubic Set5/Set14 x4 run renders exactly the committed golden files."""
    from tests.report.realrun import bicubic_set5_set14_x4

    run = bicubic_set5_set14_x4(shared_datasets)
    for name, kwargs in CASES.items():
        assert render_table([run], **kwargs) == (GOLDEN / name).read_text(encoding="utf-8"), name


def test_bicubic_means_and_published_columns(bicubic_run: Path) -> None:
    md = render_table([bicubic_run], published=True)
    lines = md.splitlines()
    assert lines[0] == ("| Dataset | Metric | bicubic | bicubic (SRGAN T2) | bicubic (MATLAB) |")
    # srbench's MATLAB-protocol bicubic beside the published figures (docs/protocol.md: within 0.015 dB / 0.001)
    assert lines[2] == "| Set5 \u00d74 | PSNR \u2191 | 28.43 | 28.43 | 28.42 |"  # the scale, even for one scale
    assert lines[3] == "|  | SSIM \u2191 | 0.8111 | 0.8211 | 0.8104 |"
    assert lines[4] == "| Set14 \u00d74 | PSNR \u2191 | 25.99 | 25.99 | 26.00 |"
    # one model: nothing to compare, nothing bold (published columns are never bold)
    assert "**" not in md


def _two_models(tmp_path: Path, lpips_hib: bool | None = None) -> Path:
    rows = [("A", "set5", 4, "im", "psnr", 30.004), ("A", "set5", 4, "im", "lpips", 0.30),
            ("B", "set5", 4, "im", "psnr", 29.996), ("B", "set5", 4, "im", "lpips", 0.10)]
    meta = {"metrics": {"lpips": {"higher_is_better": lpips_hib}}} if lpips_hib is not None else None
    return write_run(tmp_path / "run", rows, meta=meta)


def test_bold_follows_direction_and_ties_as_printed(tmp_path: Path) -> None:
    md = render_table([_two_models(tmp_path)], metrics=("psnr", "lpips"))
    # 30.004 and 29.996 both print 30.00: a tie, both bold; LPIPS lower is better
    assert "| Set5 \u00d74 | PSNR \u2191 | **30.00** | **30.00** |" in md
    assert "|  | LPIPS \u2193 | 0.3000 | **0.1000** |" in md
    md = render_table([_two_models(tmp_path / "flip", lpips_hib=True)], metrics=("lpips",), transpose=True)
    assert md.splitlines()[2:] == ["| A | **0.3000** |", "| B | 0.1000 |"]


def test_several_runs_scales_and_filters(tmp_path: Path) -> None:
    r1 = write_run(tmp_path / "r1", [("m", "set5", 2, "im", "psnr", 33.0), ("m", "set5", 4, "im", "psnr", 28.0)],
                   meta={"run_id": "one"})
    r2 = write_run(tmp_path / "r2", [("m", "set5", 4, "im", "psnr", 28.5)], meta={"run_id": "two"})
    md = render_table([r1, r2])
    assert md.splitlines()[0] == "| Dataset | Metric | m \\[one\\] | m \\[two\\] |"
    assert "| Set5 \u00d72 | PSNR \u2191 | 33.00 | \u2013 |" in md
    assert "| Set5 \u00d74 | PSNR \u2191 | 28.00 | **28.50** |" in md
    md = render_table([r1, r2], scale=4, metrics=("psnr",))
    assert "\u00d72" not in md and len(md.splitlines()) == 3
    with pytest.raises(ValueError, match="no values for metrics lpips"):
        render_table([r1], metrics=("lpips",))
    with pytest.raises(ValueError, match="unknown format 'html'"):
        render_table([r1], fmt="html")


def test_escaping() -> None:
    assert md_escape("a|b_<c>*") == "a\\|b\\_&lt;c&gt;\\*"
    assert tex_escape("50% of $x_1 & {y}#~^\\") == (
        r"50\% of \$x\_1 \& \{y\}\#\textasciitilde{}\textasciicircum{}\textbackslash{}")


def test_published_csv_is_complete_and_sourced() -> None:
    pub = load_published()
    assert set(pub["source"]) == {"SRGAN T2", "SRGAN T1", "MATLAB", "SPSR", "PyTorch repro", "RCAN T3", "IMDN"}
    assert (pub["reference"].str.len() > 20).all()
    t2 = pub[pub["source"] == "SRGAN T2"]
    assert len(t2) == 3 * 3 * 5  # 3 datasets x (PSNR, SSIM, MOS) x (nearest, bicubic, SRResNet, SRGAN, HR)
    v = t2.set_index(["model", "dataset", "metric"])["value"]
    assert v[("srresnet", "set5", "psnr")] == 32.05 and v[("srgan", "b100", "mos")] == 3.56
    assert v[("bicubic", "set14", "ssim")] == 0.7486
    m = pub[pub["source"] == "MATLAB"].set_index(["dataset", "metric"])["value"]
    assert m[("set5", "ssim")] == 0.8104 and m[("set14", "psnr")] == 26.00
    # how each source scored single-channel images: the bicubic tables raw, IMDN's (RCAN's scripts) replicated
    assert set(pub.loc[pub["model"].isin(["bicubic", "nearest"]), "grayscale"]) == {"raw"}
    assert set(pub.loc[pub["source"] == "IMDN", "grayscale"]) == {"replicate"}
    assert len(pub[pub["model"] == "imdn"]) == 18


def test_a_published_column_made_with_the_other_grayscale_convention_says_so(tmp_path: Path) -> None:
    rows = [("bicubic", "set14", 4, "bridge", "psnr", 26.1), ("bicubic", "set14", 4, "man", "psnr", 26.0)]
    protocol = {"grayscale": "replicated to 3 channels first (EDSR/RCAN/BasicSR), then as RGB: MATLAB Y"}
    run = write_run(tmp_path / "rep", rows, meta={"protocol": protocol})
    out = render_table([run], published=True, metrics=["psnr"])
    assert "bicubic (MATLAB): published with single-channel images (Set14's bridge) scored raw" in out
    assert "--grayscale replicate" in out
    raw = write_run(tmp_path / "raw", rows, meta={"protocol": {"grayscale": "raw values, no Y transform"}})
    assert "scored raw" not in render_table([raw], published=True, metrics=["psnr"])


def _latex_structure_ok(tex: str) -> None:
    body = tex[tex.index("\\begin{tabular}"):]
    spec = re.match(r"\\begin\{tabular\}\{([lr]+)\}", body).group(1)
    assert body.count("\\toprule") == 1 and body.count("\\bottomrule") == 1 and "\\midrule" in body
    assert body.rstrip().endswith("\\end{tabular}")
    rows = [r for r in body.split("\\\\\n") if "&" in r]
    for r in rows:  # every row has as many cells as the column spec (multicolumns counted)
        cells = r.split("\n")[-1].split(" & ")
        width = sum(int(m) for m in re.findall(r"\\multicolumn\{(\d+)\}", r.split("\n")[-1])) or 0
        assert len(cells) - len(re.findall(r"\\multicolumn", r.split("\n")[-1])) + width == len(spec), r
    assert tex.count("{") - tex.count("\\{") == tex.count("}") - tex.count("\\}")


@pytest.mark.parametrize("transpose", [False, True])
def test_latex_compiles_or_is_well_formed(bicubic_run: Path, tmp_path: Path, transpose: bool) -> None:
    tex = render_table([bicubic_run], fmt="latex", published=True, transpose=transpose,
                       metrics=("psnr", "ssim", "lpips"))
    _latex_structure_ok(tex)
    _compile(tex, tmp_path)


def _compile(tex: str, tmp_path: Path, name: str = "t") -> None:
    """pdflatex on ``tex`` in a minimal document; skipped (after the structure checks) without pdflatex."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex not installed: LaTeX structure checked, not compiled")
    doc = tmp_path / f"{name}.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n"
                   "\\begin{document}\n" + tex + "\\end{document}\n", encoding="utf-8")
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000


def test_latex_with_hostile_names_compiles(tmp_path: Path) -> None:
    name = "a_b & 50% <x> #1 ~^\\{}$|"
    run = write_run(tmp_path / "r", [(name, "set5", 4, "im", "psnr", 30.0), ("ok", "set5", 4, "im", "psnr", 29.0)])
    for transpose in (False, True):
        tex = render_table([run], fmt="latex", transpose=transpose)
        _latex_structure_ok(tex)
        assert tex_escape(name) in tex and "\\textbf{30.00}" in tex
        if shutil.which("pdflatex"):
            doc = tmp_path / f"t{int(transpose)}.tex"
            doc.write_text("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n"
                           "\\begin{document}\n" + tex + "\\end{document}\n", encoding="utf-8")
            proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stdout[-2000:]


def _paired_run(root: Path, run_id: str, gain: float, demo: bool = False, lpips: bool = True) -> Path:
    rng = np.random.default_rng(0)
    base = rng.normal(27.0, 3.0, 12)
    noise = rng.normal(0.0, 0.3, 12)
    rows = []
    for i in range(12):
        rows += [("bicubic", "set14", 4, f"im{i:02d}", "psnr", base[i]),
                 ("srresnet", "set14", 4, f"im{i:02d}", "psnr", base[i] + gain + noise[i])]
        if lpips:
            rows += [("bicubic", "set14", 4, f"im{i:02d}", "lpips", 0.4),
                     ("srresnet", "set14", 4, f"im{i:02d}", "lpips", 0.3 + 0.01 * noise[i])]
    meta = {"run_id": run_id, "models": {"srresnet": {"demo": demo}}}
    if not lpips:
        meta["protocol"] = {"lpips": {"available": False, "reason": "LPIPS unavailable: no AlexNet weights. Fix"}}
    return write_run(root, rows, meta=meta)


def test_demo_missing_metric_labels_and_same_model_in_two_runs(tmp_path: Path) -> None:
    a = _paired_run(tmp_path / "a", "20261201-a", 1.0, demo=True)
    b = _paired_run(tmp_path / "b", "20261201-b", 0.9, lpips=False)
    md = render_table([a, b], metrics=("psnr", "lpips"), labels={str(a): "ours", "20261201-b": "theirs"})
    head = md.splitlines()[0]
    assert head == ("| Dataset | Metric | bicubic \\[ours\\] | srresnet \\[ours\\]\u2020 | bicubic \\[theirs\\] "
                    "| srresnet \\[theirs\\] |")
    assert "|  | LPIPS \u2193 | 0.4000 | **0.2992** | \u2013 | \u2013 |" in md  # missing: shown, not dropped
    notes = md.split("\n\n")[1]
    assert "\u2020 demo weights (not the paper's): srresnet \\[ours\\]" in notes
    assert "\u2013 LPIPS: not computed in run theirs (LPIPS unavailable: no AlexNet weights)" in notes
    with pytest.raises(ValueError, match="--label names no run: nope"):
        render_table([a], labels={"nope": "x"})
    tex = render_table([a, b], fmt="latex", metrics=("psnr", "lpips"), labels={str(a): "ours"})
    _latex_structure_ok(tex)
    assert "srresnet [ours]$^\\dagger$" in tex and "\\multicolumn{6}{l}{\\footnotesize $^\\dagger$ demo" in tex
    _compile(tex, tmp_path)


def test_ci_shows_the_delta_interval_and_not_significant(tmp_path: Path) -> None:
    from srbench.rundir import load_run_dir

    big = _paired_run(tmp_path / "big", "big", 1.0)
    small = _paired_run(tmp_path / "small", "small", 0.02)
    md = render_table([big], ci=True, metrics=("psnr",))
    s = load_run_dir(big).summary  # schema 1 summary.csv: the interval is recomputed from results.csv
    assert s["ci_low"].isna().all()
    row = next(line for line in md.splitlines() if "PSNR" in line)
    cell = row.rstrip(" |").split(" | ")[3]
    assert re.fullmatch(r"\*\*\d+\.\d\d\*\* \+0\.\d\d \\\[\+0\.\d\d, \+\d\.\d\d\\\]", cell), cell
    assert "n.s." not in row and "95% paired bootstrap interval" in md
    md = render_table([small], ci=True, metrics=("psnr",))
    assert "n.s." in next(line for line in md.splitlines() if "PSNR" in line)
    tex = render_table([small], ci=True, fmt="latex", metrics=("psnr",))
    _latex_structure_ok(tex)
    _compile(tex, tmp_path, "ci")


def test_cli_table_label_and_ci(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from srbench.cli import cli

    a = _paired_run(tmp_path / "a", "run-a", 1.0)
    res = CliRunner().invoke(cli, ["table", str(a), "--ci", "--metrics", "psnr", "--label", f"{a}=mine"])
    assert res.exit_code == 0, res.output
    assert "srresnet" in res.output and "[+" in res.output
    res = CliRunner().invoke(cli, ["table", str(a), "--label", "oops"])
    assert res.exit_code == 2 and "RUN=NAME" in res.output
