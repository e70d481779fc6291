"""How broken ``onnx-text`` model directories fare: ``embedspec validate``, ``check(deep=True)``, ``embedspec index``.

Builds every broken directory of ``plugins/onnx/tests/test_model_directories.py`` from an exported MiniLM
directory and runs, for each, the real CLI ``main`` (validate, then index of a short and a long
document into an in-memory index) and the encoder's deep check. Prints the counts and writes JSON to
``benchmarks/results/onnx_model_directories-LABEL.json``. Not a speed benchmark: it counts outcomes.

    python benchmarks/onnx_model_directories.py --label after
    # the code of main, for the "before" figure:
    git archive main plugins/onnx/src | tar -x -C /tmp/main-onnx
    PYTHONPATH=/tmp/main-onnx/plugins/onnx/src python benchmarks/onnx_model_directories.py --label before
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_cases() -> object:
    spec = importlib.util.spec_from_file_location("model_directory_cases", REPO / "plugins/onnx/tests/test_model_directories.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def cli(args: list[str]) -> tuple[int | str, str]:
    """(exit code or "traceback", the first error line) of ``embedspec ARGS`` through the real ``main``."""
    from embedspec.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code: int | str = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        except BaseException as exc:  # noqa: BLE001 - escaping main = a traceback for the user
            code = "traceback"
            err.write(f"{type(exc).__name__}: {exc}")
    lines = (out.getvalue() + err.getvalue()).strip().splitlines()
    first = next((x for x in lines if x.startswith("error:") or "Error" in x or "encoder." in x), lines[-1] if lines else "")
    return code, first[:200]


def deep_check(directory: Path, spec: dict) -> str:
    from embedspec.base import Component
    from embedspec_onnx import OnnxTextEncoder

    if OnnxTextEncoder.check is Component.check:
        return "no check"
    try:
        OnnxTextEncoder(model=str(directory), device="cpu", threads=1, **spec).check(deep=True)
    except Exception as exc:  # noqa: BLE001 - counted, not raised
        return "located" if getattr(exc, "field", None) else f"unlocated {type(exc).__name__}"
    return "passes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after")
    parser.add_argument("--model-dir", default=str(REPO / "models" / "all-MiniLM-L6-v2"),
                        help="an exported MiniLM directory (exported there with ensure_minilm when absent)")
    args = parser.parse_args()
    from embedspec_onnx.text.export import ensure_minilm

    source = ensure_minilm(args.model_dir)
    cases = load_cases()
    rows = []
    for case in cases.TEXT_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            docs = Path(tmp) / "docs.jsonl"
            docs.write_text(json.dumps({"id": "a", "text": "hello world"}) + "\n"
                            + json.dumps({"id": "b", "text": "long " * 2000}) + "\n")
            broken = cases.make_broken(case, source, Path(tmp) / "case")
            before = cases.tree_state(*broken.roots)
            validate, validate_msg = cli(["validate", str(broken.spec)])
            deep = deep_check(broken.directory, case.spec)
            index, index_msg = cli(["index", str(broken.spec), "--input", str(docs), "--no-progress"])
            rows.append({"case": case.name, "level": case.level, "validate": validate, "located": "encoder." in validate_msg,
                         "deep": deep, "index": index, "validate_msg": validate_msg, "index_msg": index_msg,
                         "modified": cases.tree_state(*broken.roots) != before})
    summary = {
        "label": args.label, "cases": len(rows),
        "validate_passes": sum(r["validate"] == 0 for r in rows),
        "validate_refuses_located": sum(r["validate"] == 1 and r["located"] for r in rows),
        "deep_check_refuses_located": sum(r["deep"] == "located" for r in rows),
        "index_succeeds": sum(r["index"] == 0 for r in rows),
        "index_traceback": sum(r["index"] == "traceback" for r in rows),
        "index_error_line": sum(r["index"] == 1 for r in rows),
        "directories_modified": sum(r["modified"] for r in rows),
    }
    for r in rows:
        print(f"{r['case']:34s} {r['level']:5s} validate={r['validate']!s:9s} deep={r['deep']:9s} index={r['index']!s:9s}")
    print(json.dumps(summary))
    out = REPO / "benchmarks" / "results" / f"onnx_model_directories-{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
