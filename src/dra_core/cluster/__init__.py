"""The Cluster: a whole cluster's DRA objects, kept current by events, filtered in one call.

See :class:`Cluster` and docs/cluster.md.
"""

from dra_core.cluster._cluster import KINDS, Cluster
from dra_core.cluster._score import MAX_SCORE, SCORE_POLICIES, NodeScores
from dra_core.cluster._view import CANNOT_ALLOCATE, CLAIM_NOT_ON_NODE, FilterView

__all__ = [
    "CANNOT_ALLOCATE",
    "CLAIM_NOT_ON_NODE",
    "KINDS",
    "MAX_SCORE",
    "SCORE_POLICIES",
    "Cluster",
    "FilterView",
    "NodeScores",
]
