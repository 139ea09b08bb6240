"""The default event bus: rules and targets in the catalog, events in a persisted outbox, one
dispatcher per serving process.

Delivery is once per event and rule, whichever processes run a dispatcher: a pending event is
claimed by deleting its outbox row (only one process can), a scheduled fire by creating the row
``RULE@TIME`` (only one process can). An event put or emitted while no dispatcher runs waits in
the outbox; a schedule that was due while none ran fires once, for its latest missed time, when
one starts (like ``schedule run``'s catch-up). A claimed event whose process dies before its
targets ran is lost (at most once), as documented.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trafficlake.catalog import (
    Catalog,
    NoSuchResourceError,
    ResourceExistsError,
    open_catalog,
)
from trafficlake.errors import TrafficlakeError
from trafficlake.events.pattern import matches, parse_pattern

if TYPE_CHECKING:
    from trafficlake.config import Settings

log = logging.getLogger(__name__)

RULE_KIND = "events-rule"
PENDING_KIND = "events-pending"
FIRED_KIND = "events-fired"
BUS = "default"


class NoSuchRuleError(TrafficlakeError):
    pass


class RuleHasTargetsError(TrafficlakeError):
    pass


class TargetLimitError(TrafficlakeError):
    """EventBridge's LimitExceededException: a rule holds at most MAX_TARGETS targets."""


MAX_TARGETS = 5
"""Targets a rule may have at one time (EventBridge's quota)."""


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event(
    settings: Settings,
    source: str,
    detail_type: str,
    detail: Any,
    resources: list[str] | None = None,
) -> dict[str, Any]:
    a = settings.aws
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": a.account_id,
        "time": _iso(time.time()),
        "region": a.region,
        "resources": resources or [],
        "detail": detail,
    }


def put_event(catalog: Catalog, event: dict[str, Any]) -> str:
    """Add an event to the outbox; returns its id."""
    key = f"{time.time_ns():020d}-{event['id']}"
    catalog.put_resource(PENDING_KIND, key, event, mode="create")
    return str(event["id"])


