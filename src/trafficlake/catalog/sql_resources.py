"""Named definitions for :class:`SqlCatalog` (a mixin): Glue job and crawler definitions, event
rules and whatever else the AWS side keeps by kind and name, as JSON documents."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from trafficlake.catalog import sql_tables as T
from trafficlake.catalog.base import (
    NoSuchResourceError,
    Resource,
    ResourceCatalog,
    ResourceExistsError,
)
from trafficlake.catalog.sql_store import SqlStore


def _resource(row: Any) -> Resource:
    return Resource(row.kind, row.name, json.loads(row.body), row.created_at, row.updated_at)


class ResourceStore(SqlStore, ResourceCatalog):
    """``put/get/list/delete_resource`` (mixed into SqlCatalog)."""

    def put_resource(
        self, kind: str, name: str, body: dict[str, Any], *, mode: str = "upsert"
    ) -> Resource:
        R = T.resources
        now = time.time()
        text = json.dumps(body, sort_keys=True)
        where = (R.c.kind == kind, R.c.name == name)
        taken = ResourceExistsError(f"{kind} {name} already exists")
        with self._write(taken) as conn:
            row = conn.execute(sa.select(R).where(*where)).first()
            if row is not None and mode == "create":
                raise taken
            if row is None and mode == "update":
                raise NoSuchResourceError(f"{kind} {name} not found")
            if row is None:
                values = {"kind": kind, "name": name, "created_at": now}
                conn.execute(R.insert().values(body=text, updated_at=now, **values))
            else:
                conn.execute(R.update().where(*where).values(body=text, updated_at=now))
            return _resource(conn.execute(sa.select(R).where(*where)).one())

    def get_resource(self, kind: str, name: str) -> Resource:
        R = T.resources
        with self._read() as conn:
            row = conn.execute(sa.select(R).where(R.c.kind == kind, R.c.name == name)).first()
        if row is None:
            raise NoSuchResourceError(f"{kind} {name} not found")
        return _resource(row)

    def list_resources(self, kind: str) -> list[Resource]:
        R = T.resources
        with self._read() as conn:
            rows = conn.execute(sa.select(R).where(R.c.kind == kind).order_by(R.c.name))
            return [_resource(r) for r in rows]

    def delete_resource(self, kind: str, name: str) -> None:
        R = T.resources
        with self._write() as conn:
            gone = conn.execute(R.delete().where(R.c.kind == kind, R.c.name == name))
            if not gone.rowcount:
                raise NoSuchResourceError(f"{kind} {name} not found")
