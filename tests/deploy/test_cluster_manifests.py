"""The Kubernetes resources for the data clusters are what their operators accept and what ePEP needs (issue 20).

Each RabbitmqCluster, CloudNativePG Cluster and ScheduledBackup is validated against a JSON schema of its CRD,
committed under deploy/k8s/schemas/ (nothing is downloaded at test time): a subset of the real CRD with its field
names, types, enums and required lists, closed where the CRD is, so a misspelt field fails. What the CRDs cannot
say (three RabbitMQ nodes, pause_minority, synchronous standbys that exist, a backup that runs) is `problems()`
below. Every check is shown to fail on a real mistake, made by mutating the parsed manifest."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = {"RabbitmqCluster": "rabbitmqcluster.json", "Cluster": "cnpg-cluster.json",
           "ScheduledBackup": "cnpg-scheduledbackup.json"}
DATA_NAMESPACE = "epep-data"
# The services that own a schema (a migrate Job each) and so a Postgres role.
SCHEMA_SERVICES = ("identity", "pep", "delegation", "notify", "qa")
APPS = (*SCHEMA_SERVICES, "gateway", "portal")
BUS_IMPORT = re.compile(r"^\s*(from shared\.bus import|import shared\.bus|from shared import bus)", re.MULTILINE)


def _uses_the_broker(service: str) -> bool:
    """Whether a service's code connects to RabbitMQ: one of its modules imports shared.bus. Read from the code, so a
    service that starts using the broker needs a user, a URL and a way in before these tests pass again."""
    return any(BUS_IMPORT.search(path.read_text()) for path in (ROOT / "services" / service).rglob("*.py"))


# Each with a broker user of its own: the five with an outbox and the gateway, which hears identity's session events.
BROKER_SERVICES = tuple(s for s in APPS if _uses_the_broker(s))

Doc = dict[str, Any]


def _documents() -> list[Doc]:
    docs: list[Doc] = []
    for path in sorted(K8S.rglob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


DOCS = _documents()


def _one(kind: str, name: str | None = None, namespace: str | None = None) -> Doc:
    (doc,) = [d for d in DOCS if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
              and (namespace is None or d["metadata"].get("namespace") == namespace)]
    return doc


def _schema_errors(doc: Doc) -> list[str]:
    schema = json.loads((K8S / "schemas" / SCHEMAS[doc["kind"]]).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def _compose_rabbitmq_image() -> str:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    return str(compose["services"]["rabbitmq"]["image"])


def _rabbitmq_problems(rmq: Doc) -> list[str]:
    spec, found = rmq["spec"], []
    replicas = spec.get("replicas", 1)  # the CRD's default
    if replicas < 3 or replicas % 2 == 0:
        found.append(f"RabbitMQ needs an odd number of nodes, at least 3, for quorum queues; has {replicas}")
    config = dict(line.split(" = ", 1) for line in spec.get("rabbitmq", {}).get("additionalConfig", "").splitlines()
                  if " = " in line)
    if config.get("cluster_partition_handling") != "pause_minority":
        found.append("cluster_partition_handling is not pause_minority")
    if config.get("queue_leader_locator") != "balanced":
        found.append("queue_leader_locator is not balanced")
    anti_affinity = spec.get("affinity", {}).get("podAntiAffinity", {})
    terms = anti_affinity.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    own = {"app.kubernetes.io/name": rmq["metadata"]["name"]}
    if not any(t.get("topologyKey") == "kubernetes.io/hostname" and t.get("labelSelector", {}).get("matchLabels") == own
               for t in terms):
        found.append("RabbitMQ nodes may share a Kubernetes node (no required anti-affinity on the hostname)")
    if not spec.get("persistence", {}).get("storage"):
        found.append("RabbitMQ has no persistent storage size")
    resources = spec.get("resources", {})
    memory = resources.get("requests", {}).get("memory")
    if not memory or memory != resources.get("limits", {}).get("memory"):
        found.append("RabbitMQ's memory request must equal its limit")
    if spec.get("image") != _compose_rabbitmq_image():
        found.append(f"RabbitMQ image {spec.get('image')} is not compose's {_compose_rabbitmq_image()}")
    pod = spec.get("override", {}).get("statefulSet", {}).get("spec", {}).get("template", {}).get("spec", {})
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    mounts = {m["name"]: m["mountPath"] for c in pod.get("containers", []) if c["name"] == "rabbitmq"
              for m in c.get("volumeMounts", [])}
    path = config.get("definitions.local.path", "")
    if config.get("definitions.import_backend") != "local_filesystem" or not any(
            path == f"{mounts.get(volume)}/definitions.json" for volume in secrets):
        found.append("the definitions (users, vhost, permissions) are not imported from a mounted Secret")
    return found


def _postgres_problems(cluster: Doc, backups: list[Doc]) -> list[str]:
    spec, found = cluster["spec"], []
    instances = spec.get("instances", 1)
    synchronous = spec.get("postgresql", {}).get("synchronous")
    if instances < 2:
        found.append(f"Postgres has no standby ({instances} instance)")
    if not synchronous:
        found.append("replication is not synchronous: a failover could lose an acknowledged write")
    elif synchronous["number"] > instances - 1:
        found.append(f"{synchronous['number']} synchronous standbys asked of {instances - 1} standbys")
    if spec.get("affinity", {}).get("enablePodAntiAffinity") is False or \
            spec.get("affinity", {}).get("podAntiAffinityType") != "required":
        found.append("Postgres instances may share a Kubernetes node")
    store = spec.get("backup", {}).get("barmanObjectStore")
    if not store:
        found.append("no backup: WAL is not archived")
    elif not store.get("wal"):
        found.append("WAL archiving has no settings (compression, parallelism)")
    if not spec.get("backup", {}).get("retentionPolicy"):
        found.append("backups are kept for ever (no retentionPolicy)")
    name = cluster["metadata"]["name"]
    if not any(b["spec"]["cluster"]["name"] == name and b["spec"].get("method", "barmanObjectStore") ==
               "barmanObjectStore" for b in backups):
        found.append(f"no ScheduledBackup takes base backups of {name}")
    if not spec.get("bootstrap", {}).get("initdb", {}).get("database"):
        found.append("the bootstrap does not create the database")
    return found


def problems(docs: list[Doc]) -> list[str]:
    """Every way the data clusters' resources fall short of ePEP's needs: schema errors, then what ePEP asks of a
    resource its operator would accept (only asked of those, as a resource of the wrong shape says nothing more)."""
    found = [f"{d['kind']} {d['metadata'].get('name')}: {e}" for d in docs if d["kind"] in SCHEMAS
             for e in _schema_errors(d)]
    backups = [d for d in docs if d["kind"] == "ScheduledBackup"]
    for doc in docs:
        if doc["kind"] in SCHEMAS and _schema_errors(doc):
            continue
        if doc["kind"] == "RabbitmqCluster":
            found += _rabbitmq_problems(doc)
        elif doc["kind"] == "Cluster":
            found += _postgres_problems(doc, backups)
    return found


def test_the_schemas_are_json_schemas_that_name_their_crd() -> None:
    for name in SCHEMAS.values():
        schema = json.loads((K8S / "schemas" / name).read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "SUBSET" in schema["description"] or "whole spec" in schema["description"], name
        assert re.search(r"commit [0-9a-f]{40}", schema["description"]), name


def test_the_data_clusters_exist_once_each_in_their_namespace() -> None:
    data = [d for d in DOCS if d["kind"] in SCHEMAS]
    assert sorted(d["kind"] for d in data) == ["Cluster", "RabbitmqCluster", "ScheduledBackup"]
    assert {d["metadata"]["namespace"] for d in data} == {DATA_NAMESPACE}
    assert _one("Namespace", DATA_NAMESPACE)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_committed_resources_have_no_problem() -> None:
    assert problems(DOCS) == []


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if isinstance(doc, list) else doc[key]
        doc[last] = value
    return mutate


def _drop(path: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[key]
        del doc[last]
    return mutate


def _rename(path: str, new: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[key]
        doc[new] = doc.pop(last)
    return mutate


MISTAKES = [
    # kind, mutation, a fragment of the problem it must cause
    ("RabbitmqCluster", _rename("spec.replicas", "replica"), "'replica' was unexpected"),
    ("RabbitmqCluster", _rename("spec.persistence.storageClassName", "storageclassName"), "was unexpected"),
    ("RabbitmqCluster", _set("spec.replicas", "3"), "is not of type 'integer'"),
    ("RabbitmqCluster", _set("spec.service.type", "Headless"), "is not one of"),
    ("RabbitmqCluster", _set("spec.persistence.storage", "20 gigabytes"), "does not match"),
    ("RabbitmqCluster", _set("spec.rabbitmq.additionalConfig", "heartbeat = 30\n" * 200), "is too long"),
    ("RabbitmqCluster", _set("spec.replicas", 1), "at least 3"),
    ("RabbitmqCluster", _set("spec.replicas", 4), "odd number"),
    ("RabbitmqCluster", _set("spec.rabbitmq.additionalConfig", "queue_leader_locator = balanced\n"), "pause_minority"),
    ("RabbitmqCluster", _drop("spec.affinity"), "share a Kubernetes node"),
    ("RabbitmqCluster", _set("spec.resources.limits.memory", "4Gi"), "memory request must equal"),
    ("RabbitmqCluster", _set("spec.image", "rabbitmq:3.13-management"), "is not compose's"),
    ("RabbitmqCluster", _drop("spec.override.statefulSet.spec.template.spec.volumes"), "definitions"),
    ("Cluster", _rename("spec.postgresql.synchronous", "syncronous"), "'syncronous' was unexpected"),
    ("Cluster", _rename("spec.backup.barmanObjectStore.wal", "wals"), "'wals' was unexpected"),
    ("Cluster", _set("spec.instances", "3"), "is not of type 'integer'"),
    ("Cluster", _set("spec.instances", 0), "less than the minimum"),
    ("Cluster", _set("spec.postgresql.synchronous.method", "all"), "is not one of"),
    ("Cluster", _set("spec.postgresql.synchronous.number", 0), "less than the minimum"),
    ("Cluster", _drop("spec.postgresql.synchronous.number"), "'number' is a required property"),
    ("Cluster", _drop("spec.backup.barmanObjectStore.destinationPath"), "'destinationPath' is a required property"),
    ("Cluster", _set("spec.backup.retentionPolicy", "30 days"), "does not match"),
    ("Cluster", _set("spec.backup.barmanObjectStore.wal.compression", "zip"), "is not one of"),
    ("Cluster", _set("spec.backup.barmanObjectStore.s3Credentials.accessKeyId", {"name": "x"}), "'key' is a required"),
    ("Cluster", _set("spec.primaryUpdateMethod", "failover"), "is not one of"),
    ("Cluster", _set("spec.instances", 1), "no standby"),
    ("Cluster", _set("spec.instances", 1), "synchronous standbys asked of 0"),
    ("Cluster", _drop("spec.postgresql.synchronous"), "not synchronous"),
    ("Cluster", _drop("spec.backup"), "no backup"),
    ("Cluster", _drop("spec.backup.retentionPolicy"), "kept for ever"),
    ("Cluster", _set("spec.affinity.podAntiAffinityType", "preferred"), "share a Kubernetes node"),
    ("ScheduledBackup", _drop("spec.schedule"), "'schedule' is a required property"),
    ("ScheduledBackup", _set("spec.method", "pg_dump"), "is not one of"),
    ("ScheduledBackup", _set("spec.cluster.name", "another"), "no ScheduledBackup takes base backups"),
]


@pytest.mark.parametrize(("kind", "mutate", "expected"), MISTAKES,
                         ids=[f"{k}-{e[:40]}" for k, _, e in MISTAKES])
def test_a_mistake_in_a_data_cluster_resource_is_caught(kind: str, mutate: Callable[[Doc], None],
                                                         expected: str) -> None:
    docs = copy.deepcopy(DOCS)
    (doc,) = [d for d in docs if d["kind"] == kind]
    mutate(doc)
    found = problems(docs)
    assert any(expected in p for p in found), found


def test_the_services_are_pointed_at_the_clusters() -> None:
    """The settings name the operators' Services: `<cluster>-rw` (always the primary) and the RabbitmqCluster's own
    Service, over TLS; the database, owner and admin login agree between the Cluster, its Secret and the Jobs'."""
    cluster, rmq = _one("Cluster"), _one("RabbitmqCluster")
    database = _one("ConfigMap", "epep-database")["data"]
    assert database["EPEP_PG_HOST"] == f"{cluster['metadata']['name']}-rw.{DATA_NAMESPACE}.svc"
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert database["EPEP_PG_DATABASE"] == initdb["database"]
    admin = _one("Secret", "epep-postgres-admin")["stringData"]
    owner = _one("Secret", initdb["secret"]["name"], DATA_NAMESPACE)
    assert owner["type"] == "kubernetes.io/basic-auth"
    assert admin["EPEP_PG_ADMIN_USER"] == initdb["owner"] == owner["stringData"]["username"]
    assert admin["EPEP_PG_ADMIN_PASSWORD"] == owner["stringData"]["password"]  # the same placeholder: one password
    assert rmq["spec"]["tls"]["disableNonTLSListeners"] is True
    assert set(BROKER_SERVICES) >= {*SCHEMA_SERVICES, "gateway"}  # what the code says: the detection works
    for service in BROKER_SERVICES:
        secret = _one("Secret", f"epep-{service}", "epep")["stringData"]
        for url in secret["EPEP_AMQP_URL"].split(","):
            parts = urlsplit(url)
            assert (parts.scheme, parts.hostname, parts.port, parts.path) == \
                ("amqps", f"{rmq['metadata']['name']}.{DATA_NAMESPACE}.svc", 5671, "/epep"), service
            assert parts.username == f"epep_{service}", service


