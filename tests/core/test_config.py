from __future__ import annotations

from pathlib import Path

import pytest

from trafficlake.config import DEFAULT_TOML, load_settings, write_default_config
from trafficlake.errors import ConfigError


def test_embedded_defaults_put_lake_and_catalog_in_working_folder(settings) -> None:
    assert settings.lake_url == str(Path.cwd() / "lake")
    assert settings.catalog_url == "sqlite:///" + str(Path.cwd() / "catalog.db")
    assert settings.catalog.database == "traffic"
    assert settings.transform.jam_threshold_kmh == 40.0


def test_default_toml_loads_to_the_embedded_defaults(tmp_path: Path) -> None:
    path = write_default_config(tmp_path / "trafficlake.toml")
    loaded = load_settings(path, environ={})
    defaults = load_settings(None, environ={})
    for section in ("lake", "s3", "delivery", "ingest", "simulator", "transform", "spark", "web"):
        assert getattr(loaded, section) == getattr(defaults, section), section
    assert loaded.lake_url == str(tmp_path / "lake")  # relative to the file, not the cwd


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write_default_config(tmp_path / "t.toml")
    with pytest.raises(ConfigError, match="already exists"):
        write_default_config(path)
    assert write_default_config(path, force=True).read_text() == DEFAULT_TOML


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[lake]\nurl = 3\n", "lake.url: expected a string"),
        ("[delivery]\nbuffer_size_mb = 500\n", "delivery.buffer_size_mb: must be 1..128"),
        ("[delivery]\nbufer_size_mb = 5\n", "unknown key 'delivery.bufer_size_mb'"),
        ("[nope]\nx = 1\n", "unknown key 'nope'"),
        ("[transform]\nengine = 'athena'\n", "transform.engine: must be duckdb or spark"),
        ("[transform]\nlocations = [1, 'x']\n", r"transform.locations\[1\]: expected an integer"),
        ("[lake]\nurl = 'gs://b/x'\n", "lake.url: must be a local path or s3://"),
        ("[lake\nurl = 'x'\n", "invalid TOML"),
        ("[ingest]\nfeed_url = 'miv.example/feed'\n", r"ingest.feed_url: must be an http\(s\) URL"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_settings(path, environ={})
    assert "\n" not in str(err.value)


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[transform]\nparallelism = 1\n")
    s = load_settings(
        path,
        environ={"TRAFFICLAKE_TRANSFORM__PARALLELISM": "3", "TRAFFICLAKE_LAKE__URL": "s3://b/l"},
    )
    assert s.transform.parallelism == 3
    assert s.lake_url == "s3://b/l"
    assert s.catalog_url.endswith("/catalog.db")
    with pytest.raises(ConfigError, match=r"transform\.parallelism: expected an integer"):
        load_settings(path, environ={"TRAFFICLAKE_TRANSFORM__PARALLELISM": "many"})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", environ={})
