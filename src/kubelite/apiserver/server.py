"""Putting the API server together: PKI, store, REST storage, admission, HTTPS listener.

`APIServer.start()` opens the store, makes sure the system namespaces and the `kubernetes`
Service exist, and serves HTTPS; `stop()` finishes in-flight writes and closes the store. The
periodic housekeeping Kubernetes' API server does runs here too: compaction of old revisions
(every `compaction_interval`, up to the revision seen one interval earlier, as kube-apiserver
compacts etcd) and expiry of Events after their time to live.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import ipaddress
import logging
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiohttp import web

from kubelite.api import errors, meta, servicenetwork
from kubelite.api.kinds import REGISTRY, ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver import (
    admission,
    certs,
    master_leases,
    node_join,
    scope,
    serviceaccount_token,
)
from kubelite.apiserver.app import Application, Routes
from kubelite.apiserver.audit import AuditOptions, Auditor
from kubelite.apiserver.auth import Authenticator
from kubelite.apiserver.certificates_admission import (
    CertificateApproval,
    CertificateSigning,
    subject_restriction,
)
from kubelite.apiserver.connections import ConnectionPolicy, GuardedSite
from kubelite.apiserver.datastore import (
    HealthCheck,
    health_check,
    open_datastore,
    raw_store,
    with_watch_cache,
)
from kubelite.apiserver.encryption import EncryptionController, ensure_managed_config
from kubelite.apiserver.encryption import load as load_encryption_config
from kubelite.apiserver.installer import Installer, Stores
from kubelite.apiserver.kubelet_client import KubeletClient
from kubelite.apiserver.limitranger import LimitRanger
from kubelite.apiserver.metrics import Metrics
from kubelite.apiserver.noderestriction import NodeRestriction
from kubelite.apiserver.podresize_admission import PodResizeValidator
from kubelite.apiserver.podsecurity import PodSecurity
from kubelite.apiserver.podsecurity.admission import POD_TEMPLATE_PATHS
from kubelite.apiserver.podtopologylabels import PodTopologyLabels
from kubelite.apiserver.rbac import reconcile as bootstrap_rbac
from kubelite.apiserver.rbac.authorizer import Authorizer
from kubelite.apiserver.rbac.escalation import GROUP as RBAC_GROUP
from kubelite.apiserver.rbac.escalation import EscalationCheck
from kubelite.apiserver.rbac.node import NodeAuthorizer, NodeGraph
from kubelite.apiserver.rbac.policy import PolicyCache
from kubelite.apiserver.registry.generic import Admission, DeleteOptions, ResourceStore
from kubelite.apiserver.resourcequota import ResourceQuotaAdmission
from kubelite.apiserver.runtimeclass import RuntimeClassAdmission
from kubelite.apiserver.server_join import SERVER_TOKEN_FILE, ServerJoin, ensure_server_token
from kubelite.apiserver.service_warnings import warn_about_service
from kubelite.apiserver.serviceaccount_admission import ServiceAccountAdmission
from kubelite.storage.interface import Store
from kubelite.storage.sqlite import SqliteStore

log = logging.getLogger(__name__)


# kube-apiserver compacts etcd every 5 minutes (--etcd-compaction-interval).
COMPACTION_INTERVAL = 300.0
# Events live for an hour (--event-ttl).
EVENT_TTL = 3600.0
EVENT_SWEEP_INTERVAL = 60.0
# How long a clean shutdown waits to take this server out of the `kubernetes` endpoints.
SHUTDOWN_STEP_TIMEOUT = 5.0


def default_advertise_address() -> str:
    """The address of the interface of the default route (what k3s advertises), or loopback.

    Connecting a UDP socket only chooses a route; no packet leaves the machine.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


# Where the server writes the token other machines join with (k3s' server/node-token).
NODE_TOKEN_FILE = "node-token"


