"""The old name of the timing pass, kept so existing imports keep working: everything lives in
:mod:`srbench.perf` now (timing, env, flops, peak, prepare, bench, table). New code imports from there."""

from __future__ import annotations

from srbench.perf.bench import (  # noqa: F401
    COLUMNS,
    DTYPES,
    FLOPS_LR_SIZE,
    REQUIRED_COLUMNS,
    BenchError,
    BenchJob,
    BenchOptions,
    BenchResult,
    ThroughputRow,
    TimingImages,
    benchmark_model,
    benchmark_pairs,
    jobs_for,
    jobs_from_built,
    run_bench,
    throughput_vs_batch,
)
from srbench.perf.env import describe_device, environment  # noqa: F401
from srbench.perf.flops import count_flops, count_params  # noqa: F401
from srbench.perf.peak import Roofline, measure_peak, measure_roofline  # noqa: F401
from srbench.perf.table import rows_to_frame, summary_table, write_throughput_csv  # noqa: F401
from srbench.perf.timing import percentile, time_callable  # noqa: F401
