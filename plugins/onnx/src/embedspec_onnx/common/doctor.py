"""``embedspec doctor``: what this machine offers the ONNX encoders, and the settings they would use.

The report is a plain dict (``inference_report()``); ``render()`` turns it into the text the command
prints. onnxruntime is imported here only when the report is made (never at module level).
"""

from __future__ import annotations

import importlib.metadata as md
import os
from typing import Any

from embedspec.machine import cpu_info

#: Environment variables that change how many threads a process runs (read by onnxruntime's or
#: its neighbours' thread pools, or by embedspec).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM",
                    "RAYON_NUM_THREADS")


def int8_kernel(isa: dict[str, bool]) -> str:
    """Which int8 GEMM path onnxruntime's MLAS takes on a CPU with these features (x86 and Arm)."""
    if isa.get("amx_int8"):
        return "AMX int8 tiles"
    if isa.get("avx512_vnni"):
        return "AVX-512 VNNI (u8s8 dot products)"
    if isa.get("avx_vnni"):
        return "AVX-VNNI (256-bit u8s8 dot products)"
    if isa.get("avx512bw"):
        return "AVX-512BW without VNNI (vpmaddubsw)"
    if isa.get("avx2"):
        return "AVX2 without VNNI (vpmaddubsw; no int8 dot-product instructions)"
    if isa.get("i8mm") or isa.get("asimddp"):
        return "Arm int8 dot product / matmul"
    return "no int8 dot-product instructions"


def fp32_kernel(isa: dict[str, bool]) -> str:
    if isa.get("avx512f"):
        return "AVX-512F FMA"
    if isa.get("avx2") and isa.get("fma"):
        return "AVX2 + FMA"
    if isa.get("avx"):
        return "AVX"
    if isa.get("asimd"):
        return "NEON"
    return "SSE (no AVX: slow)"


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def runtime_info() -> dict[str, Any]:
    """onnxruntime (and tokenizers): version, build device, available providers; ``None`` fields when
    onnxruntime is not installed (``error`` then says so)."""
    info: dict[str, Any] = {"onnxruntime": None, "distribution": None, "build_device": None, "providers": [],
                            "tokenizers": _version("tokenizers")}
    try:
        import onnxruntime as ort
    except ImportError as exc:
        info["error"] = f"onnxruntime is not importable ({exc}); pip install 'embedspec-onnx[cpu]'"
        return info
    info["onnxruntime"] = ort.__version__
    info["distribution"] = next((d for d in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino",
                                             "onnxruntime-directml") if _version(d)), None)
    info["build_device"] = ort.get_device()
    info["providers"] = list(ort.get_available_providers())
    return info


def thread_settings(threads: int | None = None) -> dict[str, Any]:
    """The session settings ``create_session`` applies (see ``common/runtime.py``)."""
    cpu = cpu_info()
    return {
        "intra_op_num_threads": threads or cpu["physical_cores"],
        "intra_op_source": "the spec's threads:" if threads else "physical cores (set threads: in the spec to change)",
        "inter_op_num_threads": 1,
        "execution_mode": "sequential",
        "graph_optimization_level": "ORT_ENABLE_ALL",
        "tokenization": "tokenizers encode_batch (Rust, parallel unless TOKENIZERS_PARALLELISM=false)",
        "environment": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
    }


def default_device(providers: list[str]) -> str:
    """Where ``device: auto`` runs with these providers."""
    return "cuda (CUDAExecutionProvider)" if "CUDAExecutionProvider" in providers else "cpu (CPUExecutionProvider)"


def inference_report(threads: int | None = None) -> dict[str, Any]:
    """CPU, ISA, kernels, runtime and thread settings, as one JSON-ready dict."""
    cpu = cpu_info()
    runtime = runtime_info()
    return {
        "cpu": cpu,
        "kernels": {"fp32": fp32_kernel(cpu["isa"]), "int8": int8_kernel(cpu["isa"])},
        "runtime": runtime,
        "device_auto": default_device(runtime["providers"]),
        "threads": thread_settings(threads),
    }


def render(report: dict[str, Any]) -> list[str]:
    """The report as aligned ``key  value`` lines."""
    cpu, runtime, threads = report["cpu"], report["runtime"], report["threads"]
    missing = [f for f, present in cpu["isa"].items() if not present]
    rows = [
        ("cpu", cpu["model"]),
        ("architecture", cpu["machine"]),
        ("cores", f"{cpu['physical_cores']} physical, {cpu['logical_cpus']} logical CPUs available"),
        ("isa present", " ".join(cpu["isa_present"]) or "-"),
        ("isa absent", " ".join(missing) or "-"),
        ("fp32 kernels", report["kernels"]["fp32"]),
        ("int8 kernels", report["kernels"]["int8"]),
        ("onnxruntime", runtime["onnxruntime"] and f"{runtime['onnxruntime']} ({runtime['distribution']}, "
                                                   f"build {runtime['build_device']})" or runtime.get("error")),
        ("providers", ", ".join(runtime["providers"]) or "-"),
        ("device: auto", report["device_auto"]),
        ("tokenizers", runtime["tokenizers"] or "not installed"),
        ("intra-op threads", f"{threads['intra_op_num_threads']} ({threads['intra_op_source']})"),
        ("inter-op threads", f"{threads['inter_op_num_threads']} ({threads['execution_mode']})"),
        ("graph optimization", threads["graph_optimization_level"]),
        ("tokenization", threads["tokenization"]),
        ("thread variables", " ".join(f"{k}={v}" for k, v in threads["environment"].items()) or "none set"),
    ]
    width = max(len(k) for k, _ in rows)
    return [f"{k.ljust(width)}  {v}" for k, v in rows]
