"""Bad records give clear errors naming the record position and the feature."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.errors import EmbedspecError, NotFittedError, SpecError
from embedspec_unified import RecordError, RecordValueTypeError, UnifiedEmbeddingEncoder
from embedspec_unified.config import FeatureConfig
from embedspec_unified.records import parse_records

FEATS = {"user": FeatureConfig(), "tags": FeatureConfig(multivalued=True)}
GOOD = {"user": 1, "tags": ["a"]}


def test_parse_records_builds_ragged_columns() -> None:
    cols = parse_records([{"user": 1, "tags": ["a", "b"]}, {"user": "x", "tags": []}, {"user": 1.0, "tags": "a"}], FEATS)
    assert cols["user"].single and cols["user"].values[0] == cols["user"].values[2]
    assert cols["tags"].offsets.tolist() == [0, 2, 2, 3] and not cols["tags"].single
    assert cols["tags"].values[0] == cols["tags"].values[2]  # a lone scalar is a one-value list
    arrays = parse_records([{"user": np.int64(1), "tags": np.array(["a", "b"])}], FEATS)
    assert arrays["tags"].values.tolist() == cols["tags"].values[:2].tolist()
    assert arrays["user"].values[0] == cols["user"].values[0]
    with pytest.raises(RecordValueTypeError, match="position 0: the value of feature 'user' is datetime64"):
        parse_records([{"user": np.datetime64("2020-01-01"), "tags": []}], FEATS)
    taken = cols["tags"].take(np.array([2, 1, 0]))
    assert taken.offsets.tolist() == [0, 1, 1, 3]
    assert taken.values.tolist() == cols["tags"].values[[2, 0, 1]].tolist()


@pytest.mark.parametrize(
    ("records", "error", "pattern", "position", "feature"),
    [
        ([GOOD, {"user": 1, "tags": [], "age": 3}], RecordError, r"position 1 has unknown feature 'age'", 1, "age"),
        ([GOOD, GOOD, {"tags": []}], RecordError, r"position 2 is missing feature 'user'", 2, "user"),
        ([{"user": {"id": 1}, "tags": []}], RecordValueTypeError, r"position 0: the value of feature 'user' is dict", 0, "user"),
        ([GOOD, {"user": 1j, "tags": []}], RecordValueTypeError, r"position 1: the value of feature 'user' is complex", 1, "user"),
        ([GOOD, {"user": (1, 2), "tags": []}], RecordValueTypeError, r"feature 'user' holds a tuple but is single-valued", 1, "user"),
        ([GOOD, {"user": [1], "tags": []}], RecordValueTypeError, r"position 1: feature 'user' holds a list but is single-valued", 1, "user"),
        ([GOOD, {"user": 2, "tags": ["a", ["b"]]}], RecordValueTypeError, r"position 1: a value inside feature 'tags' is list", 1, "tags"),
        ([GOOD, "user=1"], RecordError, r"record at position 1 is str, not a mapping", 1, None),
    ],
)
def test_bad_records_name_position_and_feature(records, error, pattern, position, feature) -> None:
    with pytest.raises(error, match=pattern) as info:
        parse_records(records, FEATS)
    assert info.value.position == position and info.value.feature == feature
    assert isinstance(info.value, (ValueError, EmbedspecError))


def test_empty_records_and_bad_targets_are_refused() -> None:
    enc = UnifiedEmbeddingEncoder(features={"user": {}}, rows=16)
    with pytest.raises(RecordError, match="empty list of records"):
        enc.fit([], [])
    with pytest.raises(ValueError, match="got 1 targets for 2 records"):
        enc.fit([{"user": 1}, {"user": 2}], [1])
    with pytest.raises(ValueError, match="must be 0 or 1: position 1 is 2.0"):
        enc.fit([{"user": 1}, {"user": 2}], [1, 2])
    with pytest.raises(NotFittedError, match="not fitted"):
        enc.encode([{"user": 1}])
    with pytest.raises(TypeError, match="use encode_one"):
        enc.encode({"user": 1})


def test_errors_through_encode_use_global_positions(fitted_unified, dataset) -> None:
    records = list(dataset[0][:3000])
    records[2500] = {**records[2500], "colour": "red"}
    with pytest.raises(RecordError, match="position 2500 has unknown feature 'colour'"):
        fitted_unified.encode(records)
    with pytest.raises(RecordError, match="position 1 is missing feature 'tags'"):
        fitted_unified.predict_proba([records[0], {"user": 1, "item": "x", "city": "c1"}])


def test_invalid_config_is_reported_by_field() -> None:
    """The constructor validates its parameters (``Config``) and names the field at fault."""
    with pytest.raises(SpecError, match=r"features\.user\.num_chunks: Input should be greater than or equal to 1"):
        UnifiedEmbeddingEncoder(features={"user": {"num_chunks": 0}})
    with pytest.raises(SpecError, match="features: .*at least one feature"):
        UnifiedEmbeddingEncoder(features={})
    with pytest.raises(SpecError, match=r"features\.t\.pooling"):
        UnifiedEmbeddingEncoder(features={"t": {"multivalued": True, "pooling": "max"}})
