"""The errors dra-core raises.

Every error carries its context in keyword-only attributes, so that callers never
have to parse the message. The message reads like a path to the problem, outer to
inner, with Kubernetes' own wording where Kubernetes has one::

    DraCoreError
    ├── InputError (ValueError)                  input that no node can satisfy or load
    │   ├── QuantityError                        a resource quantity that does not parse
    │   ├── ManifestError                        a document that is not a valid object
    │   │   │                                    (file, document, field path, reason)
    │   │   └── ManifestValidationError          several problems of one object (.problems)
    │   ├── CELError                             a CEL selector problem
    │   │   ├── CELCompileError                  "CEL compile error: ..."
    │   │   └── CELRuntimeError                  "CEL runtime error: ..."
    │   └── AllocationInputError                 claims, classes or slices that make
    │       │                                    allocation impossible on any node
    │       │                                    ("could not retrieve device class", ...)
    │       └── InvalidPoolsError                only this node: its invalid pools and
    │                                            nothing else fits (other nodes may)
    ├── AllocationAborted                        the search was stopped, never "does not fit"
    │   ├── AllocationTimeout (TimeoutError)     the deadline passed
    │   └── AllocationCancelled                  the caller cancelled
    └── ClusterError                             a change or question a Cluster cannot take
        ├── ObjectNotFoundError (LookupError)    deleting or releasing what is not there
        ├── ReservationError                     reserving claims that are allocated already,
        │                                        or on a node where they do not fit (now)
        └── StaleViewError                       a filter view read after the cluster changed
"""

from __future__ import annotations

import json

__all__ = [
    "AllocationAborted",
    "AllocationCancelled",
    "AllocationInputError",
    "AllocationTimeout",
    "CELCompileError",
    "CELError",
    "CELRuntimeError",
    "ClusterError",
    "DraCoreError",
    "InputError",
    "InvalidPoolsError",
    "ManifestError",
    "ManifestValidationError",
    "ObjectNotFoundError",
    "QuantityError",
    "ReservationError",
    "StaleViewError",
]


class DraCoreError(Exception):
    """The root of every error that dra-core raises on purpose."""


class InputError(DraCoreError, ValueError):
    """Input that cannot be loaded, or that makes allocation impossible on any node."""


class QuantityError(InputError):
    """A Kubernetes resource quantity that does not parse.

    Attributes:
        text: the string that was given.

    """

    def __init__(self, message: str, *, text: str) -> None:
        super().__init__(message)
        self.text = text


def _text(value: object) -> str | None:
    """Render one piece of context: None, a string as it is, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):  # circular, or too deep for JSON
        return f"<{type(value).__name__}>"


class ManifestError(InputError):
    """A manifest document that is not a valid Kubernetes object.

    Attributes:
        source: the file (or ``"<dict>"``) the document came from.
        document: the index of the document within the source, from 0.
        kind: the object's kind, when known.
        name: the object's ``namespace/name`` or name, when known.
        field: the path of the bad field, Kubernetes style (``spec.devices[3].name``).
        reason: what is wrong with it.

    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        document: int | None = None,
        kind: str | None = None,
        name: str | None = None,
        field: str | None = None,
    ) -> None:
        # Bad input reaches here: a name that is a number, a list or an object must still give
        # an error (with its value shown as JSON), never a TypeError while building the error.
        self.reason = _text(reason) or ""
        self.source = _text(source)
        self.document = document
        self.kind = _text(kind)
        self.name = _text(name)
        self.field = _text(field)
        super().__init__(self._render())

    def _render(self) -> str:
        where: list[str] = []
        if self.source is not None:
            where.append(
                self.source if self.document is None else f"{self.source}#{self.document}"
            )
        if self.kind is not None or self.name is not None:
            where.append(" ".join(p for p in (self.kind, self.name) if p))
        if self.field:
            where.append(self.field)
        prefix = ": ".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason


class ManifestValidationError(ManifestError):
    """An object with several problems; each one is a located :class:`ManifestError`.

    ``field`` and the other location attributes are those of the first problem; the message
    lists them all.

    Attributes:
        problems: every problem found in the object, in order.

    """

    def __init__(self, problems: list[ManifestError]) -> None:
        self.problems = tuple(problems)
        first = problems[0]
        reason = (
            first.reason
            if len(problems) == 1
            else f"{len(problems)} problems: "
            + "; ".join(f"{p.field}: {p.reason}" if p.field else p.reason for p in problems)
        )
        super().__init__(
            reason,
            source=first.source,
            document=first.document,
            kind=first.kind,
            name=first.name,
            field=first.field if len(problems) == 1 else None,
        )


class CELError(InputError):
    """A CEL selector that cannot be compiled or evaluated.

    Attributes:
        expression: the CEL expression.
        device: the device being evaluated (``driver/pool/device``), when evaluating.

    """

    def __init__(
        self, message: str, *, expression: str, device: str | None = None
    ) -> None:
        super().__init__(message)
        self.expression = expression
        self.device = device


class CELCompileError(CELError):
    """A CEL expression that does not compile ("CEL compile error: ...")."""


class CELRuntimeError(CELError):
    """A CEL expression that fails while evaluating ("CEL runtime error: ...")."""


class AllocationInputError(InputError):
    """Claims, classes or slices that make allocation impossible on any node.

    The message keeps Kubernetes' wording, e.g. ``claim default/claim-0, request req-0:
    could not retrieve device class class-a: ...``.

    Attributes:
        claim: ``namespace/name`` of the claim, when the problem is in a claim.
        request: the request (or ``request/subrequest``) name, when known.
        device: ``driver/pool/device``, when a device is involved.

    """

    def __init__(
        self,
        message: str,
        *,
        claim: str | None = None,
        request: str | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__(message)
        self.claim = claim
        self.request = request
        self.device = device


class InvalidPoolsError(AllocationInputError):
    """Nothing fits on this node and some of its resource pools are invalid.

    Kubernetes reports this per node ("invalid resource pools were encountered",
    its ``ErrFailedAllocationOnNode``): other nodes may still fit, so a scheduler
    should treat it as "does not fit here, and say why", not abort.

    Attributes:
        pools: ``driver/pool`` of the invalid pools, with their reasons.

    """

    def __init__(self, message: str, *, pools: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.pools = dict(pools or {})


class AllocationAborted(DraCoreError):
    """Allocation stopped before it had an answer. Never means "does not fit"."""


class AllocationTimeout(AllocationAborted, TimeoutError):
    """The allocation's deadline or effort budget ran out.

    Attributes:
        timeout: the time limit in seconds, when one was set.

    """

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout


class AllocationCancelled(AllocationAborted):
    """The caller cancelled the allocation."""


class ClusterError(DraCoreError):
    """A change or a question that a :class:`~dra_core.cluster.Cluster` cannot take.

    The cluster is unchanged when one is raised.
    """


class ObjectNotFoundError(ClusterError, LookupError):
    """Deleting, or releasing, an object that the cluster does not hold.

    Attributes:
        kind: the object's kind.
        name: ``namespace/name`` or ``name``.

    """

    def __init__(self, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


class ReservationError(ClusterError):
    """Claims that cannot be reserved: allocated already, or they do not fit on the node.

    Attributes:
        node: the node the claims were to be reserved on ("" when not known).
        claims: ``namespace/name`` of the claims.

    """

    def __init__(self, message: str, *, node: str = "", claims: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.node = node
        self.claims = claims


class StaleViewError(ClusterError):
    """A :class:`~dra_core.cluster.FilterView` was read after its cluster changed."""
