"""The third-party example plugin installs as its own distribution and is discovered via its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from embedspec.documents import content_id

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO / "examples" / "plugin-example")],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip could not install the example plugin: {proc.stderr[-2000:]}")
    return target


def _run(target: Path, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout


def test_example_plugin_is_discovered_listed_and_usable(installed_example):
    out = _run(installed_example, (
        "import json, embedspec, numpy as np\n"
        "from embedspec.cli import get_cli\n"
        "from click.testing import CliRunner\n"
        "rows = json.loads(CliRunner().invoke(get_cli(), ['plugins', '--json']).output)['components']\n"
        "row = [r for r in rows if r['name'] == 'random-projection'][0]\n"
        "p = embedspec.build({'version': 1, 'encoder': {'type': 'hashing', 'dim': 256},\n"
        "    'compressors': [{'type': 'random-projection', 'dim': 32, 'seed': 3}], 'index': {'type': 'exact'}})\n"
        "p.add(['alpha beta', 'gamma delta', 'epsilon zeta'])\n"
        "print(json.dumps({'row': row, 'dim': p.dim, 'top': p.search(['gamma delta'], k=1)[0][0].id,\n"
        "                  'spec': p.to_spec()['compressors']}))\n"
    ))
    result = json.loads(out.strip().splitlines()[-1])
    assert result["row"]["kind"] == "compressor"
    assert result["row"]["distribution"] == "embedspec-random-projection"
    assert result["row"]["plugin"] == "random-projection"
    assert result["dim"] == 32 and result["top"] == content_id("gamma delta")
    assert result["spec"] == [{"type": "random-projection", "dim": 32, "seed": 3}]


def test_random_projection_preserves_inner_products():
    sys.path.insert(0, str(REPO / "examples" / "plugin-example" / "src"))
    try:
        from embedspec_random_projection.projection import RandomProjection
    finally:
        sys.path.pop(0)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 1024)).astype(np.float32)
    Y = RandomProjection(dim=512, normalize=False).fit(X).transform(X)
    ratio = np.linalg.norm(Y, axis=1) ** 2 / np.linalg.norm(X, axis=1) ** 2
    assert abs(float(ratio.mean()) - 1.0) < 0.05
