"""``embedspec.machine``: CPU model and inference ISA features read from /proc/cpuinfo text."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest
from embedspec.machine import INFERENCE_ISA, available_cpus, cpu_info, cpu_line, parse_cpuinfo, physical_cores

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse4_2 avx avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
processor\t: 1
model name\t: ignored second processor
flags\t\t: fpu
"""

EPYC_AVX2 = """processor\t: 0
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse4_2 avx avx2 fma f16c
"""


def test_parse_cpuinfo_takes_the_first_processor() -> None:
    model, flags = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert model == "Intel(R) Xeon(R) Platinum 8480+"
    assert "amx_int8" in flags and "fpu" in flags and len(flags) == 15


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the x86 feature list applies on x86_64 only")
def test_cpu_info_lists_x86_inference_features() -> None:
    amx = cpu_info(SAPPHIRE_RAPIDS)
    assert amx["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert amx["isa_present"] == ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                                  "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16"]
    assert amx["isa"]["avx_vnni"] is False
    epyc = cpu_info(EPYC_AVX2)
    assert epyc["isa_present"] == ["sse4_2", "avx", "avx2", "fma", "f16c"]
    assert set(epyc["isa"]) == {f for f in INFERENCE_ISA if f not in ("asimd", "asimddp", "sve", "i8mm", "bf16")}
    assert cpu_line(epyc) == (f"AMD EPYC 7B12 (x86_64, {physical_cores()} cores / {available_cpus()} CPUs; "
                              "sse4_2 avx avx2 fma f16c)")


def test_cpu_info_of_this_machine() -> None:
    info = cpu_info()
    assert info["logical_cpus"] == len(os.sched_getaffinity(0))
    assert 1 <= info["physical_cores"] <= info["logical_cpus"]
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    first_model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                        if line.startswith("model name")), None)
    if first_model is not None:
        assert info["model"] == first_model
    flags = next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), set())
    assert info["isa_present"] == [f for f in info["isa"] if f in flags]


def test_empty_cpuinfo_gives_a_model_name_and_no_features() -> None:
    info = cpu_info("")
    assert info["model"]  # platform.processor() or "unknown"
    assert info["isa_present"] == []
