"""What belongs beside every timing: the device's name, the CPU's features, versions and settings.

One copy, used by run.json (:mod:`srbench.rundir`) and by every throughput row.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import srbench
from srbench.perf.timing import is_cuda

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    """The first processor entry of /proc/cpuinfo: model name, flags, nominal clock; and the usable cores."""
    model: str
    flags: frozenset[str]
    mhz: float | None
    cores: int
    vendor: str = ""
    family: int | None = None

    @property
    def vector_bits(self) -> int:
        """Widest SIMD register the flags allow: 512 (avx512f), 256 (avx/avx2), else 128."""
        if "avx512f" in self.flags:
            return 512
        if "avx2" in self.flags or "avx" in self.flags:
            return 256
        return 128

    @property
    def fp32_lanes(self) -> int:
        return self.vector_bits // 32

    @property
    def fma_units(self) -> int:
        """FMA pipes per core, from the flags (cpuinfo does not say it directly).

        No ``fma`` flag: 0 (multiply and add are separate). AMD with AVX-512: Zen 5 (family 26) has two
        512-bit FMA pipes, Zen 4 (family 25) runs 512-bit FMAs on two 256-bit pipes, one 512-bit FMA per
        cycle. Intel AVX-512 parts with AMX (Sapphire Rapids and later) and AVX-512 Xeons: 2 (ports 0+1
        fused and port 5); other AVX-512 parts (client cores, some Xeon Silver/Bronze): 1. AVX2+FMA parts
        (Haswell and later, Zen): 2.
        """
        if "fma" not in self.flags:
            return 0
        if "avx512f" in self.flags:
            if self.vendor == "AuthenticAMD" or "amd" in self.model.lower():
                return 2 if (self.family or 0) >= 26 else 1
            return 2 if ("amx_tile" in self.flags or "xeon" in self.model.lower()) else 1
        return 2


def parse_cpuinfo(text: str, cores: int) -> CpuInfo:
    """CpuInfo from /proc/cpuinfo's text (its first processor entry)."""
    model: str | None = None
    flags: frozenset[str] = frozenset()
    mhz: float | None = None
    vendor, family = "", None
    for line in text.splitlines():
        if not line.strip():
            if model is not None or flags:
                break  # end of the first processor entry
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name":
            model = value.strip()
        elif key == "flags":
            flags = frozenset(value.split())
        elif key == "vendor_id":
            vendor = value.strip()
        elif key == "cpu family":
            family = int(value) if value.strip().isdigit() else None
        elif key == "cpu MHz":
            try:
                mhz = float(value)
            except ValueError:
                mhz = None
    return CpuInfo(model=model or platform.processor() or platform.machine(), flags=flags, mhz=mhz, cores=cores,
                   vendor=vendor, family=family)


def usable_cores() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_info(path: Path = CPUINFO) -> CpuInfo:
    """This machine's CpuInfo (model name from the platform where /proc/cpuinfo is missing)."""
    try:
        text = path.read_text()
    except OSError:
        text = ""
    return parse_cpuinfo(text, usable_cores())


def describe_device(device: str) -> str:
    """Human name of the device: "GPU: <name>" or "CPU: <model name>"."""
    if is_cuda(device):
        import torch

        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(torch.device(device))}"
        return f"GPU: {device} (CUDA not available)"
    return f"CPU: {cpu_info().model}"


def environment(device: str) -> dict[str, Any]:
    """Versions, hardware and settings, for run.json and each throughput row."""
    import numpy
    import torch


    cuda = is_cuda(device)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "srbench": srbench.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "device": device,
        "device_name": describe_device(device),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if cuda else None,
    }


def git_sha() -> str | None:
    """Commit of the srbench checkout (``+dirty`` when modified), or None for an installed package."""
    import subprocess  # deferred: only run.json needs it

    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "") if sha else None