@dataclass
class ServerConfig:
    """What `kubelite server` and the control plane tell the API server: where its data
    lives, where it listens, and its timing knobs."""

    data_dir: Path
    https_port: int = 6443
    bind_address: str = "0.0.0.0"
    advertise_address: str = "127.0.0.1"
    tls_san: list[str] = field(default_factory=list)
    compaction_interval: float = COMPACTION_INTERVAL
    event_ttl: float = EVENT_TTL
    min_request_timeout: float = scope.DEFAULT_MIN_REQUEST_TIMEOUT
    bookmark_interval: float = scope.BOOKMARK_INTERVAL
    # kube-apiserver's --service-cluster-ip-range and --service-node-port-range.
    service_cidr: servicenetwork.ServiceNetwork = servicenetwork.SERVICE_CIDR
    node_port_range: tuple[int, int] = servicenetwork.NODE_PORT_RANGE
    # Where the cluster DNS answers (the node's address and port), for the kube-dns Service.
    cluster_dns: tuple[str, int] | None = None
    # kube-apiserver's --encryption-provider-config and its automatic reload; k3s'
    # --secrets-encryption (a file of kubelite's own under <data-dir>/cred, always reloaded).
    encryption_provider_config: Path | None = None
    encryption_provider_config_automatic_reload: bool = False
    secrets_encryption: bool = False
    # kube-apiserver's --authorization-mode: RBAC (behind system:masters), or AlwaysAllow.
    authorization_mode: str = "RBAC"
    # Timeouts of stalled connections and the per-address cap (kube-apiserver's numbers).
    connections: ConnectionPolicy = field(default_factory=ConnectionPolicy)
    # --audit-policy-file and --audit-log-*: off unless both a policy and a log are given.
    audit: AuditOptions = field(default_factory=AuditOptions)
    # How long an API server stays in the `kubernetes` endpoints without renewing its lease
    # (kube-apiserver's MasterEndpointReconcileTTL); renewed every two thirds of it.
    endpoint_reconciler_ttl: float = master_leases.DEFAULT_TTL
    # What servers joining this one fetch with the server token (embedded etcd); None: none.
    server_join: ServerJoin | None = None
    # k3s' --datastore-endpoint: etcd's client URLs, comma-separated ("": the SQLite store
    # under the data dir), and --datastore-cafile/-certfile/-keyfile for https ones.
    datastore_endpoint: str = ""
    datastore_cafile: Path | None = None
    datastore_certfile: Path | None = None
    datastore_keyfile: Path | None = None


def _names_and_ips(config: ServerConfig) -> tuple[list[str], list[str]]:
    dns = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        socket.gethostname(),
    ]
    ips = ["127.0.0.1", "::1", servicenetwork.kubernetes_service_ip(config.service_cidr)]
    for extra in [config.advertise_address, *config.tls_san]:
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in extra else socket.AF_INET, extra)
            ips.append(extra)
        except OSError:
            dns.append(extra)
    return sorted(set(dns)), sorted(set(ips))


@contextlib.contextmanager
def _exists_ok() -> Iterator[None]:
    """Bootstrap objects may exist from an earlier start; anything else is a real failure."""
    try:
        yield
    except errors.StatusError as exc:
        if exc.reason != errors.REASON_ALREADY_EXISTS:
            raise


# How long the interpreter lets a thread run before handing the GIL to one that waits for it
# (Python's default is 5 ms). The store's writer thread gives the GIL up around each SQLite call
# and must take it back from the event loop after: with the default, a busy loop made every
# commit wait up to 5 ms per call, and a handful of calls per commit capped commits at a few
# dozen a second however fast the disk.
SWITCH_INTERVAL = 0.0005


def _tune_interpreter() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)


def _tune_garbage_collector() -> None:
    """Keep what lives as long as the server (schema, documents, caches) out of GC scans."""
    gc.collect()
    gc.freeze()


def tls_context(pki: certs.Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca_cert)
    # Client certificates are one way in, tokens another: ask for one, require none.
    context.verify_mode = ssl.CERT_OPTIONAL
    # The chain is checked here, the dates by the authenticator: an expired certificate is a
    # 401 as in Kubernetes (whose TLS layer verifies nothing), not a failed handshake.
    context.verify_flags |= certs.X509_V_FLAG_NO_CHECK_TIME
    context.set_alpn_protocols(["http/1.1"])
    return context


