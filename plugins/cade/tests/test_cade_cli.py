"""``embedspec cade train | neighbours | change``, including the one-line user errors."""

from __future__ import annotations

import json

import pytest
from cade_testdata import need_training
from embedspec.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def slice_files(lee_texts, tmp_path_factory):
    folder = tmp_path_factory.mktemp("slices")
    (folder / "first.txt").write_text("\n".join(lee_texts[:150]), encoding="utf-8")
    second = folder / "second"
    second.mkdir()
    for i, text in enumerate(lee_texts[150:]):
        (second / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    return folder


def test_train_neighbours_change(capsys, slice_files, tmp_path):
    need_training()
    out_dir = tmp_path / "state"
    code, out, err = run(capsys, "cade", "train", str(out_dir), "--slice", f"first={slice_files / 'first.txt'}",
                         "--slice", f"second={slice_files / 'second'}", "--dim", "24", "--epochs", "10",
                         "--negative", "5")
    assert code == 0, err
    assert out.splitlines()[1].startswith("slice first: ") and "context frozen" in out
    assert f"saved to {out_dir} (24-d, compass " in out

    code, out, err = run(capsys, "cade", "neighbours", str(out_dir), "police", "-k", "3", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert list(result["neighbours"]) == ["first", "second", "compass"]
    assert all(len(rows) == 3 for rows in result["neighbours"].values())

    code, out, err = run(capsys, "cade", "change", str(out_dir), "first", "second", "--top", "5", "--json")
    assert code == 0, err
    table = json.loads(out)
    assert len(table["rows"]) == 5 and table["min_count"] == 20
    scores = [r["cosine"] for r in table["rows"]]
    assert scores == sorted(scores, reverse=True)
    assert set(table["rows"][0]) == {"word", "cosine", "overlap", "count_first", "count_second",
                                     "neighbours_first", "neighbours_second"}

    code, out, err = run(capsys, "cade", "change", str(out_dir), "first", "second", "--word", "police")
    assert code == 0 and out.splitlines()[1].startswith("police: cosine distance ")

    # errors are one line, no traceback
    size = json.loads((out_dir / "cade.json").read_text())["slices"][0]["vocab_size"]
    code, out, err = run(capsys, "cade", "neighbours", str(out_dir), "zzyzx", "--slice", "first")
    assert code == 1 and err.splitlines()[0] == (
        f"error: word 'zzyzx' is not in slice 'first' ({size} words, each seen at least min_count times there)"
    )
    code, out, err = run(capsys, "cade", "change", str(out_dir), "first", "third")
    assert code == 1 and err.startswith("error: unknown slice 'third'; this cade model has 'first', 'second', 'compass'")
    code, out, err = run(capsys, "cade", "train", str(out_dir), "--slice", f"x={slice_files / 'first.txt'}")
    assert code == 1 and "already holds a CADE state; pass --overwrite" in err
    assert "Traceback" not in err


def test_train_input_errors(capsys, tmp_path):
    code, _, err = run(capsys, "cade", "train", str(tmp_path / "s"), "--slice", "nofile")
    assert code == 2 and "'nofile': write NAME=PATH" in err
    code, _, err = run(capsys, "cade", "train", str(tmp_path / "s"), "--slice", f"a={tmp_path / 'missing.txt'}")
    assert code == 1 and err.splitlines()[0] == f"error: slice 'a': {tmp_path / 'missing.txt'} does not exist"
    code, _, err = run(capsys, "cade", "train", str(tmp_path / "s"), "--slice", f"a={tmp_path}", "--dim", "1")
    assert code == 2 and "dim: Input should be greater than or equal to 2" in err
    code, _, err = run(capsys, "cade", "train", str(tmp_path / "s"))
    assert code == 2 and "give the slices" in err
    assert not (tmp_path / "s").exists()


def test_train_from_a_spec_file(capsys, slice_files, tmp_path):
    need_training()
    spec = tmp_path / "cade.yaml"
    spec.write_text(f"slices:\n  first: {slice_files / 'first.txt'}\n  second: {slice_files / 'second'}\n"
                    "dim: 16\nepochs: 2\nmin_count: 3\n")
    code, out, err = run(capsys, "cade", "train", str(tmp_path / "s"), "--spec", str(spec), "--seed", "3")
    assert code == 0, err
    meta = json.loads((tmp_path / "s" / "cade.json").read_text())
    assert meta["settings"] == {**meta["settings"], "dim": 16, "epochs": 2, "min_count": 3, "seed": 3}
    spec.write_text("slices: [a, b]\n")
    code, _, err = run(capsys, "cade", "train", str(tmp_path / "t"), "--spec", str(spec))
    assert code == 2 and "expected a mapping with `slices: {name: path}`" in err
