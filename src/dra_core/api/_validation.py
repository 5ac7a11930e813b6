"""API validation of resource.k8s.io objects, as the Kubernetes API server does it on create.

The rules and the wording follow ``pkg/apis/resource/validation`` (Kubernetes 1.36): names,
DNS labels and subdomains, qualified names, the size limits (128 devices per slice, 64 with
taints, counters or list attributes; 32 requests per claim; 8 subrequests; 32 attributes and
capacities per device; ...), exactly-one-of rules, request policies. Every problem of an object
is reported, not just the first, as a :class:`FieldError` with a Kubernetes field path.

Not checked here: CEL expressions beyond their length (``dra_core.cel`` compiles them), and the
rules that only apply to updates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from dra_core.api._base import K8sModel
from dra_core.api._core import NodeSelector, ObjectMeta
from dra_core.api._resource import (
    AllocationResult,
    CapacityRequestPolicy,
    CounterSet,
    Device,
    DeviceAttribute,
    DeviceCapacity,
    DeviceClaim,
    DeviceClass,
    DeviceCounterConsumption,
    DeviceRequest,
    DeviceSelector,
    DeviceSubRequest,
    DeviceTaint,
    DeviceToleration,
    ExactDeviceRequest,
    OpaqueDeviceConfiguration,
    ResourceClaim,
    ResourceClaimStatus,
    ResourceSlice,
)
from dra_core.api._templates_rules import DeviceTaintRule, ResourceClaimTemplate
from dra_core.api.quantity import Quantity

__all__ = ["FieldError", "format_errors", "validate_object"]

_T = TypeVar("_T")

# Limits of resource.k8s.io/v1 (k8s.io/api/resource/v1/types.go).
DRIVER_NAME_MAX_LENGTH: Final = 63
POOL_NAME_MAX_LENGTH: Final = 253
SLICE_MAX_DEVICES: Final = 128
SLICE_MAX_DEVICES_WITH_ADVANCED_FEATURES: Final = 64
SLICE_MAX_COUNTER_SETS: Final = 8
SLICE_MAX_COUNTERS_PER_SET: Final = 32
DEVICE_MAX_COUNTER_CONSUMPTIONS: Final = 2
DEVICE_MAX_COUNTERS_PER_CONSUMPTION: Final = 32
DEVICE_MAX_ATTRIBUTES_AND_CAPACITIES: Final = 32
DEVICE_MAX_ATTRIBUTE_VALUES: Final = 48
DEVICE_MAX_ID_LENGTH: Final = 32
ATTRIBUTE_MAX_VALUE_LENGTH: Final = 64
DEVICE_MAX_TAINTS: Final = 16
BINDING_CONDITIONS_MAX: Final = 4
REQUESTS_MAX: Final = 32
SUBREQUESTS_MAX: Final = 8
SELECTORS_MAX: Final = 32
CONSTRAINTS_MAX: Final = 32
CONFIG_MAX: Final = 32
CEL_MAX_LENGTH: Final = 10 * 1024
OPAQUE_PARAMETERS_MAX_LENGTH: Final = 10 * 1024
RESERVED_FOR_MAX: Final = 256
RESULTS_MAX: Final = 32
POLICY_MAX_VALID_VALUES: Final = 10
DEVICE_STATUS_MAX_CONDITIONS: Final = 8
NETWORK_MAX_IPS: Final = 16
NETWORK_INTERFACE_NAME_MAX_LENGTH: Final = 256
NETWORK_HARDWARE_ADDRESS_MAX_LENGTH: Final = 128

_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT: Final = rf"{_DNS1123_LABEL_FMT}(\.{_DNS1123_LABEL_FMT})*"
_C_IDENTIFIER_FMT: Final = "[A-Za-z_][A-Za-z0-9_]*"
_QUALIFIED_NAME_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT: Final = f"({_QUALIFIED_NAME_FMT})?"
_DNS1123_LABEL_RE: Final = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN_RE: Final = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_C_IDENTIFIER_RE: Final = re.compile(f"^{_C_IDENTIFIER_FMT}$")
_QUALIFIED_NAME_RE: Final = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_LABEL_VALUE_RE: Final = re.compile(f"^{_LABEL_VALUE_FMT}$")
_NUMERIC: Final = r"(0|[1-9]\d*)"
_PRERELEASE: Final = r"(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_BUILD: Final = r"[0-9a-zA-Z-]+"
_SEMVER_RE: Final = re.compile(
    rf"^{_NUMERIC}\.{_NUMERIC}\.{_NUMERIC}"
    rf"(-{_PRERELEASE}(\.{_PRERELEASE})*)?"
    rf"(\+{_BUILD}(\.{_BUILD})*)?$"
)
_ANY_CASE_UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_UUID_RE: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


_DNS1123_LABEL_MSG: Final = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character",
    _DNS1123_LABEL_FMT,
    "my-name",
    "123-abc",
)
_DNS1123_SUBDOMAIN_MSG: Final = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character",
    _DNS1123_SUBDOMAIN_FMT,
    "example.com",
)
_C_IDENTIFIER_MSG: Final = _regex_error(
    "a valid C identifier must start with alphabetic character or '_', followed by a string "
    "of alphanumeric characters or '_'",
    _C_IDENTIFIER_FMT,
    "my_name",
    "MY_NAME",
    "MyName",
)
_QUALIFIED_NAME_MSG: Final = _regex_error(
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character",
    _QUALIFIED_NAME_FMT,
    "MyName",
    "my.name",
    "123-abc",
)
_LABEL_VALUE_MSG: Final = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character",
    _LABEL_VALUE_FMT,
    "MyValue",
    "my_value",
    "12345",
)


def _format_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Quantity):
        return json.dumps(str(value))
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    """One validation problem, as Kubernetes' ``field.Error``.

    Attributes:
        field: the path of the field, Kubernetes style (``spec.devices[3].name``).
        type: ``Required value``, ``Invalid value``, ``Too long``, ``Too many``,
            ``Duplicate value``, ``Unsupported value`` or ``Forbidden``.
        detail: the explanation (may be empty).
        value: the bad value (shown for the types that show one).

    """

    field: str
    type: str
    detail: str = ""
    value: Any = None

    @property
    def reason(self) -> str:
        """The message without the field path, as Kubernetes words it."""
        if self.type in ("Invalid value", "Duplicate value", "Unsupported value", "Too many"):
            body = f"{self.type}: {_format_value(self.value)}"
        else:
            body = self.type
        return f"{body}: {self.detail}" if self.detail else body

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class _Errors:
    """An accumulator of field errors (mirrors Go's ``field.ErrorList``)."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def required(self, path: str, detail: str = "") -> None:
        self.items.append(FieldError(path, "Required value", detail))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.items.append(FieldError(path, "Invalid value", detail, value))

    def forbidden(self, path: str, detail: str) -> None:
        self.items.append(FieldError(path, "Forbidden", detail))

    def too_long(self, path: str, max_length: int) -> None:
        self.items.append(FieldError(path, "Too long", f"may not be more than {max_length} bytes"))

    def too_many(self, path: str, count: int, max_items: int) -> None:
        self.items.append(
            FieldError(path, "Too many", f"must have at most {max_items} items", count)
        )

    def duplicate(self, path: str, value: Any) -> None:
        self.items.append(FieldError(path, "Duplicate value", "", value))

    def not_supported(self, path: str, value: Any, supported: Sequence[str]) -> None:
        values = ", ".join(json.dumps(s) for s in supported)
        self.items.append(
            FieldError(path, "Unsupported value", f"supported values: {values}", value)
        )


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


# --------------------------------------------------------------------------- name formats


def _dns1123_label_msgs(value: str) -> list[str]:
    msgs = []
    if len(value) > 63:
        msgs.append("must be no more than 63 characters")
    if not _DNS1123_LABEL_RE.match(value):
        msgs.append(_DNS1123_LABEL_MSG)
    return msgs


def _dns1123_subdomain_msgs(value: str) -> list[str]:
    msgs = []
    if len(value) > 253:
        msgs.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        msgs.append(_DNS1123_SUBDOMAIN_MSG)
    return msgs


def _qualified_name_msgs(value: str) -> list[str]:
    parts = value.split("/")
    msgs: list[str] = []
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            msgs.append("prefix part must be non-empty")
        else:
            msgs.extend(f"prefix part {m}" for m in _dns1123_subdomain_msgs(prefix))
    else:
        return [
            f"a qualified name {_QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and "
            "'/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        msgs.append("name part must be non-empty")
    elif len(name) > 63:
        msgs.append("name part must be no more than 63 characters")
    if not _QUALIFIED_NAME_RE.match(name):
        msgs.append(f"name part {_QUALIFIED_NAME_MSG}")
    return msgs


def _label_value_msgs(value: str) -> list[str]:
    msgs = []
    if len(value) > 63:
        msgs.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.match(value):
        msgs.append(_LABEL_VALUE_MSG)
    return msgs


def _dns_label(errs: _Errors, value: str, path: str) -> None:
    for msg in _dns1123_label_msgs(value):
        errs.invalid(path, value, msg)


def _dns_subdomain(errs: _Errors, value: str, path: str) -> None:
    for msg in _dns1123_subdomain_msgs(value):
        errs.invalid(path, value, msg)


def _label_name(errs: _Errors, value: str, path: str) -> None:
    for msg in _qualified_name_msgs(value):
        errs.invalid(path, value, msg)


def _label_value(errs: _Errors, value: str, path: str) -> None:
    for msg in _label_value_msgs(value):
        errs.invalid(path, value, msg)


def _driver_name(errs: _Errors, value: str, path: str) -> None:
    if not value:
        errs.required(path)
        return
    if len(value) > DRIVER_NAME_MAX_LENGTH:
        errs.too_long(path, DRIVER_NAME_MAX_LENGTH)
    for msg in _dns1123_subdomain_msgs(value.lower()):
        errs.invalid(path, value, msg)


def _pool_name(errs: _Errors, value: str, path: str) -> None:
    if not value:
        errs.required(path)
        return
    if len(value) > POOL_NAME_MAX_LENGTH:
        errs.too_long(path, POOL_NAME_MAX_LENGTH)
    for part in value.split("/"):
        _dns_subdomain(errs, part, path)


def _c_identifier(errs: _Errors, value: str, path: str) -> None:
    if len(value) > DEVICE_MAX_ID_LENGTH:
        errs.too_long(path, DEVICE_MAX_ID_LENGTH)
    if not _C_IDENTIFIER_RE.match(value):
        errs.invalid(path, value, _C_IDENTIFIER_MSG)


def _qualified_name(errs: _Errors, value: str, path: str) -> None:
    parts = value.split("/")
    if len(parts) == 1:
        _c_identifier(errs, parts[0], path)
    elif len(parts) == 2:
        if not parts[0]:
            errs.invalid(path, "", "the domain must not be empty")
        else:
            _driver_name(errs, parts[0], path)
        if not parts[1]:
            errs.invalid(path, "", "the name must not be empty")
        else:
            _c_identifier(errs, parts[1], path)
    else:
        errs.invalid(path, value, "must not contain more than one slash")


def _fully_qualified_name(errs: _Errors, value: str, path: str) -> None:
    _qualified_name(errs, value, path)
    if "/" not in value:
        errs.invalid(
            path, value, "a fully qualified name must be a domain and a name separated by a slash"
        )


def _uid(errs: _Errors, value: str, path: str) -> None:
    if not _ANY_CASE_UUID_RE.match(value):
        errs.invalid(path, value, "error validating uid: invalid UUID format")
    elif not _UUID_RE.match(value):
        errs.invalid(
            path,
            value,
            "uid must be in RFC 4122 normalized form, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` "
            "with lowercase hexadecimal characters",
        )


# --------------------------------------------------------------------------- list helpers


def _check_slice(
    errs: _Errors,
    items: Sequence[_T],
    max_size: int,
    check: Callable[[_T, str], None],
    path: str,
) -> None:
    """Check the size of a list (short-circuits, as Go does, when too long), then each item."""
    if max_size >= 0 and len(items) > max_size:
        errs.too_many(path, len(items), max_size)
        return
    for i, item in enumerate(items):
        check(item, _index(path, i))


def _check_set(
    errs: _Errors,
    items: Sequence[_T],
    max_size: int,
    check: Callable[[_T, str], None],
    key: Callable[[_T], Any],
    path: str,
) -> None:
    """Like :func:`_check_slice`, and report duplicate keys."""
    if max_size >= 0 and len(items) > max_size:
        errs.too_many(path, len(items), max_size)
        return
    for i, item in enumerate(items):
        check(item, _index(path, i))
    seen: set[Any] = set()
    for i, item in enumerate(items):
        k = key(item)
        if k in seen:
            errs.duplicate(_index(path, i), k)
        else:
            seen.add(k)


# --------------------------------------------------------------------------- shared parts


def _object_meta(errs: _Errors, meta: ObjectMeta, *, namespaced: bool, name_check: str) -> None:
    path = "metadata"
    if not meta.name and not meta.generate_name:
        errs.required(_child(path, "name"), "name or generateName is required")
    elif meta.name:
        if name_check == "label":
            _dns_label(errs, meta.name, _child(path, "name"))
        else:
            _dns_subdomain(errs, meta.name, _child(path, "name"))
    if meta.generate_name:
        # generateName gets a random suffix; validate the prefix leniently
        prefix = meta.generate_name.rstrip("-") or "x"
        for msg in _dns1123_subdomain_msgs(prefix):
            errs.invalid(_child(path, "generateName"), meta.generate_name, msg)
    if namespaced:
        if meta.namespace:
            _dns_label(errs, meta.namespace, _child(path, "namespace"))
    elif meta.namespace:
        errs.forbidden(_child(path, "namespace"), "not allowed on this type")
    for key in sorted(meta.labels):
        _label_name(errs, key, _child(path, "labels"))
        _label_value(errs, meta.labels[key], _child(path, "labels"))
    for key in sorted(meta.annotations):
        for msg in _qualified_name_msgs(key.lower()):
            errs.invalid(_child(path, "annotations"), key, msg)


def _node_name(errs: _Errors, value: str, path: str) -> None:
    _dns_subdomain(errs, value, path)


_SELECTOR_OPERATORS: Final = ("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn")


def _node_selector(errs: _Errors, selector: NodeSelector, path: str) -> None:
    terms_path = _child(path, "nodeSelectorTerms")
    if not selector.node_selector_terms:
        errs.required(terms_path, "must have at least one node selector term")
    for i, term in enumerate(selector.node_selector_terms):
        term_path = _index(terms_path, i)
        for j, req in enumerate(term.match_expressions):
            req_path = _index(_child(term_path, "matchExpressions"), j)
            if req.operator in ("In", "NotIn"):
                if not req.values:
                    errs.required(
                        _child(req_path, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )
            elif req.operator in ("Exists", "DoesNotExist"):
                if req.values:
                    errs.forbidden(
                        _child(req_path, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
            elif req.operator in ("Gt", "Lt"):
                if len(req.values) != 1:
                    errs.required(
                        _child(req_path, "values"),
                        "must be specified single value when `operator` is 'Lt' or 'Gt'",
                    )
            else:
                errs.not_supported(_child(req_path, "operator"), req.operator, _SELECTOR_OPERATORS)
            _label_name(errs, req.key, _child(req_path, "key"))
        for j, req in enumerate(term.match_fields):
            req_path = _index(_child(term_path, "matchFields"), j)
            if req.key != "metadata.name":
                errs.not_supported(_child(req_path, "key"), req.key, ["metadata.name"])
            if req.operator in ("In", "NotIn"):
                if len(req.values) != 1:
                    errs.required(
                        _child(req_path, "values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node "
                        "field selector",
                    )
            else:
                errs.not_supported(_child(req_path, "operator"), req.operator, ["In", "NotIn"])


_TAINT_EFFECTS: Final = ("NoExecute", "NoSchedule", "None")


def _device_taint(errs: _Errors, taint: DeviceTaint, path: str) -> None:
    _label_name(errs, taint.key, _child(path, "key"))  # also reports an empty key
    if taint.value:
        _label_value(errs, taint.value, _child(path, "value"))
    if not taint.effect:
        errs.required(_child(path, "effect"))
    elif taint.effect not in _TAINT_EFFECTS:
        errs.not_supported(_child(path, "effect"), taint.effect, _TAINT_EFFECTS)


def _device_toleration(errs: _Errors, toleration: DeviceToleration, path: str) -> None:
    if toleration.key:
        _label_name(errs, toleration.key, _child(path, "key"))
    if toleration.operator == "Exists":
        if toleration.value:
            errs.invalid(
                _child(path, "value"), toleration.value, "must be empty for operator `Exists`"
            )
    elif toleration.operator == "Equal":
        _label_value(errs, toleration.value, _child(path, "value"))
    elif toleration.operator == "":
        errs.required(_child(path, "operator"))
    else:
        errs.not_supported(_child(path, "operator"), toleration.operator, ["Equal", "Exists"])
    if toleration.effect and toleration.effect not in _TAINT_EFFECTS:
        errs.not_supported(_child(path, "effect"), toleration.effect, _TAINT_EFFECTS)


def _binding_parameters(
    errs: _Errors, conditions: Sequence[str], failure_conditions: Sequence[str], path: str
) -> None:
    _check_slice(
        errs,
        conditions,
        BINDING_CONDITIONS_MAX,
        lambda c, p: _label_name(errs, c, p),
        _child(path, "bindingConditions"),
    )
    _check_slice(
        errs,
        failure_conditions,
        BINDING_CONDITIONS_MAX,
        lambda c, p: _label_name(errs, c, p),
        _child(path, "bindingFailureConditions"),
    )
    seen: set[str] = set()
    for i, c in enumerate(conditions):
        if c in seen:
            errs.duplicate(_index(_child(path, "bindingConditions"), i), c)
        seen.add(c)
    seen_failure: set[str] = set()
    for i, c in enumerate(failure_conditions):
        p = _index(_child(path, "bindingFailureConditions"), i)
        if c in seen_failure:
            errs.duplicate(p, c)
        seen_failure.add(c)
        if c in conditions:
            errs.invalid(p, c, "bindingFailureConditions must not overlap with bindingConditions")
    if not conditions and failure_conditions:
        errs.invalid(
            _child(path, "bindingConditions"),
            list(conditions),
            "bindingConditions are required to use bindingFailureConditions",
        )
    if not failure_conditions and conditions:
        errs.invalid(
            _child(path, "bindingFailureConditions"),
            list(failure_conditions),
            "bindingFailureConditions are required to use bindingConditions",
        )


def _opaque(errs: _Errors, config: OpaqueDeviceConfiguration | None, path: str) -> None:
    if config is None:
        errs.required(_child(path, "opaque"))
        return
    path = _child(path, "opaque")
    _driver_name(errs, config.driver, _child(path, "driver"))
    params_path = _child(path, "parameters")
    if config.parameters is None:
        errs.required(params_path)
        return
    raw = json.dumps(config.parameters, separators=(",", ":"))
    if len(raw) > OPAQUE_PARAMETERS_MAX_LENGTH:
        errs.too_long(params_path, OPAQUE_PARAMETERS_MAX_LENGTH)
    elif not isinstance(config.parameters, dict):
        errs.invalid(params_path, "<value omitted>", "must be a valid JSON object")


def _selector(errs: _Errors, selector: DeviceSelector, path: str) -> None:
    if selector.cel is None:
        errs.required(_child(path, "cel"))
        return
    # Compiling the expression is the CEL layer's job (``dra-core validate`` does it).
    if len(selector.cel.expression) > CEL_MAX_LENGTH:
        errs.too_long(_child(_child(path, "cel"), "expression"), CEL_MAX_LENGTH)


def _selectors(errs: _Errors, selectors: Sequence[DeviceSelector], path: str) -> None:
    _check_slice(errs, selectors, SELECTORS_MAX, lambda s, p: _selector(errs, s, p), path)


# --------------------------------------------------------------------------- ResourceSlice


def _utf8_len(text: str) -> int:
    """Count the UTF-8 bytes of ``text``, as Go's ``len(s)`` does.

    A lone surrogate (U+D800 to U+DFFF, possible from JSON) has no UTF-8 form, so ``str.encode``
    raises. Go's JSON decoder replaces it with U+FFFD, three bytes, and ``surrogatepass``
    counts three bytes for it too.
    """
    return len(text.encode("utf-8", "surrogatepass"))


def _attribute(errs: _Errors, attribute: DeviceAttribute, path: str) -> None:
    count = 0
    for value in (attribute.bool_, attribute.int_):
        if value is not None:
            count += 1
    if attribute.string is not None:
        count += 1
        if _utf8_len(attribute.string) > ATTRIBUTE_MAX_VALUE_LENGTH:
            errs.too_long(_child(path, "string"), ATTRIBUTE_MAX_VALUE_LENGTH)
    if attribute.version is not None:
        count += 1
        _version(errs, attribute.version, _child(path, "version"))
    lists: list[tuple[str, Sequence[Any] | None]] = [
        ("bools", attribute.bools),
        ("ints", attribute.ints),
        ("strings", attribute.strings),
        ("versions", attribute.versions),
    ]
    for name, values in lists:
        if values is None:
            continue
        count += 1
        if not values:
            errs.invalid(_child(path, name), [], "must not be empty if specified")
        for i, item in enumerate(values):
            item_path = _index(_child(path, name), i)
            if name == "strings" and _utf8_len(str(item)) > ATTRIBUTE_MAX_VALUE_LENGTH:
                errs.too_long(item_path, ATTRIBUTE_MAX_VALUE_LENGTH)
            elif name == "versions":
                _version(errs, str(item), item_path)
    if count != 1:
        errs.invalid(
            path,
            ""
            if count == 0
            else attribute.model_dump(mode="json", by_alias=True, exclude_none=True),
            "exactly one value must be specified",
        )


def _version(errs: _Errors, value: str, path: str) -> None:
    if not _SEMVER_RE.match(value):
        errs.invalid(path, value, "must be a string compatible with semver.org spec 2.0.0")
    if _utf8_len(value) > ATTRIBUTE_MAX_VALUE_LENGTH:
        errs.too_long(path, ATTRIBUTE_MAX_VALUE_LENGTH)


def _request_policy(
    errs: _Errors, capacity: Quantity, policy: CapacityRequestPolicy, path: str
) -> None:
    if policy.valid_values and policy.valid_range is not None:
        errs.forbidden(
            path,
            'exactly one policy can be specified, cannot specify "validValues" and '
            '"validRange" at the same time',
        )
        return
    default = policy.default
    if policy.valid_values:
        if default is None:
            errs.required(_child(path, "default"), "required when validValues is defined")
            return
        values_path = _child(path, "validValues")
        for i in range(len(policy.valid_values) - 1):
            if policy.valid_values[i] > policy.valid_values[i + 1]:
                errs.invalid(
                    _index(values_path, i + 1),
                    str(policy.valid_values[i + 1]),
                    "values must be sorted in ascending order",
                )
        if len(policy.valid_values) > POLICY_MAX_VALID_VALUES:
            errs.too_many(values_path, len(policy.valid_values), POLICY_MAX_VALID_VALUES)
        else:
            seen: set[Quantity] = set()
            for i, option in enumerate(policy.valid_values):
                if option > capacity:
                    errs.invalid(
                        _index(values_path, i),
                        str(option),
                        f"option is larger than capacity value: {capacity}",
                    )
                if option in seen:
                    errs.duplicate(_index(values_path, i), str(option))
                seen.add(option)
        if default not in policy.valid_values:
            errs.invalid(
                values_path,
                str(default),
                "default value is not valid according to the requestPolicy",
            )
    elif policy.valid_range is not None:
        if default is None:
            errs.required(_child(path, "default"), "required when validRange is defined")
            return
        rng = policy.valid_range
        range_path = _child(path, "validRange")
        if rng.min is None:
            errs.required(_child(range_path, "min"), "required when validRange is defined")
            return
        if rng.min > capacity:
            errs.invalid(
                _child(range_path, "min"),
                str(rng.min),
                f"min is larger than capacity value: {capacity}",
            )
        if default < rng.min:
            errs.invalid(
                _child(range_path, "default"), str(default), f"default is less than min: {rng.min}"
            )
        if rng.max is not None:
            if rng.min > rng.max:
                errs.invalid(
                    _child(range_path, "max"), str(rng.min), f"min is larger than max: {rng.max}"
                )
            if rng.max > capacity:
                errs.invalid(
                    _child(range_path, "max"),
                    str(rng.max),
                    f"max is larger than capacity value: {capacity}",
                )
            if default > rng.max:
                errs.invalid(
                    _child(range_path, "default"),
                    str(default),
                    f"default is more than max: {rng.max}",
                )
        if rng.step is not None:
            step_path = _child(range_path, "step")
            if rng.step.sign() <= 0:
                errs.invalid(step_path, str(rng.step), "must be greater than zero")
                return
            one_step = rng.min.add(rng.step)
            if one_step > capacity:
                errs.invalid(
                    step_path,
                    str(rng.step),
                    f"one step {one_step} is larger than capacity value: {capacity}",
                )
            for value in (default, rng.max):
                if value is None:
                    continue
                if (value.value - rng.min.value) % rng.step.value != 0:
                    errs.invalid(
                        step_path,
                        str(value),
                        f"value is not a multiple of a given step ({rng.step}) from ({rng.min})",
                    )


def _capacity(errs: _Errors, capacity: DeviceCapacity, path: str, *, multi: bool) -> None:
    if capacity.request_policy is None:
        return
    if not multi:
        errs.forbidden(_child(path, "requestPolicy"), "allowMultipleAllocations must be true")
        return
    _request_policy(errs, capacity.value, capacity.request_policy, _child(path, "requestPolicy"))


def _counters(errs: _Errors, counters: dict[str, Any], max_size: int, path: str) -> None:
    if not counters:
        errs.required(path)
        return
    if len(counters) > max_size:
        errs.too_many(path, len(counters), max_size)
        return
    for name in sorted(counters):
        _dns_label(errs, name, path)


def _counter_set(errs: _Errors, counter_set: CounterSet, path: str) -> None:
    if not counter_set.name:
        errs.required(_child(path, "name"))
    else:
        _dns_label(errs, counter_set.name, _child(path, "name"))
    _counters(errs, counter_set.counters, SLICE_MAX_COUNTERS_PER_SET, _child(path, "counters"))


def _counter_consumption(errs: _Errors, consumption: DeviceCounterConsumption, path: str) -> None:
    if not consumption.counter_set:
        errs.required(_child(path, "counterSet"))
    else:
        _dns_label(errs, consumption.counter_set, _child(path, "counterSet"))
    _counters(
        errs, consumption.counters, DEVICE_MAX_COUNTERS_PER_CONSUMPTION, _child(path, "counters")
    )


def _device(errs: _Errors, device: Device, path: str, per_device_node_selection: bool) -> None:
    if not device.name:
        errs.required(_child(path, "name"))
    else:
        _dns_label(errs, device.name, _child(path, "name"))
    total = len(device.attributes) + len(device.capacity)
    if total > DEVICE_MAX_ATTRIBUTES_AND_CAPACITIES:
        errs.invalid(
            path,
            total,
            "the total number of attributes and capacities must not exceed "
            f"{DEVICE_MAX_ATTRIBUTES_AND_CAPACITIES}",
        )
    values = 0
    for attribute in device.attributes.values():
        lists = [attribute.bools, attribute.ints, attribute.strings, attribute.versions]
        n = sum(len(v) for v in lists if v)
        values += n if n else 1
    if values > DEVICE_MAX_ATTRIBUTE_VALUES:
        errs.invalid(
            path,
            values,
            f"the total number of attribute values must not exceed {DEVICE_MAX_ATTRIBUTE_VALUES}",
        )
    attributes_path = _child(path, "attributes")
    for key in sorted(device.attributes):
        _qualified_name(errs, key, attributes_path)
        _attribute(errs, device.attributes[key], _key(attributes_path, key))
    capacity_path = _child(path, "capacity")
    multi = bool(device.allow_multiple_allocations)
    for key in sorted(device.capacity):
        _qualified_name(errs, key, capacity_path)
        _capacity(errs, device.capacity[key], _key(capacity_path, key), multi=multi)
    _check_slice(
        errs,
        device.taints,
        DEVICE_MAX_TAINTS,
        lambda t, p: _device_taint(errs, t, p),
        _child(path, "taints"),
    )
    _check_set(
        errs,
        device.consumes_counters,
        DEVICE_MAX_COUNTER_CONSUMPTIONS,
        lambda c, p: _counter_consumption(errs, c, p),
        lambda c: c.counter_set,
        _child(path, "consumesCounters"),
    )
    if per_device_node_selection:
        set_fields = []
        if device.node_name is not None:
            if device.node_name:
                set_fields.append("`nodeName`")
                _node_name(errs, device.node_name, _child(path, "nodeName"))
            else:
                errs.invalid(_child(path, "nodeName"), "", "must not be empty")
        if device.node_selector is not None:
            set_fields.append("`nodeSelector`")
            _node_selector(errs, device.node_selector, _child(path, "nodeSelector"))
        if device.all_nodes is not None:
            if device.all_nodes:
                set_fields.append("`allNodes`")
            else:
                errs.invalid(_child(path, "allNodes"), False, "must be either unset or set to true")
        message = (
            "exactly one of `nodeName`, `nodeSelector`, or `allNodes` is required when "
            "`perDeviceNodeSelection` is set to true in the ResourceSlice spec"
        )
        if not set_fields:
            errs.required(path, message)
        elif len(set_fields) > 1:
            errs.invalid(path, "{" + ", ".join(set_fields) + "}", message)
    elif (
        device.node_name is not None
        or device.node_selector is not None
        or device.all_nodes is not None
    ):
        errs.invalid(
            path,
            None,
            "`nodeName`, `nodeSelector` and `allNodes` can only be set if "
            "`perDeviceNodeSelection` is set to true in the ResourceSlice spec",
        )
    _binding_parameters(errs, device.binding_conditions, device.binding_failure_conditions, path)


def _resource_slice(errs: _Errors, obj: ResourceSlice) -> None:
    _object_meta(errs, obj.metadata, namespaced=False, name_check="subdomain")
    spec = obj.spec
    path = "spec"
    _driver_name(errs, spec.driver, _child(path, "driver"))
    pool_path = _child(path, "pool")
    _pool_name(errs, spec.pool.name, _child(pool_path, "name"))
    if spec.pool.resource_slice_count <= 0:
        errs.invalid(
            _child(pool_path, "resourceSliceCount"),
            spec.pool.resource_slice_count,
            "must be greater than zero",
        )
    if spec.pool.generation < 0:
        errs.invalid(
            _child(pool_path, "generation"),
            spec.pool.generation,
            "must be greater than or equal to zero",
        )
    set_fields: list[str] = []
    if spec.node_name is not None:
        if spec.node_name:
            set_fields.append("`nodeName`")
            _node_name(errs, spec.node_name, _child(path, "nodeName"))
        else:
            errs.invalid(
                _child(path, "nodeName"), "", "must be either unset or set to a non-empty string"
            )
    if spec.node_selector is not None:
        set_fields.append("`nodeSelector`")
        _node_selector(errs, spec.node_selector, _child(path, "nodeSelector"))
        if len(spec.node_selector.node_selector_terms) != 1:
            errs.invalid(
                _child(_child(path, "nodeSelector"), "nodeSelectorTerms"),
                len(spec.node_selector.node_selector_terms),
                "must have exactly one node selector term",
            )
    for name, value, alias in (
        ("allNodes", spec.all_nodes, "`allNodes`"),
        ("perDeviceNodeSelection", spec.per_device_node_selection, "`perDeviceNodeSelection`"),
    ):
        if value is None:
            continue
        if value:
            set_fields.append(alias)
        else:
            errs.invalid(_child(path, name), False, "must be either unset or set to true")
    message = (
        "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is "
        "required"
    )
    if not set_fields:
        errs.required(path, message)
    elif len(set_fields) > 1:
        errs.invalid(
            path, "{" + ", ".join(set_fields) + "}", f"{message}, but multiple fields are set"
        )
    if spec.shared_counters and spec.devices:
        errs.invalid(path, "", "only one of `sharedCounters` or `devices` is allowed")
    advanced = any(
        d.taints
        or d.consumes_counters
        or any(
            a.bools is not None
            or a.ints is not None
            or a.strings is not None
            or a.versions is not None
            for a in d.attributes.values()
        )
        for d in spec.devices
    )
    max_devices = SLICE_MAX_DEVICES_WITH_ADVANCED_FEATURES if advanced else SLICE_MAX_DEVICES
    per_device = bool(spec.per_device_node_selection)
    _check_set(
        errs,
        spec.devices,
        max_devices,
        lambda d, p: _device(errs, d, p, per_device),
        lambda d: d.name,
        _child(path, "devices"),
    )
    _check_set(
        errs,
        spec.shared_counters,
        SLICE_MAX_COUNTER_SETS,
        lambda c, p: _counter_set(errs, c, p),
        lambda c: c.name,
        _child(path, "sharedCounters"),
    )


# --------------------------------------------------------------------------- DeviceClass


def _device_class(errs: _Errors, obj: DeviceClass) -> None:
    _object_meta(errs, obj.metadata, namespaced=False, name_check="subdomain")
    spec = obj.spec
    _selectors(errs, spec.selectors, "spec.selectors")
    _check_slice(
        errs, spec.config, CONFIG_MAX, lambda c, p: _opaque(errs, c.opaque, p), "spec.config"
    )
    name = spec.extended_resource_name
    if name is not None and not _is_extended_resource_name(name):
        errs.invalid("spec.extendedResourceName", name, "must be a valid extended resource name")


def _is_extended_resource_name(name: str) -> bool:
    """Return core/v1's IsExtendedResourceName: domain-prefixed, not kubernetes.io."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return not _qualified_name_msgs(f"requests.{name}")


# --------------------------------------------------------------------------- ResourceClaim


class _RequestNames:
    def __init__(self, claim: DeviceClaim) -> None:
        self.names: dict[str, set[str] | None] = {}
        for request in claim.requests:
            if not request.first_available:
                self.names[request.name] = None
            else:
                self.names[request.name] = {s.name for s in request.first_available}

    def has(self, ref: str) -> bool:
        parts = ref.split("/")
        if len(parts) > 2 or parts[0] not in self.names:
            return False
        if len(parts) == 1:
            return True
        subs = self.names[parts[0]]
        return subs is not None and parts[1] in subs


_REF_MESSAGE: Final = (
    "must be the name of a request in the claim or the name of a request and a subrequest "
    "separated by '/'"
)


def _request_ref(errs: _Errors, ref: str, path: str, names: _RequestNames) -> None:
    parts = ref.split("/")
    if len(parts) > 2:
        errs.invalid(path, ref, _REF_MESSAGE)
        return
    for part in parts:
        _dns_label(errs, part, path)
    if not names.has(ref):
        errs.invalid(path, ref, _REF_MESSAGE)


def _request_refs(errs: _Errors, refs: Sequence[str], path: str, names: _RequestNames) -> None:
    _check_set(
        errs, refs, REQUESTS_MAX, lambda r, p: _request_ref(errs, r, p, names), lambda r: r, path
    )


def _allocation_mode(errs: _Errors, mode: str, count: int, path: str) -> None:
    if mode == "All":
        if count != 0:
            errs.invalid(
                _child(path, "count"), count, "must not be specified when allocationMode is 'All'"
            )
    elif mode == "ExactCount":
        if count <= 0:
            errs.invalid(_child(path, "count"), count, "must be greater than zero")
    else:
        errs.not_supported(_child(path, "allocationMode"), mode, ["All", "ExactCount"])


def _class_name(errs: _Errors, name: str, path: str) -> None:
    if not name:
        errs.required(path)
    else:
        _dns_subdomain(errs, name, path)


def _exact(errs: _Errors, request: ExactDeviceRequest | DeviceSubRequest, path: str) -> None:
    _class_name(errs, request.device_class_name, _child(path, "deviceClassName"))
    _selectors(errs, request.selectors, _child(path, "selectors"))
    _allocation_mode(errs, request.allocation_mode, request.count, path)
    for i, toleration in enumerate(request.tolerations):
        _device_toleration(errs, toleration, _index(_child(path, "tolerations"), i))


def _subrequest(errs: _Errors, sub: DeviceSubRequest, path: str) -> None:
    _dns_label(errs, sub.name, _child(path, "name"))
    _exact(errs, sub, path)


def _request(errs: _Errors, request: DeviceRequest, path: str) -> None:
    _dns_label(errs, request.name, _child(path, "name"))
    has_first = bool(request.first_available)
    has_exactly = request.exactly is not None
    if not has_first and not has_exactly:
        errs.required(path, "exactly one of `exactly` or `firstAvailable` is required")
    elif has_first and has_exactly:
        errs.invalid(
            path,
            None,
            "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set",
        )
    elif has_first:
        _check_set(
            errs,
            request.first_available,
            SUBREQUESTS_MAX,
            lambda s, p: _subrequest(errs, s, p),
            lambda s: s.name,
            _child(path, "firstAvailable"),
        )
    elif request.exactly is not None:
        _exact(errs, request.exactly, _child(path, "exactly"))


def _device_claim(errs: _Errors, claim: DeviceClaim, path: str) -> None:
    names = _RequestNames(claim)
    _check_set(
        errs,
        claim.requests,
        REQUESTS_MAX,
        lambda r, p: _request(errs, r, p),
        lambda r: r.name,
        _child(path, "requests"),
    )

    def constraint(c: Any, p: str) -> None:
        _request_refs(errs, c.requests, _child(p, "requests"), names)
        if c.match_attribute is not None:
            _fully_qualified_name(errs, c.match_attribute, _child(p, "matchAttribute"))
        elif c.distinct_attribute is not None:
            _fully_qualified_name(errs, c.distinct_attribute, _child(p, "distinctAttribute"))
        else:
            errs.required(
                p,
                'exactly one of "matchAttribute" or "distinctAttribute" is required, but '
                "multiple fields are set",
            )

    _check_slice(errs, claim.constraints, CONSTRAINTS_MAX, constraint, _child(path, "constraints"))

    def config(c: Any, p: str) -> None:
        _request_refs(errs, c.requests, _child(p, "requests"), names)
        _opaque(errs, c.opaque, p)

    _check_slice(errs, claim.config, CONFIG_MAX, config, _child(path, "config"))


def _allocation(
    errs: _Errors, allocation: AllocationResult, path: str, names: _RequestNames
) -> None:
    devices = allocation.devices
    if devices is not None:
        devices_path = _child(path, "devices")

        def result(r: Any, p: str) -> None:
            _request_ref(errs, r.request, _child(p, "request"), names)
            _driver_name(errs, r.driver, _child(p, "driver"))
            _pool_name(errs, r.pool, _child(p, "pool"))
            if not r.device:
                errs.required(_child(p, "device"))
            else:
                _dns_label(errs, r.device, _child(p, "device"))
            _binding_parameters(errs, r.binding_conditions, r.binding_failure_conditions, p)
            for i, toleration in enumerate(r.tolerations):
                _device_toleration(errs, toleration, _index(_child(p, "tolerations"), i))
            if r.share_id is not None:
                _uid(errs, r.share_id, _child(p, "shareID"))

        _check_slice(errs, devices.results, RESULTS_MAX, result, _child(devices_path, "results"))

        def config(c: Any, p: str) -> None:
            if not c.source:
                errs.required(_child(p, "source"))
            elif c.source not in ("FromClaim", "FromClass"):
                errs.not_supported(_child(p, "source"), c.source, ["FromClaim", "FromClass"])
            _request_refs(errs, c.requests, _child(p, "requests"), names)
            _opaque(errs, c.opaque, p)

        _check_slice(errs, devices.config, 2 * CONFIG_MAX, config, _child(devices_path, "config"))
    if allocation.node_selector is not None:
        _node_selector(errs, allocation.node_selector, _child(path, "nodeSelector"))


def _claim_status(errs: _Errors, status: ResourceClaimStatus, names: _RequestNames) -> None:
    path = "status"

    def consumer(ref: Any, p: str) -> None:
        for name, value in (("resource", ref.resource), ("name", ref.name), ("uid", ref.uid)):
            if not value:
                errs.required(_child(p, name))

    _check_set(
        errs,
        status.reserved_for,
        RESERVED_FOR_MAX,
        consumer,
        lambda r: r.uid,
        _child(path, "reservedFor"),
    )
    if status.reserved_for and status.allocation is None:
        errs.forbidden(
            _child(path, "reservedFor"), "may not be specified when `allocated` is not set"
        )
    if status.allocation is not None:
        _allocation(errs, status.allocation, _child(path, "allocation"), names)
    allocated: set[tuple[str, str, str, str | None]] = set()
    if status.allocation is not None and status.allocation.devices is not None:
        allocated = {
            (r.driver, r.pool, r.device, r.share_id) for r in status.allocation.devices.results
        }

    def device_status(d: Any, p: str) -> None:
        _driver_name(errs, d.driver, _child(p, "driver"))
        _pool_name(errs, d.pool, _child(p, "pool"))
        if not d.device:
            errs.required(_child(p, "device"))
        else:
            _dns_label(errs, d.device, _child(p, "device"))
        if d.share_id is not None:
            _uid(errs, d.share_id, _child(p, "shareID"))
        if (d.driver, d.pool, d.device, d.share_id) not in allocated:
            shown = "/".join([d.driver, d.pool, d.device] + ([d.share_id] if d.share_id else []))
            errs.invalid(p, shown, "must be an allocated device in the claim")
        if len(d.conditions) > DEVICE_STATUS_MAX_CONDITIONS:
            errs.too_many(_child(p, "conditions"), len(d.conditions), DEVICE_STATUS_MAX_CONDITIONS)
        network = d.network_data
        if network is not None:
            net_path = _child(p, "networkData")
            if _utf8_len(network.interface_name) > NETWORK_INTERFACE_NAME_MAX_LENGTH:
                errs.too_long(_child(net_path, "interfaceName"), NETWORK_INTERFACE_NAME_MAX_LENGTH)
            if _utf8_len(network.hardware_address) > NETWORK_HARDWARE_ADDRESS_MAX_LENGTH:
                errs.too_long(
                    _child(net_path, "hardwareAddress"), NETWORK_HARDWARE_ADDRESS_MAX_LENGTH
                )
            if len(network.ips) > NETWORK_MAX_IPS:
                errs.too_many(_child(net_path, "ips"), len(network.ips), NETWORK_MAX_IPS)

    _check_set(
        errs,
        status.devices,
        -1,
        device_status,
        lambda d: (d.driver, d.pool, d.device, d.share_id),
        _child(path, "devices"),
    )


def _resource_claim(errs: _Errors, obj: ResourceClaim) -> None:
    _object_meta(errs, obj.metadata, namespaced=True, name_check="subdomain")
    _device_claim(errs, obj.spec.devices, "spec.devices")
    if obj.status is not None:
        _claim_status(errs, obj.status, _RequestNames(obj.spec.devices))


def _resource_claim_template(errs: _Errors, obj: ResourceClaimTemplate) -> None:
    _object_meta(errs, obj.metadata, namespaced=True, name_check="subdomain")
    inner = obj.spec.metadata
    for key in sorted(inner.labels):
        _label_name(errs, key, "spec.metadata.labels")
        _label_value(errs, inner.labels[key], "spec.metadata.labels")
    _device_claim(errs, obj.spec.spec.devices, "spec.spec.devices")


# --------------------------------------------------------------------------- DeviceTaintRule


def _device_taint_rule(errs: _Errors, obj: DeviceTaintRule) -> None:
    _object_meta(errs, obj.metadata, namespaced=False, name_check="subdomain")
    selector = obj.spec.device_selector
    if selector is not None:
        path = "spec.deviceSelector"
        if selector.driver is not None:
            _driver_name(errs, selector.driver, _child(path, "driver"))
        if selector.pool is not None:
            _pool_name(errs, selector.pool, _child(path, "pool"))
        if selector.device is not None:
            _dns_label(errs, selector.device, _child(path, "device"))
    _device_taint(errs, obj.spec.taint, "spec.taint")


_VALIDATORS: Final[dict[type[K8sModel], Callable[[_Errors, Any], None]]] = {
    ResourceSlice: _resource_slice,
    DeviceClass: _device_class,
    ResourceClaim: _resource_claim,
    ResourceClaimTemplate: _resource_claim_template,
    DeviceTaintRule: _device_taint_rule,
}


def validate_object(obj: K8sModel) -> list[FieldError]:
    """Return every problem the API server would report when creating ``obj``.

    Objects of kinds without rules here (Node, Pod, ...) give an empty list.
    """
    check = _VALIDATORS.get(type(obj))
    if check is None:
        return []
    errs = _Errors()
    check(errs, obj)
    return errs.items


def format_errors(errors: Iterable[FieldError]) -> str:
    """Join errors in Kubernetes' style: ``[a: ..., b: ...]`` for several, else the one."""
    items = [str(e) for e in errors]
    if len(items) == 1:
        return items[0]
    return "[" + ", ".join(items) + "]"