def test_the_bootstrap_makes_every_role_the_migrate_jobs_set_up() -> None:
    """The migrate Jobs (as the owner) set each role's password and create its schema: the roles must exist with
    their connection limit, and the owner must be allowed to alter them (CREATEROLE; ADMIN on Postgres 16+)."""
    cluster = _one("Cluster")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    owner, sql = initdb["owner"], initdb["postInitApplicationSQL"]
    jobs = sorted(d["metadata"]["name"].removesuffix("-migrate") for d in DOCS if d["kind"] == "Job")
    assert jobs == sorted(SCHEMA_SERVICES)
    roles = [f"epep_{s}" for s in jobs]
    assert f"ALTER ROLE {owner} CREATEROLE" in sql
    for role in roles:
        assert f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 40" in sql, role
    (admin_grant,) = [s for s in sql if s.endswith(f"TO {owner} WITH ADMIN OPTION")]
    (connect_grant,) = [s for s in sql if s.startswith(f"GRANT CONNECT ON DATABASE {initdb['database']} TO")]
    for role in roles:
        assert role in admin_grant and role in connect_grant, role


def test_every_secret_the_clusters_read_is_in_the_template_with_its_keys() -> None:
    cluster, rmq = _one("Cluster"), _one("RabbitmqCluster")
    s3 = cluster["spec"]["backup"]["barmanObjectStore"]["s3Credentials"]
    for ref in (s3["accessKeyId"], s3["secretAccessKey"]):
        assert ref["key"] in _one("Secret", ref["name"], DATA_NAMESPACE)["stringData"], ref
    pod = rmq["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]
    for volume in pod["volumes"]:
        secret = _one("Secret", volume["secret"]["secretName"], DATA_NAMESPACE)
        assert "definitions.json" in secret["stringData"]


def _allowed(policy: Doc, namespace: str, labels: dict[str, str], port: int) -> bool:
    for rule in policy["spec"]["ingress"]:
        ports = [(p["port"], p.get("endPort", p["port"])) for p in rule.get("ports", [])]
        if ports and not any(low <= port <= high for low, high in ports):
            continue
        for peer in rule["from"]:
            ns = peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name",
                                                                             policy["metadata"]["namespace"])
            wanted = peer.get("podSelector", {}).get("matchLabels", {})
            if ns == namespace and all(labels.get(k) == v for k, v in wanted.items()):
                return True
    return False


