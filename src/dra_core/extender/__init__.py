"""kube-scheduler's extender protocol: wire types, the verbs over a Cluster, an ASGI app.

- :mod:`~dra_core.extender._types`: the wire types of ``k8s.io/kube-scheduler/extender/v1``;
- :class:`Extender`: filter, prioritize, bind and preempt over a
  :class:`~dra_core.cluster.Cluster` (no web framework needed);
- :func:`create_app`: a Starlette app serving an Extender, with health, readiness and
  Prometheus metrics (needs the ``extender`` extra; imported when called);
- :class:`ManifestSource`, :class:`KubeSource`: the state sources (:class:`StateSource`)
  that keep the Cluster current (the second needs the ``kubernetes`` client, imported
  when started).

``dra-core extender`` (:mod:`dra_core.extender._server`) runs it all. See docs/extender.md.
"""

from dra_core.extender._app import (
    POLICIES,
    Binder,
    ClaimLookupError,
    Extender,
    create_app,
    pod_claims,
)
from dra_core.extender._sources import ApiError, KubeSource, ManifestSource, StateSource
from dra_core.extender._types import (
    MAX_EXTENDER_PRIORITY,
    MIN_EXTENDER_PRIORITY,
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    ExtenderFilterResult,
    ExtenderPreemptionArgs,
    ExtenderPreemptionResult,
    HostPriority,
    HostPriorityList,
    MetaPod,
    MetaVictims,
    Victims,
    WireError,
    WireModel,
)

__all__ = [
    "MAX_EXTENDER_PRIORITY",
    "MIN_EXTENDER_PRIORITY",
    "POLICIES",
    "ApiError",
    "Binder",
    "ClaimLookupError",
    "Extender",
    "ExtenderArgs",
    "ExtenderBindingArgs",
    "ExtenderBindingResult",
    "ExtenderFilterResult",
    "ExtenderPreemptionArgs",
    "ExtenderPreemptionResult",
    "HostPriority",
    "HostPriorityList",
    "KubeSource",
    "ManifestSource",
    "MetaPod",
    "MetaVictims",
    "StateSource",
    "Victims",
    "WireError",
    "WireModel",
    "create_app",
    "pod_claims",
]
