"""Amazon States Language workflows: load, validate and run state machines; schedules."""

from __future__ import annotations

from trafficlake.workflow.asl import StateMachine, from_dict, load_definition, load_text
from trafficlake.workflow.errors import StatesError, ValidationError
from trafficlake.workflow.history import Clock, SystemClock
from trafficlake.workflow.runtime import ExecutionResult, Executor
from trafficlake.workflow.validation import validate

__all__ = [
    "Clock",
    "ExecutionResult",
    "Executor",
    "StateMachine",
    "StatesError",
    "SystemClock",
    "ValidationError",
    "from_dict",
    "load_definition",
    "load_text",
    "validate",
]
