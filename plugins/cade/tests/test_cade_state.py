"""Saving and loading a CADE model: exact round trip, no pickle, clear errors for broken states."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from embedspec_cade.errors import StateError
from embedspec_cade.model import CadeModel


def test_round_trip_is_exact(cade_model, cade_state):
    loaded = CadeModel.load(cade_state)
    assert loaded.settings == cade_model.settings
    assert loaded.slice_names == ["first", "second", "union"]
    assert loaded.context_.tobytes() == cade_model.context_.tobytes()
    assert loaded.compass_.words == cade_model.compass_.words
    assert np.array_equal(loaded.compass_.vectors, cade_model.compass_.vectors)
    for name, sv in cade_model.slices_.items():
        got = loaded.slices_[name]
        assert got.words == sv.words
        assert np.array_equal(got.counts, sv.counts)
        assert got.vectors.tobytes() == sv.vectors.tobytes()
        assert np.array_equal(loaded.compass_ids_[name], cade_model.compass_ids_[name])
    assert loaded.fingerprint == cade_model.fingerprint
    assert loaded.reports_["union"]["tokens"] == cade_model.reports_["union"]["tokens"]


def test_files_load_without_pickle(cade_state):
    for file in cade_state.glob("*.npz"):
        with np.load(file, allow_pickle=False) as data:
            assert all(data[k].dtype != object for k in data.files)
    meta = json.loads((cade_state / "cade.json").read_text())
    assert meta["format"] == "embedspec-cade" and meta["version"] == 1
    assert [s["name"] for s in meta["slices"]] == ["first", "second", "union"]


@pytest.fixture
def state_copy(cade_state, tmp_path) -> Path:
    return Path(shutil.copytree(cade_state, tmp_path / "copy"))


def test_missing_slice_file(state_copy):
    (state_copy / "slice-1.npz").unlink()
    with pytest.raises(StateError, match=r"slice 'second': .*slice-1\.npz is missing: the CADE state at .* is incomplete"):
        CadeModel.load(state_copy)


def test_a_slice_trained_against_another_compass(state_copy, lee_texts, tmp_path):
    other = CadeModel(dim=32, epochs=1, min_count=5, negative=5, seed=1).fit({"x": lee_texts[:100]})
    other_state = other.save(tmp_path / "other")
    shutil.copy(other_state / "slice-0.npz", state_copy / "slice-0.npz")
    with pytest.raises(StateError, match=r"slice 'first' \(slice-0\.npz\) was trained against another compass"):
        CadeModel.load(state_copy)


def test_mismatched_shapes_and_versions(state_copy):
    with np.load(state_copy / "slice-2.npz") as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(state_copy / "slice-2.npz", **{**arrays, "vectors": arrays["vectors"][:, :16]})
    with pytest.raises(StateError, match=r"slice 'union' \(slice-2\.npz\): vectors \(\d+, 16\) and counts"):
        CadeModel.load(state_copy)
    meta = json.loads((state_copy / "cade.json").read_text())
    (state_copy / "cade.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(StateError, match="format version 99; this release reads 1"):
        CadeModel.load(state_copy)
    (state_copy / "cade.json").write_text(json.dumps({**meta, "settings": {**meta["settings"], "dim": 64}}))
    with pytest.raises(StateError, match=r"compass\.npz: vectors has shape \(\d+, 32\), expected \d+ rows of dimension 64"):
        CadeModel.load(state_copy)


def test_not_a_state(tmp_path):
    with pytest.raises(StateError, match="does not exist"):
        CadeModel.load(tmp_path / "nowhere")
    with pytest.raises(StateError, match=r"is not a CADE state: cade\.json is missing"):
        CadeModel.load(tmp_path)


def test_save_never_overwrites_other_files(cade_model, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(StateError, match="holds other files"):
        cade_model.save(target)
    assert (target / "notes.txt").read_text() == "keep me"
    # a CADE state is replaced whole
    saved = cade_model.save(tmp_path / "state")
    (saved / "stale.npz").write_bytes(b"old")
    cade_model.save(saved)
    assert not (saved / "stale.npz").exists()
    assert sorted(p.name for p in saved.iterdir()) == ["cade.json", "compass.npz", "slice-0.npz", "slice-1.npz",
                                                       "slice-2.npz"]


def test_fuzz_corrupted_files_raise_state_errors(state_copy):
    """Truncate or scramble each file in turn: every failure is a StateError naming the file."""
    rng = np.random.default_rng(0)
    for file in sorted(state_copy.iterdir()):
        original = file.read_bytes()
        for trial in range(4):
            if trial == 0:
                data = original[: len(original) // 2]
            elif trial == 1:
                data = b""
            else:
                buf = bytearray(original)
                for pos in rng.integers(0, len(buf), size=16):
                    buf[pos] = int(rng.integers(0, 256))
                data = bytes(buf)
            file.write_bytes(data)
            try:
                CadeModel.load(state_copy)
            except StateError as exc:
                assert file.name in str(exc) or "cade.json" in str(exc), str(exc)
            except Exception as exc:  # noqa: BLE001 - the point of the fuzz
                pytest.fail(f"{file.name} trial {trial}: {type(exc).__name__}: {exc}")
            else:
                pytest.fail(f"{file.name} trial {trial}: a corrupted state loaded")
            finally:
                file.write_bytes(original)
        assert zipfile.is_zipfile(file) or file.suffix == ".json"
