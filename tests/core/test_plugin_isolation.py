"""Plugin isolation with real installed distributions: every way one plugin can fail is caught and
reported with its distribution, and leaves every other plugin working.

Tiny plugin packages (pyproject + one module, entry-point group ``embedspec``) are built at test time
and pip-installed together into one target directory; the CLI runs in subprocesses with
``PYTHONPATH=<target>``, registry checks run in-process with the target on ``sys.path``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_HEADER = """
import sys
from embedspec.hookspecs import hookimpl
from embedspec.builtin.exact import ExactIndex, ExactIndexConfig
from embedspec.builtin.hashing import HashingEncoder, HashingEncoderConfig
"""

#: entry-point name -> (distribution, module, module body after _HEADER)
PACKAGES: dict[str, tuple[str, str, str]] = {
    "bad-import": ("embedspec-bad-import", "esp_bad_import", """
        import embedspec_missing_dependency_xyz  # noqa: F401

        @hookimpl
        def register_encoders(register):
            register("bad-import-encoder", HashingEncoder, HashingEncoderConfig)
    """),
    "exits": ("embedspec-exits", "esp_exits", """
        sys.exit(3)
    """),
    "misspelt": ("embedspec-misspelt", "esp_misspelt", """
        class MisspeltIndex(ExactIndex):
            pass

        @hookimpl
        def register_encoder(register):
            register("misspelt-encoder", HashingEncoder, HashingEncoderConfig)

        @hookimpl
        def register_indexes(register):
            register("misspelt-index", MisspeltIndex, ExactIndexConfig)
    """),
    "half": ("embedspec-half", "esp_half", """
        class HalfEncoder(HashingEncoder):
            pass

        @hookimpl
        def register_indexes(register):
            register("half-index", ExactIndex, ExactIndexConfig)

        @hookimpl
        def register_encoders(register):
            register("half-encoder", HalfEncoder, HashingEncoderConfig)
            raise RuntimeError("half way through")
    """),
    "qdrant": ("qdrant-shadow", "esp_qdrant_shadow", """
        class ShadowIndex(ExactIndex):
            pass

        @hookimpl
        def register_indexes(register):
            register("qdrant-edge", ShadowIndex, ExactIndexConfig)
            register("shadow-only", ShadowIndex, ExactIndexConfig)
    """),
    "exact-encoder": ("embedspec-exact-encoder", "esp_exact_encoder", """
        class ExactNamedEncoder(HashingEncoder):
            pass

        @hookimpl
        def register_encoders(register):
            register("exact", ExactNamedEncoder, HashingEncoderConfig)
    """),
    "dup-a": ("embedspec-dup-a", "esp_dup_a", """
        class DupEncoderA(HashingEncoder):
            pass

        @hookimpl
        def register_encoders(register):
            register("dup-enc", DupEncoderA, HashingEncoderConfig)
    """),
    "dup-b": ("embedspec-dup-b", "esp_dup_b", """
        class DupEncoderB(HashingEncoder):
            pass

        @hookimpl
        def register_encoders(register):
            register("dup-enc", DupEncoderB, HashingEncoderConfig)
            register("hashing", DupEncoderB, HashingEncoderConfig)
            register("dup-b-only", DupEncoderB, HashingEncoderConfig)
    """),
    "invalid": ("embedspec-invalid", "esp_invalid", """
        class NotAnEncoder:
            def __init__(self, dim=4):
                self.dim = dim

        class PlainConfig:
            dim: int = 4

        @hookimpl
        def register_encoders(register):
            register("invalid-ok", HashingEncoder, HashingEncoderConfig)
            register("by-function", lambda **kw: HashingEncoder(**kw), HashingEncoderConfig)
            register("plain-config", HashingEncoder, PlainConfig)
            register("", HashingEncoder, HashingEncoderConfig)
            register(42, HashingEncoder, HashingEncoderConfig)
            register("two words", HashingEncoder, HashingEncoderConfig)
            register("not-an-encoder", NotAnEncoder, None)
    """),
}

#: entry-point name -> (distribution, substrings of the reported error)
EXPECTED_BROKEN: dict[str, tuple[str, list[str]]] = {
    "bad-import": ("embedspec-bad-import",
                   ["import failed", "ModuleNotFoundError", "embedspec_missing_dependency_xyz"]),
    "exits": ("embedspec-exits", ["import failed", "SystemExit(3)"]),
    "misspelt": ("embedspec-misspelt", ["unknown hook 'register_encoder'", "did you mean 'register_encoders'?"]),
    "half": ("embedspec-half", ["register_encoders: raised RuntimeError: half way through"]),
    "qdrant": ("qdrant-shadow", ["entry point name 'qdrant' is taken by embedspec-qdrant",
                                 "qdrant = esp_qdrant_shadow", "rename the entry point"]),
    "dup-b": ("embedspec-dup-b", [
        "encoder 'dup-enc' is registered twice: by plugin 'dup-a' (embedspec-dup-a) "
        "and by plugin 'dup-b' (embedspec-dup-b)",
        "encoder 'hashing' is registered twice: by plugin 'embedspec.builtin' (embedspec) "
        "and by plugin 'dup-b' (embedspec-dup-b)",
    ]),
    "invalid": ("embedspec-invalid", [
        "encoder 'by-function': the factory must be a class, got function",
        "encoder 'plain-config': the config model must be a pydantic BaseModel subclass, got PlainConfig",
        "encoder '': the name must be a non-empty string",
        "encoder 42: the name must be a non-empty string, got int",
        "encoder 'two words': the name may hold only letters, digits, '.', '_' and '-'",
        "encoder 'not-an-encoder': NotAnEncoder lacks encode() of the Encoder protocol",
    ]),
}

#: components that a broken plugin registered before failing: all withdrawn
WITHDRAWN = [("encoder", "half-encoder"), ("index", "half-index"), ("index", "misspelt-index"),
             ("index", "shadow-only"), ("encoder", "dup-b-only"), ("encoder", "invalid-ok")]

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"

[project.entry-points.embedspec]
{entry_point} = "{module}"

[tool.setuptools]
py-modules = ["{module}"]
"""


