"""Threads of control of one execution (the top level, a Parallel branch, a Map iteration)
and the two signals that stop them."""

from __future__ import annotations

import threading
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any


class Cancelled(Exception):
    """A branch or iteration stopped because a sibling failed."""


class MachineTimeout(Exception):
    """The machine-level TimeoutSeconds elapsed."""


@dataclass
class Scope:
    """One thread of control; ``variables`` sees the enclosing scopes' variables read-only."""

    cancels: tuple[threading.Event, ...] = ()
    previous: int = 0
    map_item: dict[str, Any] | None = None
    variables: ChainMap[str, Any] = field(default_factory=ChainMap)

    def child(self, previous: int, *, cancel: threading.Event) -> Scope:
        """A branch or iteration; ``cancel`` is shared by its siblings."""
        return Scope((*self.cancels, cancel), previous, None, self.variables.new_child())

    @property
    def cancelled(self) -> bool:
        return any(e.is_set() for e in self.cancels)
