"""The controller manager: runs kubelite's controllers side by side until stopped.

Every controller is built on one SharedInformerFactory, so that the process lists and watches
each resource once (kube-controller-manager's InformerFactory); the scheduler of `kubelite
control-plane` is handed the same factory. Controllers are built before the factory starts, and
a controller that learns later what it watches (the garbage collector, after discovery) asks
for its informers then and starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kubelite.client.api import APIClient
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.clusterroleaggregation import ClusterRoleAggregationController
from kubelite.controllers.credentials import ServiceAccountCredentials
from kubelite.controllers.cronjob import CronJobController
from kubelite.controllers.csrapproving import CSRApprovingController
from kubelite.controllers.csrcleaner import CSRCleanerController
from kubelite.controllers.csrsigning import ClusterSigningConfig, CSRSigningController
from kubelite.controllers.daemonset import DaemonSetController
from kubelite.controllers.deployment import DeploymentController
from kubelite.controllers.disruption import DisruptionController
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.endpointslice import EndpointSliceController
from kubelite.controllers.endpointslicemirroring import EndpointSliceMirroringController
from kubelite.controllers.garbagecollector import GarbageCollector
from kubelite.controllers.job import JobController
from kubelite.controllers.namespace import NamespaceController
from kubelite.controllers.nodeipam import NodeIpamConfig, NodeIpamController
from kubelite.controllers.nodelifecycle import NodeLifecycleController
from kubelite.controllers.nodelifecycle_config import NodeLifecycleConfig, PodGCSettings
from kubelite.controllers.podgc import PodGCController
from kubelite.controllers.replicaset import ReplicaSetController
from kubelite.controllers.replicationcontroller import ReplicationControllerController
from kubelite.controllers.resourcequota import ResourceQuotaController
from kubelite.controllers.rootcacertpublisher import RootCACertPublisher
from kubelite.controllers.serviceaccount import ServiceAccountsController
from kubelite.controllers.servicelb import SERVICELB_ACCOUNT, ServiceLBController
from kubelite.controllers.statefulset import StatefulSetController
from kubelite.controllers.tainteviction import TaintEvictionController
from kubelite.controllers.ttlafterfinished import TTLAfterFinishedController

log = logging.getLogger(__name__)


class ControllerManager:
    """Builds every controller on one shared informer factory and runs them until stopped:
    kubelite's kube-controller-manager."""

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        node_lifecycle: NodeLifecycleConfig | None = None,
        pod_gc: PodGCSettings | None = None,
        disable_servicelb: bool = False,
        credentials: ServiceAccountCredentials | None = None,
        signing: ClusterSigningConfig | None = None,
        node_ipam: NodeIpamConfig | None = None,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.informers = informers or SharedInformerFactory(client)
        informers = self.informers
        own = self._client_for
        self.controllers: list[Any] = [
            NamespaceController(own("namespace-controller"), informers),
            ServiceAccountsController(own("service-account-controller"), informers),
            ReplicaSetController(own("replicaset-controller"), informers),
            DeploymentController(own("deployment-controller"), informers),
            ReplicationControllerController(own("replication-controller"), informers),
            StatefulSetController(own("statefulset-controller"), informers),
            DaemonSetController(own("daemon-set-controller"), informers),
            NodeLifecycleController(own("node-controller"), informers, node_lifecycle),
            TaintEvictionController(own("node-controller"), informers),
            JobController(own("job-controller"), informers),
            CronJobController(own("cronjob-controller"), informers),
            TTLAfterFinishedController(own("ttl-after-finished-controller"), informers),
            DisruptionController(own("disruption-controller"), informers),
            PodGCController(own("pod-garbage-collector"), informers, pod_gc),
            EndpointsController(own("endpoint-controller"), informers),
            EndpointSliceController(own("endpointslice-controller"), informers),
            EndpointSliceMirroringController(own("endpointslicemirroring-controller"), informers),
            ClusterRoleAggregationController(own("clusterrole-aggregation-controller"), informers),
        ]
        # csrapproving and csrcleaner always; csrsigning only with a CA to sign with
        # (kube-controller-manager's --cluster-signing-cert-file and --cluster-signing-key-file).
        self.controllers.append(CSRApprovingController(own("certificate-controller"), informers))
        self.controllers.append(CSRCleanerController(own("certificate-controller"), informers))
        if signing is not None:
            self.controllers.append(
                CSRSigningController(own("certificate-controller"), signing, informers)
            )
        # Only with --allocate-node-cidrs, as kube-controller-manager runs node-ipam-controller.
        if node_ipam is not None:
            self.controllers.append(
                NodeIpamController(own("node-controller"), informers, node_ipam)
            )
        if not disable_servicelb:
            self.controllers.append(ServiceLBController(own(SERVICELB_ACCOUNT), informers))
        ca = client.config.certificate_authority_data
        if ca:
            self.controllers.append(
                RootCACertPublisher(own("root-ca-cert-publisher"), ca.decode(), informers)
            )
        self.controllers.append(ResourceQuotaController(own("resourcequota-controller"), informers))
        # Last: its metadata informers reuse the full ones the others asked for.
        self.controllers.append(GarbageCollector(own("generic-garbage-collector"), informers))
        self._tasks: list[asyncio.Task[None]] = []

    def _client_for(self, account: str) -> APIClient:
        """The controller's own service account client, or the manager's when the controllers
        share its credentials."""
        if self.credentials is None:
            return self.client
        return self.credentials.client_for(account, user_agent=f"kube-controller-manager/{account}")

    async def prepare(self) -> None:
        """Fetch the controllers' service account tokens, before they start."""
        if self.credentials is not None:
            await self.credentials.start()

    def start(self) -> None:
        self.informers.start()
        for controller in self.controllers:
            name = type(controller).__name__
            self._tasks.append(asyncio.create_task(controller.run(), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.informers.stop()
        if self.credentials is not None:
            await self.credentials.stop()
        await self.client.close()
