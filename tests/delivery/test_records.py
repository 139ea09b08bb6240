"""JSON → RAW_SCHEMA conversion: strings or typed values, range checks, errors per record."""

from __future__ import annotations

from pathlib import Path
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
        {"unieke_id": 29, "tijd_waarneming": 1588262160, "defect": 1},
        {"unieke_id": "30", "tijd_waarneming": "1588262160", "lve_nr": "", "defect": None},
    ]
    batch, errors = convert_objects(recs, 1)
    assert errors == []
    rows = batch.to_pylist()
    assert rows[0]["defect"] == 1 and rows[1]["defect"] is None and rows[1]["lve_nr"] is None


@pytest.mark.parametrize(
    "patch, code, reason",
    [
        ({"defect": "128"}, INVALID_VALUE, "defect outside 0..127: '128'"),
        ({"lve_nr": "2147483648"}, INVALID_VALUE, "lve_nr outside -2147483648..2147483647"),
        ({"lve_nr": 2**70}, INVALID_VALUE, "lve_nr outside"),
        ({"verkeersintensiteit_klasse1": "veel"}, INVALID_VALUE, "not an integer: 'veel'"),
        ({"verkeersintensiteit_klasse1": "1.5"}, INVALID_VALUE, "not an integer: '1.5'"),
        ({"verkeersintensiteit_klasse1": 2.5}, INVALID_VALUE, "not an integer: 2.5"),
        ({"verkeersintensiteit_klasse1": 3.0}, INVALID_VALUE, "not an integer: 3.0"),
        ({"verkeersintensiteit_klasse1": True}, INVALID_VALUE, "not an integer: true"),
        ({"tijd_waarneming": "1588262160000"}, INVALID_VALUE, "tijd_waarneming absurd"),
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


def test_real_feed_minute_flattened_like_the_original_pipeline() -> None:
    """100 lanes of a real minute, flattened to the pipeline's all-string records, convert."""
    import json
    from datetime import datetime

    raw = []
    real = Path(__file__).parents[1] / "fixtures" / "miv" / "verkeersdata-excerpt.json"
    with open(real, encoding="utf-8") as fh:
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
    assert len(raw) == 100
    assert errors == []
    assert batch.num_rows == 100
    assert batch.column("tijd_waarneming")[0].as_py() == 1487150940  # 2017-02-15T10:29+01:00


# ---- bad input: the JSON path rejects what the feed parser rejects (shared bounds) --------------
_NOW = int(__import__("time").time())
OUT_OF_BOUNDS = [
    ("verkeersintensiteit_klasse2", "-5", "verkeersintensiteit_klasse2 negative: '-5'"),
    ("verkeersintensiteit_klasse2", -5, "verkeersintensiteit_klasse2 negative: -5"),
    ("tijd_waarneming", "1e3", "tijd_waarneming is not an integer: '1e3'"),
    ("tijd_waarneming", 1e3, "tijd_waarneming is not an integer: 1000.0"),
    ("tijd_waarneming", "1000", "tijd_waarneming absurd (before 2000 or more than a day ahead)"),
    ("tijd_waarneming", str(_NOW + 3 * 86400), "tijd_waarneming absurd"),
    ("tijd_laatst_gewijzigd", "-1", "tijd_laatst_gewijzigd absurd"),
    ("tijd_publicatie", "0", "tijd_publicatie absurd"),
    ("voertuigsnelheid_rekenkundig_klasse1", "255", "outside 0..254: '255'"),
    ("voertuigsnelheid_harmonisch_klasse3", "-1", "outside 0..254: '-1'"),
    ("geldig", "-1", "geldig outside 0..127: '-1'"),
    ("unieke_id", "12.0", "unieke_id is not an integer: '12.0'"),
    ("rekendata_onrustigheid", "1E2", "rekendata_onrustigheid is not an integer: '1E2'"),
]


@pytest.mark.parametrize(
    "field, value, reason",
    OUT_OF_BOUNDS,
    ids=[
        f"{f}={v!r}" if f != "tijd_waarneming" or i != 5 else "future"
        for i, (f, v, _) in enumerate(OUT_OF_BOUNDS)
    ],
)
@pytest.mark.parametrize("path", ["strings block", "typed block", "dicts"])
def test_values_the_parser_rejects_fail_alone_naming_field_and_value(
    make_record: Any, field: str, value: Any, reason: str, path: str
) -> None:
    import json

    recs = [make_record(i) for i in range(6)]
    if path == "typed block":
        recs = [{k: (v if k == "beschrijvende_id" else int(v)) for k, v in r.items()} for r in recs]
    recs[4][field] = value
    if path == "dicts":
        batch, errors = convert_objects(recs, 1_700_000_000_000)
    else:
        batch, errors = convert_json([json.dumps(r).encode() for r in recs], 1_700_000_000_000)
    assert [(e.index, e.code) for e in errors] == [(4, INVALID_VALUE)]
    assert reason in errors[0].message, errors[0].message
    assert batch.column("unieke_id").to_pylist() == [0, 1, 2, 3, 5]


def test_values_at_the_bounds_are_accepted(make_record: Any) -> None:
    """Sentinels, -1 occupancy (the transform filters ``> -1``), 2000-01-01, now + 1 day."""
    import json

    rec = make_record(1)
    rec.update(
        {
            "voertuigsnelheid_harmonisch_klasse1": "254",
            "voertuigsnelheid_rekenkundig_klasse1": "0",
            "verkeersintensiteit_klasse1": "0",
            "rekendata_bezettingsgraad": "-1",
            "geldig": "127",
            "tijd_waarneming": "946684800",
            "tijd_laatst_gewijzigd": str(_NOW + 86400 - 60),
            "unieke_id": " +7 ",
        }
    )
    for batch, errors in (convert_json([json.dumps(rec).encode()], 1), convert_objects([rec], 1)):
        assert errors == []
        row = batch.to_pylist()[0]
        assert row["rekendata_bezettingsgraad"] == -1 and row["unieke_id"] == 7
        assert row["tijd_waarneming"] == 946684800


def test_json_path_and_feed_parser_share_one_set_of_bounds() -> None:
    """The bounds come from trafficlake.schema: both paths name the same reason."""
    from trafficlake.miv.feed import parse_document

    xml = (
        b"<miv><tijd_publicatie>2020-04-30T18:00:00+02:00</tijd_publicatie>"
        b'<meetpunt beschrijvende_id="H1" unieke_id="1"><lve_nr>1</lve_nr>'
        b"<tijd_waarneming>2020-04-30T17:56:00+02:00</tijd_waarneming>"
        b"<tijd_laatst_gewijzigd>2020-04-30T17:57:00+02:00</tijd_laatst_gewijzigd>"
        b"<actueel_publicatie>1</actueel_publicatie><beschikbaar>1</beschikbaar>"
        b"<defect>0</defect><geldig>0</geldig>"
        b'<meetdata klasse_id="2"><verkeersintensiteit>-5</verkeersintensiteit>'
        b"<voertuigsnelheid_rekenkundig>80</voertuigsnelheid_rekenkundig>"
        b"<voertuigsnelheid_harmonisch>75</voertuigsnelheid_harmonisch></meetdata>"
        b"</meetpunt></miv>"
    )
    [feed_error] = parse_document(xml).errors
    _, [record_error] = convert_objects(
        [{"unieke_id": "1", "tijd_waarneming": "1588262160", "verkeersintensiteit_klasse2": "-5"}],
        1,
    )
    assert feed_error.reason == record_error.message == "verkeersintensiteit_klasse2 negative: '-5'"


def test_simulator_output_is_within_the_json_paths_bounds() -> None:
    """``put_events`` does not re-check bounds because its producers stay within them: the
    feed parser uses the same ``value_bounds``; this checks the simulator, artefacts on."""
    import pyarrow.compute as pc

    from trafficlake.miv.simulator import Simulator
    from trafficlake.schema import value_bounds

    start = 1_763_683_200  # 2025-11-21T00:00Z
    table = pa.Table.from_batches(list(Simulator(seed=5, lanes=600).minutes(start, 240)))
    assert table.num_rows > 100_000
    for f in EVENT_SCHEMA:
        if pa.types.is_integer(f.type):
            lo, hi = value_bounds(f.name, start + 2 * 86400)
            mn, mx = pc.min_max(table.column(f.name)).values()
            assert not mn.is_valid or lo <= mn.as_py() <= mx.as_py() <= hi, (f.name, mn, mx)


@pytest.mark.parametrize(
    "bad",
    [
        "missing tijd_waarneming",
        "null tijd_waarneming",
        "deep array",
        "deep object",
    ],
)
def test_one_record_never_fails_its_batch_mates(make_record: Any, bad: str) -> None:
    import json

    good = json.dumps(make_record(1)).encode()
    if bad == "missing tijd_waarneming":
        rec = make_record(2)
        del rec["tijd_waarneming"]
        other = json.dumps(rec).encode()
    elif bad == "null tijd_waarneming":
        other = json.dumps({**make_record(2), "tijd_waarneming": None}).encode()
    elif bad == "deep array":
        other = b'{"unieke_id":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    else:
        other = b'{"unieke_id":"1","x":' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}"
    for raw in ([good, other], [other, good]):
        batch, errors = convert_json(raw, 1_700_000_000_000)
        assert batch.num_rows == 1 and batch.column("unieke_id").to_pylist() == [1]
        assert [e.index for e in errors] == [raw.index(other)]
        assert errors[0].code != "DataFormatConversion.ConversionFailed"


@pytest.mark.parametrize("second_half", ["strings", "numbers"])
def test_a_call_read_in_halves_converts_like_the_record_path(
    make_record: Any, second_half: str
) -> None:
    """A call large enough to be read as two halves at once (and cast in one pass) gives the
    rows and the errors the record-by-record path gives: bad records in both halves (out of
    bounds, beyond int32, a blank required field, in the future) and, with JSON numbers in
    the second half, through the inferring read."""
    import json

    from trafficlake.delivery.records import SPLIT_BYTES, join_records

    recs = [make_record(i) for i in range(600)]
    if second_half == "numbers":
        recs[300:] = [
            {k: (v if k == "beschrijvende_id" else int(v)) for k, v in r.items()}
            for r in recs[300:]
        ]
    recs[7]["geldig"] = "-129"
    recs[250]["lve_nr"] = "3000000000"
    recs[410]["unieke_id"] = ""
    recs[599]["tijd_waarneming"] = str(_NOW + 3 * 86400)
    raw = [json.dumps(r).encode() for r in recs]
    assert len(join_records(raw)) >= SPLIT_BYTES
    batch, errors = convert_json(raw, 1_700_000_000_000)
    expected, expected_errors = convert_objects([json.loads(r) for r in raw], 1_700_000_000_000)
    assert [e.index for e in errors] == [7, 250, 410, 599]
    assert errors == expected_errors
    assert batch.equals(expected)


def test_a_clean_call_read_in_halves_keeps_every_row_in_order(make_record: Any) -> None:
    import json

    raw = [json.dumps(make_record(i)).encode() for i in range(600)]
    batch, errors = convert_json(raw, 1_700_000_000_000)
    assert errors == [] and batch.column("unieke_id").to_pylist() == list(range(600))
    assert batch.equals(convert_objects([json.loads(r) for r in raw], 1_700_000_000_000)[0])
