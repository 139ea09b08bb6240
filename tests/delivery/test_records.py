"""JSON → RAW_SCHEMA conversion: strings or typed values, range checks, errors per record."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from trafficlake.delivery.records import (
    INVALID_SCHEMA,
    INVALID_VALUE,
    MALFORMED,
    convert_json,
    convert_objects,
    events_to_raw,
)
from trafficlake.schema import EVENT_SCHEMA, RAW_SCHEMA


def test_string_records_convert_to_typed_columns(make_record: Any) -> None:
    batch, errors = convert_objects([make_record(i) for i in range(10)], 1_700_000_000_000)
    assert errors == []
    assert batch.schema == RAW_SCHEMA
    row = batch.to_pylist()[3]
    assert row["unieke_id"] == 3 and row["tijd_waarneming"] == 1588262160
    assert row["voertuigsnelheid_harmonisch_klasse5"] == 252
    assert row["beschrijvende_id"] == "H0003L10"
    assert row["arrival_time"] == 1_700_000_000_000


def test_typed_values_and_optional_fields() -> None:
    recs = [
        {"unieke_id": 29, "tijd_waarneming": 1588262160, "defect": 1.0},
        {"unieke_id": "30", "tijd_waarneming": "1588262160", "lve_nr": "", "defect": None},
    ]
    batch, errors = convert_objects(recs, 1)
    assert errors == []
    rows = batch.to_pylist()
    assert rows[0]["defect"] == 1 and rows[1]["defect"] is None and rows[1]["lve_nr"] is None


@pytest.mark.parametrize(
    "patch, code, reason",
    [
        ({"defect": "128"}, INVALID_VALUE, "defect: 128 out of range"),
        ({"lve_nr": "2147483648"}, INVALID_VALUE, "lve_nr: 2147483648 out of range"),
        ({"lve_nr": 2**70}, INVALID_VALUE, "out of range"),
        ({"verkeersintensiteit_klasse1": "veel"}, INVALID_VALUE, "not a number"),
        ({"verkeersintensiteit_klasse1": "1.5"}, INVALID_VALUE, "not a whole number"),
        ({"verkeersintensiteit_klasse1": 2.5}, INVALID_VALUE, "not a whole number"),
        ({"verkeersintensiteit_klasse1": True}, INVALID_VALUE, "expected an integer"),
        ({"tijd_waarneming": "1588262160000"}, INVALID_VALUE, "out of range 0..4102444800"),
        ({"beschrijvende_id": 5}, INVALID_VALUE, "expected a string"),
        ({"unieke_id": None}, INVALID_SCHEMA, "missing required field(s): unieke_id"),
        ({"kleur": "rood"}, INVALID_SCHEMA, "unknown field(s): kleur"),
        ({"arrival_time": "1"}, INVALID_SCHEMA, "unknown field(s): arrival_time"),
    ],
)
def test_a_bad_record_fails_alone(make_record: Any, patch: dict, code: str, reason: str) -> None:
    recs = [make_record(i) for i in range(5)]
    recs[2] = {**recs[2], **patch}
    batch, errors = convert_objects(recs, 1)
    assert [(e.index, e.code) for e in errors] == [(2, code)]
    assert reason in errors[0].message
    assert batch.column("unieke_id").to_pylist() == [0, 1, 3, 4]


def test_malformed_json_and_non_objects(make_record: Any) -> None:
    import json

    raw = [json.dumps(make_record(1)).encode(), b"{not json", b"[1, 2]", b"\xff\xfe"]
    batch, errors = convert_json(raw, 1)
    assert batch.num_rows == 1
    assert [(e.index, e.code) for e in errors] == [(1, MALFORMED), (2, MALFORMED), (3, MALFORMED)]
    assert "malformed JSON" in errors[0].message
    assert "not a JSON object" in errors[1].message


def test_events_to_raw_adds_arrival_and_casts() -> None:
    table = pa.table(
        {f.name: pa.array([1] if f.type != pa.string() else ["x"], f.type) for f in EVENT_SCHEMA}
    )
    raw = events_to_raw(table.cast(pa.schema([f.with_nullable(True) for f in EVENT_SCHEMA])), 42)
    assert raw.schema == RAW_SCHEMA
    assert raw.column("arrival_time").to_pylist() == [42]


def test_json_block_paths_agree(make_record: Any) -> None:
    """All-string, typed-number and mixed blocks convert to the same rows."""
    import json

    strings = [json.dumps(make_record(i)).encode() for i in range(20)]
    typed = [
        json.dumps(
            {k: (v if k == "beschrijvende_id" else int(v)) for k, v in make_record(i).items()}
        ).encode()
        for i in range(20)
    ]
    mixed = strings[:10] + typed[10:]
    results = [convert_json(block, 5) for block in (strings, typed, mixed)]
    assert all(errors == [] for _, errors in results)
    assert results[0][0].equals(results[1][0]) and results[0][0].equals(results[2][0])


def test_json_block_with_blank_optional_and_one_bad(make_record: Any) -> None:
    import json

    recs = [make_record(i) for i in range(6)]
    recs[1]["lve_nr"] = ""
    recs[3]["geldig"] = "-129"
    recs[4]["unieke_id"] = ""
    raw = [json.dumps(r).encode() + b"\n" for r in recs]
    batch, errors = convert_json(raw, 5)
    assert [(e.index, e.code) for e in errors] == [(3, INVALID_VALUE), (4, INVALID_SCHEMA)]
    assert batch.column("unieke_id").to_pylist() == [0, 1, 2, 5]
    assert batch.column("lve_nr").to_pylist()[1] is None


@pytest.mark.skipif(
    not __import__("os").path.exists("/work/shared/data/miv/verkeersdata.json"),
    reason="shared reference data absent",
)
def test_real_feed_minute_flattened_like_the_original_pipeline() -> None:
    """The real 4,254-lane minute, flattened to the pipeline's all-string records, converts."""
    import json
    from datetime import datetime

    raw = []
    with open("/work/shared/data/miv/verkeersdata.json", encoding="utf-8") as fh:
        for line in fh:
            m = json.loads(line)
            rec = {k: v for k, v in m.items() if k not in ("meetdata", "rekendata")}
            for k in ("tijd_waarneming", "tijd_laatst_gewijzigd"):
                rec[k] = str(int(datetime.fromisoformat(rec[k]).timestamp()))
            for c in m["meetdata"]:
                for field in (
                    "verkeersintensiteit",
                    "voertuigsnelheid_rekenkundig",
                    "voertuigsnelheid_harmonisch",
                ):
                    rec[f"{field}_klasse{c['klasse_id']}"] = c[field]
            for k, v in m["rekendata"].items():
                rec[f"rekendata_{k}"] = v
            raw.append(json.dumps(rec).encode())
    batch, errors = convert_json(raw, 1)
    assert len(raw) == 4254
    assert batch.num_rows + len(errors) == 4254
    assert batch.num_rows > 4000
    assert batch.column("tijd_waarneming")[0].as_py() == 1493300280  # 2017-04-27T14:38+01:00
