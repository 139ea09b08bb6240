"""A full disk or a lake that refuses writes: one line per reason, no segment per refused call."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import json, logging, resource, signal, sys, time
    from pathlib import Path
    from trafficlake.delivery import DeliveryStream, WalWriteError
    from trafficlake.storage import Lake

    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(message)s")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    root = Path(sys.argv[1])
    record = json.dumps({"unieke_id": "1", "tijd_waarneming": str(int(time.time()))}).encode()

    # 1. The WAL's disk is full: every call is refused, and the refusals leave no segments.
    wal = DeliveryStream(Lake.from_url(str(root / "lake1")), "a", wal_dir=root / "wal1")
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    refused = 0
    for _ in range(200):
        try:
            wal.put_record_batch([record] * 500)
        except WalWriteError:
            refused += 1
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    wal.put_record_batch([record])  # space again: accepted, in the same segment
    print("refused", refused, "segments", len(list((root / "wal1").glob("segment-*"))))
    wal.close()

    # 2. The lake refuses every delivery: retried each tick, reported once.
    (root / "lake2").mkdir()
    (root / "lake2" / "raw").write_text("a file where the stream needs a folder")
    stream = DeliveryStream(
        Lake.from_url(str(root / "lake2")), "b", wal_dir=root / "wal2", buffer_interval_s=0.05
    )
    stream.put_record_batch([record])
    time.sleep(1.5)  # ~15 timer ticks, each a failed delivery
    print("buffered", stream.stats()["buffered_bytes"] > 0)
    """
)


def test_full_disk_and_refusing_lake_are_one_line_each(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "refused 200 segments 1" in proc.stdout, proc.stdout + proc.stderr
    assert "buffered True" in proc.stdout
    assert "Traceback" not in proc.stderr
    failures = [line for line in proc.stderr.splitlines() if "delivery failed" in line]
    assert len(failures) == 1, proc.stderr
    assert "will retry" in failures[0]
