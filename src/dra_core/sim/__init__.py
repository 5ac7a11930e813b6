"""The scheduler simulator: pods, workloads, the claim controller, kube-scheduler, a kubelet.

See :class:`Simulator` and docs/simulator.md.
"""

from dra_core.sim._events import Event, PodRow, Sample
from dra_core.sim._sim import POLICIES, RUN_TIME_ANNOTATION, Simulator, parse_duration

__all__ = [
    "POLICIES",
    "RUN_TIME_ANNOTATION",
    "Event",
    "PodRow",
    "Sample",
    "Simulator",
    "parse_duration",
]
