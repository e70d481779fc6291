"""Corpus ingestion: in-process vs Ray Data (1 and 2 actors), a warm embedding cache, a resumed run.

Each configuration is a real ``embedspec index`` command (a fresh process, a fresh exact index) on
SciFact documents (title + text, ids from ``_id``) with all-MiniLM-L6-v2 (ONNX fp32). Runs are
interleaved (local, ray x1, ray x2, then again) because the machine is shared; the best run of each
is kept and the load average is recorded beside it. Two times are reported: ``ingest_s`` from the
command's own summary (reading, encoding and writing; for Ray it includes starting the actors and
loading the model in them) and ``wall_s`` (the whole process: imports, Ray start-up, the file check).

    python benchmarks/ingest_ray.py                 # 300 documents (a bounded subset: the machine is shared)
    python benchmarks/ingest_ray.py --limit 0       # the whole corpus (5,183 documents; much longer)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data")) / "scifact" / "corpus.jsonl"
EMBEDSPEC = str(Path(sys.executable).with_name("embedspec"))
SUMMARY = re.compile(r"summary: (?P<documents>[\d,]+) documents, (?P<written>[\d,]+) written, (?P<skipped>[\d,]+) skipped"
                     r".*?(?:cache (?P<hits>[\d,]+) hits / (?P<misses>[\d,]+) misses, )?\S+ \((?P<seconds>[\d.]+) s\)")


def machine() -> dict[str, object]:
    info = Path("/proc/cpuinfo").read_text()
    cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
               platform.processor())
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    isa = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_tile")
           if f in flags]
    import onnxruntime
    import ray

    return {"cpu": cpu, "isa": isa, "cores": os.cpu_count(), "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__, "ray": ray.__version__}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def index_command(spec: Path, corpus: Path, extra: list[str]) -> list[str]:
    return [EMBEDSPEC, "index", str(spec), "--input", str(corpus), "--text-field", "title", "--text-field", "text",
            "--id-field", "_id", "--batch-size", "128", *extra]


def run(spec: Path, corpus: Path, extra: list[str], label: str) -> dict[str, object]:
    """One ``embedspec index`` run; its summary figures, wall time and the load around it."""
    before = load()
    start = time.monotonic()
    proc = subprocess.run(index_command(spec, corpus, [*extra, "--no-progress"]), capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    match = SUMMARY.search(proc.stdout)
    if match is None:
        raise SystemExit(f"{label}: no summary line in\n{proc.stdout}")
    figures = {k: float(v.replace(",", "")) if v else 0.0 for k, v in match.groupdict().items()}
    result = {"label": label, "wall_s": round(wall, 2), "ingest_s": figures["seconds"],
              "written": int(figures["written"]), "skipped": int(figures["skipped"]),
              "cache_hits": int(figures["hits"]), "cache_misses": int(figures["misses"]),
              "load_before": before, "load_after": load()}
    result["docs_per_s"] = round((result["written"] + result["skipped"]) / max(1e-9, figures["seconds"]), 2)
    print(f"  {label:<22} ingest {figures['seconds']:7.1f} s  wall {wall:7.1f} s  {result['docs_per_s']:7.1f} docs/s  "
          f"written {result['written']:,} skipped {result['skipped']:,}  load {before}->{result['load_after']}", flush=True)
    return result


def killed_at_half(spec: Path, corpus: Path, extra: list[str], total: int) -> dict[str, object]:
    """Start a run, SIGKILL it when its progress line passes 50%, report what the index kept."""
    env = {**os.environ, "EMBEDSPEC_PROGRESS": "1", "EMBEDSPEC_PROGRESS_INTERVAL": "0.5"}
    proc = subprocess.Popen(index_command(spec, corpus, extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    start = time.monotonic()
    done = 0
    while done < total // 2:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise SystemExit(f"the run ended before half-way: {proc.stdout.read()}")
        match = re.match(r"encoding: ([\d,]+)/", line)
        done = int(match.group(1).replace(",", "")) if match else done
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return {"killed_after_s": round(time.monotonic() - start, 1), "progress_at_kill": done}


def resume_runs(spec, corpus: Path, configs: dict[str, list[str]], n: int, flush_every: int) -> dict[str, object]:
    """For in-process and Ray: SIGKILL a run at 50%, run it again, report what was kept and redone.

    The ids come from ``_id``, so ``--existing skip`` asks for the skip (with content ids it is the default)."""
    print(f"resume: kill (SIGKILL) at 50%, run again (--flush-every {flush_every} --existing skip)")
    resumed = {}
    for label, extra in (("in-process", []), ("ray, 2 actors x 1 CPU", configs["ray, 2 actors x 1 CPU"])):
        s = spec("resume")
        flags = [*extra, "--flush-every", str(flush_every), "--existing", "skip"]
        kill = killed_at_half(s, corpus, flags, n)
        again = run(s, corpus, flags, f"resumed ({label})")
        resumed[label] = {**kill, **again, "kept_before_resume": again["skipped"]}
    return resumed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=300, help="documents (the first N of the corpus; 0 = all)")
    parser.add_argument("--model", default=str(REPO / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--flush-every", type=int, default=50, help="for the kill/resume runs")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ingest_ray.json"))
    parser.add_argument("--only-resume", action="store_true",
                        help="run only the kill/resume part and update its entry in an existing --out")
    args = parser.parse_args()

    if not (Path(args.model) / "embedspec.json").is_file():
        from embedspec_onnx.export import ensure_minilm

        ensure_minilm(args.model)
    info = machine()
    print(f"CPU: {info['cpu']}  ISA: {' '.join(info['isa'])}  cores: {info['cores']}  "
          f"onnxruntime {info['onnxruntime']}  ray {info['ray']}")
    work = Path(tempfile.mkdtemp(prefix="ingest_ray_"))
    lines = DATA.read_text(encoding="utf-8").splitlines()
    lines = lines[: args.limit] if args.limit else lines
    corpus = work / "corpus.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    n = len(lines)
    print(f"corpus: {n:,} SciFact documents ({corpus.stat().st_size / 2**20:.1f} MiB); load now {load()}")

    def spec(name: str) -> Path:
        path = work / f"{name}.yaml"
        shutil.rmtree(work / name, ignore_errors=True)
        path.write_text(f"version: 1\nencoder: {{type: onnx-text, model: {args.model}}}\n"
                        f"index: {{type: exact, path: {work / name}}}\n")
        return path

    configs = {
        "in-process": [],
        "ray, 1 actor x 2 CPUs": ["--engine", "ray", "--actors", "1", "--cpus-per-actor", "2"],
        "ray, 2 actors x 1 CPU": ["--engine", "ray", "--actors", "2", "--cpus-per-actor", "1"],
    }
    if args.only_resume:
        result = json.loads(Path(args.out).read_text())
        result["resume"] = resume_runs(spec, corpus, configs, n, args.flush_every)
        result["resume_command"] = "python benchmarks/ingest_ray.py " + " ".join(sys.argv[1:])
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"updated {args.out}")
        shutil.rmtree(work, ignore_errors=True)
        return
    runs: dict[str, list[dict[str, object]]] = {label: [] for label in configs}
    for round_ in range(args.rounds):
        print(f"round {round_ + 1}/{args.rounds}")
        for label, extra in configs.items():
            runs[label].append(run(spec("idx"), corpus, extra, label))
    best = {label: min(rs, key=lambda r: r["ingest_s"]) for label, rs in runs.items()}
    base = best["in-process"]

    print("embedding cache: a cold run fills it, a warm run (a new index, the same cache) reads it")
    cache_dir = work / "cache"
    cold = run(spec("idx"), corpus, ["--cache", str(cache_dir)], "in-process, cache cold")
    warm = run(spec("idx"), corpus, ["--cache", str(cache_dir)], "in-process, cache warm")
    ray_warm = run(spec("idx"), corpus, ["--cache", str(cache_dir), *configs["ray, 2 actors x 1 CPU"]],
                   "ray x2, cache warm")

    resumed = resume_runs(spec, corpus, configs, n, args.flush_every)

    table = []
    for r in best.values():
        table.append({**r, "ratio_vs_in_process": round(float(r["ingest_s"]) / float(base["ingest_s"]), 3),
                      "wall_ratio_vs_in_process": round(float(r["wall_s"]) / float(base["wall_s"]), 3)})
    speedup = round(float(cold["ingest_s"]) / max(1e-9, float(warm["ingest_s"])), 1)
    result = {
        "machine": info, "documents": n, "subset": bool(args.limit), "model": "all-MiniLM-L6-v2 (ONNX fp32)",
        "batch_size": 128, "rounds": args.rounds, "best_runs": table, "all_runs": runs,
        "cache": {"cold": cold, "warm": warm, "ray_warm": ray_warm, "warm_speedup_vs_cold": speedup,
                  "warm_speedup_vs_in_process": round(float(base["ingest_s"]) / max(1e-9, float(warm["ingest_s"])), 1)},
        "resume": resumed,
        "command": "python benchmarks/ingest_ray.py " + " ".join(sys.argv[1:]),
    }
    print()
    print("| configuration | ingest s | docs/s | ratio (time vs in-process) | wall s | load |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in table:
        print(f"| {r['label']} | {r['ingest_s']:.1f} | {r['docs_per_s']:.1f} | {r['ratio_vs_in_process']:.2f} | "
              f"{r['wall_s']:.1f} | {r['load_before']}->{r['load_after']} |")
    print(f"cache: cold {cold['ingest_s']:.1f} s, warm {warm['ingest_s']:.1f} s ({speedup}x), "
          f"ray x2 warm {ray_warm['ingest_s']:.1f} s")
    for label, r in resumed.items():
        print(f"resume ({label}): killed at {r['progress_at_kill']:,}/{n:,}; the index kept {r['kept_before_resume']:,}; "
              f"the rerun wrote {r['written']:,} in {r['ingest_s']:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