def resource_stores(
    store: Store,
    *,
    service_cidr: servicenetwork.ServiceNetwork = servicenetwork.SERVICE_CIDR,
    node_port_range: tuple[int, int] = servicenetwork.NODE_PORT_RANGE,
    authorizer: Authorizer | None = None,
) -> dict[ResourceType, ResourceStore]:
    """The REST storage of every kind, with the admission checks Kubernetes runs for it.

    NamespaceLifecycle comes first, before the kind's validation, as in Kubernetes: a pod for
    a namespace that does not exist is a 404 whatever else is wrong with it.
    """
    namespaces = REGISTRY.lookup("", "v1", "namespaces")
    services = REGISTRY.lookup("", "v1", "services")
    pods = REGISTRY.lookup("", "v1", "pods")
    assert namespaces is not None and services is not None and pods is not None
    lifecycle = admission.NamespaceLifecycle(store, namespaces)
    allocator = admission.ServiceAllocator(
        store, services, cidr=service_cidr, node_ports=node_port_range
    )
    runtime_classes = RuntimeClassAdmission(pods)
    serviceaccounts = REGISTRY.lookup("", "v1", "serviceaccounts")
    assert serviceaccounts is not None
    # ServiceAccount admission: the pod's account must exist; its token is mounted.
    service_account = ServiceAccountAdmission(store, serviceaccounts)
    # LimitRanger: the namespace's LimitRanges default and bound pods' and claims' resources.
    limit_ranges = REGISTRY.lookup("", "v1", "limitranges")
    claims = REGISTRY.lookup("", "v1", "persistentvolumeclaims")
    assert limit_ranges is not None and claims is not None
    limit_ranger = LimitRanger(store, limit_ranges, pods, claims)
    # NodeRestriction: a kubelet writes only its own Node, Lease and pods. A mutating plugin in
    # Kubernetes, after ServiceAccount: a node hears its 403 before the kind's validation.
    restriction = NodeRestriction(store, pods)
    nodes = REGISTRY.lookup("", "v1", "nodes")
    leases = REGISTRY.lookup("coordination.k8s.io", "v1", "leases")
    assert nodes is not None and leases is not None
    mutating: dict[ResourceType, list[Admission]] = {
        services: [lifecycle, allocator],
        pods: [
            lifecycle,
            limit_ranger.admit,
            service_account,
            restriction.pods,
            runtime_classes.admit,
            # PodTopologyLabels: a pod created on a node gets its zone and region labels.
            PodTopologyLabels(store),
        ],
        nodes: [lifecycle, restriction.nodes],
        leases: [lifecycle, restriction.leases],
    }
    # Pod Security admission, on by default as in Kubernetes (every namespace is privileged
    # until its pod-security.kubernetes.io labels say otherwise).
    pod_security = PodSecurity(store, namespaces)
    # PodResizeValidator: a resize the pod's node can never grant is a 403 at once.
    resize_validator = PodResizeValidator(store, pods, nodes)
    validating: dict[ResourceType, list[Admission]] = {
        pods: [
            limit_ranger.validate,
            runtime_classes.validate,
            pod_security.pods,
            resize_validator.validate,
        ],
        claims: [limit_ranger.validate],
        namespaces: [pod_security.namespaces],
        # The Service strategy's warnings (WarningsOnCreate/Update), once validation passed.
        services: [warn_about_service],
    }
    for group, plural in POD_TEMPLATE_PATHS:
        workload = REGISTRY.lookup(group, "v1", plural)
        assert workload is not None, plural
        validating[workload] = [pod_security.workloads]
    # CertificateSubjectRestriction always; approving and signing need the verbs on the
    # signer only while authorization is on.
    csrs = REGISTRY.lookup("certificates.k8s.io", "v1", "certificatesigningrequests")
    assert csrs is not None
    validating[csrs] = [subject_restriction]
    if authorizer is not None:
        # With authorization on, no one grants through RBAC what they do not hold.
        escalation = EscalationCheck(authorizer)
        for plural in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
            rbac_resource = REGISTRY.lookup(RBAC_GROUP, "v1", plural)
            assert rbac_resource is not None
            validating[rbac_resource] = [escalation]
        validating[csrs] += [CertificateApproval(authorizer), CertificateSigning(authorizer)]
    # ResourceQuota admission, the last validating check of every namespaced resource: it
    # charges the quotas for what will be stored.
    quota = ResourceQuotaAdmission()
    for resource in REGISTRY.resources:
        if resource.namespaced:
            validating[resource] = [*validating.get(resource, []), quota]
    stores = {
        resource: ResourceStore(
            store,
            resource,
            mutating=mutating.get(resource, [lifecycle]),
            validating=validating.get(resource, []),
        )
        for resource in REGISTRY.resources
    }
    quotas = REGISTRY.lookup("", "v1", "resourcequotas")
    assert quotas is not None
    quota.quotas = stores[quotas]
    return stores


