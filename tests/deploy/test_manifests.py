"""What operators apply is valid and consistent: the Kubernetes manifests, the compose file, the Dockerfiles
and the RabbitMQ definitions. Structural checks always run; `docker compose config` runs where Docker has
the compose plugin (and says so when it is skipped)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
SERVICES = {"identity": 8101, "pep": 8102, "delegation": 8103, "notify": 8104, "qa": 8105, "gateway": 8000,
            "portal": 8080}


def documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path
                doc["_file"] = str(path.relative_to(DEPLOY))
                docs.append(doc)
    return docs


DOCS = documents()


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in DOCS if d["kind"] == kind]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    """Every pod template: the Deployments' and the migrate Jobs'."""
    return [(d["metadata"]["name"], d["spec"]["template"]) for d in of_kind("Deployment") + of_kind("Job")]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_every_service_has_a_deployment_service_autoscaler_and_disruption_budget() -> None:
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert {d["metadata"]["name"] for d in of_kind(kind)} >= SERVICES.keys(), kind
    assert {d["metadata"]["name"] for d in of_kind("Job")} == {f"{s}-migrate" for s in
                                                              ("identity", "pep", "delegation", "notify", "qa")}


def test_deployment_selectors_match_their_pod_labels() -> None:
    for d in of_kind("Deployment"):
        assert matches(d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"]), d["_file"]


def test_probes_point_at_healthz_and_readyz_on_the_service_port() -> None:
    for d in of_kind("Deployment"):
        name, pod = d["metadata"]["name"], d["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert ports["http"] == SERVICES[name] == int(env["EPEP_PORT"]), name
        for probe, path in (("livenessProbe", "/healthz"), ("startupProbe", "/healthz"),
                            ("readinessProbe", "/readyz")):
            get = container[probe]["httpGet"]
            assert get["path"] == path and get["port"] in ("http", SERVICES[name]), (name, probe)
        annotations = pod["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", name
        assert annotations.get("prometheus.io/port") == str(SERVICES[name]), name
        assert annotations.get("prometheus.io/path") == "/metrics", name
        assert "preStop" in container.get("lifecycle", {}), name
        assert pod["spec"]["terminationGracePeriodSeconds"] >= 30, name


def test_autoscalers_target_existing_deployments_and_budgets_select_their_pods() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    for hpa in of_kind("HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["name"] in deployments, hpa["_file"]
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    for pdb in of_kind("PodDisruptionBudget"):
        selected = [n for n, d in deployments.items()
                    if matches(pdb["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
        assert selected == [pdb["metadata"]["name"]], pdb["_file"]
    for svc in of_kind("Service"):
        selected = [n for n, d in deployments.items()
                    if matches(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        assert selected == [svc["metadata"]["name"]], svc["_file"]
        port_names = {p["name"] for p in deployments[selected[0]]["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert all(p["targetPort"] in port_names for p in svc["spec"]["ports"]), svc["_file"]


def test_every_configmap_and_secret_referenced_exists_with_the_key() -> None:
    data: dict[tuple[str, str], set[str]] = {}
    for doc in of_kind("ConfigMap") + of_kind("Secret"):
        keys = set(doc.get("data") or {}) | set(doc.get("stringData") or {})
        data[(doc["kind"], doc["metadata"]["name"])] = keys
    for name, pod in pod_specs():
        for container in pod["spec"]["containers"]:
            for source in container.get("envFrom", []):
                for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if field in source:
                        assert (kind, source[field]["name"]) in data, (name, source)
            for var in container.get("env", []):
                ref = var.get("valueFrom", {})
                for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if field in ref:
                        assert ref[field]["key"] in data.get((kind, ref[field]["name"]), set()), (name, var["name"])


def test_pods_run_as_non_root_without_privilege() -> None:
    for name, pod in pod_specs():
        context = pod["spec"]["securityContext"]
        assert context["runAsNonRoot"] is True and context.get("runAsUser", 1) != 0, name
        for container in pod["spec"]["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name


def test_the_ingress_routes_only_to_the_gateway_and_portal() -> None:
    (ingress,) = of_kind("Ingress")
    backends = {p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert backends == {"gateway", "portal"}


# ---- Dockerfiles and compose ------------------------------------------------------------------------------


def test_every_service_has_a_non_root_dockerfile() -> None:
    for service in SERVICES:
        text = (DEPLOY / "docker" / f"Dockerfile.{service}").read_text()
        users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
        assert users and users[-1].split(":")[0] not in ("root", "0"), service
        assert f"services.{service}" in text or f"services/{service}" in text, service


COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_builds_every_service_from_its_dockerfile_and_waits_on_what_exists() -> None:
    services = COMPOSE["services"]
    for name in SERVICES:
        assert name in services, name
        build = services[name].get("build")
        assert build, name
        context = (DEPLOY / build["context"]).resolve()
        assert (context / build["dockerfile"]).is_file(), name
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        depends = service.get("depends_on", {})
        assert all(d in services for d in depends), name
    for name in ("identity", "pep", "delegation", "notify", "qa"):
        assert f"{name}-migrate" in services[name]["depends_on"], name


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    if not plugin:
        pytest.skip("docker compose is not installed here; the structural checks above still ran")
    result = subprocess.run([docker, "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---- RabbitMQ definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["definitions.example.json", "definitions.dev.json"])
def test_rabbitmq_definitions_hold_the_topology_the_services_declare(name: str) -> None:
    """The same exchanges, with the same arguments, as shared/bus.py declares: a difference would make every
    service's declare fail with PRECONDITION_FAILED."""
    d = json.loads((DEPLOY / "rabbitmq" / name).read_text())
    exchanges = {e["name"]: (e["type"], e["durable"], e["arguments"]) for e in d["exchanges"]}
    assert exchanges == {"epep": ("topic", True, {"alternate-exchange": "epep.unrouted"}),
                         "epep.dead": ("direct", True, {}), "epep.unrouted": ("fanout", True, {})}
    (unrouted,) = d["queues"]
    assert unrouted["arguments"] == {"x-queue-type": "quorum", "x-max-length": 100_000}
    assert {(b["source"], b["destination"]) for b in d["bindings"]} == {("epep.unrouted", "epep.unrouted")}
    vhosts = {v["name"] for v in d["vhosts"]}
    for item in d["exchanges"] + d["queues"] + d["bindings"] + d["policies"]:
        assert item["vhost"] in vhosts
    users = {u["name"] for u in d["users"]}
    assert {p["user"] for p in d["permissions"]} <= users


# ---- monitoring -------------------------------------------------------------------------------------------


def test_alerts_use_only_metrics_the_services_export() -> None:
    from prometheus_client import REGISTRY

    import shared.metrics  # noqa: F401 - registers every metric

    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    exported = {metric.name + suffix for metric in REGISTRY.collect()
                for suffix in ["", *suffixes.get(metric.type, [])]}
    (rule,) = of_kind("PrometheusRule")
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert len({a["alert"] for a in alerts}) == len(alerts) >= 8
    for alert in alerts:
        for name in re.findall(r"epep_[a-z_]+", alert["expr"]):
            assert name in exported, (alert["alert"], name)
    (monitor,) = of_kind("PodMonitor")
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    selected = [d for d in of_kind("Deployment")
                if matches(monitor["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
    assert len(selected) == len(SERVICES)