def build_package(root: Path, entry_point: str, dist: str, module: str, body: str) -> Path:
    """Write a one-module plugin distribution under ``root``; return its folder."""
    folder = root / dist
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(_PYPROJECT.format(dist=dist, entry_point=entry_point, module=module))
    (folder / f"{module}.py").write_text(_HEADER + textwrap.dedent(body))
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test package pip-installed (one pip run) into one target directory."""
    sources = tmp_path_factory.mktemp("plugin-sources")
    folders = [build_package(sources, ep, *spec) for ep, spec in PACKAGES.items()]
    target = tmp_path_factory.mktemp("plugin-site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), *map(str, folders)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip could not install the test plugins: {proc.stderr[-2000:]}")
    return target


def _env(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBEDSPEC_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    env["EMBEDSPEC_PROGRESS"] = "0"
    return {**env, **extra}


def _cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from embedspec.cli import main; main()", *args], capture_output=True, text=True,
                          env=_env(site, **env), cwd=site.parent, timeout=120)


@pytest.fixture
def in_process(site: Path, monkeypatch: pytest.MonkeyPatch):
    """The registry of this process with the test plugins installed; everything undone afterwards."""
    from embedspec.plugins import reset_plugins

    for name in [k for k in os.environ if k.startswith("EMBEDSPEC_PLUGINS")]:
        monkeypatch.delenv(name)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    reset_plugins()
    modules = set(sys.modules)
    try:
        yield
    finally:
        for name in set(sys.modules) - modules:
            if name.startswith("esp_"):
                del sys.modules[name]
        reset_plugins()


@pytest.fixture(scope="module")
def listing(site: Path) -> dict:
    proc = _cli(site, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", sorted(EXPECTED_BROKEN))
def test_each_broken_plugin_is_listed_with_distribution_and_error(listing: dict, name: str):
    dist, fragments = EXPECTED_BROKEN[name]
    (row,) = [b for b in listing["broken"] if b["plugin"] == name and b["distribution"] == dist]
    assert row["version"] == "0.1.0"
    for fragment in fragments:
        assert fragment in row["error"], (fragment, row["error"])


def test_only_the_broken_plugins_are_broken(listing: dict):
    assert sorted((b["plugin"], b["distribution"]) for b in listing["broken"]) == sorted(
        (name, dist) for name, (dist, _) in EXPECTED_BROKEN.items()
    )


def test_everything_a_broken_plugin_registered_is_withdrawn(listing: dict):
    present = {(c["kind"], c["name"]) for c in listing["components"]}
    assert present.isdisjoint(WITHDRAWN)
    assert not {c["plugin"] for c in listing["components"]} & {"half", "misspelt", "dup-b", "invalid"}


def test_other_plugins_keep_their_components(listing: dict):
    rows = {(c["kind"], c["name"]): c for c in listing["components"]}
    assert rows[("index", "qdrant-edge")]["distribution"] == "embedspec-qdrant"
    assert rows[("index", "qdrant")]["distribution"] == "embedspec-qdrant"
    assert rows[("encoder", "onnx-text")]["distribution"] == "embedspec-onnx"
    assert rows[("index", "exact")]["distribution"] == "embedspec"
    assert rows[("encoder", "hashing")]["distribution"] == "embedspec"
    assert rows[("encoder", "exact")]["distribution"] == "embedspec-exact-encoder"
    assert rows[("encoder", "dup-enc")]["plugin"] == "dup-a"


def test_plugins_table_prints_broken_plugins_to_stderr_and_exits_0(site: Path):
    proc = _cli(site, "plugins")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "qdrant-edge" in proc.stdout and "BROKEN" not in proc.stdout
    lines = proc.stderr.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("BROKEN PLUGIN"))
    assert lines[header].split() == ["BROKEN", "PLUGIN", "DISTRIBUTION", "ERROR"]
    rows = lines[header + 1:header + 1 + len(EXPECTED_BROKEN)]
    assert sorted(row.split()[0] for row in rows) == sorted(EXPECTED_BROKEN)
    assert any(row.split()[:2] == ["qdrant", "qdrant-shadow"] for row in rows)


def test_validate_warns_one_line_per_broken_plugin_then_succeeds(site: Path, tmp_path: Path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nencoder: {type: hashing, dim: 64}\nindex: {type: exact}\n")
    proc = _cli(site, "validate", str(spec))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{spec}: valid (64 -> 64 dims; index ExactIndex at memory: 0 vectors)"
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: plugin ")]
    assert len(warnings) == len(EXPECTED_BROKEN), proc.stderr
    for name, (dist, _) in EXPECTED_BROKEN.items():
        assert sum(line.startswith(f"warning: plugin {name!r} ({dist} 0.1.0) was skipped: ") for line in warnings) == 1


def assert_names_installed(warning: str, start: str) -> None:
    """The warning starts as given and lists the installed entry points, sorted (the test's and the repo's)."""
    assert warning.startswith(start + " (installed: ") and warning.endswith("); ignored"), warning
    installed = warning[len(start + " (installed: "):-len("); ignored")].split(", ")
    assert installed == sorted(installed)
    assert {"bad-import", "dup-a", "dup-b", "exact-encoder", "exits", "misspelt", "onnx", "qdrant"} <= set(installed)


def test_unknown_name_in_embedspec_plugins_warns_once(site: Path):
    proc = _cli(site, "plugins", "--json", EMBEDSPEC_PLUGINS="exact-encoder,no-such-plugin")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    (warning,) = listing["warnings"]
    assert_names_installed(warning, "EMBEDSPEC_PLUGINS names 'no-such-plugin', which matches no installed plugin")
    assert {c["plugin"] for c in listing["components"]} == {"embedspec.builtin", "exact-encoder"}
    # a plugin left out is listed as skipped, a broken one outside the selection is not loaded at all
    assert [b["plugin"] for b in listing["broken"]] == ["qdrant"]  # the refused shadow stays reported
    assert {"plugin": "qdrant", "distribution": "embedspec-qdrant", "version": "0.1.0",
            "reason": "not selected by EMBEDSPEC_PLUGINS"} in listing["skipped"]

    proc = _cli(site, "validate", "missing.yaml", EMBEDSPEC_PLUGINS="no-such-plugin")
    assert proc.stderr.count("'no-such-plugin'") == 1, proc.stderr
    assert "warning: EMBEDSPEC_PLUGINS names 'no-such-plugin'" in proc.stderr


def test_embedspec_plugins_disable_removes_plugins_and_warns_about_what_it_cannot(site: Path):
    proc = _cli(site, "plugins", "--json",
                EMBEDSPEC_PLUGINS_DISABLE="exact-encoder, misspelt,exits,embedspec.builtin,nope")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    names = {(c["kind"], c["name"]) for c in listing["components"]}
    assert ("encoder", "exact") not in names and ("index", "exact") in names and ("encoder", "hashing") in names
    broken = {b["plugin"] for b in listing["broken"]}
    assert broken == set(EXPECTED_BROKEN) - {"misspelt", "exits"}
    assert {(s["plugin"], s["reason"]) for s in listing["skipped"]} == {
        ("exact-encoder", "disabled by EMBEDSPEC_PLUGINS_DISABLE"),
        ("misspelt", "disabled by EMBEDSPEC_PLUGINS_DISABLE"),
        ("exits", "disabled by EMBEDSPEC_PLUGINS_DISABLE"),
    }
    first, second = listing["warnings"]
    assert first == "EMBEDSPEC_PLUGINS_DISABLE names 'embedspec.builtin': the built-in components cannot be disabled"
    assert_names_installed(second, "EMBEDSPEC_PLUGINS_DISABLE names 'nope', which matches no installed plugin")


def test_build_and_describe_are_kind_aware_with_every_plugin_installed(in_process, tmp_path: Path):
    import embedspec
    from embedspec.plugins import broken_plugins, describe, get_registry

    with pytest.warns(UserWarning) as record:
        registry = get_registry()
    assert len([w for w in record if "was skipped" in str(w.message)]) == len(EXPECTED_BROKEN)
    assert {b.name for b in broken_plugins()} == set(EXPECTED_BROKEN)
    assert registry.get("index", "qdrant-edge").factory.__module__.startswith("embedspec_qdrant.")
    assert registry.get("encoder", "exact").distribution == "embedspec-exact-encoder"

    path = str(tmp_path / "idx")
    pipe = embedspec.build({"version": 1, "encoder": {"type": "exact", "dim": 64},
                            "index": {"type": "exact", "path": path, "metric": "dot"}})
    try:
        pipe.add(["alpha beta", "gamma delta"], ids=[1, 2])
        assert pipe.search(["gamma delta"], k=1)[0][0].id == 2
        written = {"type": "exact", "path": path, "metric": "dot", "dim": 64}
        assert describe(pipe.index) == written
        assert describe(pipe.encoder) == {"type": "exact", "dim": 64}
        assert pipe.to_spec()["index"] == written
    finally:
        pipe.close()


def test_real_qdrant_edge_still_works(in_process, tmp_path: Path):
    pytest.importorskip("qdrant_edge", reason="needs qdrant-edge (pip install 'embedspec-qdrant[edge]')")
    import embedspec

    with pytest.warns(UserWarning):
        pipe = embedspec.build({"version": 1, "encoder": {"type": "hashing", "dim": 32},
                                "index": {"type": "qdrant-edge", "path": str(tmp_path / "edge")}})
    try:
        assert type(pipe.index).__module__.startswith("embedspec_qdrant.")
        pipe.add(["alpha beta", "gamma delta"], ids=[1, 2])
        assert pipe.search(["alpha beta"], k=1)[0][0].id == 1
    finally:
        pipe.close()