@dataclass
class Serving:
    """How one assembled server serves: who may call it, what it answers with, and the
    clients and settings its handlers share."""

    authenticator: Authenticator
    # host:port, the address discovery gives clients.
    server_address: str
    ready: Callable[[], bool]
    watch: scope.WatchSettings = field(default_factory=scope.WatchSettings)
    kubelet: KubeletClient | None = None
    # Signs serviceaccounts/token answers and publishes the OIDC documents; None: neither.
    token_issuer: serviceaccount_token.TokenIssuer | None = None
    pki: certs.Pki | None = None
    service_cidr: servicenetwork.ServiceNetwork = servicenetwork.SERVICE_CIDR
    node_port_range: tuple[int, int] = servicenetwork.NODE_PORT_RANGE
    connections: ConnectionPolicy = field(default_factory=ConnectionPolicy)
    # None: authorization is off (every authenticated user may do anything).
    authorizer: Authorizer | None = None
    # Writes the audit log; None: nothing is audited.
    auditor: Auditor | None = None
    server_join: ServerJoin | None = None
    # The datastore's `etcd` health check; None: it cannot fail.
    datastore_health: HealthCheck | None = None


@dataclass
class Assembly:
    """An API server's parts over one store, ready to be served by aiohttp."""

    stores: dict[ResourceType, ResourceStore]
    installer: Installer
    application: Application
    metrics: Metrics


def assemble(
    store: Store,
    serving: Serving,
    *,
    stores: dict[ResourceType, ResourceStore] | None = None,
    metrics: Metrics | None = None,
    object_counts: Callable[[], dict[str, int]] = dict,
) -> Assembly:
    """Put a server together: the storage of every kind (unless `stores` already is), the
    installer's table over it, and the HTTP application; the one assembly `APIServer.start`
    and the API server's unit tests share."""
    if stores is None:
        stores = resource_stores(
            store,
            service_cidr=serving.service_cidr,
            node_port_range=serving.node_port_range,
            authorizer=serving.authorizer,
        )
    metrics = metrics or Metrics()
    metrics.add_store(lambda: store.revision, object_counts)
    serving.watch.on_count = metrics.watch_count
    installer = Installer(
        Stores(
            stores,
            token_issuer=serving.token_issuer,
            authorizer=serving.authorizer,
            authenticator=serving.authenticator,
        ),
        scope.HandlerConfig(watch=serving.watch, kubelet=serving.kubelet),
    )
    routes = Routes(
        api=installer,
        authenticator=serving.authenticator,
        metrics=metrics,
        server_address=serving.server_address,
        ready=serving.ready,
        token_issuer=serving.token_issuer,
        pki=serving.pki,
        connections=serving.connections,
        authorizer=serving.authorizer,
        auditor=serving.auditor,
        server_join=serving.server_join,
        datastore_health=serving.datastore_health,
    )
    return Assembly(stores, installer, Application(routes), metrics)