def test_network_policies_let_the_services_and_the_members_reach_the_clusters() -> None:
    """epep-data denies by default; the services (and migrate Jobs) reach Postgres and AMQPS, the gateway AMQPS only
    (identity's session events), the members reach each other, and the portal, which needs neither, reaches nothing
    there."""
    policies = [d for d in DOCS if d["kind"] == "NetworkPolicy" and d["metadata"]["namespace"] == DATA_NAMESPACE]
    assert any(p["spec"]["podSelector"] == {} and not p["spec"].get("ingress") for p in policies)
    cluster, rmq = _one("Cluster"), _one("RabbitmqCluster")
    pg_pods = {"cnpg.io/cluster": cluster["metadata"]["name"]}
    rmq_pods = {"app.kubernetes.io/name": rmq["metadata"]["name"]}

    def allowed(pods: dict[str, str], namespace: str, labels: dict[str, str], port: int) -> bool:
        return any(_allowed(p, namespace, labels, port) for p in policies
                   if all(pods.get(k) == v for k, v in p["spec"]["podSelector"].get("matchLabels", {}).items())
                   and p["spec"]["podSelector"])

    for service in APPS:
        deployment = _one("Deployment", service)["spec"]["template"]["metadata"]["labels"]
        if service in SCHEMA_SERVICES:
            job = _one("Job", f"{service}-migrate")["spec"]["template"]["metadata"]["labels"]
            assert allowed(pg_pods, "epep", deployment, 5432) and allowed(pg_pods, "epep", job, 5432), service
        else:
            assert not allowed(pg_pods, "epep", deployment, 5432), service
        assert allowed(rmq_pods, "epep", deployment, 5671) == (service in BROKER_SERVICES), service
    assert allowed(pg_pods, DATA_NAMESPACE, pg_pods, 5432)  # streaming replication
    for port in (4369, 25672, 35672):  # epmd, distribution, CLI tools
        assert allowed(rmq_pods, DATA_NAMESPACE, rmq_pods, port), port
    assert _one("PodDisruptionBudget", rmq["metadata"]["name"])["spec"]["selector"]["matchLabels"] == rmq_pods


