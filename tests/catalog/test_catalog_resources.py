"""ResourceCatalog behaviour (named JSON definitions by kind), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from trafficlake.catalog import (
    AlreadyExistsError,
    Catalog,
    NoSuchResourceError,
    ResourceExistsError,
)


def test_resources_by_kind_and_the_three_put_modes(catalog: Catalog) -> None:
    catalog.put_resource("job", "b", {"Command": {"Name": "glueetl"}})
    first = catalog.put_resource("job", "a", {"MaxRetries": 0}, mode="create")
    catalog.put_resource("rule", "a", {"State": "ENABLED"})
    assert [r.name for r in catalog.list_resources("job")] == ["a", "b"]
    with pytest.raises(ResourceExistsError, match="job a already exists") as taken:
        catalog.put_resource("job", "a", {}, mode="create")
    assert isinstance(taken.value, AlreadyExistsError)
    with pytest.raises(NoSuchResourceError, match="job c not found"):
        catalog.put_resource("job", "c", {}, mode="update")
    updated = catalog.put_resource("job", "a", {"MaxRetries": 2}, mode="update")
    assert updated.body == {"MaxRetries": 2} and updated.created_at == first.created_at
    assert catalog.get_resource("rule", "a").body == {"State": "ENABLED"}
    catalog.delete_resource("job", "a")
    with pytest.raises(NoSuchResourceError):
        catalog.get_resource("job", "a")
    with pytest.raises(NoSuchResourceError):
        catalog.delete_resource("job", "a")
    assert [r.name for r in catalog.list_resources("rule")] == ["a"]  # other kinds untouched
