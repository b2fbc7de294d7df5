"""docker-compose.yml cannot run here (no Docker engine), so check it agrees with the code.

Given the compose file and the services' own Settings classes, then every service has a
container built from its own Dockerfile, and every variable the file sets is one a service reads.
"""

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(path.name for path in (ROOT / "services").iterdir() if path.is_dir())
SHARED_VARIABLES = {"KAFKA_BOOTSTRAP", "TALLY_ENVIRONMENT", "OTEL_EXPORTER_OTLP_ENDPOINT"}


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"tally_{service}.config")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    ]
    assert len(found) == 1, f"tally_{service}.config should define one Settings class"
    return found[0]


def variables_read_by(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = {f"{prefix}{name}".upper() for name in settings.model_fields}
    for field in settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias] if isinstance(alias, str) else [])
        names |= {str(choice).upper() for choice in choices}
    return names


def test_given_the_compose_file_then_it_runs_kafka_in_kraft_mode_postgres_and_jaeger() -> None:
    containers = compose()["services"]
    assert "broker,controller" in containers["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert containers["postgres"]["image"].startswith("postgres:")
    assert containers["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


@pytest.mark.parametrize("service", SERVICES)
def test_given_a_service_then_compose_builds_it_from_its_own_dockerfile(service: str) -> None:
    container = compose()["services"][service]
    dockerfile = ROOT / container["build"]["context"] / container["build"]["dockerfile"]
    assert dockerfile == ROOT / "services" / service / "Dockerfile"
    assert f"tally_{service}" in dockerfile.read_text()
    assert f"--package tally-{service}" in dockerfile.read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_given_a_service_then_every_variable_compose_sets_is_one_it_reads(service: str) -> None:
    settings = settings_class(service)
    environment = set(compose()["services"][service]["environment"])
    unknown = environment - variables_read_by(settings) - {"OTEL_EXPORTER_OTLP_ENDPOINT"}
    assert unknown == set()
    prefix = str(settings.model_config.get("env_prefix", ""))
    assert {f"{prefix}DATABASE_URL", f"{prefix}HTTP_PORT"} <= environment
    assert environment >= SHARED_VARIABLES


@pytest.mark.parametrize("service", SERVICES)
def test_given_a_service_then_its_compose_database_is_its_own(service: str) -> None:
    settings = settings_class(service)
    prefix = str(settings.model_config.get("env_prefix", ""))
    url = compose()["services"][service]["environment"][f"{prefix}DATABASE_URL"]
    assert url.endswith(f"/tally_{service}")


def test_given_the_gateway_then_it_reaches_the_accounts_service_by_its_compose_name() -> None:
    containers = compose()["services"]
    gateway = containers["gateway"]["environment"]
    port = containers["accounts"]["environment"]["TALLY_ACCOUNTS_HTTP_PORT"]
    assert gateway["TALLY_GATEWAY_ACCOUNTS_URL"] == f"http://accounts:{port}"
