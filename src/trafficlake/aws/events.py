"""EventBridge (``AWSEvents.``): rules, targets and PutEvents on the default bus, over
:mod:`trafficlake.events.bus` (rules in the catalog, events in its outbox)."""

from __future__ import annotations

import json
from typing import Any

from trafficlake.aws.paging import make_token, page_size, read_token
from trafficlake.aws.service import (
    AwsContext,
    AwsError,
    ErrorMap,
    Operation,
    ServiceAdapter,
    operation_table,
)
from trafficlake.catalog import NoSuchResourceError, open_catalog
from trafficlake.catalog.base import Catalog
from trafficlake.errors import TrafficlakeError
from trafficlake.events import bus
from trafficlake.events.pattern import InvalidEventPatternError

ERRORS: ErrorMap = (
    ((bus.NoSuchRuleError, NoSuchResourceError), "ResourceNotFoundException", 400),
    (InvalidEventPatternError, "InvalidEventPatternException", 400),
    (bus.TargetLimitError, "LimitExceededException", 400),
    (TrafficlakeError, "ValidationException", 400),  # RuleHasTargetsError, ScheduleError, ...
)

PAGING = ("NextToken", "Limit")
RULE_FIELDS = ("Name", "EventPattern", "ScheduleExpression", "State", "Description", "RoleArn")


def _name(body: dict[str, Any], key: str = "Name") -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise AwsError("ValidationException", f"{key} is required")
    return value


def _bus(body: dict[str, Any]) -> None:
    name = body.get("EventBusName", bus.BUS)
    if name not in (bus.BUS, None) and not str(name).endswith(":event-bus/default"):
        raise AwsError("ResourceNotFoundException", f"Event bus {name} does not exist.")


def _page(body: dict[str, Any]) -> tuple[int, str | None]:
    """EventBridge paging: ``Limit`` 1..100 (none: 100) and the position ``NextToken`` carries
    (``ValidationException`` for one this request did not get)."""
    size = page_size(body, "Limit", "limit", default=100, low=1, high=100)
    return size, read_token(body, "NextToken", PAGING, "ValidationException")


