"""Which process owns a run, and whether it is still alive: the one owner of that rule.

Crawls, transform runs, workflow executions and Athena query executions record their owner as
``host:pid``. A RUNNING record whose owner is a process on THIS host that no longer exists was
killed with its process (``kill -9``, a crash): the next start takes it over. An owner on
another host cannot be checked from here and counts as alive, so two machines sharing a
catalog never steal each other's runs.
"""

from __future__ import annotations

import os
import socket


def owner_id() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """False only when ``owner`` is a process of this host that no longer exists."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine (or no owner recorded): cannot tell, assume alive
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
