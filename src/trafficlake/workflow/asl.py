"""Load Amazon States Language definitions (JSON or YAML) and validate them before they run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trafficlake.workflow.errors import ValidationError
from trafficlake.workflow.validation import validate


@dataclass
class StateMachine:
    """A loaded, validated definition."""

    name: str
    definition: dict[str, Any]
    source: str = ""

    @property
    def timeout_seconds(self) -> float | None:
        return self.definition.get("TimeoutSeconds")


# ---- loading (duplicate keys are problems, not silent overwrites) ----------------------------


@dataclass
class _Dupes:
    found: list[str] = field(default_factory=list)

    def note(self, key: str, a: Any, b: Any, where: str = "") -> None:
        if isinstance(a, dict) and isinstance(b, dict) and "Type" in a and "Type" in b:
            self.found.append(f"duplicate state name {key!r}{where}")
        else:
            self.found.append(f"duplicate key {key!r}{where}")


def _yaml_loader(dupes: _Dupes) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            value = loader.construct_object(value_node, deep=True)
            if key in out:
                dupes.note(str(key), out[key], value, f" (line {key_node.start_mark.line + 1})")
            out[key] = value
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def _parse_reason(e: json.JSONDecodeError | yaml.YAMLError) -> str:
    """The parser's reason with its place, on one line (not YAML's quoted excerpt)."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem and e.problem_mark:
        mark = e.problem_mark
        return f"{e.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(e).split())


def parse_text(text: str, source: str = "") -> tuple[Any, list[str]]:
    """Parse JSON or YAML text; returns (document, duplicate-key problems)."""
    dupes = _Dupes()
    stripped = text.lstrip()
    try:
        if stripped.startswith("{"):

            def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
                out: dict[str, Any] = {}
                for k, v in pairs:
                    if k in out:
                        dupes.note(k, out[k], v)
                    out[k] = v
                return out

            doc = json.loads(text, object_pairs_hook=hook)
        else:
            doc = yaml.load(text, Loader=_yaml_loader(dupes))
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ValidationError([f"not valid JSON or YAML: {_parse_reason(e)}"], source) from None
    return doc, dupes.found


def load_definition(source: str | Path, name: str | None = None) -> StateMachine:
    """Load and validate a definition file; raises ValidationError listing every problem."""
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError([f"cannot read {path}: {e.strerror}"], str(path)) from None
    return load_text(text, name=name or machine_name(path), source=str(path))


def load_text(text: str, *, name: str = "machine", source: str = "") -> StateMachine:
    doc, dupes = parse_text(text, source)
    problems = dupes + validate(doc)
    if problems:
        raise ValidationError(problems, source or name)
    return StateMachine(name=name, definition=doc, source=source)


def from_dict(definition: dict[str, Any], name: str = "machine") -> StateMachine:
    problems = validate(definition)
    if problems:
        raise ValidationError(problems, name)
    return StateMachine(name=name, definition=definition)


def machine_name(path: Path) -> str:
    n = path.name
    for suffix in (".asl.json", ".asl.yaml", ".asl.yml", ".json", ".yaml", ".yml"):
        if n.endswith(suffix):
            return n[: -len(suffix)]
    return n
