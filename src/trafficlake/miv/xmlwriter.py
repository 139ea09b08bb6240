"""Write MIV documents (verkeersdata and mivconfig) in the real feed's layout.

``tijd_waarneming`` always carries ``+01:00`` (as the real feed does, also in summer); the
other timestamps are written in Brussels local time (``+01:00`` or ``+02:00``), and
``tijd_publicatie`` with milliseconds, so a parser must honour every offset.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import pyarrow as pa

from trafficlake.miv.texts import MEETDATA as _MEETDATA
from trafficlake.miv.texts import REKENDATA as _REKENDATA
from trafficlake.miv.texts import SCALARS as _SCALARS
from trafficlake.schema import CLASSES

BRUSSELS = ZoneInfo("Europe/Brussels")
_WINTER = timezone(timedelta(hours=1))

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<miv xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:noNamespaceSchemaLocation="./miv-verkeersdata.xsd" schemaVersion="1.0.0">\n'
)
_CONFIG_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<mivconfig xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:noNamespaceSchemaLocation="http://miv.opendata.belfla.be/miv-config.xsd" '
    'schemaVersion="1.0.0">\n'
)


def _full_meetpunt_template() -> str:
    parts = ['    <meetpunt beschrijvende_id=%s unieke_id="%s">\n']
    parts += [f"        <{name}>%s</{name}>\n" for name in _SCALARS]
    for k in CLASSES:
        parts.append(f'        <meetdata klasse_id="{k}">\n')
        parts += [f"            <{tag}>%s</{tag}>\n" for tag in _MEETDATA]
        parts.append("        </meetdata>\n")
    parts.append("        <rekendata>\n")
    parts += [f"            <{tag}>%s</{tag}>\n" for tag in _REKENDATA]
    parts.append("        </rekendata>\n    </meetpunt>\n")
    return "".join(parts)


_FULL_MEETPUNT = _full_meetpunt_template()


def winter_time(t: int) -> str:
    """Epoch s → ``2017-04-27T14:38:00+01:00`` (fixed UTC+1, like ``tijd_waarneming``)."""
    return datetime.fromtimestamp(t, _WINTER).isoformat()


def local_time(t: int, millis: int | None = None) -> str:
    """Epoch s → Brussels local ISO time (``+01:00`` or ``+02:00``), optionally with ms."""
    if millis is None:
        return datetime.fromtimestamp(t, BRUSSELS).isoformat()
    dt = datetime.fromtimestamp(t, BRUSSELS) + timedelta(milliseconds=millis)
    return dt.isoformat(timespec="milliseconds")


def _element(indent: str, tag: str, value: object) -> str:
    return "" if value is None else f"{indent}<{tag}>{value}</{tag}>\n"


def feed_document(batch: pa.RecordBatch | pa.Table, config_changed: int | None) -> bytes:
    """A ``<miv>`` document with one ``<meetpunt>`` per row of ``batch`` (EVENT_SCHEMA).

    ``tijd_publicatie`` is the largest value of the column (every row of a simulator minute
    has the same); null values leave their element out, null rekendata the whole block.
    """
    names = batch.schema.names
    cols = {name: batch.column(name).to_pylist() for name in names}
    published = [p for p in cols.get("tijd_publicatie", []) if p is not None]
    if not published:
        published = [p for p in cols["tijd_laatst_gewijzigd"] if p is not None] or [0]
    pub = max(published)
    out = [_HEAD, f"    <tijd_publicatie>{local_time(pub, (pub * 7) % 1000)}</tijd_publicatie>\n"]
    if config_changed is not None:
        out.append(
            "    <tijd_laatste_config_wijziging>"
            f"{local_time(config_changed)}</tijd_laatste_config_wijziging>\n"
        )
    winter: dict[int, str] = {}
    local: dict[int, str] = {}

    def fmt_winter(t: int | None) -> str | None:
        if t is None:
            return None
        s = winter.get(t)
        if s is None:
            s = winter[t] = winter_time(t)
        return s

    def fmt_local(t: int | None) -> str | None:
        if t is None:
            return None
        s = local.get(t)
        if s is None:
            s = local[t] = local_time(t)
        return s

    class_cols = [[cols[f"{m}_klasse{k}"] for m in _MEETDATA] for k in CLASSES]
    reken_cols = [cols[f"rekendata_{r}"] for r in _REKENDATA]
    bid = cols["beschrijvende_id"]
    quoted: dict[str, str] = {}
    texts = [
        [None if b is None else quoted.get(b) or quoted.setdefault(b, quoteattr(b)) for b in bid],
        cols["unieke_id"],
        cols["lve_nr"],
        [fmt_winter(t) for t in cols["tijd_waarneming"]],
        [fmt_local(t) for t in cols["tijd_laatst_gewijzigd"]],
        *(cols[name] for name in _SCALARS[3:]),
        *(col for kcols in class_cols for col in kcols),
        *reken_cols,
    ]
    for i, row in enumerate(zip(*texts, strict=True)):
        if None not in row:
            out.append(_FULL_MEETPUNT % row)
            continue
        attr = "" if row[0] is None else f" beschrijvende_id={row[0]}"
        out.append(f"    <meetpunt{attr} unieke_id={quoteattr(str(row[1]))}>\n")
        for j, name in enumerate(_SCALARS):
            out.append(_element("        ", name, row[2 + j]))
        for k, kcols in zip(CLASSES, class_cols, strict=True):
            out.append(f'        <meetdata klasse_id="{k}">\n')
            for tag, col in zip(_MEETDATA, kcols, strict=True):
                out.append(_element("            ", tag, col[i]))
            out.append("        </meetdata>\n")
        reken = [col[i] for col in reken_cols]
        if any(r is not None for r in reken):
            out.append("        <rekendata>\n")
            for tag, value in zip(_REKENDATA, reken, strict=True):
                out.append(_element("            ", tag, value))
            out.append("        </rekendata>\n")
        out.append("    </meetpunt>\n")
    out.append("</miv>\n")
    return "".join(out).encode("utf-8")


def _decimal(value: float | None) -> str | None:
    return None if value is None else repr(float(value)).replace(".", ",")


def config_document(table: pa.Table, config_changed: int | None) -> bytes:
    """A ``<mivconfig>`` document of a LOCATIONS_SCHEMA table (decimals with commas)."""
    rows = table.to_pylist()
    out = [_CONFIG_HEAD]
    if config_changed is not None:
        out.append(
            "    <tijd_laatste_config_wijziging>"
            f"{local_time(config_changed)}</tijd_laatste_config_wijziging>\n"
        )
    for row in rows:
        out.append(f"    <meetpunt unieke_id={quoteattr(str(row['unieke_id']))}>\n")
        for name, value in row.items():
            if name == "unieke_id" or value is None:
                continue
            text = _decimal(value) if isinstance(value, float) else escape(str(value))
            out.append(f"        <{name}>{text}</{name}>\n")
        out.append("    </meetpunt>\n")
    out.append("</mivconfig>\n")
    return "".join(out).encode("utf-8")
