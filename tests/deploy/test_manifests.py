"""What operators apply is valid and consistent: the Kubernetes manifests, the compose file, the Dockerfiles
and the RabbitMQ definitions. Structural checks always run; `docker compose config` runs where Docker has
the compose plugin (and says so when it is skipped)."""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.internal_auth import compose_env

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
    for pdb in [p for p in of_kind("PodDisruptionBudget") if p["metadata"]["namespace"] == "epep"]:  # not epep-data's
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


def _pod_environment(name: str) -> dict[str, str]:
    """What a Deployment's container gets from its ConfigMaps (envFrom) and its own env values."""
    maps = {m["metadata"]["name"]: m.get("data", {}) for m in of_kind("ConfigMap")}
    (template,) = [t for n, t in pod_specs() if n == name]
    env: dict[str, str] = {}
    for container in template["spec"]["containers"]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(maps[source["configMapRef"]["name"]])
        env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def test_the_gateway_and_portal_are_told_which_proxies_to_believe() -> None:
    """Without trusted proxies every browser is the proxy's address (issue 23, finding 8)."""
    for name in ("gateway", "portal"):
        proxies = json.loads(_pod_environment(name)["EPEP_TRUSTED_PROXIES"])
        assert proxies and all(ipaddress.ip_network(p) for p in proxies), name
        assert "EPEP_TRUSTED_PROXIES" in COMPOSE["services"][name]["environment"], name


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


def test_gateway_api_routes_match_the_ingress() -> None:
    """The Gateway API resources carry the same routes as the retired ingress-nginx Ingress: /api to the gateway,
    the rest to the portal, on the same host, each backend an existing Service port; plain HTTP only redirects."""
    (ingress,) = of_kind("Ingress")
    (gateway,) = of_kind("Gateway")
    services = {d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]} for d in of_kind("Service")}
    listeners = {listener["name"]: listener for listener in gateway["spec"]["listeners"]}
    assert listeners["https"]["protocol"] == "HTTPS" and listeners["https"]["tls"]["certificateRefs"][0]["name"] == \
        ingress["spec"]["tls"][0]["secretName"]
    routes = {d["metadata"]["name"]: d for d in of_kind("HTTPRoute")}
    main, redirect = routes["epep"], routes["epep-https-redirect"]
    assert main["spec"]["parentRefs"] == [{"name": gateway["metadata"]["name"], "sectionName": "https"}]
    assert main["spec"]["hostnames"] == [rule["host"] for rule in ingress["spec"]["rules"]]
    by_path = {}
    for rule in main["spec"]["rules"]:
        if rule.get("filters"):
            continue  # the pods' own probes and metrics, hidden (below)
        (match,) = rule["matches"]
        (backend,) = rule["backendRefs"]
        assert backend["port"] in services[backend["name"]], backend
        by_path[match["path"]["value"]] = backend["name"]
    assert by_path == {p["path"]: p["backend"]["service"]["name"]
                       for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert redirect["spec"]["parentRefs"] == [{"name": gateway["metadata"]["name"], "sectionName": "http"}]
    (rule,) = redirect["spec"]["rules"]
    assert rule == {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}


PROBES = ("/metrics", "/healthz", "/readyz")


def _route(rules: list[dict[str, Any]], path: str) -> tuple[str, str]:
    """Where an HTTPRoute sends `path`: (backend, the path it receives). Gateway API precedence: an Exact match
    before any PathPrefix, the longest prefix first; a prefix matches whole segments."""
    def matched(match: dict[str, Any]) -> tuple[int, int] | None:
        kind, value = match["path"]["type"], match["path"]["value"]
        if kind == "Exact":
            return (1, len(value)) if path == value else None
        prefix = value.rstrip("/")
        return (0, len(value)) if path == prefix or path.startswith(prefix + "/") else None

    candidates = [(rank, rule) for rule in rules for match in rule["matches"] if (rank := matched(match))]
    _, rule = max(candidates, key=lambda c: c[0])
    received = path
    for f in rule.get("filters", []):
        if f["type"] == "URLRewrite" and f["urlRewrite"]["path"]["type"] == "ReplaceFullPath":
            received = f["urlRewrite"]["path"]["replaceFullPath"]
    (backend,) = rule["backendRefs"]
    return backend["name"], received


def test_the_pods_probes_and_metrics_are_not_reachable_through_the_gateway() -> None:
    """The portal's /metrics (and every pod's probes) are for the pod network: through the Gateway the portal is
    sent a page that does not exist instead, whatever headers the Gateway's implementation adds (issue 23,
    finding 9). Its pages and the gateway's API still reach them."""
    rules = {d["metadata"]["name"]: d for d in of_kind("HTTPRoute")}["epep"]["spec"]["rules"]
    for path in PROBES:
        backend, received = _route(rules, path)
        assert received not in PROBES, (path, backend, received)
    assert _route(rules, "/api/v1/metrics") == ("gateway", "/api/v1/metrics")  # the gateway's 404, not a probe
    assert _route(rules, "/sign-in") == ("portal", "/sign-in")
    assert _route(rules, "/metrics/x") == ("portal", "/metrics/x")  # no such page: the portal's 404


def _mebibytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([km]?)", size.lower()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2}[unit]


def test_the_edge_lets_through_exactly_the_largest_upload_the_services_accept() -> None:
    """The body limit at the edge (Ingress and Gateway API alike) is the attachment limit plus the room for the form
    around the file, as the gateway caps it: smaller refuses files the service allows, with the proxy's error page
    instead of ours; larger lets the gateway read bodies it would refuse anyway."""
    from services.gateway.pep_files import FORM_ROOM
    from shared.api.attachments import ATTACHMENT_MAX_BYTES

    (common,) = [d for d in of_kind("ConfigMap") if d["metadata"]["name"] == "epep-common"]
    limit = int(common["data"].get("EPEP_ATTACHMENT_MAX_BYTES", ATTACHMENT_MAX_BYTES))
    (ingress,) = of_kind("Ingress")
    (policy,) = of_kind("ClientSettingsPolicy")
    assert _mebibytes(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]) == \
        _mebibytes(policy["spec"]["body"]["maxSize"]) == limit + FORM_ROOM
    assert policy["spec"]["targetRef"]["name"] == of_kind("Gateway")[0]["metadata"]["name"]


