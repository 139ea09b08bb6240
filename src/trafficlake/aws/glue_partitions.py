"""Glue partition operations (a mixin of :class:`trafficlake.aws.glue.GlueOperations`): Glue's
partition shapes <-> :class:`~trafficlake.catalog.base.Partition`, over the catalog and
:mod:`trafficlake.catalog.glue`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trafficlake.aws.glue_request import field, optional, paged
from trafficlake.aws.service import AwsContext, AwsError
from trafficlake.catalog import glue as library
from trafficlake.catalog.base import (
    Catalog,
    CatalogError,
    Partition,
    ResourceExistsError,
    Table,
)
from trafficlake.catalog.names import partition_folder
from trafficlake.config import Settings
from trafficlake.storage import Lake

BATCH_GET_LIMIT = 1000
BATCH_CREATE_LIMIT = 100
BATCH_DELETE_LIMIT = 25


def _batch(body: dict[str, Any], key: str, limit: int) -> list[Any]:
    """A batch operation's list ``key``, at most ``limit`` long (InvalidInputException)."""
    items: list[Any] = field(body, key, list)
    if len(items) > limit:
        raise AwsError("InvalidInputException", f"{key} holds at most {limit} partitions")
    return items


def _values(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AwsError("InvalidInputException", f"{key} must be a list of strings")
    return value


class PartitionOperations:
    context: AwsContext
    settings: Settings
    catalog: Catalog
    lake: Lake
    _database: Callable[[dict[str, Any]], str]
    _table_out: Callable[[Table], dict[str, Any]]

    def _known(self, t: Table) -> set[tuple[str, ...]]:
        """The value tuples of the table's partitions (deprecated ones too)."""
        parts = self.catalog.list_partitions(t.database, t.name, include_deprecated=True)
        return {p.values for p in parts}

    def _table(self, body: dict[str, Any]) -> Table:
        return self.catalog.get_table(self._database(body), field(body, "TableName"))

    def _partition_out(self, t: Table, p: Partition) -> dict[str, Any]:
        sd = self._table_out(t)["StorageDescriptor"]
        sd["Location"] = self.lake.uri(p.location)
        return {
            "Values": list(p.values),
            "DatabaseName": t.database,
            "TableName": t.name,
            "CreationTime": p.created_at,
            "LastAccessTime": p.updated_at,
            "StorageDescriptor": sd,
            "Parameters": {},
            "CatalogId": self.context.account_id,
        }

    def _location_in(self, pi: dict[str, Any]) -> str | None:
        """The lake key a PartitionInput names (``StorageDescriptor.Location``), or None."""
        sd = pi.get("StorageDescriptor") or {}
        loc = sd.get("Location") if isinstance(sd, dict) else None
        if loc is None:
            return None
        if not isinstance(loc, str):
            raise AwsError("InvalidInputException", "StorageDescriptor.Location must be a string")
        return library.lake_key(self.settings, self.lake, loc)

    def _new_location(self, t: Table, values: list[str], pi: dict[str, Any]) -> str:
        """Where a new partition lives: its Location, else the table's Hive folder for it."""
        loc = self._location_in(pi)
        if loc is not None:
            return loc
        return partition_folder(t.location, [k.name for k in t.partition_keys], values)

    def GetPartitions(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        parts = self.catalog.list_partitions(t.database, t.name)
        parts = library.filter_partitions(t, parts, optional(body, "Expression", str, "") or "")
        page, token = paged(parts, body, lambda p: "\x00".join(p.values))
        out: dict[str, Any] = {"Partitions": [self._partition_out(t, p) for p in page]}
        if token:
            out["NextToken"] = token
        return out

    def GetPartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        values = _values(field(body, "PartitionValues", list), "PartitionValues")
        return {
            "Partition": self._partition_out(
                t, self.catalog.get_partition(t.database, t.name, values)
            )
        }

    def BatchGetPartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        wanted = field(body, "PartitionsToGet", list)
        if len(wanted) > BATCH_GET_LIMIT:
            raise AwsError(
                "InvalidInputException",
                f"PartitionsToGet holds at most {BATCH_GET_LIMIT} partitions",
            )
        keys = [
            tuple(_values(w.get("Values") if isinstance(w, dict) else None, "PartitionsToGet"))
            for w in wanted
        ]
        known = {p.values: p for p in self.catalog.list_partitions(t.database, t.name)}
        found = [known[k] for k in dict.fromkeys(keys) if k in known]
        return {"Partitions": [self._partition_out(t, p) for p in found], "UnprocessedKeys": []}

    def CreatePartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        pi = field(body, "PartitionInput", dict)
        values = _values(pi.get("Values"), "PartitionInput.Values")
        try:
            location = self._new_location(t, values, pi)
        except ValueError as exc:
            raise AwsError("InvalidInputException", str(exc)) from None
        library.add_partition(self.catalog, self.lake, t, values, location)
        return {}

    def UpdatePartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        values = _values(field(body, "PartitionValueList", list), "PartitionValueList")
        pi = field(body, "PartitionInput", dict)
        if "Values" in pi and pi["Values"] != values:
            raise AwsError(
                "InvalidInputException",
                "The partition values cannot be changed: delete and recreate the partition",
            )
        location = self._location_in(pi)
        library.relocate_partition(self.catalog, self.lake, t, values, location)
        return {}

    def DeletePartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        values = _values(field(body, "PartitionValues", list), "PartitionValues")
        library.remove_partition(self.catalog, t, values)
        return {}

    def BatchCreatePartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        inputs = _batch(body, "PartitionInputList", BATCH_CREATE_LIMIT)
        known = self._known(t)
        errors: list[dict[str, Any]] = []
        new: list[Partition] = []
        for i, pi in enumerate(inputs):
            values = pi.get("Values") if isinstance(pi, dict) else None
            values = _values(values, f"PartitionInputList[{i}].Values")
            try:
                key = self._new_location(t, values, pi)
                if tuple(values) in known:
                    raise ResourceExistsError("Partition already exists.")
                new.append(library.declared_partition(self.lake, t, values, key))
                known.add(tuple(values))
            except (CatalogError, ResourceExistsError, ValueError) as exc:
                code = (
                    "AlreadyExistsException"
                    if isinstance(exc, ResourceExistsError)
                    else "InvalidInputException"
                )
                errors.append(
                    {
                        "PartitionValues": values,
                        "ErrorDetail": {"ErrorCode": code, "ErrorMessage": str(exc)},
                    }
                )
        if new:
            self.catalog.commit_partitions(t.database, t.name, upsert=new)
        return {"Errors": errors}

    def BatchDeletePartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        wanted = _batch(body, "PartitionsToDelete", BATCH_DELETE_LIMIT)
        known = self._known(t)
        errors, delete = [], []
        for w in wanted:
            values = w.get("Values") if isinstance(w, dict) else None
            if not isinstance(values, list):
                raise AwsError("InvalidInputException", "PartitionsToDelete[].Values is required")
            if tuple(str(v) for v in values) in known:
                delete.append([str(v) for v in values])
            else:
                errors.append(
                    {
                        "PartitionValues": values,
                        "ErrorDetail": {
                            "ErrorCode": "EntityNotFoundException",
                            "ErrorMessage": "Partition not found.",
                        },
                    }
                )
        if delete:
            self.catalog.commit_partitions(t.database, t.name, delete=delete)
        return {"Errors": errors}
