"""Start-up: whole processes, as a CLI call, a test or a short-lived worker pays them.

Run: ``pytest benchmarks/bench_startup.py --benchmark-only --benchmark-columns=median``,
or ``python benchmarks/bench_startup.py [--rounds 15]`` for a table of medians. Every
round is a new interpreter (``subprocess``); the times are wall clock, from spawning the
process to its exit. Targets of issue 8: ``import dra_core`` ≤ 150 ms, the first
``allocate`` of a small case ≤ 30 ms after the import, ``dra-core validate`` of one small
file ≤ 300 ms.

Bytecode: the child runs without ``PYTHONDONTWRITEBYTECODE`` and a warm-up round comes
first, so the modules load from ``__pycache__`` as they do from an installed package
(compiling dra-core's sources from scratch adds about 0.1 s to every process).

Rows:

- ``python``: an empty interpreter (the floor every row includes);
- ``import``: ``import dra_core``;
- ``import+allocate``: the import, then ``dra_core.allocate`` of a small case given as
  dicts (one slice, one class with a CEL selector, one claim): everything the first call
  of a process builds (model validators, the CEL parser and compiler, caches);
  ``first_allocate_ms`` in the extra info is that call alone, timed inside the child;
- ``import+allocate, no plugins``: the same with ``PYDANTIC_DISABLE_PLUGINS=1``: the first
  model validator a process builds makes pydantic look for its plugins in the metadata of
  every installed distribution (``importlib.metadata``), which this row leaves out, to show
  its share (it depends on how many distributions are installed; dra-core never sets it);
- ``validate``: ``dra-core validate small.yaml`` (a DeviceClass, a ResourceSlice and a
  ResourceClaim).

``python benchmarks/bench_startup.py`` also gives each row's CPU time (user + system of the
child): on a shared machine it moves less than the wall clock. Results and what the time
goes to: ``docs/allocator.md``, "Start-up".
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

SMALL_YAML = """\
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata:
  name: gpu
spec:
  selectors:
  - cel:
      expression: device.driver == "gpu.example.com"
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata:
  name: node-1-gpus
spec:
  driver: gpu.example.com
  nodeName: node-1
  pool:
    name: node-1
    generation: 1
    resourceSliceCount: 1
  devices:
  - name: gpu-0
    attributes:
      model: {string: a100}
  - name: gpu-1
    attributes:
      model: {string: h100}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata:
  name: one-gpu
  namespace: default
spec:
  devices:
    requests:
    - name: gpu
      exactly:
        deviceClassName: gpu
        selectors:
        - cel:
            expression: device.attributes["gpu.example.com"].model == "h100"
"""

FIRST_ALLOCATE = """
import time
import dra_core
slices = [{"metadata": {"name": "s"}, "spec": {"driver": "gpu.example.com",
    "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1}, "nodeName": "node-1",
    "devices": [{"name": "gpu-0", "attributes": {"model": {"string": "a100"}}},
                {"name": "gpu-1", "attributes": {"model": {"string": "h100"}}}]}}]
classes = [{"metadata": {"name": "gpu"}, "spec": {"selectors": [
    {"cel": {"expression": 'device.driver == "gpu.example.com"'}}]}}]
claims = [{"metadata": {"name": "c", "namespace": "default", "uid": "u"}, "spec": {"devices": {
    "requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu",
        "allocationMode": "ExactCount", "count": 1, "selectors": [{"cel": {"expression":
        'device.attributes["gpu.example.com"].model == "h100"'}}]}}]}}}]
start = time.perf_counter()
results = dra_core.allocate(node={"metadata": {"name": "node-1"}}, claims=claims,
                            slices=slices, classes=classes)
