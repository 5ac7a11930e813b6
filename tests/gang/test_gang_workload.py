"""The Workload API read into gang policies (KEP-4671 for 1.35/1.36, KEP-5729 claims)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dra_core.cluster import Cluster
from dra_core.cluster._gang import (
    GangPolicy,
    PodGroupClaim,
    PodGroupRef,
    gang_policy_for_pod,
    place_gang,
    pod_group_ref,
    read_gang_policies,
)

POD_GROUP = {
    "apiVersion": "scheduling.k8s.io/v1alpha2",
    "kind": "PodGroup",
    "metadata": {"name": "training-worker-0", "namespace": "ml"},
    "spec": {
        "podGroupTemplateRef": {
            "workload": {"workloadName": "training", "podGroupTemplateName": "worker"}
        },
        "schedulingPolicy": {"gang": {"minCount": 2}},
        "schedulingConstraints": {"topology": [{"key": "rack"}]},
        "resourceClaims": [
            {"name": "pg-claim", "resourceClaimName": "my-pg-claim"},
            {"name": "pg-template", "resourceClaimTemplateName": "my-pg-template"},
        ],
    },
}

WORKLOAD_V1ALPHA2 = {
    "apiVersion": "scheduling.k8s.io/v1alpha2",
    "kind": "Workload",
    "metadata": {"name": "training", "namespace": "ml"},
    "spec": {
        "controllerRef": {"apiGroup": "batch", "kind": "Job", "name": "training"},
        "podGroupTemplates": [
            {"name": "driver", "schedulingPolicy": {"basic": {}}},
            {"name": "worker", "schedulingPolicy": {"gang": {"minCount": 4}}},
        ],
    },
}

WORKLOAD_V1ALPHA1 = {
    "apiVersion": "scheduling.k8s.io/v1alpha1",
    "kind": "Workload",
    "metadata": {"name": "training-job-workload", "namespace": "some-ns"},
    "spec": {
        "controllerRef": {"apiGroup": "batch", "kind": "Job", "name": "training-job"},
        "podGroups": [{"name": "workers", "policy": {"gang": {"minCount": 4}}}],
    },
}


def pod_136(group: str = "training-worker-0") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "worker-0", "namespace": "ml"},
        "spec": {"schedulingGroup": {"podGroupName": group}, "containers": []},
    }


def pod_135(replica: str = "") -> dict[str, Any]:
    ref: dict[str, Any] = {"name": "training-job-workload", "podGroup": "workers"}
    if replica:
        ref["podGroupReplicaKey"] = replica
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "worker-0", "namespace": "some-ns"},
        "spec": {"workloadRef": ref, "containers": []},
    }


def test_pod_group_136() -> None:
    before = copy.deepcopy(POD_GROUP)
    policies = read_gang_policies(POD_GROUP)
    assert before == POD_GROUP
    assert policies == {
        "training-worker-0": GangPolicy(
            "ml/training-worker-0",
            2,
            ("rack",),
            (
                PodGroupClaim("pg-claim", resource_claim_name="my-pg-claim"),
                PodGroupClaim("pg-template", resource_claim_template_name="my-pg-template"),
            ),
        )
    }
    assert policies["training-worker-0"].is_gang


def test_workload_templates_136_and_pod_groups_135() -> None:
    templates = read_gang_policies(WORKLOAD_V1ALPHA2)
    assert templates["driver"] == GangPolicy("ml/training/driver", None)
    assert not templates["driver"].is_gang
    assert templates["worker"].min_count == 4
    groups = read_gang_policies(WORKLOAD_V1ALPHA1)
    assert groups == {"workers": GangPolicy("some-ns/training-job-workload/workers", 4)}


def test_a_gang_without_min_count_needs_one() -> None:
    group = copy.deepcopy(POD_GROUP)
    group["spec"]["schedulingPolicy"] = {"gang": {}}
    assert read_gang_policies(group)["training-worker-0"].min_count == 1


def test_other_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="expected a Workload or a PodGroup"):
        read_gang_policies({"kind": "Job", "metadata": {"name": "x"}})
    with pytest.raises(TypeError):
        read_gang_policies(42)


def test_pod_references() -> None:
    assert pod_group_ref(pod_136()) == PodGroupRef("PodGroup", "ml", "training-worker-0")
    assert pod_group_ref(pod_135("1")) == PodGroupRef(
        "Workload", "some-ns", "training-job-workload", "workers", "1"
    )
    assert pod_group_ref(pod_135("1")).group == "some-ns/training-job-workload/workers/1"  # type: ignore[union-attr]
    assert pod_group_ref({"metadata": {"name": "p"}, "spec": {}}) is None


def test_policy_for_pod() -> None:
    objects = [WORKLOAD_V1ALPHA1, WORKLOAD_V1ALPHA2, POD_GROUP]
    assert (
        gang_policy_for_pod(pod_136(), objects)
        == read_gang_policies(POD_GROUP)["training-worker-0"]
    )
    # Each 1.35 pod group replica is its own gang.
    assert gang_policy_for_pod(pod_135("0"), objects) == GangPolicy(
        "some-ns/training-job-workload/workers/0", 4
    )
    # A group that does not exist (yet): no policy, the pod waits.
    assert gang_policy_for_pod(pod_136("missing"), objects) is None
    assert gang_policy_for_pod(pod_135(), [WORKLOAD_V1ALPHA2]) is None


def test_kubernetes_client_shaped_objects() -> None:
    class Client:
        def to_dict(self) -> dict[str, Any]:
            return {
                "kind": "PodGroup",
                "metadata": {"name": "g", "namespace": "ns"},
                "spec": {"scheduling_policy": {"gang": {"min_count": 3}}},
            }

    assert read_gang_policies(Client())["g"].min_count == 3


def test_policy_drives_place_gang() -> None:
    driver = "gpu.example.com"
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "gpu"},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{driver}"'}}]},
        }
    ]
    for i, rack in enumerate(["r0", "r1", "r1"]):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"n-{i}", "labels": {"rack": rack}},
            }
        )
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"n-{i}"},
                "spec": {
                    "driver": driver,
                    "nodeName": f"n-{i}",
                    "pool": {"name": f"n-{i}", "generation": 1, "resourceSliceCount": 1},
                    "devices": [{"name": "gpu-0"}],
                },
            }
        )
    cluster = Cluster(objects)
    policy = gang_policy_for_pod(pod_136(), [POD_GROUP])
    assert policy is not None and policy.min_count == 2
    members = [
        [
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": f"worker-{m}-gpu", "namespace": "ml"},
                "spec": {
                    "devices": {"requests": [{"name": "g", "exactly": {"deviceClassName": "gpu"}}]}
                },
            }
        ]
        for m in range(3)
    ]
    placement = place_gang(
        cluster, members, min_count=policy.min_count, same_node_label=policy.topology_keys[0]
    )
    assert placement is not None
    assert placement.placed == 2 and placement.label_value == "r1"
