"""State machines in the Serverless Framework layout (the serverless-step-functions plugin).

A file is either plain ASL (``StartAt`` + ``States``), a state machines file as the seed keeps
it (``Key: {name, definition, events: [{schedule: rate(1 day)}]}``, YAML or JSON), or a
``serverless.yml`` whose ``stepFunctions.stateMachines`` holds that mapping inline or as
``${file(resources/sm.yml)}``. Other Serverless variables stay as written: Lambda ARNs holding
``${...}``/``#{...}`` resolve at run time to the declared function whose name ends them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trafficlake.workflow.asl import StateMachine, from_dict, machine_name, parse_text
from trafficlake.workflow.errors import ValidationError

_FILE_REF = re.compile(r"^\$\{file\(([^)]+)\)\}$")


@dataclass
class Schedule:
    expression: str
    input: dict[str, Any] = field(default_factory=dict)


@dataclass
class Machine:
    machine: StateMachine
    schedules: list[Schedule]


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError([f"cannot read {path}: {e.strerror}"], str(path)) from None
    try:
        doc, dupes = parse_text(text, str(path))
    except ValidationError as not_parsed:
        try:  # a serverless.yml with inline CloudFormation (!Ref, !GetAtt, ...)
            return yaml.load(text, Loader=_cfn_loader())
        except yaml.YAMLError:
            raise not_parsed from None  # the parser's reason, with its line and column
    if dupes:
        raise ValidationError(dupes, str(path))
    return doc


def _schedules(events: Any, where: str) -> list[Schedule]:
    out: list[Schedule] = []
    if events is None:
        return out
    if not isinstance(events, list):
        raise ValidationError([f"{where}: events must be a list"], where)
    for i, event in enumerate(events):
        spec = event.get("schedule") if isinstance(event, dict) else None
        if spec is None:
            continue  # http/cloudwatchEvent triggers are not served
        if isinstance(spec, str):
            out.append(Schedule(spec))
        elif isinstance(spec, dict) and isinstance(spec.get("rate"), str):
            if spec.get("enabled", True) is False:
                continue
            payload = spec.get("input", {})
            out.append(Schedule(spec["rate"], payload if isinstance(payload, dict) else {}))
        else:
            raise ValidationError(
                [f"{where}: events[{i}].schedule must be rate(...)/cron(...)"], where
            )
    return out


def machines_of(path: Path) -> list[Machine]:
    """Every state machine the file defines, validated (raises ValidationError)."""
    doc = _read(path)
    if isinstance(doc, dict) and "States" in doc and "StartAt" in doc:
        return [Machine(from_dict(doc, machine_name(path)), [])]
    if isinstance(doc, dict) and isinstance(doc.get("stepFunctions"), dict):
        machines = doc["stepFunctions"].get("stateMachines")
        if isinstance(machines, str) and (m := _FILE_REF.match(machines.strip())):
            ref = (path.parent / m.group(1).strip().strip("'\"")).resolve()
            return machines_of(ref)
        doc = machines
    if (
        not isinstance(doc, dict)
        or not doc
        or not all(isinstance(v, dict) and "definition" in v for v in doc.values())
    ):
        raise ValidationError(
            [
                "neither an ASL definition (StartAt, States) nor Serverless state machines "
                "(Key: {name, definition, events})"
            ],
            str(path),
        )
    out = []
    for key, spec in doc.items():
        name = spec.get("name") or key
        if not isinstance(name, str):
            raise ValidationError([f"{key}: name must be a string"], str(path))
        try:
            machine = from_dict(spec["definition"], name)
        except ValidationError as e:
            raise ValidationError([f"{name}: {p}" for p in e.problems], str(path)) from None
        machine.source = str(path)
        out.append(Machine(machine, _schedules(spec.get("events"), f"{path}: {name}")))
    return out


# ---- functions and their events (serverless.yml ``functions:``) --------------------------------

_VAR = re.compile(r"\$\{([^{}]+)\}")


def _lookup(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def resolve_variables(value: Any, doc: dict[str, Any], base: Path) -> Any:
    """Serverless variables that need no cloud: ``${self:...}``, ``${opt:stage|region, default}``
    (the provider's values), ``${file(path)}`` (the file's text, for a whole string). Others
    (``${ssm:...}``, ``${cf:...}``) stay as written."""
    if isinstance(value, dict):
        return {k: resolve_variables(v, doc, base) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_variables(v, doc, base) for v in value]
    if not isinstance(value, str):
        return value
    whole = _FILE_REF.match(value.strip())
    if whole:
        target = (base / whole.group(1).strip().strip("'\"")).resolve()
        try:
            return target.read_text(encoding="utf-8")
        except OSError:
            return value

    def one(m: re.Match[str]) -> str:
        expr, _, default = (p.strip() for p in m.group(1).partition(","))
        found: Any = None
        if expr.startswith("self:"):
            found = _lookup(doc, expr[len("self:") :])
        elif expr in ("opt:stage", "opt:region"):
            found = _lookup(doc, f"provider.{expr[4:]}") or ("dev" if expr == "opt:stage" else None)
        if found is None and default:
            found = resolve_variables(default.strip("'\""), doc, base)
        return str(found) if isinstance(found, (str, int, float)) else m.group(0)

    for _ in range(5):  # nested variables resolve from the inside out
        new = _VAR.sub(one, value)
        if new == value:
            break
        value = new
    return value


@dataclass
class Function:
    name: str
    handler: str
    code_dir: str
    runtime: str
    environment: dict[str, str]
    timeout_s: float
    events: list[dict[str, Any]]
    """EventBridge rules: {"schedule": EXPR} or {"event_pattern": {...}}."""


def functions_of(path: Path, account: str = "000000000000") -> list[Function]:
    """The ``functions:`` of a serverless.yml, with the variables that need no cloud resolved
    (CloudFormation intrinsics in their environment too, as in ``resources:``) and their
    schedule / eventBridge / cloudwatchEvent events as rules."""
    doc = _read(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("functions"), dict):
        return []
    names = _resource_names(path, doc, account)[1]
    provider: dict[str, Any] = doc["provider"] if isinstance(doc.get("provider"), dict) else {}
    out = []
    for key, spec in doc["functions"].items():
        if not isinstance(spec, dict):
            continue
        spec = resolve_variables(spec, doc, path.parent)
        env = {  # `CRAWLER_NAME: !Ref DeliveryBucketCrawler` is the crawler's name, as deployed
            str(k): str(_intrinsics(v, names, account))
            for k, v in {
                **(resolve_variables(provider.get("environment") or {}, doc, path.parent)),
                **(spec.get("environment") or {}),
            }.items()
        }
        handler = str(spec.get("handler", ""))
        code_dir = str(spec.get("module") or ".")
        if handler.startswith("/opt/") and env.get("LUMIGO_ORIGINAL_HANDLER"):
            handler = env["LUMIGO_ORIGINAL_HANDLER"]  # a tracing layer's wrapper: run the original
        runtime = str(spec.get("runtime") or provider.get("runtime") or "python")
        events = []
        for e in spec.get("events") or []:
            if not isinstance(e, dict):
                continue
            sched = e.get("schedule")
            bridge: dict[str, Any] = (
                e["eventBridge"] if isinstance(e.get("eventBridge"), dict) else {}
            )
            cw: dict[str, Any] = (
                e["cloudwatchEvent"] if isinstance(e.get("cloudwatchEvent"), dict) else {}
            )
            if isinstance(sched, dict) and sched.get("enabled", True) is not False:
                sched = sched.get("rate")
            if isinstance(sched, str):
                events.append({"schedule": sched})
            elif isinstance(bridge.get("pattern"), dict):
                events.append({"event_pattern": bridge["pattern"]})
            elif isinstance(bridge.get("schedule"), str):
                events.append({"schedule": bridge["schedule"]})
            elif isinstance(cw.get("event"), dict) and cw.get("enabled", True) is not False:
                events.append({"event_pattern": cw["event"]})
        out.append(
            Function(
                name=str(key),
                handler=handler,
                code_dir=str((path.parent / code_dir).resolve()),
                runtime="nodejs" if runtime.startswith("nodejs") else "python",
                environment=env,
                timeout_s=float(spec.get("timeout") or provider.get("timeout") or 6),
                events=events,
            )
        )
    return out


# ---- CloudFormation resources (serverless.yml ``resources:``) ----------------------------------

GLUE_TYPES = ("AWS::Glue::Database", "AWS::Glue::Table", "AWS::Glue::Crawler", "AWS::Glue::Job")
STREAM_TYPE = "AWS::KinesisFirehose::DeliveryStream"
CREATED_TYPES = (*GLUE_TYPES, STREAM_TYPE)
"""Created in this order (tables need their database, a stream's format conversion its table)."""
_NAME_PROPERTY = {STREAM_TYPE: "DeliveryStreamName", "AWS::S3::Bucket": "BucketName"}


def _cfn_loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if suffix == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", tag)
    return Loader


def _intrinsics(value: Any, names: dict[str, str], account: str) -> Any:
    """CloudFormation intrinsics resolved as far as a local lake needs: Ref is the resource's
    name (other Refs and ImportValues their own name), GetAtt X.Arn its ARN (a bucket's or a
    stream's; otherwise an IAM role's), Join and Sub."""
    if isinstance(value, list):
        return [_intrinsics(v, names, account) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        arg = _intrinsics(arg, names, account)
        if key == "Ref":
            return names.get(str(arg), str(arg))
        if key == "Fn::ImportValue":
            return str(arg)
        if key == "Fn::GetAtt" and isinstance(arg, list) and arg:
            return names.get(f"{arg[0]}.Arn", f"arn:aws:iam::{account}:role/{arg[0]}")
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return str(arg[0]).join(str(p) for p in arg[1])
        if key == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: names.get(m.group(1), m.group(1)), arg)
    return {k: _intrinsics(v, names, account) for k, v in value.items()}


def resources_of(path: Path, account: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, logical id, properties) of the Glue resources and Firehose delivery streams a
    serverless.yml declares under ``resources:`` (inline or ``${file(...)}``), intrinsics and
    Serverless variables resolved."""
    doc = _read(path)
    if not isinstance(doc, dict) or not doc.get("resources"):
        return []
    found, names = _resource_names(path, doc, account)
    out = []
    for kind in CREATED_TYPES:
        for logical, res in found.items():
            if res["Type"] == kind:
                props = resolve_variables(res.get("Properties") or {}, doc, path.parent)
                out.append((kind, logical, _intrinsics(props, names, account)))
    return out


def _resource_names(
    path: Path, doc: dict[str, Any], account: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The resources under ``resources:`` (inline or ``${file(...)}``) by logical id, and what
    each logical id stands for: ``ID`` its name (what ``!Ref`` gives), ``ID.Arn`` the ARN of a
    bucket or stream (what ``!GetAtt ID.Arn`` gives)."""
    if not doc.get("resources"):
        return {}, {}
    parts = doc["resources"] if isinstance(doc["resources"], list) else [doc["resources"]]
    found: dict[str, dict[str, Any]] = {}
    for part in parts:
        if isinstance(part, str) and (m := _FILE_REF.match(part.strip())):
            target = (path.parent / m.group(1).strip().strip("'\"")).resolve()
            try:
                part = yaml.load(target.read_text(encoding="utf-8"), Loader=_cfn_loader())
            except (OSError, yaml.YAMLError) as e:
                raise ValidationError([f"cannot read resources {target}: {e}"], str(path)) from None
        if isinstance(part, dict) and isinstance(part.get("Resources"), dict):
            found.update({k: v for k, v in part["Resources"].items() if isinstance(v, dict)})
    names = {}
    for logical, res in found.items():
        props = res.get("Properties") or {}
        kind = res.get("Type")
        name = (
            props.get(_NAME_PROPERTY.get(str(kind), "Name"))
            or (props.get("DatabaseInput") or {}).get("Name")
            or (props.get("TableInput") or {}).get("Name")
        )
        name = str(resolve_variables(name, doc, path.parent) if name else logical)
        names[logical] = name
        if kind == "AWS::S3::Bucket":
            names[f"{logical}.Arn"] = f"arn:aws:s3:::{name}"
        elif kind == STREAM_TYPE:
            region = (doc.get("provider") or {}).get("region") or "us-east-1"
            names[f"{logical}.Arn"] = f"arn:aws:firehose:{region}:{account}:deliverystream/{name}"
    created = {k: v for k, v in found.items() if v.get("Type") in CREATED_TYPES}
    return created, names