class APIServer:
    """One running API server: its PKI, store, REST storage and HTTPS listener, plus the
    background loops kube-apiserver runs (compaction, Event expiry, bootstrap objects)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.pki: certs.Pki | None = None
        self.store: Store | None = None
        self.stores: dict[ResourceType, ResourceStore] = {}
        self.metrics = Metrics()
        self._runner: web.AppRunner | None = None
        self.site: GuardedSite | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = False
        self.port = config.https_port
        self.watch_settings: scope.WatchSettings | None = None
        self.kubelet_client: KubeletClient | None = None
        self.policy: PolicyCache | None = None
        self.node_graph: NodeGraph | None = None
        self.encryption: EncryptionController | None = None
        self.auditor: Auditor | None = None
        self.endpoint_reconciler: master_leases.EndpointReconciler | None = None
        # Event key -> (the revision a sweep saw, when it was last written); see _expire_events.
        self._event_writes: dict[str, tuple[int, float]] = {}

    async def start(self) -> None:
        config = self.config
        # First: a policy kube-apiserver would refuse stops the server before it does anything.
        self.auditor = config.audit.auditor()
        dns, ips = _names_and_ips(config)
        self.pki = certs.ensure(config.data_dir / "tls", dns, ips)
        # Before the authenticator reads the token file: the node token's secret is in it.
        self.node_token = node_join.ensure_node_token(self.pki, config.data_dir / NODE_TOKEN_FILE)
        # And the server token, which lets another machine join as a server (k3s' token).
        self.server_token = ensure_server_token(self.pki, config.data_dir / SERVER_TOKEN_FILE)
        # Before the store opens: a configuration kube-apiserver would refuse stops the start.
        encryption_path = config.encryption_provider_config
        if config.secrets_encryption:
            encryption_path = ensure_managed_config(config.data_dir)
        encryption = load_encryption_config(encryption_path) if encryption_path else None
        self.store = await open_datastore(
            config.data_dir,
            config.datastore_endpoint,
            cafile=config.datastore_cafile,
            certfile=config.datastore_certfile,
            keyfile=config.datastore_keyfile,
        )
        if encryption_path is not None and encryption is not None:
            self.encryption = EncryptionController(
                self.store,
                encryption_path,
                config.data_dir,
                encryption,
                reload=config.secrets_encryption
                or config.encryption_provider_config_automatic_reload,
            )
            self.store = self.encryption.store
        self.store = await with_watch_cache(self.store)
        store = self.store
        settings = self.watch_settings = scope.WatchSettings(
            min_request_timeout=config.min_request_timeout,
            bookmark_interval=config.bookmark_interval,
        )
        self.kubelet_client = KubeletClient.from_pki(self.pki)
        issuer = serviceaccount_token.TokenIssuer(
            serviceaccount_token.load_private_key(self.pki.sa_key.read_bytes())
        )
        verifier = serviceaccount_token.TokenVerifier(
            [serviceaccount_token.load_public_key(self.pki.sa_pub.read_bytes())]
        )
        authorizer = None
        if config.authorization_mode == "RBAC":
            # Listed before the first request is served, then kept current by watches.
            self.policy = PolicyCache(store)
            self.node_graph = NodeGraph(store)
            await asyncio.gather(self.policy.start(), self.node_graph.start())
            authorizer = Authorizer(self.policy, NodeAuthorizer(self.node_graph))
        # The authenticator looks service accounts up in the storage assembled below.
        stores = resource_stores(
            store,
            service_cidr=config.service_cidr,
            node_port_range=config.node_port_range,
            authorizer=authorizer,
        )
        serving = Serving(
            authenticator=Authenticator(
                self.pki.token_file,
                service_accounts=verifier,
                lookup=serviceaccount_token.object_lookup(stores),
            ),
            server_address=f"{config.advertise_address}:{config.https_port}",
            ready=lambda: self._ready,
            watch=settings,
            kubelet=self.kubelet_client,
            token_issuer=issuer,
            pki=self.pki,
            connections=config.connections,
            authorizer=authorizer,
            auditor=self.auditor,
            server_join=config.server_join,
            datastore_health=health_check(store),
        )
        assembly = assemble(
            store, serving, stores=stores, metrics=self.metrics, object_counts=self._object_counts
        )
        self.stores = assembly.stores
        app = assembly.application.build()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = GuardedSite(
            self._runner,
            config.bind_address,
            config.https_port,
            policy=config.connections,
            ssl_context=tls_context(self.pki),
            backlog=1024,
            on_drop=self.metrics.dropped,
            on_trim=self.metrics.heap_trims.inc,
        )
        await site.start()
        self.site = site
        self.port = site.port
        await self._bootstrap()
        _tune_garbage_collector()
        _tune_interpreter()
        self._tasks.append(asyncio.create_task(self._compact_loop(), name="compaction"))
        self._tasks.append(asyncio.create_task(self._event_ttl_loop(), name="event-ttl"))
        if self.endpoint_reconciler is not None:
            interval = master_leases.interval_for(config.endpoint_reconciler_ttl)
            reconciling = self.endpoint_reconciler.run(interval)
            self._tasks.append(asyncio.create_task(reconciling, name="endpoint-reconciler"))
        if self.encryption is not None:
            self._tasks.append(asyncio.create_task(self.encryption.run(), name="encryption"))
        self._ready = True

    async def stop(self) -> None:
        self._ready = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.endpoint_reconciler is not None:
            # Out of the `kubernetes` endpoints at once, as kube-apiserver's pre-shutdown hook,
            # rather than one lease time later.
            try:
                await asyncio.wait_for(self.endpoint_reconciler.remove(), SHUTDOWN_STEP_TIMEOUT)
            except Exception:
                log.exception("removing this server from the kubernetes endpoints failed")
        if self.watch_settings is not None:
            # Open watches end now (clients resume elsewhere or later), as on a Kubernetes
            # shutdown; otherwise the runner would wait for each of them to time out.
            self.watch_settings.close_all()
        if self.kubelet_client is not None:
            # Ends proxied log streams and exec sessions, which would otherwise hold the
            # runner's shutdown until they end by themselves.
            await self.kubelet_client.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.policy is not None:
            await self.policy.stop()
        if self.node_graph is not None:
            await self.node_graph.stop()
        if self.store is not None:
            await self.store.close()
        if self.auditor is not None:
            # The events of the last requests are written before the process ends.
            self.auditor.close()

    def _object_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        store = raw_store(self.store) if self.store is not None else None
        if isinstance(store, SqliteStore):
            for resource in REGISTRY.resources:
                if resource.storage_plural:
                    continue
                lo, hi = store._range(resource.key_prefix(), "")
                counts[resource.group_resource] = hi - lo
        return counts

    def resource_store(self, group: str, version: str, plural: str) -> ResourceStore:
        resource = REGISTRY.lookup(group, version, plural)
        assert resource is not None
        return self.stores[resource]

    async def _bootstrap(self) -> None:
        """The objects every cluster has, reconciled at every start (the port may change)."""
        namespaces = self.resource_store("", "v1", "namespaces")
        for name in admission.SYSTEM_NAMESPACES:
            with _exists_ok():
                await namespaces.create("", {"metadata": {"name": name}})
        if self.config.authorization_mode == "RBAC":
            await bootstrap_rbac.reconcile(self.stores)
        port = self.port
        await self._reconcile(
            self.resource_store("", "v1", "services"),
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": servicenetwork.kubernetes_service_ip(self.config.service_cidr),
                    "ports": [
                        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}
                    ],
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                },
            },
            "spec",
        )
        dns = self.config.cluster_dns
        if dns is not None and not await self._bootstrap_cluster_dns(*dns):
            dns = None
        if dns is not None and ipaddress.ip_address(dns[0]).is_loopback:
            dns = None  # Kubernetes refuses loopback endpoints
        if ipaddress.ip_address(self.config.advertise_address).is_loopback:
            # Kubernetes refuses loopback endpoints: with no routable address there is none.
            return
        # Its Endpoints and EndpointSlice list every live API server on the store, and the
        # kube-dns Endpoints every live server's cluster DNS.
        assert self.store is not None
        self.endpoint_reconciler = master_leases.EndpointReconciler(
            master_leases.MasterLeases(self.store, ttl=self.config.endpoint_reconciler_ttl),
            self.resource_store("", "v1", "endpoints"),
            self.resource_store("discovery.k8s.io", "v1", "endpointslices"),
            ip=self.config.advertise_address,
            port=port,
            dns=dns,
        )
        await self.endpoint_reconciler.reconcile()

    async def _bootstrap_cluster_dns(self, address: str, port: int) -> bool:
        """The `kube-dns` Service in kube-system, as kubeadm and k3s make it for CoreDNS (the
        tenth address of the range, ports `dns` and `dns-tcp`), with no selector. Its
        Endpoints lead to the DNS servers on the nodes' addresses: with a routable advertise
        address the lease reconciler writes them, listing every live server's DNS; a single
        machine (loopback advertise address, no reconciler) writes its own here. Its port may
        change from one start to the next (`--cluster-dns-port 0`). False when the Service
        could not be written."""
        ports = master_leases.DNS_PORTS
        try:
            await self._reconcile(
                self.resource_store("", "v1", "services"),
                {
                    "metadata": {
                        "name": "kube-dns",
                        "labels": {
                            "k8s-app": "kube-dns",
                            "kubernetes.io/cluster-service": "true",
                            "kubernetes.io/name": "CoreDNS",
                        },
                    },
                    "spec": {
                        "clusterIP": servicenetwork.cluster_dns_ip(self.config.service_cidr),
                        "ports": [
                            {"name": n, "port": 53, "protocol": p, "targetPort": port}
                            for n, p in ports
                        ],
                        "sessionAffinity": "None",
                        "type": "ClusterIP",
                    },
                },
                "spec",
                namespace="kube-system",
            )
            if ipaddress.ip_address(address).is_loopback:
                return True  # Kubernetes refuses loopback endpoints
            if not ipaddress.ip_address(self.config.advertise_address).is_loopback:
                return True  # the lease reconciler's
            await self._reconcile(
                self.resource_store("", "v1", "endpoints"),
                {
                    "metadata": {"name": "kube-dns", "labels": dict(master_leases.DNS_LABELS)},
                    "subsets": [
                        {
                            "addresses": [{"ip": address}],
                            "ports": [{"name": n, "port": port, "protocol": p} for n, p in ports],
                        }
                    ],
                },
                "subsets",
                namespace="kube-system",
            )
        except errors.StatusError as exc:
            # An address already taken by a user's Service, say: the server runs on, without
            # a kube-dns Service.
            log.error("cannot write the kube-dns Service: %s", exc)
            return False
        return True

    @staticmethod
    async def _reconcile(
        store: ResourceStore, desired: Obj, *paths: str, namespace: str = "default"
    ) -> None:
        """Create `desired` in `namespace`, or bring its top-level `paths` back to the desired
        values."""
        name = desired["metadata"]["name"]

        async def converge(current: Obj | None) -> Obj | None:
            if current is None:
                return copy.deepcopy(desired)
            wanted = copy.deepcopy(current)
            for path in paths:
                if path == "spec":
                    wanted["spec"].update(desired["spec"])
                else:
                    wanted[path] = desired[path]
            wanted["metadata"].pop("resourceVersion", None)
            return wanted

        await store.update(namespace, name, converge, create_missing=True)

    async def _compact_loop(self) -> None:
        assert self.store is not None
        previous = self.store.revision
        while True:
            await asyncio.sleep(self.config.compaction_interval)
            try:
                await self.store.compact(previous)
            except Exception:
                log.exception("compaction failed")
            previous = self.store.revision

    async def _event_ttl_loop(self) -> None:
        events = self.resource_store("", "v1", "events")
        assert self.store is not None
        interval = min(EVENT_SWEEP_INTERVAL, self.config.event_ttl)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._expire_events(events)
            except Exception:
                log.exception("expiring events failed")

    async def _expire_events(self, events: ResourceStore) -> None:
        """Delete Events not written for their time to live (--event-ttl).

        Kubernetes writes each Event under an etcd lease of `--event-ttl`, renewed by every
        write: the clock runs from the last create or update, not from the Event's own
        timestamps (a client may record an Event about the past, and it must still live an
        hour). The store keeps no write times: an Event never rewritten was last written at its
        creationTimestamp; one rewritten since a sweep saw it was written by this sweep. One
        rewritten before this server first saw it counts as written now, so that a restart
        keeps such Events up to one TTL longer rather than dropping them early.
        """
        assert self.store is not None
        now = meta.now().timestamp()
        cutoff = now - self.config.event_ttl
        listing = await self.store.list(events.resource.key_prefix())
        seen: dict[str, tuple[int, float]] = {}
        for kv in listing.items:
            known = self._event_writes.get(kv.key)
            if known is not None and known[0] == kv.mod_revision:
                written = known[1]
            elif known is None and kv.mod_revision == kv.create_revision:
                written = _created(orjson.loads(kv.value), now)
            else:
                written = now
            seen[kv.key] = (kv.mod_revision, written)
            if written < cutoff:
                event = orjson.loads(kv.value)
                md = event["metadata"]
                with contextlib.suppress(errors.StatusError):
                    await events.delete(md["namespace"], md["name"], DeleteOptions())
        self._event_writes = seen


def _created(event: Obj, default: float) -> float:
    """The Event's creationTimestamp in seconds, or `default` if it has none that parses."""
    stamp = meta.parse_time(meta.get_path(event, "metadata", "creationTimestamp", default=""))
    return stamp.timestamp() if stamp is not None else default
