"""Every real manifest under tests/data/realdata loads, or fails for a reason checked by hand.

The expected failures below were each read and confirmed: the API server (or kubectl) would
reject the document too, for the reason given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DATA, data_path
from dra_core.errors import ManifestError
from dra_core.io import load_report

SUFFIXES = (".yaml", ".yml")

HELM = "a Helm template: `{{ ... }}` is not YAML"
GO_TEMPLATE = "a Go template: `{{ ... }}` keys are mappings, not strings"
DOC_FRAGMENT = "a documentation fragment: several documents without `---`, or `...` elisions"

# file -> why it does not parse as YAML at all
UNPARSEABLE: dict[str, str] = {
    "kubernetes-sigs/dra-driver-nvidia-gpu/deployments/helm/dra-driver-nvidia-gpu/templates/"
    "deviceclass-compute-domain-daemon.yaml": HELM,
    "kubernetes-sigs/dra-driver-nvidia-gpu/deployments/helm/dra-driver-nvidia-gpu/templates/"
    "deviceclass-compute-domain-default-channel.yaml": HELM,
    "kubernetes-sigs/dra-driver-nvidia-gpu/deployments/helm/dra-driver-nvidia-gpu/templates/"
    "deviceclass-gpu.yaml": HELM,
    "kubernetes-sigs/dra-driver-nvidia-gpu/deployments/helm/dra-driver-nvidia-gpu/templates/"
    "deviceclass-mig.yaml": HELM,
    "kubernetes-sigs/dra-driver-nvidia-gpu/deployments/helm/dra-driver-nvidia-gpu/templates/"
    "deviceclass-vfio-gpu.yaml": HELM,
    "kubernetes-sigs/dra-example-driver/deployments/helm/dra-example-driver/templates/"
    "deviceclass.yaml": HELM,
    "kubernetes-sigs/dra-driver-nvidia-gpu/templates/"
    "compute-domain-daemon-claim-template.tmpl.yaml": GO_TEMPLATE,
    "kubernetes-sigs/dra-driver-nvidia-gpu/templates/compute-domain-daemon.tmpl.yaml": GO_TEMPLATE,
    "kubernetes-sigs/dra-driver-nvidia-gpu/templates/"
    "compute-domain-workload-claim-template.tmpl.yaml": GO_TEMPLATE,
    "kubernetes-sigs/dra-driver-nvidia-gpu/templates/mps-control-daemon.tmpl.yaml": GO_TEMPLATE,
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceclaimtemplate.yaml": GO_TEMPLATE,
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-basic-devices.yaml": GO_TEMPLATE,
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-consumablecapacity.yaml": GO_TEMPLATE,
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-list-attributes-devices.yaml": GO_TEMPLATE,
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-partitionable-devices.yaml": GO_TEMPLATE,
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-partitionable.yaml": GO_TEMPLATE,
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslicepatch.yaml": GO_TEMPLATE,
    "kubernetes/enhancements/keps/sig-node/4381-dra-structured-parameters/"
    "README.md.block3-L458-488.yaml": DOC_FRAGMENT,
    "kubernetes/enhancements/keps/sig-scheduling/4815-dra-partitionable-devices/"
    "README.md.block2-L279-292.yaml": "a KEP example: unbalanced quotes in a CEL expression",
    "kubernetes/enhancements/keps/sig-scheduling/5075-dra-consumable-capacity/"
    "README.md.block1-L606-624.yaml": DOC_FRAGMENT,
    "kubernetes/enhancements/keps/sig-scheduling/5075-dra-consumable-capacity/"
    "README.md.block2-L630-640.yaml": DOC_FRAGMENT,
    "kubernetes/enhancements/keps/sig-scheduling/5075-dra-consumable-capacity/"
    "README.md.block3-L646-664.yaml": DOC_FRAGMENT,
    "kubernetes/enhancements/keps/sig-scheduling/5075-dra-consumable-capacity/"
    "README.md.block4-L670-689.yaml": DOC_FRAGMENT,
    "kubernetes/enhancements/keps/sig-scheduling/5491-dra-list-types-for-attributes/"
    "README.md.block4-L1137-1169.yaml": "a KEP sketch: `true | false` placeholders, bad indent",
    "kubernetes/enhancements/keps/sig-scheduling/5517-dra-node-allocatable-resources/"
    "README.md.block1-L524-581.yaml": "a KEP sketch: an indented `---` inside a mapping",
    "kubernetes/enhancements/keps/sig-scheduling/5517-dra-node-allocatable-resources/"
    "README.md.block2-L593-657.yaml": "a KEP sketch: an indented `---` inside a mapping",
    "kubernetes/enhancements/keps/sig-scheduling/5517-dra-node-allocatable-resources/"
    "README.md.block3-L668-726.yaml": "a KEP sketch: an indented `---` inside a mapping",
    "kubernetes/enhancements/keps/sig-scheduling/5517-dra-node-allocatable-resources/"
    "README.md.block4-L734-829.yaml": "a KEP sketch: an indented `---` inside a mapping",
    "kubernetes/enhancements/keps/sig-scheduling/5517-dra-node-allocatable-resources/"
    "README.md.block5-L838-884.yaml": "a KEP sketch: an indented `---` inside a mapping",
}

V1ALPHA2 = ("apiVersion", 'in version "resource.k8s.io/v1alpha2"')
NOT_AN_OBJECT = (None, "expected a Kubernetes object (a mapping), got a list")
NO_KIND = ("kind", "Required value: kind is missing")
NO_API_VERSION = ("apiVersion", "Required value: apiVersion is missing")
NO_NODE_SELECTION = (
    "spec",
    "Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
    "`perDeviceNodeSelection` is required",
)
NO_EXACTLY = (
    "spec.devices.requests[0]",
    "Required value: exactly one of `exactly` or `firstAvailable` is required",
)
TEMPLATE_NAME = ("metadata.name", "a lowercase RFC 1123 subdomain must consist of")

# file -> {document: (field of the first problem, text in its reason)}; "*" = every document
INVALID: dict[str, dict[object, tuple[str | None, str]]] = {
    # classic DRA (v1alpha2) was removed in Kubernetes 1.31 and cannot be converted
    "kubernetes-sigs/dra-driver-nvidia-gpu/demo/specs/mig+mps/sharing-demo-claims-1.yaml": {
        "*": V1ALPHA2
    },
    "kubernetes-sigs/dra-driver-nvidia-gpu/demo/specs/mig+mps/sharing-demo-claims.yaml": {
        "*": V1ALPHA2
    },
    "kubernetes-sigs/dra-driver-nvidia-gpu/demo/specs/selectors/claims.yaml": {"*": V1ALPHA2},
    "kubernetes-sigs/wg-device-management/dra-evolution/testdata/classes.yaml": {"*": V1ALPHA2},
    "kubernetes-sigs/wg-device-management/dra-evolution/testdata/"
    "pod-one-container-two-gpus-0.yaml": {0: V1ALPHA2},
    # configuration files of other tools, not Kubernetes objects
    "kubernetes-sigs/dra-driver-cpu/docs/user/device-attributes.md.block3-L224-234.yaml": {
        0: NO_KIND
    },
    "kubernetes-sigs/dra-driver-cpu/docs/user/device-attributes.md.block4-L240-245.yaml": {
        0: NO_KIND
    },
    "kubernetes-sigs/dra-driver-google-tpu/README.md.block2-L292-302.yaml": {0: NO_KIND},
    "kubernetes-sigs/dra-driver-nvidia-gpu/demo/specs/mig+mps/"
    "sharing-demo-mig-parted-config.yaml": {0: NO_KIND},
    "kubernetes-sigs/dra-driver-nvidia-gpu/demo/specs/quickstart/mig-parted-config.yaml": {
        0: NO_KIND
    },
    "kubernetes-sigs/dra-driver-nvidia-gpu@ec7c59fc/demo/specs/quickstart/mig-parted-config.yaml": {
        0: NO_KIND
    },
    # documentation: a list of attributes, not an object
    "kubernetes-sigs/dra-driver-nvidia-gpu@pr1077-d0ce316/site/content/docs/reference/"
    "resourceslice-attributes.md.block1-L43-72.yaml": {0: NOT_AN_OBJECT},
    "kubernetes-sigs/dra-driver-nvidia-gpu@pr1077-d0ce316/site/content/docs/reference/"
    "resourceslice-attributes.md.block2-L78-120.yaml": {0: NOT_AN_OBJECT},
    "kubernetes-sigs/dra-driver-nvidia-gpu@pr1077-d0ce316/site/content/docs/reference/"
    "resourceslice-attributes.md.block3-L126-148.yaml": {0: NOT_AN_OBJECT},
    "kubernetes-sigs/wg-device-management/dra-evolution/testdata/pools-two-nodes-dgxa100.yaml": {
        0: NOT_AN_OBJECT
    },
    # documentation that elides devices with "..."
    "kubernetes-sigs/dra-driver-nvidia-gpu/site/content/docs/guides/gpu-allocation/"
    "view-resources.md.block1-L60-82.yaml": {
        0: ("items[0].spec.devices[0]", 'expected an object, got a string "..."')
    },
    # kubectl: "apiVersion not set"
    "kubernetes-sigs/dra-example-driver/demo/examples/device-taints-tolerations/"
    "device-taint-pod-noschedule/4-pod-not-scheduled.yaml": {0: NO_API_VERSION},
    "kubernetes/enhancements/keps/sig-scheduling/5491-dra-list-types-for-attributes/"
    "README.md.block1-L262-274.yaml": {0: NO_API_VERSION},
    "kubernetes/enhancements/keps/sig-scheduling/5491-dra-list-types-for-attributes/"
    "README.md.block5-L1183-1215.yaml": {0: NO_API_VERSION},
    # KEP examples written before (or beside) the final API
    "kubernetes/enhancements/keps/sig-scheduling/4815-dra-partitionable-devices/"
    "README.md.block3-L682-754.yaml": {0: NO_NODE_SELECTION},
    "kubernetes/enhancements/keps/sig-scheduling/4815-dra-partitionable-devices/"
    "README.md.block4-L791-923.yaml": {
        0: NO_NODE_SELECTION,
        1: ("spec.devices[0].capacity[tpus]", 'expected an object, got a string "16"'),
    },
    "kubernetes/enhancements/keps/sig-scheduling/4816-dra-prioritized-list/"
    "README.md.block2-L733-763.yaml": {
        0: ("spec.devices.constraints[0].matchAttribute", "expected a string, got a list")
    },
    "kubernetes/enhancements/keps/sig-scheduling/4816-dra-prioritized-list/"
    "README.md.block3-L794-823.yaml": {
        0: ("spec.devices.constraints[0].matchAttribute", "expected a string, got a list")
    },
    "kubernetes/enhancements/keps/sig-scheduling/5004-dra-extended-resource/"
    "README.md.block2-L156-179.yaml": {0: ("spec.pool.name", "Required value")},
    "kubernetes/enhancements/keps/sig-scheduling/5491-dra-list-types-for-attributes/"
    "README.md.block3-L373-395.yaml": {
        0: ("metadata.name", "Required value: name or generateName is required")
    },
    "kubernetes/enhancements/keps/sig-scheduling/5517-dra-node-allocatable-resources/"
    "README.md.block6-L1963-1983.yaml": {
        0: (
            "spec.devices[0].attributes[dra.example.com/type]",
            'expected an object, got a string "socket"',
        )
    },
    "kubernetes/enhancements/keps/sig-scheduling/5963-device-compatibility-groups/"
    "README.md.block2-L316-370.yaml": {0: NO_NODE_SELECTION},
    "kubernetes/enhancements/keps/sig-scheduling/5963-device-compatibility-groups/"
    "README.md.block3-L376-402.yaml": {"*": NO_EXACTLY},
    "kubernetes/enhancements/keps/sig-scheduling/5963-device-compatibility-groups/"
    "README.md.block4-L419-484.yaml": {0: NO_NODE_SELECTION},
    "kubernetes/enhancements/keps/sig-scheduling/5963-device-compatibility-groups/"
    "README.md.block5-L490-516.yaml": {"*": NO_EXACTLY},
    "kubernetes/enhancements/keps/sig-scheduling/5963-device-compatibility-groups/"
    "README.md.block6-L535-608.yaml": {0: NO_NODE_SELECTION},
    "kubernetes/enhancements/keps/sig-scheduling/5963-device-compatibility-groups/"
    "README.md.block7-L614-640.yaml": {"*": NO_EXACTLY},
    "kubernetes/enhancements/keps/sig-scheduling/5963-device-compatibility-groups/"
    "README.md.block8-L661-726.yaml": {0: NO_NODE_SELECTION},
    "kubernetes/enhancements/keps/sig-scheduling/6080-dra-derived-attributes/"
    "README.md.block1-L169-195.yaml": {
        0: ("spec.devices.constraints[0].matchAttribute", "a valid C identifier")
    },
    # an old e2e example: `device:` was never a field, so deviceClassName is missing
    "kubernetes/kubernetes/test/e2e/dra/test-driver/deploy/example/resourceclaim.yaml": {
        0: ("spec.devices.requests[0].exactly.deviceClassName", "Required value")
    },
    # the indentation bug of the website example: `expression` is beside `cel`, not in it
    "kubernetes/website/content/en/examples/dra/resourceclaim.yaml": {
        0: ("spec.devices.requests[0].exactly.selectors[0].cel", "Required value")
    },
    # scheduler_perf templates: `{{.Index}}` is filled in before they reach the API server
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "deviceclass-extended-resource.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceclaim-partitionable-backtracking.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceclaim-partitionable.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceclaim-with-selector.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/resourceclaim.yaml": {
        0: TEMPLATE_NAME
    },
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-compatibilitygroups-devices.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-partitionable-backtracking-countersets.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-partitionable-backtracking-devices.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-partitionable-backtracking.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-partitionable-countersets.yaml": {0: TEMPLATE_NAME},
    "kubernetes/kubernetes/test/integration/scheduler_perf/dra/templates/"
    "resourceslice-podgroup.yaml": {0: TEMPLATE_NAME},
}


def realdata_root() -> Path:
    return data_path("realdata")


def all_files() -> list[str]:
    root = DATA / "realdata"
    names = sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()
    )
    return names or ["<no manifests>"]  # the test then fails: realdata_root() or the file


@pytest.mark.parametrize("name", all_files())
def test_real_manifest(name: str) -> None:
    path = realdata_root() / name
    if name in UNPARSEABLE:
        with pytest.raises(ManifestError, match="YAML error at line") as info:
            load_report(path)
        assert info.value.source == str(path)
        return
    results = load_report(path)
    expected = INVALID.get(name, {})
    failures = {r.document: r for r in results if r.errors}
    if not expected:
        assert not failures, "\n".join(
            f"{r.where}: {e.field}: {e.reason}" for r in failures.values() for e in r.errors
        )
        return
    if "*" in expected:
        assert failures, "every document was expected to fail"
        assert len(failures) == len(results)
        want = {doc: expected["*"] for doc in failures}
    else:
        want = expected
        assert set(failures) == set(want)
    for doc, (field, text) in want.items():
        assert isinstance(doc, int)
        first = failures[doc].errors[0]
        assert first.field == field
        assert text in first.reason


def test_expectations_name_real_files() -> None:
    root = realdata_root()
    for name in list(UNPARSEABLE) + list(INVALID):
        assert (root / name).is_file(), name


def test_realdata_has_every_kind_and_old_versions() -> None:
    root = realdata_root()
    kinds: dict[str, int] = {}
    versions: set[str] = set()
    for name in all_files():
        if name in UNPARSEABLE:
            continue
        for result in load_report(root / name):
            if result.object is not None:
                kinds[result.kind] = kinds.get(result.kind, 0) + 1
                versions.add(result.api_version)
    for kind in ("ResourceSlice", "DeviceClass", "ResourceClaim", "ResourceClaimTemplate"):
        assert kinds.get(kind, 0) > 0, kind
    assert {
        "resource.k8s.io/v1",
        "resource.k8s.io/v1beta1",
        "resource.k8s.io/v1beta2",
        "resource.k8s.io/v1alpha3",
    } <= versions


def test_every_indexed_manifest_is_present() -> None:
    # A copy that lost files (an ignore rule, a partial checkout) must fail, not test less.
    root = realdata_root()
    index = (root / "INDEX.md").read_text(encoding="utf-8")
    listed = {line.split("`")[1] for line in index.splitlines() if line.startswith("| `")}
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {"INDEX.md"}
    assert len(listed) == 287
    assert listed == present
