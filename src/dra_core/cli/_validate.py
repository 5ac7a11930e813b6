"""``dra-core validate FILE...``: does each object load, and if not, why.

For every object in the files (folders are searched for ``*.yaml``, ``*.yml``, ``*.json``)
one line ``ok`` or ``skip`` (a kind dra-core does not use), or one ``error`` line per problem,
each located (``file#document: Kind name: field: reason``); ``warn`` lines name unknown
fields. CEL selectors are compiled too. Exit status 0 when everything loads, 2 when anything
does not (or a file cannot be read or parsed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from dra_core.api import DeviceClass, DeviceSelector, K8sModel, ResourceClaim, ResourceClaimTemplate
from dra_core.errors import DraCoreError, ManifestError
from dra_core.io import LoadedDocument, load_report

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``validate`` with the command line."""
    parser = subparsers.add_parser(
        "validate",
        help="check that manifests load as the Kubernetes API server would accept them",
        description=(
            "Load every object of the given files or folders as dra-core does (older "
            "resource.k8s.io versions converted to v1, API-server validation, CEL selectors "
            "compiled) and report, per object, ok or every problem with its location."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifest file or folder")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the objects that have problems"
    )
    parser.add_argument("--no-cel", action="store_true", help="do not compile the CEL selectors")
    parser.set_defaults(run=run)


def _selectors(obj: K8sModel) -> Iterator[tuple[str, DeviceSelector]]:
    if isinstance(obj, DeviceClass):
        for i, selector in enumerate(obj.spec.selectors):
            yield f"spec.selectors[{i}]", selector
        return
    if isinstance(obj, ResourceClaim):
        claim, prefix = obj.spec.devices, "spec.devices"
    elif isinstance(obj, ResourceClaimTemplate):
        claim, prefix = obj.spec.spec.devices, "spec.spec.devices"
    else:
        return
    for i, request in enumerate(claim.requests):
        base = f"{prefix}.requests[{i}]"
        if request.exactly is not None:
            for j, selector in enumerate(request.exactly.selectors):
                yield f"{base}.exactly.selectors[{j}]", selector
        for k, sub in enumerate(request.first_available):
            for j, selector in enumerate(sub.selectors):
                yield f"{base}.firstAvailable[{k}].selectors[{j}]", selector


def _cel_problems(result: LoadedDocument) -> list[ManifestError]:
    if result.object is None:
        return []
    try:
        from dra_core.cel import compile_selector
    except ImportError:  # pragma: no cover - the CEL layer is part of the package
        return []
    problems = []
    for path, selector in _selectors(result.object):
        if selector.cel is None:
            continue
        try:
            compile_selector(selector.cel.expression)
        except DraCoreError as exc:
            problems.append(
                ManifestError(
                    f"Invalid value: {exc}",
                    source=result.source,
                    document=result.document,
                    kind=result.kind,
                    name=result.name or None,
                    field=f"{path}.cel.expression",
                )
            )
    return problems


def _label(result: LoadedDocument) -> str:
    what = " ".join(p for p in (result.kind or "<no kind>", result.name) if p)
    return f"{result.where}: {what}"


def _report(
    result: LoadedDocument, problems: list[ManifestError], quiet: bool, out: TextIO
) -> None:
    # One self-contained line per problem: file#document: Kind name: field: reason.
    for problem in problems:
        print(f"error {problem}", file=out)
    if not problems and not quiet:
        if result.skipped is not None:
            print(f"skip  {_label(result)}: {result.skipped}", file=out)
        else:
            print(f"ok    {_label(result)}", file=out)
    if not quiet or problems:
        for warning in result.warnings:
            if warning.startswith("unknown field"):
                print(f"warn  {_label(result)}: {warning}", file=out)


def run(args: argparse.Namespace) -> int:
    """Validate the files; 0 when every object loads, 2 otherwise."""
    out = sys.stdout
    failed = False
    counts = {"ok": 0, "skipped": 0, "invalid": 0, "unreadable": 0}
    for path in args.files:
        try:
            results = load_report(path)
        except ManifestError as exc:
            failed = True
            counts["unreadable"] += 1
            print(f"error {exc}", file=out)
            continue
        except (OSError, ValueError, RecursionError) as exc:  # unreadable or hostile input
            failed = True
            counts["unreadable"] += 1
            print(f"error {path}: {type(exc).__name__}: {exc}", file=out)
            continue
        if not results:
            print(f"skip  {path}: no Kubernetes objects found", file=out)
        for result in results:
            problems = list(result.errors)
            if not problems and not args.no_cel:
                problems = _cel_problems(result)
            if problems:
                failed = True
                counts["invalid"] += 1
            elif result.skipped is not None:
                counts["skipped"] += 1
            else:
                counts["ok"] += 1
            _report(result, problems, args.quiet, out)
    if not args.quiet:
        summary = f"{counts['ok']} ok, {counts['invalid']} invalid, {counts['skipped']} skipped"
        if counts["unreadable"]:
            summary += f", {counts['unreadable']} unreadable files"
        print(summary, file=out)
    return 2 if failed else 0
