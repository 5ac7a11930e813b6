"""What happens in a simulation, as data: small typed records.

The simulator's timeline is a list of :class:`Event` records (what ``kubectl get
events`` / ``kubectl describe`` would show) and :class:`Sample` records (how many
devices are in use and how many pods wait, after every instant of simulated time).
Tables, messages and plots are views of these lists; nothing else is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Event", "PodRow", "Sample"]


@dataclass(frozen=True, slots=True)
class Event:
    """One event, as kube-scheduler, the kubelet and the controllers record them.

    Attributes:
        time: simulated seconds since the start.
        type: ``Normal`` or ``Warning``.
        reason: ``Scheduled``, ``FailedScheduling``, ``Started``, ``Completed``,
            ``Killing``, ``SuccessfulCreate``, ``SuccessfulDelete``, ``Deallocated``...
        kind: the kind of the object the event is about (``Pod``, ``ResourceClaim``,
            ``Job``...).
        namespace: its namespace ("" for cluster-scoped objects).
        name: its name.
        message: the text, in Kubernetes' words.
        source: who recorded it: ``default-scheduler``, ``kubelet``,
            ``resource-claim-controller``, ``job-controller``, ``dra-core`` (the
            scenario's own steps).

    """

    time: float
    type: str
    reason: str
    kind: str
    namespace: str
    name: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class Sample:
    """The state after one instant of simulated time (what ``--plot`` draws).

    Attributes:
        time: simulated seconds since the start.
        devices_in_use: distinct devices allocated to claims.
        devices: devices published in ResourceSlices.
        running: pods bound to a node and not finished.
        pending: pods waiting to be scheduled.

    """

    time: float
    devices_in_use: int
    devices: int
    running: int
    pending: int


@dataclass(frozen=True, slots=True)
class PodRow:
    """One row of :meth:`Simulator.pods <dra_core.Simulator.pods>` (``kubectl get pod -A``).

    Attributes:
        namespace: the pod's namespace.
        name: the pod's name.
        phase: ``Pending``, ``Running``, ``Succeeded`` or ``Failed``.
        node: the node it is bound to ("" while pending).
        message: the last scheduling message ("" once scheduled).
        claims: the names of the ResourceClaims the pod uses, in the order of
            ``spec.resourceClaims`` (generated ones included once made).
        start_time: when it started running (None before).
        created: when it was created, in simulated seconds.
        containers: how many containers it has (kubectl's READY column).

    """

    namespace: str
    name: str
    phase: str
    node: str
    message: str
    claims: tuple[str, ...] = ()
    start_time: float | None = None
    created: float = 0.0
    containers: int = 1
