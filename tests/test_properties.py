"""Property-based checks (hypothesis): imresize against the slow reference of tests/data/test_imresize.py
on random shapes and scales, the metrics' symmetries, identities and analytic anchors, and the results /
baseline parsers (round trip; any JSON either loads or fails with a BaselineError naming the file). Small
max_examples and no deadline: the CI budget, and no wall-clock bounds."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srbench.data.imresize import imresize, output_size
from srbench.metrics import psnr, ssim
from srbench.rundir import csv_number
from tests.data.test_imresize import reference_imresize

FAST = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

SCALES = st.sampled_from([0.25, 1 / 3, 0.5, 0.75, 1.5, 2.0, 3.0, 4.0])


@st.composite
def images(draw: st.DrawFn, max_side: int = 9) -> np.ndarray:
    h = draw(st.integers(2, max_side))
    w = draw(st.integers(2, max_side))
    c = draw(st.sampled_from([1, 3]))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def _reference_with_ties(img: np.ndarray, scale: float, nudge: float) -> np.ndarray:
    import tests.data.test_imresize as ref

    plain = ref._ref_round
    ref._ref_round = lambda v: plain(v + nudge)
    try:
        return reference_imresize(img, scale)
    finally:
        ref._ref_round = plain


@FAST
@given(img=images(), scale=SCALES)
def test_imresize_uint8_equals_the_reference(img: np.ndarray, scale: float) -> None:
    got = imresize(img, scale)
    assert got.dtype == np.uint8 and got.shape[:2] == output_size(img.shape[:2], scale)
    assert got.shape[2] == img.shape[2]
    exact = reference_imresize(img, scale)
    if not np.array_equal(got, exact):
        # An intermediate that is exactly k + 0.5 in real arithmetic (e.g. 126.5 from 88 and 124) lands a
        # few ulps either side of the tie depending on the summation order, so either rounding is right
        # there: the result must lie between the reference rounded with ties nudged down and up.
        lo, hi = (_reference_with_ties(img, scale, nudge) for nudge in (-1e-9, 1e-9))
        assert np.all((np.minimum(lo, hi) <= got) & (got <= np.maximum(lo, hi))), (got, exact)


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(img=images(max_side=7), scale=SCALES)
def test_imresize_float_stays_close_to_the_reference_and_constants_stay_constant(img: np.ndarray,
                                                                                scale: float) -> None:
    x = img.astype(np.float64) / 255.0
    np.testing.assert_allclose(imresize(x, scale), reference_imresize(x, scale), rtol=0, atol=1e-12)
    const = np.full(img.shape, int(img[0, 0, 0]), np.uint8)
    assert np.all(imresize(const, scale) == img[0, 0, 0])  # normalised weights: a flat image stays flat


@st.composite
def pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    h = draw(st.integers(16, 28))
    w = draw(st.integers(16, 28))
    c = draw(st.sampled_from([1, 3]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (c, h, w), dtype=np.uint8)
    b = rng.integers(0, 256, (c, h, w), dtype=np.uint8)
    return a, b, draw(st.integers(0, 2))


@FAST
@given(p=pairs(), y=st.booleans())
def test_psnr_and_ssim_are_symmetric_and_bounded(p: tuple[np.ndarray, np.ndarray, int], y: bool) -> None:
    a, b, crop = p
    assert psnr(a, b, crop_border=crop, y_channel=y) == psnr(b, a, crop_border=crop, y_channel=y)
    s_ab, s_ba = ssim(a, b, crop_border=crop, y_channel=y), ssim(b, a, crop_border=crop, y_channel=y)
    assert math.isclose(s_ab, s_ba, rel_tol=0, abs_tol=1e-12) and -1.0 <= s_ab <= 1.0
    assert psnr(a, a, crop_border=crop, y_channel=y) == math.inf
    assert math.isclose(ssim(a, a, crop_border=crop, y_channel=y), 1.0, abs_tol=1e-12)


@FAST
@given(p=pairs(), d=st.integers(1, 40))
def test_psnr_of_a_constant_offset_is_analytic(p: tuple[np.ndarray, np.ndarray, int], d: int) -> None:
    a = np.minimum(p[0], 255 - d).astype(np.uint8)
    b = (a.astype(np.int16) + d).astype(np.uint8)
    assert math.isclose(psnr(a, b, y_channel=False), 20 * math.log10(255 / d), rel_tol=1e-12)
    if a.shape[0] == 3:  # +d on R, G and B moves MATLAB's Y by d * (65.481 + 128.553 + 24.966) / 255
        dy = d * 219.0 / 255.0
        assert math.isclose(psnr(a, b), 20 * math.log10(255 / dy), rel_tol=1e-9)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(v=st.floats(allow_nan=True, allow_infinity=True))
def test_results_csv_numbers_round_trip(v: float) -> None:
    back = float(csv_number(v))
    assert (math.isnan(v) and math.isnan(back)) or back == v


NAMES = st.text(alphabet=st.sampled_from(list("abcXYZ019 _.,\"'-")), min_size=1, max_size=12).filter(
    lambda s: s[0] not in "=+-@" and s.strip() == s)
ROWS = st.lists(st.tuples(NAMES, NAMES, st.integers(1, 8), NAMES, st.sampled_from(["psnr", "ssim", "lpips"]),
                          st.floats(allow_nan=False)), max_size=12)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(rows=ROWS)
def test_results_csv_round_trips_through_writer_and_reader(rows: list) -> None:
    import tempfile
    from pathlib import Path

    from srbench.interfaces import ResultRow
    from srbench.rundir import ResultsWriter, read_rows

    records = [ResultRow(*r) for r in rows]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "results.csv"
        with ResultsWriter(path) as w:
            w.write(records)
        assert read_rows(path) == records


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(doc=JSON | st.fixed_dictionaries({"kind": st.just("srbench-baseline")}, optional={
    "schema_version": st.integers(0, 2), "protocol": JSON, "values": JSON, "tolerances": JSON, "metrics": JSON}))
def test_the_baseline_parser_loads_or_says_why(doc: object) -> None:
    import json
    import tempfile
    from pathlib import Path

    from srbench.check import BaselineError, load_baseline

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "b.json"
        path.write_text(json.dumps(doc))
        try:
            out = load_baseline(path)
        except BaselineError as exc:
            assert str(path) in str(exc)
        else:
            assert isinstance(out, dict)