def test_readiness_is_the_service_itself_and_the_broker_has_an_alert_of_its_own() -> None:
    """Readiness probes ask /readyz, which needs the database only (shared/service.py); the broker's health is the
    epep_broker_connected metric, and an alert says when a pod has lost it."""
    (rule,) = of_kind("PrometheusRule")
    exprs = [r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]]
    assert any("epep_broker_connected" in e and "== 0" in e for e in exprs)
    assert any("epep_consumers_consuming" in e for e in exprs)
    for d in of_kind("Deployment"):
        (container,) = d["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert "broker" not in container["livenessProbe"]["httpGet"]["path"]


# ---- Dockerfiles and compose ------------------------------------------------------------------------------

# The oldest release line of each image still supported upstream (Node: LTS lines; RabbitMQ: the 4.x series,
# community support having ended for 3.x; Postgres: five years per major; Python: five years per minor).
SUPPORTED = {"node": (22,), "rabbitmq": (4, 0), "postgres": (14,), "python": (3, 11)}


def _images() -> list[tuple[str, str]]:
    """Every third-party image reference: compose's `image:`s and the Dockerfiles' FROM/ARG defaults."""
    found = [(f"compose {name}", service["image"]) for name, service in COMPOSE["services"].items()
             if "image" in service and not service["image"].startswith("epep/")]
    for path in sorted((DEPLOY / "docker").glob("Dockerfile.*")):
        if path.suffix == ".dockerignore":
            continue
        for ref in re.findall(r"^ARG \w+_IMAGE=(\S+)", path.read_text(), re.MULTILINE):
            found.append((path.name, ref))
    return found


def test_images_are_pinned_to_supported_releases_never_latest() -> None:
    images = _images()
    assert {ref.split(":")[0] for _, ref in images} >= {"postgres", "rabbitmq", "axllent/mailpit", "python", "node"}
    for where, ref in images:
        name, _, tag = ref.partition(":")
        tag = tag.split("@")[0]
        assert tag and tag != "latest" and not tag.startswith("latest"), (where, ref)
        if name in SUPPORTED:
            version = tuple(int(n) for n in re.match(r"v?(\d+(?:\.\d+)?)", tag).group(1).split("."))  # type: ignore[union-attr]
            assert version >= SUPPORTED[name][:len(version)], (where, ref)
    for d in of_kind("Deployment") + of_kind("Job"):
        for container in d["spec"]["template"]["spec"]["containers"]:
            assert not container["image"].endswith(":latest") and ":" in container["image"], d["_file"]


def test_images_install_python_dependencies_from_the_lock_file_only() -> None:
    """The runtime lock (requirements.txt) with hashes, never the development one or an unpinned name."""
    lock = (DEPLOY.parent / "requirements.txt").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\$", lock, re.MULTILINE)
    assert pins and lock.count("--hash=sha256:") >= len(pins)
    assert "aiosmtpd" not in pins  # the development mail sink never ships
    for service in SERVICES:
        text = (DEPLOY / "docker" / f"Dockerfile.{service}").read_text()
        installs = re.findall(r"pip install ([^\n]+)", text)
        assert installs == ["--require-hashes --requirement /tmp/requirements.txt"], (service, installs)
        assert "COPY requirements.txt /tmp/requirements.txt" in text and "requirements-dev" not in text, service



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


def test_compose_holds_no_internal_token_key() -> None:
    """Keys in a file in git are anybody's: compose takes each checkout's own from deploy/.env."""
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert "EPEP_INTERNAL_TOKEN_KEYS" not in text
    for name, service in COMPOSE["services"].items():
        env = service.get("environment", {})
        for key in ("EPEP_INTERNAL_SIGNING_KEYS", "EPEP_INTERNAL_TRUSTED_KEYS"):
            assert key not in env or str(env[key]).startswith("${EPEP_COMPOSE_"), (name, key)


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    if not plugin:
        pytest.skip("docker compose is not installed here; the structural checks above still ran")
    assert docker is not None
    keys = tmp_path / "compose.env"
    keys.write_text(compose_env())
    result = subprocess.run([docker, "compose", "-f", str(DEPLOY / "docker-compose.yml"), "--env-file", str(keys),
                             "config", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---- RabbitMQ definitions ---------------------------------------------------------------------------------


PUBLISHERS = ("identity", "pep", "delegation", "notify", "qa")  # the services with an outbox: they publish events


@pytest.mark.parametrize("name", ["definitions.example.json", "definitions.dev.json"])
def test_no_service_may_write_to_the_default_exchange_or_another_services_events(name: str) -> None:
    """Write on amq.default would let a service put any message into any queue (issue 23, finding 4)."""
    d = json.loads((DEPLOY / "rabbitmq" / name).read_text())
    services = {p["user"]: p for p in d["permissions"] if p["user"].removeprefix("epep_") in SERVICES}
    assert set(services) == {f"epep_{s}" for s in (*PUBLISHERS, "gateway")}
    for user, permission in services.items():
        assert not re.search(permission["write"], "amq.default"), user
    topics = {t["user"]: t["write"] for t in d["topic_permissions"] if t["exchange"] == "epep"}
    assert set(topics) == set(services)
    for service in PUBLISHERS:
        assert re.search(services[f"epep_{service}"]["write"], f"{service}.redeliver"), service
        assert topics[f"epep_{service}"] == f"^{service}\\.", service
    assert topics["epep_gateway"] == "^$"  # it publishes nothing


def _may(regex: str, name: str) -> bool:
    """RabbitMQ's test of a permission regex against a resource name or routing key (an unanchored match)."""
    return re.search(regex, name) is not None


@pytest.mark.parametrize("name", ["definitions.example.json", "definitions.dev.json"])
def test_the_gateway_may_hear_identitys_session_events_and_nothing_else(name: str) -> None:
    """epep_gateway has exactly what services/gateway/sessions.py does: declare, bind and consume a queue of its own
    (named as the code names it), bound to `epep` with identity's two session events. It can read no other event,
    publish nothing, and touch no other queue or exchange. (Tried on a RabbitMQ 3.10.8 node with these definitions:
    the broker checks the topic read regex against each binding key, so this is what it refuses.)"""
    from services.gateway.sessions import EVENT_KEYS, Sessions
    from services.gateway.settings import GatewaySettings
    from shared.bus import Bus

    d = json.loads((DEPLOY / "rabbitmq" / name).read_text())
    (permission,) = [p for p in d["permissions"] if p["user"] == "epep_gateway"]
    (topic,) = [t for t in d["topic_permissions"] if t["user"] == "epep_gateway"]
    assert permission["vhost"] == topic["vhost"] == "epep"
    settings = GatewaySettings()
    own_queue = Sessions(settings, 30, 10, 1)._queue_name()
    exchange = Bus(settings, "gateway").exchange_name
    assert topic["exchange"] == exchange
    for kind in ("configure", "write", "read"):  # declare; bind (write on the queue); bind and consume
        assert _may(permission[kind], own_queue), (kind, own_queue)
    assert _may(permission["read"], exchange)  # bind to it
    assert EVENT_KEYS and all(_may(topic["read"], key) for key in EVENT_KEYS)
    for key in ("#", "identity.#", "identity.*.*.v1", "pep.child.erased.v1", "identity.account.changed.v1",
                "notify.identity.session.ended.v1"):
        assert not _may(topic["read"], key), key
    assert not _may(topic["write"], "identity.session.ended.v1")
    for other in ("epep", "epep.dead", "epep.unrouted", "amq.default", "identity.sessions", "identity.redeliver",
                  "gateway", "gateway.redeliver", "gateway.inbox", "pep.child_erasure", "notify.sign_in_code.dlq"):
        assert not _may(permission["configure"], other) and not _may(permission["write"], other), other
        assert other == exchange or not _may(permission["read"], other), other
    (user,) = [u for u in d["users"] if u["name"] == "epep_gateway"]
    assert user["tags"] == ""


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
    (monitor,) = [m for m in of_kind("PodMonitor") if m["metadata"]["name"] == "epep"]  # the others: the data clusters
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    selected = [d for d in of_kind("Deployment")
                if matches(monitor["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
    assert len(selected) == len(SERVICES)
