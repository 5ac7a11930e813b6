"""``import dra_core`` (which exports the wire types and Extender) loads no server stack.

Checked in a fresh interpreter: starlette, uvicorn, anyio, prometheus_client, httpx and
kubernetes are imported only by ``create_app``, ``dra-core extender`` and KubeSource.
"""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_STACK = ("starlette", "uvicorn", "anyio", "prometheus_client", "httpx", "kubernetes")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return {m.split(".")[0] for m in json.loads(done.stdout.splitlines()[-1])}


def test_import_dra_core_and_the_extender_package_load_no_server_stack() -> None:
    code = (
        "import dra_core, dra_core.extender\n"
        'args = dra_core.ExtenderArgs.from_json(\'{"NodeNames": ["n"]}\')\n'
        "assert args.candidate_names() == ['n']"
    )
    assert _modules_after(code) & set(SERVER_STACK) == set()


def test_the_cli_parser_loads_no_server_stack() -> None:
    code = (
        "from dra_core.cli import _build_parser\n"
        "_build_parser().parse_args(['extender', '--manifests', '.'])"
    )
    assert _modules_after(code) & set(SERVER_STACK) == set()
