"""ingest simulate / replay / live through a real delivery stream into a real lake."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cli_runner import run_cli
from trafficlake import ingest, ingest_workers
from trafficlake.cli import app
from trafficlake.config import Settings, load_settings
from trafficlake.delivery.prefix import Prefix
from trafficlake.ingest import NoInputFilesError, parse_start
from trafficlake.miv.simulator import Simulator
from trafficlake.storage import Lake

START = "2026-03-02T00:00:00Z"
REAL_TEST_XML = Path(__file__).parents[1] / "fixtures" / "miv" / "test.xml"


def read_raw(settings: Settings) -> pa.Table:
    lake = Lake.from_settings(settings)
    files = [lake.path(e.key) for e in lake.list("raw/") if e.key.endswith(".parquet")]
    return pa.concat_tables([pq.read_table(f) for f in files])


def error_lines(settings: Settings, error_type: str) -> list[dict[str, Any]]:
    lake = Lake.from_settings(settings)
    out: list[dict[str, Any]] = []
    for e in lake.list(f"errors/{error_type}/"):
        out += [json.loads(x) for x in lake.read_bytes(e.key).decode().splitlines()]
    return out


@pytest.mark.slow
def test_simulate_lands_partitions_that_follow_simulated_time(settings: Settings) -> None:
    report = ingest.simulate(settings, minutes=150, lanes=40, start=START, seed=3)
    assert report.documents == 150 and report.errors == 0
    table = read_raw(settings)
    assert table.num_rows == report.events > 0
    lake = Lake.from_settings(settings)
    hours = lake.list_dirs("raw/year=2026/month=3/day=2/")
    assert hours == [f"raw/year=2026/month=3/day=2/hour={h}" for h in (0, 1, 2)]
    arrival_s = pc.divide(table.column("arrival_time"), 1000)
    lag = pc.subtract(arrival_s, table.column("tijd_publicatie")).to_pylist()
    assert min(lag) >= 0 and max(lag) <= ingest.ARRIVAL_JITTER_S
    assert report.files_written == len(lake.list("raw/"))
    # Every file sits in the partition of its oldest record's arrival.
    for entry in lake.list("raw/"):
        oldest = pc.min(pq.read_table(lake.path(entry.key)).column("arrival_time")).as_py()
        assert entry.key.startswith(Prefix.parse(settings.delivery.prefix).render(oldest))


def test_simulate_xml_matches_arrow(settings: Settings, tmp_path: Path) -> None:
    arrow = ingest.simulate(settings, minutes=5, lanes=30, start=START, seed=5)
    other = load_settings(
        None,
        overrides={
            "lake": {"url": str(tmp_path / "lake2")},
            "delivery": {"wal_dir": str(tmp_path / "wal2")},
        },
    )
    xml = ingest.simulate(other, minutes=5, lanes=30, start=START, seed=5, xml=True)
    assert xml.events + xml.errors == arrow.events
    keys = [("unieke_id", "ascending"), ("tijd_waarneming", "ascending")]
    a = read_raw(settings).drop_columns(["arrival_time"]).sort_by(keys)
    b = read_raw(other).drop_columns(["arrival_time"]).sort_by(keys)
    assert xml.errors == 0
    assert a.equals(b)  # the XML round trip through the parser loses nothing


def test_real_arrival_uses_the_clock(settings: Settings) -> None:
    import time

    before = time.time() * 1000
    ingest.simulate(settings, minutes=2, lanes=10, start=START, simulated_arrival=False)
    assert pc.min(read_raw(settings).column("arrival_time")).as_py() >= before


def test_replay_files_globs_gz_and_a_broken_document(settings: Settings, tmp_path: Path) -> None:
    sim = Simulator(seed=1, lanes=25)
    docs = tmp_path / "docs"
    docs.mkdir()
    t0 = parse_start(START)
    batches = list(sim.minutes(t0, 3))
    (docs / "a.xml").write_bytes(sim.to_xml(batches[0]))
    (docs / "b.xml.gz").write_bytes(gzip.compress(sim.to_xml(batches[1])))
    broken = sim.to_xml(batches[2])[:-200]
    (docs / "c.xml").write_bytes(broken)
    report = ingest.replay(settings, [str(docs / "*.xml"), str(docs / "*.gz")])
    assert report.documents == 2 and report.failed_documents == 1
    assert report.events == batches[0].num_rows + batches[1].num_rows
    assert read_raw(settings).num_rows == report.events
    [quarantined] = error_lines(settings, "processing-failed")
    assert "XML" in quarantined["errorMessage"]
    assert base64.b64decode(quarantined["rawData"]) == broken
    with pytest.raises(NoInputFilesError):
        ingest.replay(settings, [str(docs / "*.nothing")])


def test_gunzip_reads_what_gzip_reads_and_refuses_what_it_refuses() -> None:
    from trafficlake.miv.xmlsafe import FeedParseError

    doc = REAL_TEST_XML.read_bytes()
    one = gzip.compress(doc)
    assert ingest.gunzip(one, len(doc)) == doc == gzip.decompress(one)
    members = one + b"\0" * 8 + gzip.compress(b"<!-- more -->")  # zero padding between members
    assert ingest.gunzip(members, 10**9) == gzip.decompress(members) == doc + b"<!-- more -->"
    with pytest.raises(FeedParseError, match=f"decompresses to more than {len(doc) - 1} bytes"):
        ingest.gunzip(one, len(doc) - 1)
    for bad, error in ((one[:-9], EOFError), (b"not gzip", gzip.BadGzipFile),
                       (one + b"trailing junk", gzip.BadGzipFile),
                       (one[:-8] + b"\0\0\0\0" + one[-4:], gzip.BadGzipFile)):  # fmt: skip
        with pytest.raises(error):
            ingest.gunzip(bad, 10**9)
        with pytest.raises(error):  # the same as gzip's
            gzip.decompress(bad)
    with pytest.raises(EOFError):  # an empty file (gzip reads it as an empty document)
        ingest.gunzip(b"", 10**9)


def test_replay_quarantines_bad_meetpunten(settings: Settings, tmp_path: Path) -> None:
    sim = Simulator(seed=2, lanes=5, clean=True)
    xml = sim.to_xml(next(sim.minutes(parse_start(START), 1))).decode()
    # Corrupt one lane's count into a non-number.
    bad = xml.replace("<verkeersintensiteit>", "<verkeersintensiteit>x", 1)
    (tmp_path / "doc.xml").write_text(bad)
    report = ingest.replay(settings, [str(tmp_path / "doc.xml")], simulated_arrival=True)
    assert report.errors == 1 and report.events == 4
    [err] = error_lines(settings, "format-conversion-failed")
    assert err["errorMessage"] and err["rawData"]
    arrival = pc.min(read_raw(settings).column("arrival_time")).as_py() // 1000
    assert 0 <= arrival - (parse_start(START) + 114) <= ingest.ARRIVAL_JITTER_S


def test_replay_real_feed_sample(settings: Settings) -> None:
    report = ingest.replay(settings, [str(REAL_TEST_XML)])
    assert report.events + report.errors == 2
    assert read_raw(settings).column("tijd_waarneming")[0].as_py() > 1_400_000_000


@pytest.fixture
def feed_server() -> Iterator[str]:
    sim = Simulator(seed=4, lanes=12)
    t0 = parse_start(START)
    state = {"n": 0}
    garbage_polls = {3}  # the 4th document the server hands out is truncated XML

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/config"):
                body = sim.config_xml()
            elif state["n"] in garbage_polls:
                body = b"<miv><meetpunt unieke_id='1'>truncated"
                state["n"] += 1
            else:
                body = sim.to_xml(sim.minute(t0 + 60 * state["n"]))
                state["n"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_live_polls_a_real_http_feed(settings: Settings, feed_server: str) -> None:
    live_settings = load_settings(
        None,
        overrides={
            "ingest": {
                "feed_url": feed_server + "/feed",
                "config_url": feed_server + "/config",
                "poll_interval_s": "0.05",
            }
        },
    )
    report = ingest.live(live_settings, max_polls=3)
    assert report.documents == 3
    assert read_raw(live_settings).num_rows == report.events > 0
    assert Lake.from_settings(live_settings).exists("locations/locations.parquet")


def test_live_quarantines_a_document_that_does_not_parse(
    settings: Settings, feed_server: str
) -> None:
    live_settings = load_settings(
        None,
        overrides={
            "ingest": {
                "feed_url": feed_server + "/feed",
                "config_url": feed_server + "/config",
                "poll_interval_s": "0.05",
                "retries": "0",
            }
        },
    )
    report = ingest.live(live_settings, max_polls=5)
    assert report.documents == 4 and report.failed_documents == 1 and report.errors == 1
    assert len(report.failure_reasons) == 1 and report.failure_reasons[0]
    [err] = error_lines(live_settings, "processing-failed")
    assert base64.b64decode(err["rawData"]).startswith(b"<miv><meetpunt")
    assert err["errorMessage"]


def test_live_names_why_a_fetch_failed_and_claims_no_quarantine(settings: Settings) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/feed"
    env = {"TRAFFICLAKE_INGEST__FEED_URL": url, "TRAFFICLAKE_INGEST__RETRIES": "0"}
    done = run_cli("ingest", "live", "--max-polls", "1", env=env)
    assert done.returncode == 0, done  # live goes on past fetch errors (it is a poller)
    lines = done.stderr.strip().splitlines()
    assert lines[-2] == "error: 1 of 1 documents failed; first reasons:", done.stderr
    assert lines[-1].startswith(f"  cannot reach {url}: "), done.stderr


def test_cli_ingest_simulate_json(settings: Settings) -> None:
    result = CliRunner().invoke(
        app,
        ["ingest", "simulate", "--minutes", "3", "--lanes", "7", "--start", START, "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["documents"] == 3 and report["files_written"] >= 1
    assert read_raw(settings).num_rows == report["events"]


def test_cli_replay_without_files_fails_cleanly(settings: Settings, tmp_path: Path) -> None:
    proc = run_cli("ingest", "replay", str(tmp_path / "none*.xml"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "no files match" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_sigterm_stops_ingest_and_flushes(tmp_path: Path) -> None:
    import os
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trafficlake.cli",
            "ingest",
            "simulate",
            "--minutes",
            "100000",
            "--lanes",
            "20",
            "--start",
            START,
            "--json",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lake = Lake.from_url(str(tmp_path / "lake"))
    deadline = time.monotonic() + 60
    while not lake.list("raw/") and time.monotonic() < deadline:  # wait until it is landing
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # interrupted: says so, and how to resume
    report = json.loads(out)
    assert 0 < report["documents"] < 100000 and report["interrupted"]
    # the resume command starts at the first minute not simulated
    done = report["documents"]
    next_minute = datetime.fromisoformat(START.replace("Z", "+00:00")) + timedelta(minutes=done)
    assert f"--start {next_minute:%Y-%m-%dT%H:%M}Z --minutes {100000 - done} " in err
    assert report["resume"] in err
    files = [lake.path(e.key) for e in lake.list("raw/")]
    assert sum(pq.read_metadata(f).num_rows for f in files) == report["events"]
    assert not list((tmp_path / ".trafficlake/wal/miv").glob("segment-*"))


FIXTURES = Path(__file__).parents[1] / "fixtures" / "miv"


def test_replay_lands_a_configuration_document_as_the_locations_table(
    settings: Settings, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "config.xml").write_bytes((FIXTURES / "verkeersdata_metadata-excerpt.xml").read_bytes())
    with gzip.open(docs / "minute.xml.gz", "wb") as f:
        f.write((FIXTURES / "test.xml").read_bytes())
    done = run_cli("ingest", "replay", str(docs / "*"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the locations table now holds 100 measuring points" in done.stdout
    assert not Lake.from_settings(settings).list("errors/")  # the config is not quarantined
    names = run_cli(
        "query", "SELECT count(*), count(DISTINCT volledige_naam) FROM traffic.locations",
        "-f", "csv", cwd=tmp_path,
    )  # fmt: skip
    count, named = names.stdout.splitlines()[1].split(",")
    assert count == "100" and int(named) > 1


def test_replay_exits_nonzero_with_counts_and_first_reasons(
    settings: Settings, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a-good.xml").write_bytes((FIXTURES / "test.xml").read_bytes())
    (docs / "b-broken.xml").write_bytes(b"<miv><meetpunt")
    (docs / "c-empty.xml.gz").write_bytes(b"not gzip at all")
    done = run_cli("ingest", "replay", str(docs / "*"), cwd=tmp_path)
    assert done.returncode == 1
    assert "1 documents, " in done.stdout and "2 failed documents" in done.stdout
    lines = done.stderr.splitlines()
    assert lines[0].startswith("error: 2 of 3 documents failed")
    assert "b-broken.xml: " in lines[1] and "c-empty.xml.gz: " in lines[2]
    every = run_cli("ingest", "replay", str(docs / "b-*"), cwd=tmp_path)
    assert every.returncode == 1 and "error: 1 of 1 documents failed" in every.stderr


def test_stale_events_are_reported_apart_from_the_event_time(settings: Settings) -> None:
    report = ingest.simulate(settings, minutes=3, lanes=400, start=START)
    assert report.stale_events > 0  # the simulator has lanes that stopped reporting
    start = int(datetime.fromisoformat(START.replace("Z", "+00:00")).timestamp())
    assert report.first_event_time == start and report.last_event_time == start + 120
    assert report.first_stale_time is not None and report.first_stale_time < start - 3600
    done = run_cli("ingest", "simulate", "--minutes", "2", "--lanes", "400", "--start", START)
    assert "stale events (measured over an hour before" in done.stdout


def test_absurd_simulation_sizes_are_refused_naming_the_limit(settings: Settings) -> None:
    done = run_cli("ingest", "simulate", "--lanes", "100000000", "--minutes", "1")
    assert done.returncode == 1
    assert done.stderr.startswith("error: minutes must be 1..527,040 (a year) and lanes 1..100,000")
    assert not Lake.from_settings(settings).list("raw/")


def _minute_documents(folder: Path, minutes: int, lanes: int = 60, gz: bool = False) -> Simulator:
    """Simulated feed documents, one a minute from START, as numbered files in a new ``folder``
    (``.xml.gz`` when ``gz``); returns the simulator (for its configuration document)."""
    folder.mkdir()
    sim = Simulator(5, lanes)
    start = int(datetime.fromisoformat(START.replace("Z", "+00:00")).timestamp())
    for i, batch in enumerate(sim.minutes(start, minutes)):
        xml = sim.to_xml(batch)
        if gz:
            with gzip.open(folder / f"{i:03d}.xml.gz", "wb") as f:
                f.write(xml)
        else:
            (folder / f"{i:03d}.xml").write_bytes(xml)
    return sim


def _raw_rows(lake: Lake) -> list[tuple[str, tuple[Any, ...]]]:
    """Every raw row with its partition folder, sorted: the lake's content, whatever the file
    names (they carry a random suffix)."""
    out = []
    for entry in lake.list("raw/"):
        folder = entry.key.rsplit("/", 1)[0]
        table = pq.read_table(lake.path(entry.key))
        out += [(folder, tuple(r.values())) for r in table.to_pylist()]
    return sorted(out, key=repr)


def test_replay_in_worker_processes_lands_the_same_lake_in_order(
    settings: Settings, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    sim = _minute_documents(docs, 12, gz=True)
    (docs / "006b-broken.xml").write_bytes(b"<miv><meetpunt")
    (docs / "000-config.xml").write_bytes(sim.config_xml())
    lakes = []
    # one process; workers forked from this one; workers from the fork server, because
    # another thread runs (forking would copy whatever locks it holds)
    for name, workers, start_method in (("one", 1, ""), ("fork", 2, "fork"),
                                        ("server", 2, "forkserver")):  # fmt: skip
        other_thread_done = threading.Event()
        if start_method == "forkserver":
            threading.Thread(target=other_thread_done.wait, daemon=True).start()
            assert ingest_workers.start_method() == "forkserver"
        elif start_method == "fork" and threading.active_count() == 1:  # no thread left behind
            assert ingest_workers.start_method() == "fork"
        lake = Lake.from_url(str(tmp_path / f"lake-{name}"))
        try:
            report = ingest.replay(
                settings, [str(docs / "*")], simulated_arrival=True, lake=lake, workers=workers
            )
        finally:
            other_thread_done.set()
        assert report.documents == 13 and report.failed_documents == 1  # 12 minutes + config
        assert report.failure_reasons[0].startswith(str(docs / "006b-broken.xml"))
        lakes.append((lake, report))
    (one, first), *in_workers = lakes
    for other, report in in_workers:
        assert first.events == report.events > 0 and first.files_written == report.files_written
        assert _raw_rows(one) == _raw_rows(other)
        assert pq.read_table(one.path("locations/locations.parquet")).equals(
            pq.read_table(other.path("locations/locations.parquet"))
        )
        assert len(one.list("errors/")) == len(other.list("errors/")) == 1


def test_a_worker_that_dies_stops_the_replay_in_one_line_naming_where_to_resume(
    settings: Settings, tmp_path: Path
) -> None:
    import multiprocessing
    import os
    import signal

    docs = tmp_path / "docs"
    _minute_documents(docs, 30)
    killed: list[int] = []

    def kill_a_worker(n: int) -> None:
        if not killed:  # after the first document landed
            worker = multiprocessing.active_children()[0]
            os.kill(worker.pid or 0, signal.SIGKILL)
            killed.append(worker.pid or 0)

    lake = Lake.from_url(str(tmp_path / "lake"))
    with pytest.raises(ingest.WorkerLostError) as caught:
        ingest.replay(settings, [str(docs / "*")], lake=lake, workers=2, progress=kill_a_worker)
    assert killed
    message = str(caught.value)
    assert message.startswith("a worker process died (killed, or out of memory?)")
    assert "to resume: trafficlake ingest replay with the " in message
    left = int(message.split("with the ")[1].split(" file(s)")[0])
    assert 0 < left < 30 and f"from {docs / f'{30 - left:03d}.xml'} on" in message
    # what landed was delivered and the stream closed: the rest replays into the same lake
    rest = sorted(docs.iterdir())[30 - left :]
    report = ingest.replay(settings, [str(p) for p in rest], lake=lake, workers=1)
    assert report.documents == left
    whole = Lake.from_url(str(tmp_path / "whole"))
    ingest.replay(settings, [str(docs / "*")], lake=whole, workers=1)

    def measurements(lake: Lake) -> list[tuple[int, int]]:
        table = pa.concat_tables(pq.read_table(lake.path(e.key)) for e in lake.list("raw/"))
        ids, times = table["unieke_id"].to_pylist(), table["tijd_waarneming"].to_pylist()
        return sorted(zip(ids, times, strict=True))

    assert measurements(lake) == measurements(whole)


@pytest.mark.slow
def test_ctrl_c_stops_a_replay_in_workers_and_says_where_to_resume(tmp_path: Path) -> None:
    import os
    import signal
    import time

    docs = tmp_path / "docs"
    _minute_documents(docs, 300, lanes=400)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trafficlake.cli", "ingest", "replay", str(docs / "*.xml"),
         "--workers", "2", "--simulated-arrival", "--json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lake = Lake.from_url(str(tmp_path / "lake"))
    deadline = time.monotonic() + 120
    while not lake.list("raw/") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert 0 < report["documents"] < 300 and report["interrupted"]
    first_left = docs / f"{report['documents']:03d}.xml"
    assert f"with the {300 - report['documents']} file(s) not replayed, from {first_left} on" in err
    files = [lake.path(e.key) for e in lake.list("raw/")]
    assert sum(pq.read_metadata(f).num_rows for f in files) == report["events"]


def test_simulate_in_worker_processes_lands_the_same_lake(
    settings: Settings, tmp_path: Path
) -> None:
    lakes = []
    for workers in (1, 2):
        lake = Lake.from_url(str(tmp_path / f"lake{workers}"))
        report = ingest.simulate(
            settings, minutes=200, lanes=40, start=START, lake=lake, workers=workers
        )  # 7 blocks of 30 minutes: more than two per worker, so the pool runs
        assert report.documents == 200
        lakes.append((lake, report))
    (one, first), (two, second) = lakes
    assert first.events == second.events and first.files_written == second.files_written
    assert _raw_rows(one) == _raw_rows(two)
