"""``import dra_core`` stays light: the heavy optional libraries load only when used.

OR-Tools (with numpy and pandas) costs about 0.25 s to import and is needed only by the
CP-SAT engine, ``auto``'s fallback, ``allocate_scored`` and ``explain``; the Kubernetes
client only when loading its objects; the web stack (starlette, uvicorn) only when the
extender serves; matplotlib only when the simulator draws. The API models build their
validators on first use (``defer_build``): importing builds none. Checked in a fresh
interpreter, since this test process has imported everything already. (Speed itself is
measured in ``benchmarks/bench_startup.py``, never asserted here.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("ortools", "pandas", "numpy", "kubernetes", "starlette", "uvicorn", "matplotlib")

# What ``import dra_core`` leaves to the first use of one of its names (the PEP 562
# ``__getattr__`` of the facade and of dra_core.api): the CP-SAT engines and explain, the
# models allocation does not read (Pod, ResourceClaimTemplate, DeviceTaintRule), the Cluster
# with capacity and gangs, manifest loading (with YAML), the simulator and the extender.
DEFERRED = (
    "dra_core.allocator.cpsat",
    "dra_core.allocator.cpsat_model",
    "dra_core.allocator.explain",
    "dra_core.api._pod",
    "dra_core.api._templates_rules",
    "dra_core.cluster",
    "dra_core.extender",
    "dra_core.io",
    "dra_core.sim",
    "dra_core.taintrules",
    "re2",  # google-re2: on the first regular expression a selector compiles
    "yaml",
)


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_import_dra_core_loads_no_heavy_library() -> None:
    assert _heavy(_modules_after("import dra_core")) == set()


def _under(modules: set[str], roots: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == r or m.startswith(r + ".") for r in roots)}


def test_import_dra_core_leaves_the_simulator_extender_and_cpsat_stacks_for_later() -> None:
    assert _under(_modules_after("import dra_core"), DEFERRED) == set()


@pytest.mark.parametrize("package", ["dra_core", "dra_core.api"])
def test_every_public_name_resolves_to_its_definition_in_a_fresh_process(package: str) -> None:
    # Before any name is used, dir() lists them all; then each resolves to the object of the
    # module that defines it (the lazy ones imported on access), and star-import sees all.
    code = (
        f"import importlib\npkg = importlib.import_module({package!r})\n"
        "listed = set(dir(pkg))\n"
        "missing = sorted(n for n in pkg.__all__ if n not in listed)\n"
        "wrong = sorted(n for n, m in pkg._LAZY.items()\n"
        "               if getattr(pkg, n) is not getattr(importlib.import_module(m), n))\n"
        "ns = {}\n"
        f"exec('from {package} import *', ns)\n"
        "unseen = sorted(n for n in pkg.__all__ if n not in ns)\n"
        "print([missing, wrong, unseen, len(pkg._LAZY) > 0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[[], [], [], True]"


def test_the_submodules_import_dra_core_used_to_load_are_still_attributes() -> None:
    code = (
        "import dra_core\n"
        "print([dra_core.sim.Simulator is dra_core.Simulator, dra_core.io.load is dra_core.load,\n"
        "       dra_core.cluster.Cluster is dra_core.Cluster, 'extender' in dir(dra_core)])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[True, True, True, True]"


def test_an_unknown_name_of_the_facade_is_an_attribute_error() -> None:
    import dra_core

    try:
        dra_core.NoSuchName  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as err:
        assert "NoSuchName" in str(err)
    else:
        raise AssertionError("dra_core.NoSuchName resolved")


def test_the_cluster_simulator_and_extender_packages_load_no_heavy_library() -> None:
    code = "import dra_core.cluster, dra_core.sim, dra_core.extender, dra_core.cli"
    assert _heavy(_modules_after(code)) == set()


def test_import_builds_no_validator_of_the_big_models() -> None:
    # Building the ~60 models' validators at import cost more than importing pydantic;
    # they are built when a model is first validated (K8sModel's defer_build). A small
    # model built by a module constant costs little; the kinds and their big parts must
    # wait for their first use.
    code = (
        "import dra_core\n"
        "from dra_core import api\n"
        "big = ('ResourceSlice', 'ResourceClaim', 'DeviceClass', 'Node', 'Pod', 'Device',\n"
        "       'ObjectMeta', 'ResourceClaimSpec', 'AllocationResult')\n"
        "print(sorted(n for n in big if getattr(api, n).__pydantic_complete__))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_facade_and_the_cli_load_no_heavy_library() -> None:
    code = (
        "from dra_core import Allocator, allocate, allocate_scored, explain, load\n"
        "import dra_core.cli\n"
        "dra_core.cli._build_parser()\n"
        "from dra_core.allocator import get_engine\n"
        "get_engine('auto'); get_engine('cpsat')\n"
    )
    assert _heavy(_modules_after(code)) == set()


def test_a_subcommand_loads_its_own_module_only() -> None:
    # `dra-core validate FILE` parses with the validate module alone: the simulator, the
    # extender, capacity and CP-SAT (other subcommands' modules) stay out.
    code = "import os\nfrom dra_core.cli import main\nmain(['validate', '-q', os.devnull])"
    modules = _modules_after(code)
    assert "dra_core.cli._validate" in modules
    others = tuple(f"dra_core.cli._{c}" for c in ("allocate", "simulate", "extender", "capacity"))
    # (it loads manifests of every kind: io, YAML and all the models are its own)
    own = ("dra_core.io", "yaml", "dra_core.api")
    deferred = tuple(d for d in DEFERRED if not d.startswith(own))
    assert _under(modules, others + deferred) == set()


def test_an_allocation_with_the_default_engine_loads_no_heavy_library() -> None:
    code = (
        "import dra_core\n"
        "slices = [{'metadata': {'name': 's'}, 'spec': {'driver': 'd', 'nodeName': 'n',\n"
        "    'pool': {'name': 'p', 'generation': 1, 'resourceSliceCount': 1},\n"
        "    'devices': [{'name': 'x'}]}}]\n"
        "claims = [{'metadata': {'name': 'c', 'namespace': 'ns'}, 'spec': {'devices': {\n"
        "    'requests': [{'name': 'r', 'exactly': {'deviceClassName': 'k',\n"
        "    'allocationMode': 'ExactCount', 'count': 1}}]}}}]\n"
        "assert dra_core.allocate(node={'metadata': {'name': 'n'}}, claims=claims,\n"
        "    slices=slices, classes=[{'metadata': {'name': 'k'}}])\n"
    )
    modules = _modules_after(code)
    assert _heavy(modules) == set()
    # "auto" (the default) runs the search first; the CP-SAT modules wait for a fallback.
    assert _under(modules, DEFERRED) == set()


def test_cpsat_still_loads_ortools_when_used() -> None:
    code = (
        "from dra_core.allocator.cpsat_model import SolverParams\n"
        "SolverParams().solver()\n"
    )
    assert "ortools" in _modules_after(code)