elapsed = time.perf_counter() - start
assert results is not None and results[0].devices.results[0].device == "gpu-1"
print(f"{elapsed * 1000:.3f}")
"""


# The checkout this file belongs to: its src/ comes first on the children's path, so that
# they time this tree's dra_core, whatever is installed (an editable install of another
# checkout included) and whatever the working directory is.
SRC = Path(__file__).resolve().parents[1] / "src"


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # load from __pycache__, as installed
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)  # as a user has it, unless a row sets it
    path = [str(SRC), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.update(extra or {})
    return env


NO_PLUGINS = {"PYDANTIC_DISABLE_PLUGINS": "1"}
ROWS = ["python", "import", "import+allocate", "import+allocate, no plugins", "validate"]


def _commands(small: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    cli = [sys.executable, "-c", "import sys; from dra_core.cli import main; sys.exit(main())"]
    script = Path(sys.executable).with_name("dra-core")
    if script.exists():
        cli = [str(script)]
    return {
        "python": ([sys.executable, "-c", "pass"], {}),
        "import": ([sys.executable, "-c", "import dra_core"], {}),
        "import+allocate": ([sys.executable, "-c", FIRST_ALLOCATE], {}),
        "import+allocate, no plugins": ([sys.executable, "-c", FIRST_ALLOCATE], NO_PLUGINS),
        "validate": ([*cli, "validate", str(small)], {}),
    }


def _run(command: list[str], extra: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, env=_env(extra), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _check_tree() -> None:
    """Fail unless the children import this checkout's dra_core."""
    out = _run([sys.executable, "-c", "import dra_core; print(dra_core.__file__)"])
    found = Path(out.strip()).resolve()
    if not found.is_relative_to(SRC):
        raise RuntimeError(f"the children import {found}, not this checkout's {SRC}")


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small manifest file with a class, a slice and a claim."""
    _check_tree()
    path = tmp_path_factory.mktemp("startup") / "small.yaml"
    path.write_text(SMALL_YAML)
    return path


@pytest.mark.parametrize("row", ROWS)
def test_startup(benchmark: Any, small_file: Path, row: str) -> None:
    """One new process per round (see the module docstring)."""
    command, extra = _commands(small_file)[row]
    _run(command, extra)  # warm-up: writes the bytecode caches
    inner: list[float] = []

    def once() -> None:
        out = _run(command, extra)
        if row.startswith("import+allocate"):
            inner.append(float(out.split()[-1]))

    benchmark.pedantic(once, rounds=15, iterations=1)
    if inner:
        benchmark.extra_info["first_allocate_ms"] = statistics.median(inner)


def main(argv: list[str] | None = None) -> int:
    """Print the median wall time of each row, the rows interleaved round by round."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    _check_tree()
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.yaml"
        small.write_text(SMALL_YAML)
        commands = _commands(small)
        for command, extra in commands.values():
            _run(command, extra)  # warm-up
        load = os.getloadavg()
        times: dict[str, list[float]] = {row: [] for row in commands}
        cpu: dict[str, list[float]] = {row: [] for row in commands}
        inner: dict[str, list[float]] = {row: [] for row in commands}
        for _ in range(args.rounds):
            # Interleaved, so that a busy moment of a shared machine hits every row.
            for row, (command, extra) in commands.items():
                cpu_before = _children_cpu()
                start = time.perf_counter()
                out = _run(command, extra)
                times[row].append((time.perf_counter() - start) * 1000)
                cpu[row].append((_children_cpu() - cpu_before) * 1000)
                if row.startswith("import+allocate"):
                    inner[row].append(float(out.split()[-1]))
        load_after = os.getloadavg()
    print(
        f"Python {sys.version.split()[0]}, {args.rounds} rounds, load average "
        f"{load[0]:.2f} -> {load_after[0]:.2f}; medians (min) in ms:"
    )
    print(f"  {'':30} {'wall':>7} {'(min)':>8} {'CPU':>7}")
    for row, xs in times.items():
        print(
            f"  {row:30} {statistics.median(xs):7.1f} ({min(xs):6.1f}) "
            f"{statistics.median(cpu[row]):7.1f}"
        )
    for row, ys in inner.items():
        if ys:
            print(f"  first allocate alone ({row}): {statistics.median(ys):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
