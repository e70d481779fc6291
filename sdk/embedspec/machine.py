"""What the CPU offers for inference: model, core counts and the ISA features kernels dispatch on.

    from embedspec.machine import cpu_info
    cpu_info()   # {"model": "AMD EPYC", "logical_cpus": 2, "physical_cores": 2, "isa": {"avx2": True, ...}}

Pure Python (``/proc/cpuinfo`` and ``/sys`` on Linux; ``platform`` elsewhere); benchmarks print it
beside every speed figure and ``embedspec doctor`` shows it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

#: ISA features that decide which GEMM / int8 kernels onnxruntime and torch use, in /proc/cpuinfo spelling.
INFERENCE_ISA: tuple[str, ...] = (
    "sse4_2", "avx", "avx2", "fma", "f16c",
    "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    "asimd", "asimddp", "sve", "i8mm", "bf16",  # Arm: NEON, dot product, SVE, int8 matmul
)

CPUINFO = Path("/proc/cpuinfo")


def parse_cpuinfo(text: str) -> tuple[str, set[str]]:
    """``/proc/cpuinfo`` text -> (model name, feature flags of the first processor)."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, flags


def physical_cores() -> int:
    """Physical CPU cores available to this process (SMT siblings counted once)."""
    try:
        available = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores: set[tuple[str, str]] = set()
    for cpu in available:
        base = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((base / "physical_package_id").read_text().strip(), (base / "core_id").read_text().strip()))
        except OSError:
            return max(1, len(available))
    return max(1, len(cores))


def available_cpus() -> int:
    """Logical CPUs this process may run on (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    """The CPU: ``model``, ``machine`` (arch), ``logical_cpus``, ``physical_cores``, ``isa`` ({feature: bool}
    for ``INFERENCE_ISA`` of this architecture) and ``isa_present`` (the present ones, in that order)."""
    if cpuinfo is None:
        cpuinfo = CPUINFO.read_text(encoding="utf-8", errors="replace") if CPUINFO.is_file() else ""
    model, flags = parse_cpuinfo(cpuinfo)
    arch = platform.machine()
    arm = arch.lower() in ("aarch64", "arm64")
    features = [f for f in INFERENCE_ISA if (f in ("asimd", "asimddp", "sve", "i8mm", "bf16")) == arm]
    isa = {f: f in flags for f in features}
    return {
        "model": model or platform.processor() or "unknown",
        "machine": arch,
        "logical_cpus": available_cpus(),
        "physical_cores": physical_cores(),
        "isa": isa,
        "isa_present": [f for f, present in isa.items() if present],
    }


def cpu_line(info: dict[str, Any] | None = None) -> str:
    """One line for a benchmark table: ``AMD EPYC (x86_64, 2 cores / 2 CPUs; avx2 fma ...)``."""
    info = info or cpu_info()
    return (f"{info['model']} ({info['machine']}, {info['physical_cores']} cores / {info['logical_cpus']} CPUs; "
            f"{' '.join(info['isa_present']) or 'no listed ISA extension'})")
