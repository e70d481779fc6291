"""Fuzz: hundreds of generated malformed specs, each refused with a located error, fast, without a traceback.

The cases are programmatic mutations of valid specs (wrong types, booleans for numbers, huge, infinite
and NaN numbers, unknown and duplicated keys, missing and unknown types, bad versions), alias bombs of
several shapes, deep nesting, binary and non-UTF-8 bytes, NUL, BOM, tabs, empty files, non-mapping
roots and wrong file names. Every case runs through ``build`` in-process; a spread subset runs through
the real CLI (``python -m embedspec validate FILE``) in a subprocess. The summary (tried / located
error / traceback / hang / wrongly accepted) is printed, and written as JSON to
``$EMBEDSPEC_FUZZ_SUMMARY`` when that is set.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from embedspec.errors import SpecError
from embedspec.pipeline import build
from spec_fuzz_cases import BASES, Case, dump_spec, generate_cases

IN_PROCESS_LIMIT_S = 5.0  # per case; a case still running then is a hang
CLI_LIMIT_S = 60.0  # per CLI run, interpreter start-up included
CLI_CASES = 40


# ---- running ------------------------------------------------------------------------------------
class _Hang(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Hang()


def materialize(case: Case, folder: Path) -> Any:
    """The argument given to ``build``: a path (file, directory, missing, FIFO) or a mapping."""
    if case.mapping is not None:
        return case.mapping
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case.filename
    if case.make == "dir":
        path.mkdir(exist_ok=True)
    elif case.make == "fifo":
        if not path.exists():
            os.mkfifo(path)
    elif case.make == "file":
        path.write_bytes(case.data or b"")
    return path


def located(case: Case, issues: list[Any], message: str) -> str | None:
    """Why the error is not located as the case requires, or ``None``."""
    if not issues:
        return "no issues"
    if case.path is not None and not any(i.path == case.path or i.path.startswith(case.path) for i in issues):
        return f"no issue at {case.path}: {[i.path for i in issues]}"
    if case.line == -1 and not any(i.line for i in issues):
        return "no line"
    if case.line not in (None, -1):
        relevant = [i for i in issues if case.path is None or i.path.startswith(case.path)]
        if not any(i.line == case.line for i in relevant):
            return f"expected line {case.line}, got {[(i.path, i.line) for i in relevant]}"
    if "Traceback" in message:
        return "traceback in the message"
    return None


def run_in_process(case: Case, folder: Path) -> tuple[str, str, float]:
    """(outcome, detail, seconds): outcome is located | unlocated | traceback | hang | accepted."""
    target = materialize(case, folder)
    saved = {k: os.environ.get(k) for k in case.env}
    os.environ.update(case.env)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, IN_PROCESS_LIMIT_S)
    start = time.perf_counter()
    try:
        pipeline = build(target)
    except _Hang:
        return "hang", f"still running after {IN_PROCESS_LIMIT_S} s", time.perf_counter() - start
    except SpecError as exc:
        seconds = time.perf_counter() - start
        why = located(case, exc.issues, str(exc))
        return ("unlocated", why, seconds) if why else ("located", str(exc).splitlines()[-1][:120], seconds)
    except BaseException as exc:  # anything else would reach the user as a traceback or a bare message
        return "traceback", f"{type(exc).__name__}: {exc}"[:300], time.perf_counter() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    pipeline.close()
    return "accepted", "build() accepted a malformed spec", time.perf_counter() - start


def run_cli(case: Case, folder: Path) -> tuple[str, str, float]:
    """The same, through ``python -m embedspec validate FILE`` in a subprocess."""
    target = materialize(case, folder)
    env = {**os.environ, **case.env, "EMBEDSPEC_PROGRESS": "0"}
    start = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-m", "embedspec", "validate", str(target)], capture_output=True,
                             text=True, errors="replace", timeout=CLI_LIMIT_S, env=env)
    except subprocess.TimeoutExpired:
        return "hang", f"still running after {CLI_LIMIT_S} s", time.perf_counter() - start
    seconds = time.perf_counter() - start
    text = out.stdout + out.stderr
    if "Traceback" in text:
        return "traceback", text[-300:], seconds
    if out.returncode == 0:
        return "accepted", text[-200:], seconds
    if out.returncode != 1:
        return "unlocated", f"exit code {out.returncode}: {text[-200:]}", seconds
    if case.line not in (None, -1) and f"line {case.line}" not in out.stderr:
        return "unlocated", f"no 'line {case.line}' in: {out.stderr[-300:]}", seconds
    if case.line == -1 and "line " not in out.stderr:
        return "unlocated", f"no line in: {out.stderr[-300:]}", seconds
    return "located", out.stderr.strip().splitlines()[-1][:120] if out.stderr.strip() else "", seconds


CASES = generate_cases()
# a spread subset for the CLI: every category, then evenly over the rest (a directory is a usage error there)
_CLI_POOL = [c for c in CASES if c.mapping is None and c.make not in ("dir", "fifo")]
_FIRST = list({c.category: c for c in reversed(_CLI_POOL)}.values())
CLI_SUBSET = _FIRST + [c for c in _CLI_POOL[:: max(1, len(_CLI_POOL) // (CLI_CASES - len(_FIRST)))]
                       if c not in _FIRST][: CLI_CASES - len(_FIRST)]
OUTCOMES = ("located", "unlocated", "traceback", "hang", "accepted")


def _summary(results: list[tuple[Case, str, str, float]], title: str) -> dict[str, Any]:
    counts = Counter(outcome for _, outcome, _, _ in results)
    slowest = max(results, key=lambda r: r[3])
    summary = {"tried": len(results), **{k: counts.get(k, 0) for k in OUTCOMES},
               "slowest_s": round(slowest[3], 3), "slowest_case": slowest[0].name,
               "by_category": dict(Counter(c.category for c, *_ in results))}
    print(f"\n{title}: tried {summary['tried']} | located error {summary['located']} | unlocated "
          f"{summary['unlocated']} | traceback {summary['traceback']} | hang {summary['hang']} | wrongly accepted "
          f"{summary['accepted']} | slowest {summary['slowest_s']} s ({summary['slowest_case']})")
    return summary


def _record(key: str, summary: dict[str, Any]) -> None:
    target = os.environ.get("EMBEDSPEC_FUZZ_SUMMARY")
    if target:
        path = Path(target)
        data = json.loads(path.read_text()) if path.exists() else {}
        data[key] = summary
        path.write_text(json.dumps(data, indent=2))


def test_enough_generated_cases_of_every_kind():
    assert len(CASES) >= 300
    categories = Counter(c.category for c in CASES)
    for needed in ("alias-bomb", "deep", "bytes", "duplicate-key", "root", "file-name", "version", "type"):
        assert categories[needed] >= 4, (needed, categories)
    assert len(CLI_SUBSET) == CLI_CASES


@pytest.mark.parametrize("base", sorted(BASES))
def test_the_bases_are_valid(base):
    build(BASES[base]).close()
    build(dump_spec(BASES[base])).close()


def test_every_malformed_spec_is_refused_in_process(tmp_path):
    results = []
    for i, case in enumerate(CASES):
        outcome, detail, seconds = run_in_process(case, tmp_path / f"c{i}")
        results.append((case, outcome, detail, seconds))
    summary = _summary(results, "in-process fuzz (build)")
    _record("in_process", summary)
    failures = [f"{c.name} [{c.category}]: {o}: {d}" for c, o, d, _ in results if o != "located"]
    assert not failures, f"{len(failures)} of {len(results)} cases failed:\n" + "\n".join(failures[:200])
    bombs = [s for c, _, _, s in results if c.category in ("alias-bomb", "deep")]
    assert max(bombs) < 1.0, max(bombs)


def test_malformed_specs_through_the_cli(tmp_path):
    def one(item: tuple[int, Case]) -> tuple[Case, str, str, float]:
        i, case = item
        return (case, *run_cli(case, tmp_path / f"c{i}"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, enumerate(CLI_SUBSET)))
    summary = _summary(results, f"CLI fuzz ({sys.executable} -m embedspec validate)")
    _record("cli", summary)
    failures = [f"{c.name} [{c.category}]: {o}: {d}" for c, o, d, _ in results if o != "located"]
    assert not failures, f"{len(failures)} of {len(results)} cases failed:\n" + "\n".join(failures)
