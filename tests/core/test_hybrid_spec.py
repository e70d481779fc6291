"""The hybrid spec (``encoders:`` + ``fusion:``): structure and fusion validated with located errors."""

from __future__ import annotations

import random

import pytest
import yaml
from embedspec.errors import SpecError
from embedspec.hybrid import FusionConfig
from embedspec.spec import load_spec

HYBRID = """\
version: 1
encoders:
  dense:
    type: hashing
    dim: 32
  words:
    type: hashing
    dim: 16
index:
  type: exact
fusion:
  method: rrf
  k: 60
  weights: {dense: 1.0, words: 0.5}
"""


def issues(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(SpecError) as info:
        load_spec(text)
    return [(i.path, i.line, i.message) for i in info.value.issues]


def test_a_hybrid_spec_validates():
    spec = load_spec(HYBRID)
    assert spec.encoder is None and list(spec.encoders) == ["dense", "words"]
    assert [b.path for b in spec.blocks()] == ["encoders.dense", "encoders.words", "index"]
    assert spec.encoders["words"].config.dim == 16
    assert spec.fusion == FusionConfig(method="rrf", k=60, weights={"dense": 1.0, "words": 0.5})
    plan = spec.fusion.plan(list(spec.encoders))
    assert [p.vector for p in plan.plans] == ["dense", "words"] and plan.weights == (1.0, 0.5) and plan.rrf_k == 60


def test_a_fusion_naming_a_vector_the_index_lacks_is_located():
    found = issues(HYBRID.replace("words: 0.5}", "title: 0.5}"))
    assert found == [("fusion.weights.title", 14, "names vector 'title', which the index lacks: its vectors are "
                      "the spec's encoders (dense, words)")]


@pytest.mark.parametrize("change,where,line,message", [
    (lambda t: t.replace("  method: rrf", "  method: sum"), "fusion.method", 12, "Input should be 'rrf' or 'weighted'"),
    (lambda t: t.replace("  k: 60", "  k: -1"), "fusion.k", 13, "greater than or equal to 0"),
    (lambda t: t.replace("  k: 60", "  k: true"), "fusion.k", 13, "expected a number, not a boolean"),
    (lambda t: t.replace("words: 0.5", "words: -2"), "fusion.weights", 14, "weight of 'words' must be >= 0"),
    (lambda t: t.replace("  k: 60", "  rank: 60"), "fusion.rank", 13, "unknown field for fusion"),
    (lambda t: t.replace("fusion:\n", "fusion: rrf\nx:\n"), "fusion", 11, "must be a mapping"),
    (lambda t: t.replace("  words:\n", "  Words:\n"), "encoders.Words", 6, "a vector name is lower-case letters"),
    (lambda t: t.replace("    dim: 16", "    dim: 0"), "encoders.words.dim", 8, "greater than or equal to 1"),
    (lambda t: t.split("fusion:")[0], "fusion", 2, "needs a `fusion` block"),
    (lambda t: t + "compressors:\n  - type: binary\n", "compressors", 15, "takes no compressors"),
    (lambda t: t.replace("version: 1\n", "version: 1\nencoder:\n  type: hashing\n"), "encoder", 2, "not both"),
])
def test_bad_hybrid_specs_are_located(change, where, line, message):
    found = issues(change(HYBRID))
    assert any(p == where and ln == line and message in m for p, ln, m in found), found


def test_a_fusion_needs_encoders_and_encoders_need_two():
    single = "version: 1\nencoder:\n  type: hashing\nindex:\n  type: exact\nfusion:\n  method: rrf\n"
    assert issues(single) == [("fusion", 6, "a fusion block combines the vectors of several encoders: name them "
                                            "under `encoders:` (see docs/hybrid.md)")]
    one = "version: 1\nencoders:\n  dense:\n    type: hashing\nindex:\n  type: exact\nfusion: {}\n"
    assert issues(one)[0][:2] == ("encoders", 2)


def test_fuzzed_hybrid_specs_give_spec_errors_only():
    rng = random.Random(20)
    base = yaml.safe_load(HYBRID)
    values = [None, True, -1, 0, 1.5, "x", "", [], {}, {"a": 1}, [1, "b"], 10**30]
    for _ in range(300):
        spec = yaml.safe_load(HYBRID)
        for _ in range(rng.randint(1, 3)):
            section = rng.choice(["encoders", "fusion", "top"])
            if section == "top":
                spec[rng.choice(["encoders", "fusion", "encoder", "compressors"])] = rng.choice(values)
            elif isinstance(spec.get(section), dict) and spec[section]:
                key = rng.choice([*spec[section], "weights", "extra"])
                spec[section][key] = rng.choice(values + [{"dense": rng.choice(values)}])
        try:
            load_spec(spec)
        except SpecError as exc:
            assert exc.issues and all(i.path for i in exc.issues)
    assert load_spec(base).fusion is not None
