"""The compose file's Prometheus and Grafana cannot run here (no Docker engine): check their files
agree with the compose file and with the metrics the services really serve."""

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from tally_runtime import metrics

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(path.name for path in (ROOT / "services").iterdir() if path.is_dir())
METRIC_NAME = re.compile(r"\btally_[a-z_]+\b")


def yaml_file(relative: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / relative).read_text()))


def compose() -> dict[str, Any]:
    return yaml_file("docker-compose.yml")


def dashboard() -> dict[str, Any]:
    return dict(json.loads((ROOT / "infra/grafana/dashboards/tally.json").read_text()))


def served_series() -> dict[str, str]:
    """Each series name the runtime's metrics expose, to the metric that exposes it."""
    names = {}
    for metric in vars(metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        name = metric._name
        if isinstance(metric, Counter):
            names[f"{name}_total"] = name
        elif isinstance(metric, Histogram):
            names |= {f"{name}_{suffix}": name for suffix in ("bucket", "count", "sum")}
        elif isinstance(metric, Gauge):
            names[name] = name
    return names


def scrape_targets() -> dict[str, dict[str, Any]]:
    """Each scraped `host:port`, to its scrape job."""
    jobs = yaml_file("infra/prometheus/prometheus.yml")["scrape_configs"]
    return {
        target: job
        for job in jobs
        for static in job["static_configs"]
        for target in static["targets"]
    }


def test_given_compose_then_prometheus_scrapes_every_service_on_its_port() -> None:
    containers = compose()["services"]
    targets = scrape_targets()
    for service in SERVICES:
        port = containers[service]["environment"][f"TALLY_{service.upper()}_HTTP_PORT"]
        assert f"{service}:{port}" in targets, service
        assert targets[f"{service}:{port}"]["metrics_path"] == "/metrics"
    assert len(targets) == len(SERVICES)


def test_given_the_gateway_then_prometheus_scrapes_it_with_the_ops_key_compose_writes() -> None:
    containers = compose()["services"]
    gateway_port = containers["gateway"]["environment"]["TALLY_GATEWAY_HTTP_PORT"]
    job = scrape_targets()[f"gateway:{gateway_port}"]
    assert job["authorization"]["type"] == "Bearer"
    key_file = job["authorization"]["credentials_file"]
    prometheus = containers["prometheus"]
    assert f'"$$TALLY_GATEWAY_OPS_KEY" > {key_file}' in " ".join(prometheus["command"])
    assert prometheus["environment"]["TALLY_GATEWAY_OPS_KEY"].startswith(
        "${TALLY_GATEWAY_OPS_KEY:?"
    )


def test_given_compose_then_its_mounts_of_infra_files_exist() -> None:
    containers = compose()["services"]
    for name in ("prometheus", "grafana"):
        for volume in containers[name]["volumes"]:
            source = volume.split(":")[0]
            assert (ROOT / source).exists(), volume


def test_given_grafana_then_its_datasource_is_the_compose_prometheus() -> None:
    sources = yaml_file("infra/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert len(sources) == 1
    port = compose()["services"]["prometheus"]["ports"][0].split(":")[-1]
    assert sources[0]["url"] == f"http://prometheus:{port}"
    used = {panel["datasource"]["uid"] for panel in dashboard()["panels"]}
    assert used == {sources[0]["uid"]}


def test_given_the_dashboard_then_it_shows_every_metric_and_only_metrics_that_exist() -> None:
    served = served_series()
    expressions = [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]
    shown = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
    assert shown - set(served) == set()
    assert {served[name] for name in shown} == set(served.values())


def test_given_the_dashboard_provider_then_it_loads_the_folder_compose_mounts() -> None:
    provider = yaml_file("infra/grafana/provisioning/dashboards/tally.yml")["providers"][0]
    mounts = dict(v.split(":")[:2] for v in compose()["services"]["grafana"]["volumes"])
    assert mounts["./infra/grafana/dashboards"] == provider["options"]["path"]
