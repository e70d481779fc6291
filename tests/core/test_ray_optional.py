"""Ray is an optional extra: importing embedspec, building a pipeline and indexing in-process import no Ray."""

from __future__ import annotations

import subprocess
import sys


def test_embedspec_and_the_local_index_command_import_no_ray(tmp_path):
    (tmp_path / "spec.yaml").write_text(
        f"version: 1\nencoder: {{type: hashing, dim: 16}}\nindex: {{type: exact, path: {tmp_path / 'idx'}}}\n")
    (tmp_path / "docs.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n')
    code = (
        "import sys, embedspec, embedspec.distributed, embedspec.embedding_cache, embedspec.progress;"
        "from embedspec.cli import main;"
        f"main(['index', {str(tmp_path / 'spec.yaml')!r}, '--input', {str(tmp_path / 'docs.jsonl')!r}, "
        f"'--cache', {str(tmp_path / 'cache')!r}, '--no-progress']);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'ray', 'pyarrow', 'pandas'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
    assert "2 written" in out.stdout


def test_the_ray_engine_without_ray_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from embedspec.distributed.ray_ingest import RayOptions, ray_session\n"
        "try:\n"
        "    with ray_session(RayOptions()): pass\n"
        "except Exception as exc: print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "EmbedspecError Ray ingestion needs Ray Data: pip install 'embedspec[ray]'"
