"""The timing package: how fast a model runs, and how fast this machine could run it.

One job per module (importing any of them does not import torch; torch is imported inside functions):

- :mod:`srbench.perf.timing`  -- timing a callable (host clock or CUDA events), percentiles.
- :mod:`srbench.perf.env`     -- the device's name, CPU features, versions and settings beside every timing.
- :mod:`srbench.perf.flops`   -- FLOP counts (parameter counts: :func:`srbench.models.fast.count_params`).
- :mod:`srbench.perf.peak`    -- the roofline: physical compute peak (FMA microkernel / AMX / cuBLAS GEMM),
  the theoretical figure from the CPU flags, and the memory bandwidth (STREAM-like copy).
- :mod:`srbench.perf.prepare` -- turning an adapter or module into the callable that is timed.
- :mod:`srbench.perf.bench`   -- the benchmark passes (fixed sizes, batch sweep, real images) and ``run_bench``.
- :mod:`srbench.perf.table`   -- throughput.csv and the terminal table.
- :mod:`srbench.perf.memory`  -- glibc malloc tuning for large activations.

The fused SRResNet inference plan lives with the models (:mod:`srbench.models.archs.fused`); the timed
pass asks a module for it through :class:`srbench.interfaces.Fusable`.
"""
