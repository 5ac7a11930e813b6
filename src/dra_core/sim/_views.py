"""Text views of a simulation, in kubectl's layout: pod tables, describe events, claims.

Views read the simulator's records and format them; they change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dra_core.sim._events import Event, PodRow

__all__ = ["claim_table", "describe_events", "human_duration", "pod_table", "table"]


def human_duration(seconds: float) -> str:
    """Format an age as kubectl does (``k8s.io/apimachinery/pkg/util/duration.HumanDuration``)."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    return f"{days}d{hours % 24}h" if days < 8 and hours % 24 else f"{days}d"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """Left-aligned columns three spaces apart, as kubectl prints them."""
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append(indent + "   ".join(cells).rstrip())
    return "\n".join(lines)


def _status(row: PodRow) -> str:
    return "Completed" if row.phase == "Succeeded" else row.phase


def pod_table(rows: Sequence[PodRow], now: float, *, wide: bool = True) -> str:
    """``kubectl get pod -A`` (with the NODE column of ``-o wide`` when ``wide``)."""
    if not rows:
        return "No resources found"
    header = ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if wide:
        header.append("NODE")
    out = []
    for r in rows:
        ready = r.containers if r.phase == "Running" else 0
        cells = [
            r.namespace,
            r.name,
            f"{ready}/{r.containers}",
            _status(r),
            "0",
            human_duration(now - r.created),
        ]
        if wide:
            cells.append(r.node or "<none>")
        out.append(cells)
    return table(header, out)


def describe_events(events: Sequence[Event], now: float) -> str:
    """Format the ``Events:`` part of ``kubectl describe``, folding repeats as kubectl does."""
    if not events:
        return "Events:  <none>"
    groups: list[list[Event]] = []
    for event in events:
        last = groups[-1][-1] if groups else None
        if last is not None and (last.type, last.reason, last.source, last.message) == (
            event.type,
            event.reason,
            event.source,
            event.message,
        ):
            groups[-1].append(event)
        else:
            groups.append([event])
    rows = []
    for group in groups:
        first, last = group[0], group[-1]
        age = human_duration(now - last.time)
        if len(group) > 1:
            age = f"{age} (x{len(group)} over {human_duration(now - first.time)})"
        rows.append([last.type, last.reason, age, last.source, last.message])
    rule = ["----", "------", "----", "----", "-------"]
    body = table(["Type", "Reason", "Age", "From", "Message"], [rule, *rows], indent="  ")
    return "Events:\n" + body


def claim_table(claims: Sequence[Any]) -> str:
    """``kubectl get resourceclaim -A`` (STATE as kubectl prints it), with the consumers."""
    if not claims:
        return "No resources found"
    rows = []
    for claim in claims:
        status = claim.status
        allocated = status is not None and status.allocation is not None
        reserved = [r.name for r in status.reserved_for] if status is not None else []
        state = "pending"
        if allocated:
            state = "allocated,reserved" if reserved else "allocated"
        devices = []
        if allocated and status.allocation.devices is not None:
            devices = [f"{r.pool}/{r.device}" for r in status.allocation.devices.results]
        rows.append(
            [
                claim.metadata.namespace or "default",
                claim.metadata.name,
                state,
                ",".join(devices) or "<none>",
                ",".join(reserved) or "<none>",
            ]
        )
    return table(["NAMESPACE", "NAME", "STATE", "DEVICES", "RESERVED FOR"], rows)
