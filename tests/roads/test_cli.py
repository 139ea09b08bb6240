"""`trafficlake roads derive` through the real CLI: a summary line, --json, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from planted import FIRST, MINUTES, lanes, locations, speed
from transform_lakes import LakeHarness, lane_rows

from trafficlake.miv.locations import write_locations


def test_derive_summary_json_and_errors(tlake: LakeHarness, cli: Callable[..., Any]) -> None:
    tlake.land_and_crawl(lane_rows(lanes(), [FIRST + 60 * m for m in range(MINUTES)], speed=speed))
    write_locations(tlake.lake, locations())
    tlake.transform()
    cwd = tlake.settings.base_dir
    done = cli("roads", "derive", cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED - 1 day(s) (2025-11-21), 2 jam episode(s), 32 detector-days" in done.stdout
    again = cli("roads", "derive", "--json", cwd=cwd)
    body = json.loads(again.stdout)
    assert body["state"] == "SUCCEEDED" and body["days"] == [] and body["jams"] == 0
    redo = json.loads(cli("roads", "derive", "--from", "2025-11-21", "--to", "2025-11-21",
                          "--json", cwd=cwd).stdout)  # fmt: skip
    assert redo["days"] == ["2025-11-21"] and redo["jams"] == 2
    bad = cli("roads", "derive", "--to", "2025-11-21", cwd=cwd)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: --to needs --from"


def test_derive_as_a_workflow_task(tlake: LakeHarness) -> None:
    import dataclasses

    from trafficlake.workflow.library import run_workflow

    tlake.land_and_crawl(lane_rows(lanes(), [FIRST + 60 * m for m in range(MINUTES)], speed=speed))
    write_locations(tlake.lake, locations())
    tlake.transform()
    folder = tlake.settings.base_dir / "machines"
    folder.mkdir()
    (folder / "roads-after-batch.asl.json").write_text(
        json.dumps(
            {
                "StartAt": "Roads",
                "States": {
                    "Roads": {"Type": "Task", "Resource": "trafficlake:roads.derive", "End": True}
                },
            }
        )
    )
    settings = dataclasses.replace(
        tlake.settings,
        workflow=dataclasses.replace(tlake.settings.workflow, definitions_dir=str(folder)),
    )
    result = run_workflow(settings, "roads-after-batch", {})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["Days"] == ["2025-11-21"] and result.output["JamEpisodes"] == 2
