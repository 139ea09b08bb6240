"""Step Functions (``AWSStepFunctions.``): state machines and executions over the workflow
library (:mod:`trafficlake.workflow.api`) and the executions persisted in the catalog."""

from __future__ import annotations

import json
from typing import Any

from trafficlake.aws.paging import make_token, page_size, read_token, violation
from trafficlake.aws.service import (
    AwsContext,
    AwsError,
    ErrorMap,
    Operation,
    ServiceAdapter,
    operation_table,
)
from trafficlake.catalog import NoSuchExecutionError, open_catalog
from trafficlake.catalog.base import Execution, HistoryEvent
from trafficlake.workflow import api
from trafficlake.workflow.errors import NoSuchStateMachineError, ValidationError, WorkflowError
from trafficlake.workflow.history import mark_abandoned

ERRORS: ErrorMap = (
    (NoSuchStateMachineError, "StateMachineDoesNotExist", 400),
    (NoSuchExecutionError, "ExecutionDoesNotExist", 400),
    (api.MachineExistsError, "StateMachineAlreadyExists", 400),
    (api.ExecutionExistsError, "ExecutionAlreadyExists", 400),
    (api.InvalidNameError, "InvalidName", 400),
    (ValidationError, "InvalidDefinition", 400),
    ((api.ReadOnlyMachineError, WorkflowError), "ValidationException", 400),
)


STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
PAGING = ("nextToken", "maxResults")
DATA_FIELDS = ("input", "output", "parameters")
"""History event details that are execution data (left out with ``includeExecutionData``
false)."""


def _page(body: dict[str, Any]) -> tuple[int, str | None]:
    """Step Functions paging: ``maxResults`` 0..1000 (0 or absent: 100) and the position
    ``nextToken`` carries (``InvalidToken`` for one this request did not get)."""
    size = page_size(body, "maxResults", "maxResults", default=100, low=0, high=1000)
    return size, read_token(body, "nextToken", PAGING, "InvalidToken")


def _str(body: dict[str, Any], key: str, required: bool = True) -> Any:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise AwsError("ValidationException", f"{key} is required and must be a string")
    return value


