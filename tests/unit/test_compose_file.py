"""docker-compose.yml cannot run here (no Docker engine), so check it agrees with the code.

Given the compose file and the services' own Settings classes, then every service has a
container built from its own Dockerfile, every variable the file sets is one a service reads,
the services run in production, and every secret comes from the env file, never the file itself.
"""

import importlib
import re
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(path.name for path in (ROOT / "services").iterdir() if path.is_dir())
SHARED_VARIABLES = {
    "KAFKA_BOOTSTRAP",
    "TALLY_ENVIRONMENT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "TALLY_SERVICE_TOKEN",
}
FROM_ENV_FILE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?P<rule>:\?[^}]*)?\}")
"""`${NAME}` or `${NAME:?message}`: compose takes the value from .env (or the shell)."""


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


def variables_of(settings: type[BaseSettings], field: str) -> set[str]:
    """The variables a settings field is read from: prefixed name, and any alias."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    alias = settings.model_fields[field].validation_alias
    choices = getattr(alias, "choices", [alias] if isinstance(alias, str) else [])
    return {f"{prefix}{field}".upper()} | {str(choice).upper() for choice in choices}


def variables_read_by(settings: type[BaseSettings]) -> set[str]:
    return {name for field in settings.model_fields for name in variables_of(settings, field)}


def secrets_read_by(settings: type[BaseSettings]) -> set[str]:
    """The variable each secret is read from: its alias if it has one, else the prefixed name."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    found = set()
    for field, info in settings.model_fields.items():
        if info.annotation is SecretStr:
            alias = info.validation_alias
            choices = getattr(alias, "choices", [])
            found.add(str(choices[0]) if choices else f"{prefix}{field}".upper())
    return found


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


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


def test_given_notifications_then_it_reaches_the_accounts_service_by_its_compose_name() -> None:
    containers = compose()["services"]
    notifications = containers["notifications"]["environment"]
    port = containers["accounts"]["environment"]["TALLY_ACCOUNTS_HTTP_PORT"]
    assert notifications["TALLY_NOTIFICATIONS_ACCOUNTS_URL"] == f"http://accounts:{port}"


def test_given_the_compose_file_then_every_service_runs_in_production() -> None:
    containers = compose()["services"]
    assert {containers[s]["environment"]["TALLY_ENVIRONMENT"] for s in SERVICES} == {"production"}


@pytest.mark.parametrize("service", SERVICES)
def test_given_a_service_then_compose_takes_every_secret_it_reads_from_the_env_file(
    service: str,
) -> None:
    environment = compose()["services"][service]["environment"]
    secrets = secrets_read_by(settings_class(service))
    assert "TALLY_SERVICE_TOKEN" in secrets
    for name in secrets:
        # `:?`: an unset or empty secret stops compose, instead of starting a service without it
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", str(environment.get(name))), name


def test_given_compose_then_the_database_password_comes_from_the_env_file() -> None:
    containers = compose()["services"]
    password = containers["postgres"]["environment"]["POSTGRES_PASSWORD"]
    from_env = FROM_ENV_FILE.fullmatch(password)
    assert from_env, password
    name = from_env["name"]
    for service in SERVICES:
        url = containers[service]["environment"][f"TALLY_{service.upper()}_DATABASE_URL"]
        assert url.startswith(f"postgresql://tally:${{{name}}}@postgres:5432/"), url


def test_given_the_env_example_then_it_lists_what_compose_takes_from_env_unfilled() -> None:
    taken = {
        match["name"] for match in FROM_ENV_FILE.finditer((ROOT / "docker-compose.yml").read_text())
    }
    example = env_example()
    assert set(example) == taken
    # Empty: copied unfilled, compose refuses to start rather than run on published secrets.
    assert set(example.values()) == {""}


def test_given_gitignore_then_the_real_env_file_is_ignored_and_the_example_is_not() -> None:
    lines = (ROOT / ".gitignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]

    def ignored(name: str) -> bool:
        matched = [p for p in patterns if fnmatch(name, p.lstrip("!/"))]
        return bool(matched) and not matched[-1].startswith("!")  # the last match decides

    assert ignored(".env")
    assert not ignored(".env.example")
