"""A producer in the shape of the seed's part-2 Lambda, written for these tests.

It takes a verkeersdata XML document, parses it with xmltodict, flattens every ``<meetpunt>``
into one event (attribute markers dropped, the five ``<meetdata>`` classes spread into
``verkeersintensiteit_klasseK`` / ``voertuigsnelheid_*_klasseK`` keys, ``rekendata`` flattened
into ``rekendata_*``), turns ``tijd_waarneming`` into epoch seconds and leaves every other value a
string as the XML has it (``tijd_laatst_gewijzigd`` stays an ISO text), then sends the events to
Firehose with boto3 ``put_record_batch`` in batches of 100.

Run by hand against an endpoint (the whole snapshot, for example)::

    python tests/delivery/seed_producer.py URL STREAM verkeersdata.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import xmltodict

BATCH = 100
_SCALARS = (
    "lve_nr",
    "tijd_waarneming",
    "tijd_laatst_gewijzigd",
    "actueel_publicatie",
    "beschikbaar",
    "defect",
    "geldig",
)


def feed_xml(meetpunten: Iterable[Mapping[str, Any]]) -> str:
    """NDJSON meetpunten (all strings, as the committed excerpt) back into the feed's XML."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<miv>']
    for mp in meetpunten:
        out.append(
            f"<meetpunt beschrijvende_id={quoteattr(mp['beschrijvende_id'])} "
            f"unieke_id={quoteattr(mp['unieke_id'])}>"
        )
        out += [f"<{k}>{escape(mp[k])}</{k}>" for k in _SCALARS]
        for md in mp["meetdata"]:
            out.append(f"<meetdata klasse_id={quoteattr(md['klasse_id'])}>")
            out += [f"<{k}>{escape(v)}</{k}>" for k, v in md.items() if k != "klasse_id"]
            out.append("</meetdata>")
        out.append("<rekendata>")
        out += [f"<{k}>{escape(v)}</{k}>" for k, v in mp["rekendata"].items()]
        out.append("</rekendata></meetpunt>")
    out.append("</miv>")
    return "\n".join(out)


def _flatten(value: Mapping[str, Any], parent: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{parent}_{key}" if parent else key
        if isinstance(item, Mapping):
            flat.update(_flatten(item, name))
        else:
            flat[name] = item
    return flat


def to_event(meetpunt: Mapping[str, Any]) -> dict[str, Any]:
    """One flattened event, every value a string."""
    event = {key.lstrip("@"): value for key, value in meetpunt.items()}
    for md in event.pop("meetdata"):
        k = md["@klasse_id"]
        for field in ("verkeersintensiteit", "voertuigsnelheid_rekenkundig"):
            event[f"{field}_klasse{k}"] = md.get(field)
        event[f"voertuigsnelheid_harmonisch_klasse{k}"] = md.get("voertuigsnelheid_harmonisch")
    event.update(_flatten({"rekendata": event.pop("rekendata")}))
    seen = datetime.fromisoformat(event["tijd_waarneming"])
    event["tijd_waarneming"] = str(int(seen.timestamp()))
    return event


def events_from_xml(xml: str) -> list[dict[str, Any]]:
    meetpunten = xmltodict.parse(xml)["miv"]["meetpunt"]
    if isinstance(meetpunten, dict):
        meetpunten = [meetpunten]
    return [to_event(mp) for mp in meetpunten]


def send(client: Any, stream: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """put_record_batch in batches of 100; returns the replies."""
    replies = []
    for start in range(0, len(events), BATCH):
        chunk = events[start : start + BATCH]
        records = [{"Data": json.dumps(e)} for e in chunk]
        replies.append(client.put_record_batch(DeliveryStreamName=stream, Records=records))
    return replies


def main(argv: list[str]) -> int:
    import boto3

    url, stream, path = argv
    with open(path, encoding="utf-8") as f:
        meetpunten = [json.loads(line) for line in f if line.strip()]
    events = events_from_xml(feed_xml(meetpunten))
    client = boto3.client(
        "firehose",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    replies = send(client, stream, events)
    failed = sum(r["FailedPutCount"] for r in replies)
    print(f"sent {len(events)} events in {len(replies)} calls; FailedPutCount {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