def _env_sources(deployment: Doc) -> set[tuple[str, str]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {(kind, source[kind]["name"]) for source in container.get("envFrom", [])
            for kind in ("configMapRef", "secretRef") if kind in source}


def _definitions(name: str) -> Doc:
    definitions: Doc = json.loads((ROOT / "deploy" / "rabbitmq" / name).read_text())
    return definitions


def _password_matches(password_hash: str, password: str) -> bool:
    """rabbit_password_hashing_sha256: base64 of a 4-byte salt and SHA-256(salt + password)."""
    raw = base64.b64decode(password_hash)
    return hashlib.sha256(raw[:4] + password.encode()).digest() == raw[4:]


@pytest.mark.parametrize("service", APPS)
def test_a_service_has_a_broker_user_url_and_way_in_exactly_when_its_code_uses_the_broker(service: str) -> None:
    """Every service whose code connects to RabbitMQ (now including the gateway) has, in every place an operator
    deploys from, its own user with permissions in both definitions files, an EPEP_AMQP_URL naming that user in its
    Kubernetes Secret (which its pods read) and in compose (with the password the development definitions hash),
    and waits for the broker in compose; the network rule is checked above. A service that does not use the broker
    has none of them: a credential nobody needs is one more to leak."""
    uses = service in BROKER_SERVICES
    user = f"epep_{service}"
    for name in ("definitions.example.json", "definitions.dev.json"):
        d = _definitions(name)
        assert (user in {u["name"] for u in d["users"]}) == uses, (name, service)
        assert (user in {p["user"] for p in d["permissions"] if p["vhost"] == "epep"}) == uses, (name, service)
        assert (user in {t["user"] for t in d["topic_permissions"] if t["exchange"] == "epep"}) == uses, (name, service)
    secret = _one("Secret", f"epep-{service}", "epep")
    assert ("EPEP_AMQP_URL" in secret["stringData"]) == uses, service
    if uses:
        assert ("secretRef", f"epep-{service}") in _env_sources(_one("Deployment", service)), service
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())["services"][service]
    url = compose["environment"].get("EPEP_AMQP_URL")
    assert (url is not None) == uses, service
    if uses:
        parts = urlsplit(url)
        assert (parts.username, parts.hostname, parts.path) == (user, "rabbitmq", "/epep"), service
        (dev,) = [u for u in _definitions("definitions.dev.json")["users"] if u["name"] == user]
        assert _password_matches(dev["password_hash"], parts.password or ""), service
        assert compose["depends_on"]["rabbitmq"]["condition"] == "service_healthy", service


