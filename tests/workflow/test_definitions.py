"""The shipped definitions: our validator, the asl-validator npm package, graphs, resolution."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from trafficlake.config import Settings, load_settings
from trafficlake.workflow.asl import load_definition
from trafficlake.workflow.errors import NoSuchStateMachineError
from trafficlake.workflow.library import SHIPPED_DIR, find_machine, graph, list_definitions

SHIPPED = sorted(p for p in SHIPPED_DIR.iterdir() if p.name.endswith((".asl.json", ".asl.yaml")))
NPM_DIR = Path(__file__).parent / "asl-validator"  # package.json + lockfile; node_modules ignored

CHECK_JS = r"""
const fs = require("fs"); const yaml = require("yaml");
const v = require("asl-validator"); const validate = v.default || v;
const out = {};
for (const p of process.argv.slice(1)) {
  const text = fs.readFileSync(p, "utf8");
  const def = p.endsWith(".json") ? JSON.parse(text) : yaml.parse(text);
  out[p] = validate(def, {checkArn: false, checkPaths: true});
}
console.log(JSON.stringify(out));
"""


def test_shipped_definitions_pass_our_validator() -> None:
    assert {p.name for p in SHIPPED} >= {"batch.asl.yaml", "batch-sync.asl.json"}
    for path in SHIPPED:
        machine = load_definition(path)
        assert machine.definition["States"]


def _asl_validator() -> Path:
    """The asl-validator package, installed from the committed lockfile by ``make npm-deps``."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed on this machine (CI installs it: .ci/run)")
    if not (NPM_DIR / "node_modules" / "asl-validator").is_dir():
        pytest.fail(
            f"asl-validator is not installed in {NPM_DIR}: run `make npm-deps` "
            "(npm ci from the committed package-lock.json)",
            pytrace=False,
        )
    return NPM_DIR


def test_shipped_definitions_pass_asl_validator(tmp_path: Path) -> None:
    folder = _asl_validator()
    bad = tmp_path / "bad.asl.json"  # the harness must be able to fail
    bad.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Nxt": "B"}}}))
    paths = [str(p) for p in SHIPPED] + [str(bad)]
    proc = subprocess.run(
        ["node", "-e", CHECK_JS, *paths], capture_output=True, text=True, cwd=folder, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    for p in SHIPPED:
        assert results[str(p)] == {"isValid": True, "errors": []}, results[str(p)]
    assert results[str(bad)]["isValid"] is False


def test_name_resolution(settings: Settings, tmp_path: Path) -> None:
    assert find_machine(settings, "batch").name == "batch"
    assert find_machine(settings, "batch-sync").name == "batch-sync"
    with pytest.raises(NoSuchStateMachineError, match="known: batch, batch-athena, batch-sync"):
        find_machine(settings, "nope")
    extra = tmp_path / "defs"
    extra.mkdir()
    (extra / "mine.asl.json").write_text(
        json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    )
    s = load_settings(None, overrides={"workflow": {"definitions_dir": str(extra)}})
    names = {d.name: d.origin for d in list_definitions(s)}
    assert names == {
        "batch": "shipped",
        "batch-athena": "shipped",
        "batch-sync": "shipped",
        "mine": "configured",
    }
    assert find_machine(s, "mine").name == "mine"
    assert find_machine(s, str(extra / "mine.asl.json")).name == "mine"


def test_graphs() -> None:
    machine = find_machine(None, "batch")
    mermaid = graph(machine, "mermaid")
    assert mermaid.startswith("flowchart TD")
    assert "s_CheckCrawlerState -->|default| s_WaitCrawler" in mermaid
    dot = graph(machine, "dot")
    assert dot.startswith('digraph "batch" {') and dot.rstrip().endswith("}")
    assert 's_CheckETLState -> s_RunTransformedCrawler [label="rule 1"];' in dot