def _detail_key(event_type: str) -> str:
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[:1].lower() + event_type[1:] + "EventDetails"


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class StatesOperations(dict[str, Operation]):
    def __init__(self, context: AwsContext) -> None:
        super().__init__()
        self.context = context
        self.settings = context.settings
        self.executions = api.Executions(self.settings, context.services)
        with open_catalog(self.settings) as catalog:
            mark_abandoned(catalog)  # executions whose process died read ABORTED
        self.update(operation_table(self, ERRORS))

    # ---- ARNs ------------------------------------------------------------------------------
    def _machine_arn(self, name: str) -> str:
        return self.context.arn("states", f"stateMachine:{name}")

    def _execution_arn(self, execution_id: str) -> str:
        return self.context.arn("states", f"execution:{execution_id}")

    @staticmethod
    def _machine_of(arn: str) -> str:
        parts = arn.split(":")
        if len(parts) != 7 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "stateMachine":
            raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
        return parts[6]

    @staticmethod
    def _execution_of(arn: str) -> str:
        parts = arn.split(":")
        if len(parts) != 8 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "execution":
            raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
        return f"{parts[6]}:{parts[7]}"

    def _execution_out(self, e: Execution, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "executionArn": self._execution_arn(e.id),
            "stateMachineArn": self._machine_arn(e.state_machine),
            "name": e.name,
            "status": e.status,
            "startDate": e.started_at,
        }
        if e.stopped_at:
            out["stopDate"] = e.stopped_at
        if full:
            out["input"] = _json_text(e.input if e.input is not None else {})
            out["inputDetails"] = {"included": True}
            if e.status == "SUCCEEDED":
                out["output"] = _json_text(e.output)
                out["outputDetails"] = {"included": True}
            if e.error:
                out["error"] = e.error
            if e.cause:
                out["cause"] = e.cause
        return out

    def _input(self, body: dict[str, Any]) -> Any:
        text = body.get("input", "{}")
        if not isinstance(text, str):
            raise AwsError("InvalidExecutionInput", "input must be a JSON string")
        try:
            return json.loads(text)
        except ValueError:
            raise AwsError(
                "InvalidExecutionInput", "Invalid State Machine Execution Input: not JSON"
            ) from None

    # ---- state machines --------------------------------------------------------------------
    def CreateStateMachine(self, body: dict[str, Any]) -> dict[str, Any]:
        kind = body.get("type", "STANDARD")
        if kind not in ("STANDARD", "EXPRESS"):
            raise AwsError("ValidationException", f"type must be STANDARD or EXPRESS, got {kind!r}")
        m = api.create_machine(
            self.settings,
            _str(body, "name"),
            _str(body, "definition"),
            body.get("roleArn", ""),
            kind,
        )
        return {"stateMachineArn": self._machine_arn(m.name), "creationDate": m.created_at}

    def DescribeStateMachine(self, body: dict[str, Any]) -> dict[str, Any]:
        m = api.get_machine(self.settings, self._machine_of(_str(body, "stateMachineArn")))
        return {
            "stateMachineArn": self._machine_arn(m.name),
            "name": m.name,
            "status": "ACTIVE",
            "definition": m.definition,
            "roleArn": m.role_arn
            or self.context.arn("iam", f"role/{m.name}-role").replace(
                f":{self.context.region}:", "::", 1
            ),
            "type": m.type,
            "creationDate": m.created_at,
        }

    def ListStateMachines(self, body: dict[str, Any]) -> dict[str, Any]:
        size, after = _page(body)
        machines = [m for m in api.list_machines(self.settings) if after is None or m.name > after]
        out: dict[str, Any] = {
            "stateMachines": [
                {
                    "stateMachineArn": self._machine_arn(m.name),
                    "name": m.name,
                    "type": m.type,
                    "creationDate": m.created_at,
                }
                for m in machines[:size]
            ]
        }
        if len(machines) > size:
            out["nextToken"] = make_token(machines[size - 1].name, body, PAGING)
        return out

    def UpdateStateMachine(self, body: dict[str, Any]) -> dict[str, Any]:
        name = self._machine_of(_str(body, "stateMachineArn"))
        api.update_machine(
            self.settings, name, _str(body, "definition", False), _str(body, "roleArn", False)
        )
        return {"updateDate": _now()}

    def DeleteStateMachine(self, body: dict[str, Any]) -> dict[str, Any]:
        api.delete_machine(self.settings, self._machine_of(_str(body, "stateMachineArn")))
        return {}

    # ---- executions ------------------------------------------------------------------------
    def StartExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        machine = self._machine_of(_str(body, "stateMachineArn"))
        api.get_machine(self.settings, machine)
        execution_id, started = self.executions.start(machine, body.get("name"), self._input(body))
        return {"executionArn": self._execution_arn(execution_id), "startDate": started}

    def StartSyncExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        machine = self._machine_of(_str(body, "stateMachineArn"))
        api.get_machine(self.settings, machine)
        data = self._input(body)
        r = self.executions.run_sync(machine, body.get("name"), data)
        out: dict[str, Any] = {
            "executionArn": self._execution_arn(r.id),
            "stateMachineArn": self._machine_arn(machine),
            "name": r.name,
            "startDate": r.started_at,
            "stopDate": r.stopped_at,
            "status": r.status,
            "input": json.dumps(data),
            "inputDetails": {"included": True},
        }
        if r.status == "SUCCEEDED":
            out["output"] = json.dumps(r.output)
            out["outputDetails"] = {"included": True}
        if r.error:
            out["error"] = r.error
        if r.cause:
            out["cause"] = r.cause
        return out

    def _execution(self, body: dict[str, Any]) -> Execution:
        execution_id = self._execution_of(_str(body, "executionArn"))
        with open_catalog(self.settings) as catalog:
            try:
                return catalog.get_execution(execution_id)
            except NoSuchExecutionError:
                raise NoSuchExecutionError(
                    f"Execution Does Not Exist: '{body['executionArn']}'"
                ) from None

    def DescribeExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._execution_out(self._execution(body), full=True)

    def ListExecutions(self, body: dict[str, Any]) -> dict[str, Any]:
        machine = self._machine_of(_str(body, "stateMachineArn"))
        api.get_machine(self.settings, machine)
        status = body.get("statusFilter")
        if status is not None and status not in STATUSES:
            rule = f"satisfy enum value set: [{', '.join(STATUSES)}]"
            raise AwsError("ValidationException", violation(status, "statusFilter", rule))
        size, after = _page(body)
        with open_catalog(self.settings) as catalog:
            try:
                found = catalog.list_executions(
                    state_machine=machine, status=status, limit=size + 1, after=after
                )
            except NoSuchExecutionError:
                raise AwsError(
                    "InvalidToken", f"Invalid nextToken: '{body['nextToken']}'"
                ) from None
        out: dict[str, Any] = {
            "executions": [self._execution_out(e, full=False) for e in found[:size]]
        }
        if len(found) > size:
            out["nextToken"] = make_token(found[size - 1].id, body, PAGING)
        return out

    def StopExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        e = self._execution(body)
        stopped = e.status != "RUNNING" or self.executions.stop(
            e.id, body.get("error"), body.get("cause")
        )
        if not stopped:
            raise AwsError(
                "ValidationException",
                f"execution {e.id} runs in another process; stop it there",
            )
        return {"stopDate": _now()}

    def GetExecutionHistory(self, body: dict[str, Any]) -> dict[str, Any]:
        e = self._execution(body)
        size, after = _page(body)
        with open_catalog(self.settings) as catalog:
            events = catalog.get_history(e.id)
        reverse = bool(body.get("reverseOrder"))
        if reverse:
            events = list(reversed(events))
        if after is not None:
            if not after.isdigit():
                raise AwsError("InvalidToken", f"Invalid nextToken: '{body['nextToken']}'")
            last = int(after)
            events = [ev for ev in events if (ev.id < last if reverse else ev.id > last)]
        with_data = body.get("includeExecutionData", True) is not False
        out: dict[str, Any] = {"events": [self._event_out(ev, with_data) for ev in events[:size]]}
        if len(events) > size:
            out["nextToken"] = make_token(str(events[size - 1].id), body, PAGING)
        return out

    @staticmethod
    def _event_out(ev: HistoryEvent, with_data: bool = True) -> dict[str, Any]:
        details = {
            k: (_json_text(v) if k in DATA_FIELDS else v)
            for k, v in ev.details.items()
            if with_data or k not in DATA_FIELDS
        }
        return {
            "timestamp": ev.timestamp,
            "type": ev.type,
            "id": ev.id,
            "previousEventId": ev.previous_event_id,
            _detail_key(ev.type): details,
        }


def _now() -> float:
    import time

    return time.time()


ADAPTER = ServiceAdapter("AWSStepFunctions.", StatesOperations)
