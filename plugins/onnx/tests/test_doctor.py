"""``embedspec doctor``: CPU, ISA features, onnxruntime and the thread settings encoders would use."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from embedspec.machine import cpu_info, physical_cores
from embedspec_onnx.commands import doctor_command
from embedspec_onnx.common.doctor import fp32_kernel, int8_kernel

ort = pytest.importorskip("onnxruntime", reason="embedspec doctor reports onnxruntime; pip install 'embedspec-onnx[cpu]'")


def test_doctor_json_matches_the_machine_and_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    result = CliRunner().invoke(doctor_command, ["--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["cpu"] == cpu_info()
    assert report["runtime"]["onnxruntime"] == ort.__version__
    assert report["runtime"]["providers"] == ort.get_available_providers()
    assert report["runtime"]["build_device"] == ort.get_device()
    assert report["threads"]["intra_op_num_threads"] == physical_cores()
    assert report["threads"]["inter_op_num_threads"] == 1
    assert report["threads"]["environment"] == {"OMP_NUM_THREADS": "3"}
    assert report["kernels"] == {"fp32": fp32_kernel(report["cpu"]["isa"]), "int8": int8_kernel(report["cpu"]["isa"])}


def test_doctor_threads_option_is_what_a_session_gets() -> None:
    report = json.loads(CliRunner().invoke(doctor_command, ["--json", "--threads", "3"]).output)
    assert report["threads"]["intra_op_num_threads"] == 3
    assert report["threads"]["intra_op_source"] == "the spec's threads:"


def test_doctor_text_names_every_part() -> None:
    result = CliRunner().invoke(doctor_command, [])
    assert result.exit_code == 0
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.output.splitlines())
    info = cpu_info()
    assert lines["cpu"] == info["model"]
    assert lines["isa present"] == (" ".join(info["isa_present"]) or "-")
    assert lines["onnxruntime"].startswith(ort.__version__ + " (")
    assert lines["providers"] == ", ".join(ort.get_available_providers())
    assert lines["intra-op threads"].startswith(f"{physical_cores()} (physical cores")


@pytest.mark.parametrize(("flags", "expected"), [
    ({"amx_int8": True, "avx512_vnni": True}, "AMX int8 tiles"),
    ({"avx512_vnni": True, "avx2": True}, "AVX-512 VNNI (u8s8 dot products)"),
    ({"avx_vnni": True, "avx2": True}, "AVX-VNNI (256-bit u8s8 dot products)"),
    ({"avx2": True, "fma": True}, "AVX2 without VNNI (vpmaddubsw; no int8 dot-product instructions)"),
    ({}, "no int8 dot-product instructions"),
])
def test_int8_kernel_follows_the_best_feature(flags: dict[str, bool], expected: str) -> None:
    assert int8_kernel(flags) == expected


def test_doctor_on_the_command_line_and_a_bad_threads_value() -> None:
    ok = subprocess.run([sys.executable, "-m", "embedspec", "doctor"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("cpu ")
    bad = subprocess.run([sys.executable, "-m", "embedspec", "doctor", "--threads", "0"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "Invalid value for '--threads': 0 is not in the range 1<=x<=1024." in bad.stderr