def emit(settings: Settings, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    """Record one of trafficlake's own AWS events (``Glue Crawler State Change``, ...). Never
    fails its caller: a failure to record is logged."""
    try:
        with open_catalog(settings) as catalog:
            put_event(catalog, make_event(settings, source, detail_type, detail))
    except Exception:
        log.exception("could not record event %s", detail_type)


# ---- rules ------------------------------------------------------------------------------------


def put_rule(catalog: Catalog, rule: dict[str, Any]) -> dict[str, Any]:
    """Create or update a rule (keeping its targets)."""
    if not rule.get("ScheduleExpression") and not rule.get("EventPattern"):
        raise TrafficlakeError("a rule needs an EventPattern or a ScheduleExpression")
    if rule.get("EventPattern"):
        parse_pattern(rule["EventPattern"])
    if rule.get("ScheduleExpression"):
        from trafficlake.workflow.cron import parse_expression

        parse_expression(rule["ScheduleExpression"])
    try:
        old = catalog.get_resource(RULE_KIND, rule["Name"]).body
    except NoSuchResourceError:
        old = {"Targets": []}
    body = {"State": "ENABLED", **rule, "Targets": old.get("Targets", [])}
    body["SinceEpoch"] = old.get("SinceEpoch", time.time())  # schedules fire after this
    return catalog.put_resource(RULE_KIND, rule["Name"], body).body


def get_rule(catalog: Catalog, name: str) -> dict[str, Any]:
    try:
        return dict(catalog.get_resource(RULE_KIND, name).body)
    except NoSuchResourceError:
        raise NoSuchRuleError(f"Rule {name} does not exist on EventBus {BUS}.") from None


def list_rules(catalog: Catalog) -> list[dict[str, Any]]:
    return [dict(r.body) for r in catalog.list_resources(RULE_KIND)]


def update_rule(
    catalog: Catalog, name: str, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    rule = get_rule(catalog, name)
    change(rule)
    return catalog.put_resource(RULE_KIND, name, rule).body


def put_targets(catalog: Catalog, name: str, targets: list[dict[str, Any]]) -> dict[str, Any]:
    """Add ``targets`` to rule ``name``, replacing those with the same ``Id``, in the order they
    were first added; raises TargetLimitError beyond MAX_TARGETS (nothing changes then)."""

    def change(rule: dict[str, Any]) -> None:
        current = {t["Id"]: t for t in rule.get("Targets", [])}
        current.update({t["Id"]: t for t in targets})
        if len(current) > MAX_TARGETS:
            raise TargetLimitError(
                f"Rule {name} would have {len(current)} targets; a rule has at most {MAX_TARGETS}."
            )
        rule["Targets"] = list(current.values())

    return update_rule(catalog, name, change)


def delete_rule(catalog: Catalog, name: str) -> None:
    if get_rule(catalog, name).get("Targets"):
        raise RuleHasTargetsError("Rule can't be deleted since it has targets.")
    catalog.delete_resource(RULE_KIND, name)


def load_config_rules(settings: Settings, catalog: Catalog) -> None:
    """Upsert the ``[[rules]]`` of the config (their targets replace the stored ones)."""
    for entry in settings.rules:
        rule: dict[str, Any] = {"Name": entry.name, "State": entry.state, "EventBusName": BUS}
        if entry.schedule:
            rule["ScheduleExpression"] = entry.schedule
        if entry.event_pattern:
            rule["EventPattern"] = json.dumps(entry.event_pattern)
        put_rule(catalog, rule)
        targets = [
            {"Id": f"{entry.name}-{i + 1}", "Arn": t.arn, **({"Input": t.input} if t.input else {})}
            for i, t in enumerate(entry.targets)
        ]
        rule = get_rule(catalog, entry.name)
        rule["Targets"] = targets
        catalog.put_resource(RULE_KIND, entry.name, rule)


# ---- delivery ---------------------------------------------------------------------------------


@dataclass
class Delivery:
    rule: str
    target: str
    ok: bool
    detail: str = ""


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    path = target.get("InputPath")
    if path:
        from trafficlake.workflow.paths import select

        return select(path, event, {})
    return event


def deliver(
    services: Any,
    rule: dict[str, Any],
    event: dict[str, Any],
    invocations: list[threading.Thread] | None = None,
) -> list[Delivery]:
    """Run every target of ``rule`` with ``event`` (Lambda functions asynchronously - their
    threads are added to ``invocations`` - state machines as new executions, Glue jobs as job
    runs)."""
    out = []
    for target in rule.get("Targets", []):
        arn = str(target.get("Arn", ""))
        payload = _target_input(target, event)
        try:
            parts = arn.split(":")
            if parts[2:3] == ["lambda"]:
                name = arn.split(":function:", 1)[1]
                thread = threading.Thread(
                    target=services.invoke, args=(name, json.dumps(payload).encode()), daemon=True
                )
                thread.start()
                if invocations is not None:
                    invocations.append(thread)
            elif parts[2:3] == ["states"]:
                services.call(
                    "states",
                    "StartExecution",
                    {"stateMachineArn": arn, "input": json.dumps(payload)},
                )
            elif parts[2:3] == ["glue"] and ":job/" in arn:
                services.call("glue", "StartJobRun", {"JobName": arn.split(":job/", 1)[1]})
            else:
                raise TrafficlakeError(f"unsupported target {arn}")
            out.append(Delivery(rule["Name"], arn, True))
        except Exception as exc:
            log.warning("rule %s: target %s failed: %s", rule["Name"], arn, exc)
            out.append(Delivery(rule["Name"], arn, False, str(exc)))
    return out


class Dispatcher:
    """Delivers pending events and due schedules every ``interval`` seconds until stopped."""

    def __init__(
        self, settings: Settings, services: Callable[[], Any], interval: float = 0.5
    ) -> None:
        self.settings = settings
        self.services = services
        self.interval = interval
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered: list[Delivery] = []
        self.invocations: list[threading.Thread] = []
        """Lambda invocations started by deliveries (``stop`` waits for them, bounded)."""

    def start(self) -> None:
        with open_catalog(self.settings) as catalog:
            load_config_rules(self.settings, catalog)
        self._thread = threading.Thread(target=self._loop, name="events-dispatcher", daemon=True)
        self._thread.start()

    def start_once(self) -> None:
        """Load the configured rules and deliver what is due now, in this thread."""
        with open_catalog(self.settings) as catalog:
            load_config_rules(self.settings, catalog)
        self.tick()

    def stop(self, wait_s: float = 60.0) -> None:
        """Stop dispatching; wait up to ``wait_s`` for the Lambda invocations started."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        deadline = time.monotonic() + wait_s
        for thread in self.invocations:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("event dispatch failed")
            self._stop.wait(self.interval)

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with open_catalog(self.settings) as catalog:
            rules = [r for r in list_rules(catalog) if r.get("State", "ENABLED") == "ENABLED"]
            for rule in rules:
                if rule.get("ScheduleExpression"):
                    self._schedule(catalog, rule, now)
            pattern_rules = [
                (r, parse_pattern(r["EventPattern"])) for r in rules if r.get("EventPattern")
            ]
            for pending in catalog.list_resources(PENDING_KIND):
                try:
                    catalog.delete_resource(PENDING_KIND, pending.name)  # the claim
                except NoSuchResourceError:
                    continue  # another dispatcher took it
                for rule, pattern in pattern_rules:
                    if matches(pattern, pending.body):
                        self.delivered += deliver(
                            self.services(), rule, pending.body, self.invocations
                        )

    def _schedule(self, catalog: Catalog, rule: dict[str, Any], now: float) -> None:
        from trafficlake.workflow.cron import last_fire_at_or_before

        expr = rule["ScheduleExpression"]
        anchor = dt.datetime.fromtimestamp(float(rule.get("SinceEpoch", self.started_at)), dt.UTC)
        fire = last_fire_at_or_before(expr, anchor, dt.datetime.fromtimestamp(now, dt.UTC), "UTC")
        if fire <= anchor:
            return
        key = f"{rule['Name']}@{fire.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        try:
            catalog.put_resource(FIRED_KIND, key, {"at": fire.timestamp()}, mode="create")
        except ResourceExistsError:
            return  # delivered by another dispatcher (or already by this one)
        event = make_event(
            self.settings, "aws.events", "Scheduled Event", {}, [rule.get("Arn", "")]
        )
        event["time"] = fire.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.delivered += deliver(self.services(), rule, event, self.invocations)