class EventsOperations(dict[str, Operation]):
    def __init__(self, context: AwsContext) -> None:
        super().__init__()
        self.context = context
        self.settings = context.settings
        self.catalog: Catalog = open_catalog(self.settings)
        self.update(operation_table(self, ERRORS))

    def close(self) -> None:
        self.catalog.close()

    def _arn(self, name: str) -> str:
        return self.context.arn("events", f"rule/{name}")

    def _rule_out(self, rule: dict[str, Any]) -> dict[str, Any]:
        out = {k: rule[k] for k in RULE_FIELDS if k in rule}
        return {**out, "Arn": self._arn(rule["Name"]), "EventBusName": bus.BUS}

    def PutRule(self, body: dict[str, Any]) -> dict[str, Any]:
        _bus(body)
        rule = {k: body[k] for k in RULE_FIELDS if body.get(k) is not None}
        if not all(isinstance(v, str) for v in rule.values()):
            raise AwsError("ValidationException", "rule fields must be strings")
        rule["Name"] = _name(body)
        if rule.get("State", "ENABLED") not in ("ENABLED", "DISABLED"):
            raise AwsError("ValidationException", "State must be ENABLED or DISABLED")
        bus.put_rule(self.catalog, rule)
        return {"RuleArn": self._arn(rule["Name"])}

    def DescribeRule(self, body: dict[str, Any]) -> dict[str, Any]:
        _bus(body)
        return self._rule_out(bus.get_rule(self.catalog, _name(body)))

    def ListRules(self, body: dict[str, Any]) -> dict[str, Any]:
        _bus(body)
        size, after = _page(body)
        prefix = body.get("NamePrefix") or ""
        rules = [
            r
            for r in bus.list_rules(self.catalog)
            if r["Name"].startswith(prefix) and (after is None or r["Name"] > after)
        ]
        out: dict[str, Any] = {"Rules": [self._rule_out(r) for r in rules[:size]]}
        if len(rules) > size:
            out["NextToken"] = make_token(rules[size - 1]["Name"], body, PAGING)
        return out

    def DeleteRule(self, body: dict[str, Any]) -> dict[str, Any]:
        _bus(body)
        bus.delete_rule(self.catalog, _name(body))
        return {}

    def _set_state(self, body: dict[str, Any], state: str) -> dict[str, Any]:
        _bus(body)
        bus.update_rule(self.catalog, _name(body), lambda r: r.__setitem__("State", state))
        return {}

    def EnableRule(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._set_state(body, "ENABLED")

    def DisableRule(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._set_state(body, "DISABLED")

    def PutTargets(self, body: dict[str, Any]) -> dict[str, Any]:
        _bus(body)
        targets = body.get("Targets")
        if not isinstance(targets, list) or not 1 <= len(targets) <= 10:
            raise AwsError("ValidationException", "Targets must hold 1 to 10 targets")
        for t in targets:
            if (
                not isinstance(t, dict)
                or not isinstance(t.get("Id"), str)
                or not isinstance(t.get("Arn"), str)
            ):
                raise AwsError("ValidationException", "every target needs an Id and an Arn")
            if "Input" in t:
                try:
                    json.loads(t["Input"])
                except (TypeError, ValueError):
                    raise AwsError(
                        "ValidationException", f"target {t['Id']}: Input is not JSON"
                    ) from None
        keep = ("Id", "Arn", "Input", "InputPath")
        kept = [{k: t[k] for k in keep if k in t} for t in targets]
        bus.put_targets(self.catalog, _name(body, "Rule"), kept)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def ListTargetsByRule(self, body: dict[str, Any]) -> dict[str, Any]:
        _bus(body)
        size, after = _page(body)
        targets = bus.get_rule(self.catalog, _name(body, "Rule")).get("Targets", [])
        if after is not None:
            ids = [t["Id"] for t in targets]
            if after not in ids:
                raise AwsError("ValidationException", f"Invalid NextToken: '{body['NextToken']}'")
            targets = targets[ids.index(after) + 1 :]
        out: dict[str, Any] = {"Targets": targets[:size]}
        if len(targets) > size:
            out["NextToken"] = make_token(targets[size - 1]["Id"], body, PAGING)
        return out

    def RemoveTargets(self, body: dict[str, Any]) -> dict[str, Any]:
        _bus(body)
        ids = body.get("Ids")
        if not isinstance(ids, list):
            raise AwsError("ValidationException", "Ids is required")
        rule = bus.get_rule(self.catalog, _name(body, "Rule"))
        known = {t["Id"] for t in rule.get("Targets", [])}
        failed = [
            {
                "TargetId": i,
                "ErrorCode": "ResourceNotFoundException",
                "ErrorMessage": f"target {i} not found",
            }
            for i in ids
            if i not in known
        ]
        bus.update_rule(
            self.catalog,
            rule["Name"],
            lambda r: r.__setitem__(
                "Targets", [t for t in r.get("Targets", []) if t["Id"] not in ids]
            ),
        )
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def PutEvents(self, body: dict[str, Any]) -> dict[str, Any]:
        entries = body.get("Entries")
        if not isinstance(entries, list) or not 1 <= len(entries) <= 10:
            raise AwsError("ValidationException", "Entries must hold 1 to 10 events")
        out: list[dict[str, Any]] = []
        for e in entries:
            try:
                if not isinstance(e, dict):
                    raise ValueError("an entry must be an object")
                source, kind, detail = e.get("Source"), e.get("DetailType"), e.get("Detail")
                if not source or not kind or not isinstance(detail, str):
                    raise ValueError("Source, DetailType and Detail are required")
                parsed = json.loads(detail)
                if not isinstance(parsed, dict):
                    raise ValueError("Detail must be a JSON object")
                event = bus.make_event(
                    self.settings, str(source), str(kind), parsed, e.get("Resources") or []
                )
                out.append({"EventId": bus.put_event(self.catalog, event)})
            except ValueError as exc:
                out.append({"ErrorCode": "InvalidArgument", "ErrorMessage": str(exc)})
        return {"FailedEntryCount": sum("ErrorCode" in o for o in out), "Entries": out}


ADAPTER = ServiceAdapter("AWSEvents.", EventsOperations)
