"""``embedspec images index|search`` and the image-search example, end to end on a tiny CLIP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="the encoder needs onnxruntime (embedspec-onnx[cpu])")
pytest.importorskip("torch", reason="the tiny test model is exported with torch (embedspec-onnx[export])")

import click  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from clip_fixtures import REPO, exported_tiny, photo_like  # noqa: E402
from embedspec_onnx.clip.commands import images_command  # noqa: E402
from PIL import Image  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        Image.fromarray(photo_like(60 + 10 * i, 80, seed=i)).save(folder / f"p{i}.png")
    Image.fromarray(photo_like(50, 50, seed=9)).save(folder / "sub" / "nested.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def spec_file(tmp_path: Path, index_block: str) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\nencoder:\n  type: onnx-clip\n  model: {exported_tiny('clip')[1]}\n"
                    f"index:\n{index_block}")
    return spec


def test_images_index_then_search_by_text_and_image(tmp_path: Path, photos: Path) -> None:
    spec = spec_file(tmp_path, f"  type: exact\n  path: {tmp_path / 'index'}\n")
    cli = click.Group(commands={"images": images_command})
    runner = CliRunner()
    done = runner.invoke(cli, ["images", "index", str(spec), str(photos), "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "indexed 6 images" in done.output and "the index holds 6" in done.output
    found = runner.invoke(cli, ["images", "search", str(spec), "--text", "a house", "--image",
                                str(photos / "p3.png"), "-k", "3", "--json"])
    assert found.exit_code == 0, found.output
    text_q, image_q = json.loads(found.output)
    assert text_q["kind"] == "text" and len(text_q["hits"]) == 3
    top = image_q["hits"][0]
    assert image_q["kind"] == "image" and top["id"] == "p3.png" and top["score"] == pytest.approx(1.0, abs=1e-5)
    assert top["payload"]["name"] == "p3.png" and top["payload"]["path"] == str((photos / "p3.png").resolve())
    assert {h["id"] for h in text_q["hits"]} <= {"p0.png", "p1.png", "p2.png", "p3.png", "p4.png", "sub/nested.jpg"}
    empty = runner.invoke(cli, ["images", "search", str(spec)])
    assert empty.exit_code != 0 and "at least one --text or --image" in empty.output


def test_example_script_with_qdrant_edge(tmp_path: Path, photos: Path) -> None:
    pytest.importorskip("embedspec_qdrant", reason="the example's spec uses qdrant-edge (embedspec-qdrant)")
    script = REPO / "examples" / "image-search" / "image_search.py"
    if not script.is_file():
        pytest.skip(f"the image-search example is not at {script} (this plugin was lifted out of the monorepo)")
    env = {"CLIP_MODEL": str(exported_tiny("clip")[1]), "IMAGE_INDEX": str(tmp_path / "qdrant"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = [sys.executable, str(script)]
    done = subprocess.run([*run, "index", str(photos)], env=env, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "indexed 6 images" in done.stdout
    found = subprocess.run([*run, "search", "--image", str(photos / "p1.png"), "-k", "2"], env=env,
                           capture_output=True, text=True, cwd=REPO)
    assert found.returncode == 0, found.stderr[-2000:]
    first_hit = found.stdout.splitlines()[1].split()
    assert first_hit[1:] == ["1.0000", "p1.png"], found.stdout
