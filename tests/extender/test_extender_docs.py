"""docs/extender.md: the embedding example runs; the scheduler stanza says what it should."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml
from extender_fixtures import GPU_NODE, scheduled_pod, write_manifests

DOC = Path(__file__).resolve().parents[2] / "docs" / "extender.md"


def test_embedding_example_runs(tmp_path: Path) -> None:
    write_manifests(tmp_path / "cluster")
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[0]
    body = json.dumps({"Pod": scheduled_pod("pod1"), "NodeNames": [GPU_NODE]}).encode()
    scope: dict[str, object] = {"request_body": body}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(block, str(DOC), "exec"), scope)
    finally:
        os.chdir(cwd)
        scope["source"].stop()  # type: ignore[attr-defined]
    assert json.loads(scope["response_body"])["NodeNames"] == [GPU_NODE]  # type: ignore[arg-type]
    assert scope["app"].state.extender is scope["extender"]  # type: ignore[attr-defined]


def test_scheduler_configuration_stanza() -> None:
    block = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)[0]
    config = yaml.safe_load(block)
    assert config["kind"] == "KubeSchedulerConfiguration"
    (extender,) = config["extenders"]
    assert extender["filterVerb"] == "filter" and extender["bindVerb"] == "bind"
    assert extender["nodeCacheCapable"] is True
    assert "managedResources" not in extender
    disabled = config["profiles"][0]["plugins"]["multiPoint"]["disabled"]
    assert {"name": "DynamicResources"} in disabled
