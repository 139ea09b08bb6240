"""Errors of the workflow area: definition validation and States errors raised while running."""

from __future__ import annotations

from trafficlake.errors import TrafficlakeError

PREDEFINED_ERRORS = (
    "States.ALL",
    "States.Runtime",
    "States.Timeout",
    "States.TaskFailed",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ParameterPathFailure",
    "States.BranchFailed",
    "States.NoChoiceMatched",
    "States.IntrinsicFailure",
    "States.HeartbeatTimeout",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.DataLimitExceeded",
    "States.QueryEvaluationError",
    "States.Http.Socket",
)


class WorkflowError(TrafficlakeError):
    """Base of workflow errors."""


class ValidationError(WorkflowError):
    """A state machine definition is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''}{where}: " + "; ".join(self.problems))


class NoSuchStateMachineError(WorkflowError):
    """No shipped, configured or file definition has that name."""


class UnknownResourceError(WorkflowError):
    """A Task ``Resource`` names no built-in task and no importable Python function."""


class ScheduleError(WorkflowError):
    """A schedule expression or timezone is invalid."""


class ScheduleLockedError(WorkflowError):
    """Another process holds the schedule lock."""


class StatesError(Exception):
    """An error raised inside a running state machine: AWS ``Error`` name and ``Cause``."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause
        self.located = False
        """The cause already names the state it happened in."""
        self.reported = False
        """An EvaluationFailed event was already recorded."""

    def output(self) -> dict[str, str]:
        return {"Error": self.error, "Cause": self.cause}
