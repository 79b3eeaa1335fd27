"""Arrow tables built without pandas are the tables pyarrow's own conversion builds."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from consist.catalog.arrow_rows import binary_array, rows_table
from consist.catalog.segment_records import RECORDS_SCHEMA, records_table
from consist.catalog.segments import SCHEMA

ITEM = pa.struct([("key", pa.string()), ("num", pa.float64()), ("flag", pa.bool_())])
TEST_SCHEMA = pa.schema(
    [("id", pa.string()), ("n", pa.int64()), ("x", pa.float64()), ("ok", pa.bool_()),
     ("tags", pa.list_(pa.string())), ("items", pa.list_(ITEM))]
)  # fmt: skip
ROWS = [
    {"id": "a", "n": 1, "x": 1.5, "ok": True, "tags": ["x", "y"], "items": [{"key": "k", "num": 2.0, "flag": False}]},
    {"id": None, "n": None, "x": None, "ok": None, "tags": None, "items": None},
    {"id": "ünï\u2028\"q\"\\", "n": 2**62, "x": 3, "ok": False, "tags": [], "items": []},
    {"id": "b", "n": -(2**63), "x": 1e308, "ok": True, "tags": [""], "items": [{"key": None, "num": None, "flag": None}]},
]


def test_rows_become_the_table_from_pylist_builds():
    built = rows_table(ROWS, TEST_SCHEMA)
    assert built.schema == TEST_SCHEMA
    assert built.equals(pa.Table.from_pylist(ROWS, schema=TEST_SCHEMA))


def test_a_long_row_is_read_whole():
    rows = [{**ROWS[0], "id": "z" * (3 << 20)}, ROWS[2]]
    assert rows_table(rows, TEST_SCHEMA).equals(pa.Table.from_pylist(rows, schema=TEST_SCHEMA))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_kept(value):
    rows = [{**ROWS[0], "items": [{"key": "k", "num": value, "flag": True}]}, {**ROWS[0], "x": value}]
    built = rows_table(rows, TEST_SCHEMA).to_pylist()
    assert built[1]["x"] is not None and repr(built[1]["x"]) == repr(value)
    assert repr(built[0]["items"][0]["num"]) == repr(value)


def test_a_row_with_a_field_outside_the_schema_is_refused():
    with pytest.raises(pa.ArrowInvalid):
        rows_table([{**ROWS[0], "extra": 1}], TEST_SCHEMA)


def test_no_rows_make_an_empty_table_of_the_schema():
    assert rows_table([], SCHEMA).schema == SCHEMA and rows_table([], SCHEMA).num_rows == 0


@pytest.mark.parametrize("values", [[b"ab", b"", b"\x00xyz"], [], [b""]])
def test_binary_arrays_match_pyarrow(values):
    assert binary_array(values).equals(pa.array(values, pa.binary()))


def test_fixed_width_binary_arrays_match_pyarrow_and_refuse_other_widths():
    values = [bytes(range(16)), b"\xff" * 16]
    assert binary_array(values, 16).equals(pa.array(values, pa.binary(16)))
    with pytest.raises(ValueError, match="16 bytes"):
        binary_array([b"short"], 16)


def test_records_table_keeps_records_and_digests():
    table = records_table([b'{"id":"a"}', b'{"id":"b"}'])
    assert table.schema == RECORDS_SCHEMA
    assert table.column("record").to_pylist() == [b'{"id":"a"}', b'{"id":"b"}']
    assert [len(d) for d in table.column("digest").to_pylist()] == [16, 16]