# The exporters' series the cluster alerts may use, each as its exporter names it: rabbitmq_prometheus (RabbitMQ 4.2,
# aggregated /metrics), CloudNativePG's default queries and collector, and kube-state-metrics. A typo fails here.
EXPORTED = {
    "rabbitmq_identity_info", "rabbitmq_build_info", "erlang_vm_dist_node_state",
    "rabbitmq_alarms_memory_used_watermark", "rabbitmq_alarms_free_disk_space_watermark",
    "cnpg_collector_up", "cnpg_collector_sync_replicas", "cnpg_collector_last_available_backup_timestamp",
    "cnpg_pg_replication_lag", "cnpg_pg_replication_streaming_replicas", "cnpg_pg_replication_in_recovery",
    "cnpg_pg_replication_is_wal_receiver_up", "cnpg_pg_stat_archiver_last_failed_time",
    "cnpg_pg_stat_archiver_last_archived_time",
    "kube_statefulset_status_replicas_ready", "kube_statefulset_replicas",
}


def test_cluster_alerts_use_exported_metrics_and_the_runbook_covers_every_alert() -> None:
    (rule,) = [d for d in DOCS if d["kind"] == "PrometheusRule"]
    groups = {g["name"]: g["rules"] for g in rule["spec"]["groups"]}
    assert {"rabbitmq", "postgres"} <= groups.keys()
    functions = {"count", "max", "min", "sum", "by", "on", "group_left", "and", "or", "unless", "time", "increase",
                 "rate", "namespace", "rabbitmq_cluster", "rabbitmq_node", "instance", "pod", "value", "statefulset"}
    for group in ("rabbitmq", "postgres"):
        for alert in groups[group]:
            names = set(re.findall(r"\b([a-z_]+)\b\s*[{(]?", re.sub(r'"[^"]*"', "", alert["expr"]))) - functions
            assert names <= EXPORTED, (alert["alert"], names - EXPORTED)
            assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for group in groups.values():
        for alert in group:
            assert f"`{alert['alert']}`" in runbook, alert["alert"]
