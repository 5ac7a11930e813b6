"""Manifests in and out: YAML and JSON files, folders, ``kind: List``, dicts, client objects.

Reading::

    from dra_core.io import load
    objects = load("cluster/")                 # a folder, a file, YAML/JSON text, a dict,
    slices = [o for o in objects if isinstance(o, ResourceSlice)]   # or kubernetes objects

Every resource.k8s.io object is converted to v1 (from v1beta2, v1beta1 and v1alpha3), given
the API server's defaults (``defaults=False`` keeps it as written) and checked with the API
server's validation (``validate=False`` skips that). Node and Pod become models too. Other
kinds (Namespace, Deployment, a driver's own config kinds, ...) are skipped; :func:`load_report`
says which.

YAML is read with a YAML 1.2-style loader that remembers the text of plain scalars: a string
field gets the text as written (``0x10de``, ``010``, ``no``, ``1.10``), never a number or a
boolean made from it; ``true``/``false`` are booleans (in every YAML version) and a string
field rejects them, as the API server does. Numeric and boolean fields get what Kubernetes'
go-yaml v2 (YAML 1.1) gives them (``010`` is 8 in an integer field, ``yes`` is true in a
boolean field). See ``docs/api.md`` for the details.

Writing: :func:`dump_json` and :func:`dump_yaml` write objects in Kubernetes shape (camelCase,
only the fields that are set). One object gives one document; several give a ``kind: List``
for JSON and a multi-document stream for YAML.
"""

from __future__ import annotations

import copy
import json
import os
import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError

from dra_core.api import (
    DeviceClass,
    DeviceTaintRule,
    K8sModel,
    Node,
    Pod,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
    dump,
)
from dra_core.api._base import MAX_JSON_DEPTH, YamlBoolWord, YamlFloat, YamlInt
from dra_core.api._convert import GROUP, RESOURCE_KINDS, SERVED_VERSIONS, apply_defaults, to_v1
from dra_core.api._core import build_shared_validators
from dra_core.api._validation import validate_object
from dra_core.errors import ManifestError, ManifestValidationError
from dra_core.errors import _text as _context_text

__all__ = [
    "LoadedDocument",
    "dump_json",
    "dump_yaml",
    "load",
    "load_report",
    "parse_object",
    "parse_yaml",
    "unknown_fields",
]

_MODELS: Final[dict[str, type[K8sModel]]] = {
    "ResourceSlice": ResourceSlice,
    "DeviceClass": DeviceClass,
    "ResourceClaim": ResourceClaim,
    "ResourceClaimTemplate": ResourceClaimTemplate,
    "DeviceTaintRule": DeviceTaintRule,
    "Node": Node,
    "Pod": Pod,
}
_MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")

# ----------------------------------------------------------------------------------- YAML


# libyaml's parser when PyYAML has it (about 5 times faster), else the pure Python one; the
# implicit types and constructors below are ours either way.
_SafeLoaderBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoaderBase):  # type: ignore[valid-type,misc]
    """A safe loader with YAML 1.2-style implicit types that remembers the scalar text."""


_Loader.yaml_implicit_resolvers = {}


def _add_resolver(tag: str, pattern: str, first: str) -> None:
    _Loader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


# true/false are booleans in every YAML version (and in JSON): real booleans, so that generic
# consumers of parse_yaml see them as such; a string field rejects them, as kubectl's path does.
_add_resolver("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_add_resolver(
    "tag:dra-core:boolword",
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$",
    "yYnNoO",
)
_add_resolver("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN")
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), None)
_add_resolver(
    "tag:yaml.org,2002:int",
    r"^[-+]?(?:0|[1-9][0-9]*|0[0-7]+|0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+)$",
    "-+0123456789",
)
_add_resolver(
    "tag:yaml.org,2002:float",
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    "-+0123456789.",
)
_add_resolver("tag:yaml.org,2002:merge", r"^(?:<<)$", "<")


def _go_int(text: str) -> int:
    """Read an integer as go-yaml v2 does (``strconv.ParseInt(text, 0, 64)``)."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body.startswith(("0x", "0X")):
        return sign * int(body[2:], 16)
    if body.startswith(("0o", "0O")):
        return sign * int(body[2:], 8)
    if body.startswith(("0b", "0B")):
        return sign * int(body[2:], 2)
    if len(body) > 1 and body.startswith("0"):
        return sign * int(body[1:], 8)
    return sign * int(body)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int | str:
    text = str(loader.construct_scalar(node))
    try:
        value = _go_int(text)
    except ValueError:
        # More decimal digits than Python converts (4300). go-yaml v2 cannot read such a
        # number either (not an int64, uint64 or float64) and resolves the scalar as a string.
        return text
    if node.style:  # quoted: a tagged string such as !!int "5" (plain is None or "")
        return value
    return YamlInt(value, text)


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    lowered = text.lower()
    if lowered.endswith(".inf"):
        value = float("-inf") if lowered.startswith("-") else float("inf")
    elif lowered.endswith(".nan"):
        value = float("nan")
    else:
        value = float(text)
    return YamlFloat(value, text)


def _construct_boolword(loader: _Loader, node: yaml.ScalarNode) -> str:
    return YamlBoolWord(str(loader.construct_scalar(node)))


def _construct_bool(loader: _Loader, node: yaml.ScalarNode) -> bool:
    # true/false, or an explicit !!bool tag
    return str(loader.construct_scalar(node)).lower() in ("true", "yes", "on", "y")


def _key_text(key: Any) -> Any:
    # JSON object keys are strings: keep the text as written.
    if isinstance(key, (YamlInt, YamlFloat)):
        return key.text
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, YamlBoolWord):
        return str(key)
    return key


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = _key_text(loader.construct_object(key_node, deep=True))
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found an unsupported key of type {type(key).__name__}",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:dra-core:boolword", _construct_boolword)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
# Timestamps stay strings (the models keep RFC 3339 text).


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)


def parse_yaml(text: str, *, source: str = "<text>") -> list[Any]:
    """Parse a (multi-document) YAML or JSON text into plain values, one per document.

    Raises:
        ManifestError: with the line and column of a syntax error.

    """
    try:
        return list(yaml.load_all(text, Loader=_Loader))  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        document = text[: mark.index].count("\n---") if mark else None
        raise ManifestError(
            f"YAML error at {where}{problem}", source=source, document=document
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"YAML error: {exc}", source=source) from None
    except RecursionError:  # the pure-Python parser on deeply nested text
        raise ManifestError("YAML error: exceeded max depth", source=source) from None


def _parse_text(text: str, source: str) -> list[Any]:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return _parse_json_stream(text)
        except RecursionError:
            raise ManifestError("JSON error: exceeded max depth", source=source) from None
        except ValueError:
            pass  # not JSON after all (or broken JSON): let the YAML parser locate the problem
    return parse_yaml(text, source=source)


def _parse_json_stream(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return documents
        value, position = decoder.raw_decode(text, position)
        documents.append(value)


# ----------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LoadedDocument:
    """What became of one object found in a source (see :func:`load_report`).

    Attributes:
        source: the file, or ``<text>``, ``<dict>``, ``<object>``.
        document: the index of the document in the source, from 0.
        item: the index within a ``kind: List`` document, else None.
        api_version: the object's ``apiVersion`` as written.
        kind: the object's ``kind`` (empty when missing).
        name: ``namespace/name`` or ``name`` (empty when missing).
        object: the model, or None when skipped or invalid.
        errors: the problems that make the object invalid (empty when it loaded).
        warnings: unknown fields (dropped, as the API server drops them), conversions.
        skipped: why the document was not turned into a model (unknown kind), or None.

    """

    source: str
    document: int
    item: int | None
    api_version: str
    kind: str
    name: str
    object: K8sModel | None
    errors: tuple[ManifestError, ...] = ()
    warnings: tuple[str, ...] = ()
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        """True when the object loaded (or was skipped) without errors."""
        return not self.errors

    @property
    def where(self) -> str:
        """``source#document`` (plus ``[item]`` inside a List)."""
        item = f"[{self.item}]" if self.item is not None else ""
        return f"{self.source}#{self.document}{item}"


# ----------------------------------------------------------------------------------- sources


def _iter_sources(source: Any) -> Iterator[tuple[str, list[Any]]]:
    """Yield (source name, documents) for whatever ``source`` is."""
    if isinstance(source, BaseModel):
        yield "<object>", [dump(source)]
    elif isinstance(source, Mapping):
        yield "<dict>", [source]
    elif isinstance(source, Path):
        yield from _iter_path(source)
    elif isinstance(source, bytes):
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestError(f"cannot read the text: {exc}", source="<text>") from None
        yield "<text>", _parse_text(text, "<text>")
    elif isinstance(source, str):
        if "\n" not in source and os.path.exists(source):
            yield from _iter_path(Path(source))
        elif "\n" not in source and (
            source.endswith(_MANIFEST_SUFFIXES) or (":" not in source and "{" not in source)
        ):
            # one line that is not a YAML/JSON object: a path that does not exist
            raise ManifestError("no such file or directory", source=source)
        else:
            yield "<text>", _parse_text(source, "<text>")
    elif isinstance(source, (list, tuple)):
        for item in source:
            yield from _iter_sources(item)
    elif hasattr(source, "openapi_types") and hasattr(source, "attribute_map"):
        yield "<object>", [_from_client_object(source)]
    else:
        raise ManifestError(
            f"cannot load a {type(source).__name__}: give a path, YAML/JSON text, a dict, a "
            "dra_core model or a kubernetes client object",
            source="<object>",
        )


def _iter_path(path: Path) -> Iterator[tuple[str, list[Any]]]:
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _MANIFEST_SUFFIXES
        )
        for file in files:
            yield from _iter_path(file)
        return
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the file: {exc}", source=name) from None
    if path.suffix.lower() == ".json":
        try:
            documents = _parse_json_stream(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"JSON error at line {exc.lineno}, column {exc.colno}: {exc.msg}", source=name
            ) from None
        except RecursionError:
            raise ManifestError("JSON error: exceeded max depth", source=name) from None
        except ValueError as exc:  # a number with more digits than Python converts (4300)
            raise ManifestError(f"JSON error: {exc}", source=name) from None
        yield name, documents
        return
    yield name, parse_yaml(text, source=name)


def _from_client_object(obj: Any) -> dict[str, Any]:
    """Turn an object of the official ``kubernetes`` client into Kubernetes JSON."""
    try:
        from kubernetes.client import ApiClient
    except ImportError:  # pragma: no cover - only without the optional dependency
        raise ManifestError(
            "loading kubernetes client objects needs the 'kubernetes' package",
            source="<object>",
        ) from None
    data = ApiClient().sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
    if not isinstance(data, dict):
        raise ManifestError("the client object is not a Kubernetes object", source="<object>")
    return data


# ----------------------------------------------------------------------------------- loading


def load_report(
    source: Any, *, defaults: bool = True, validate: bool = True
) -> list[LoadedDocument]:
    """Load ``source`` and say, for every object in it, whether it loaded and why not.

    ``source`` is a path (file or folder), YAML/JSON text, a dict, a model, a kubernetes
    client object, or a list of those. This never raises for a bad object; it raises
    :class:`ManifestError` only for a source that cannot be read or parsed at all.
    """
    results: list[LoadedDocument] = []
    for name, documents in _iter_sources(source):
        for index, document in enumerate(documents):
            if document is None:
                continue  # an empty document ("---" at the end of a file)
            results.extend(_load_document(document, name, index, defaults, validate))
    return results


def load(source: Any, *, defaults: bool = True, validate: bool = True) -> list[K8sModel]:
    """Load every object of ``source`` that dra-core models, in order.

    See :func:`load_report` for the sources. Kinds that dra-core does not model are skipped.

    Raises:
        ManifestError: for the first invalid object (a :class:`ManifestValidationError`
            listing all its problems when it has several), or an unreadable source.

    """
    objects: list[K8sModel] = []
    for result in load_report(source, defaults=defaults, validate=validate):
        if result.errors:
            if len(result.errors) == 1:
                raise result.errors[0]
            raise ManifestValidationError(list(result.errors))
        if result.object is not None:
            objects.append(result.object)
    return objects


def parse_object(
    data: Mapping[str, Any],
    kind: str | type[K8sModel],
    *,
    defaults: bool = False,
    validate: bool = False,
    source: str = "<dict>",
) -> K8sModel:
    """Turn one object into a model of ``kind``, even when it has no ``apiVersion``/``kind``.

    This is for data that is known to be of one kind, such as the objects of a test case. By
    default the object is kept as written (no defaults, no API validation); an ``apiVersion``
    that it carries is still converted to v1.

    Raises:
        ManifestError: when the object does not fit the model (or, with ``validate``, would
            be rejected by the API server); several problems give a
            :class:`ManifestValidationError`.

    """
    model_class = _MODELS[kind] if isinstance(kind, str) else kind
    kind_name = model_class.KIND or model_class.__name__
    full = dict(data)
    full.setdefault("kind", kind_name)
    group = f"{model_class.API_GROUP}/v1" if model_class.API_GROUP else "v1"
    full.setdefault("apiVersion", group)
    result = _load_object(full, source, 0, None, defaults, validate)
    if result.errors:
        if len(result.errors) == 1:
            raise result.errors[0]
        raise ManifestValidationError(list(result.errors))
    if result.object is None:
        raise ManifestError(result.skipped or "not loaded", source=source, kind=kind_name)
    return result.object


def _name_of(data: Mapping[str, Any]) -> str:
    meta = data.get("metadata")
    if not isinstance(meta, Mapping):
        return ""
    name = meta.get("name") or meta.get("generateName") or ""
    namespace = meta.get("namespace") or ""
    # any JSON value can be here; a wrong type is reported at its field
    name, namespace = _context_text(name) or "", _context_text(namespace) or ""
    return f"{namespace}/{name}" if namespace and name else name


def _load_document(
    document: Any, source: str, index: int, defaults: bool, validate: bool
) -> list[LoadedDocument]:
    if not isinstance(document, Mapping):
        error = ManifestError(
            f"expected a Kubernetes object (a mapping), got {_json_type(document)}",
            source=source,
            document=index,
        )
        return [LoadedDocument(source, index, None, "", "", "", None, errors=(error,))]
    if document.get("kind") == "List" or (
        isinstance(document.get("kind"), str)
        and str(document.get("kind")).endswith("List")
        and isinstance(document.get("items"), list)
    ):
        items = document.get("items")
        if not isinstance(items, list):
            error = ManifestError(
                "a List needs `items`", source=source, document=index, kind="List", field="items"
            )
            return [LoadedDocument(source, index, None, "", "List", "", None, errors=(error,))]
        out: list[LoadedDocument] = []
        list_kind = str(document.get("kind"))
        for i, item in enumerate(items):
            if isinstance(item, Mapping) and list_kind != "List" and "kind" not in item:
                # typed lists (ResourceSliceList) may leave the item kind out
                item = {"kind": list_kind[: -len("List")], **item}
                if "apiVersion" in document and "apiVersion" not in item:
                    item = {"apiVersion": document["apiVersion"], **item}
            out.append(_load_object(item, source, index, i, defaults, validate))
        return out
    return [_load_object(document, source, index, None, defaults, validate)]


def _too_deep(data: Any) -> str | None:
    """Find where ``data`` nests deeper than ``MAX_JSON_DEPTH``: that path, else None.

    Iterative, so that it cannot itself run out of stack on the input it guards against.
    """
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, Mapping):
            items: Iterable[tuple[str, Any]] = (
                (f"{path}.{k}" if path else str(k), v) for k, v in value.items()
            )
        elif isinstance(value, (list, tuple)):
            items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            return path
        stack.extend((v, p, depth + 1) for p, v in items)
    return None


def _load_object(
    data: Any, source: str, index: int, item: int | None, defaults: bool, validate: bool
) -> LoadedDocument:
    prefix = f"items[{item}]." if item is not None else ""

    def error(
        reason: str, *, kind: str | None, name: str | None, path: str | None
    ) -> ManifestError:
        full = f"{prefix}{path}" if path else (prefix[:-1] or None)
        return ManifestError(
            reason, source=source, document=index, kind=kind or None, name=name or None, field=full
        )

    if not isinstance(data, Mapping):
        problem = error(
            f"expected a Kubernetes object (a mapping), got {_json_type(data)}",
            kind=None,
            name=None,
            path=None,
        )
        return LoadedDocument(source, index, item, "", "", "", None, errors=(problem,))
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    name = _name_of(data)
    api_version_text = api_version if isinstance(api_version, str) else ""
    kind_text = kind if isinstance(kind, str) else ""

    def make(
        model: K8sModel | None = None,
        errors: tuple[ManifestError, ...] = (),
        warnings: tuple[str, ...] = (),
        skipped: str | None = None,
    ) -> LoadedDocument:
        return LoadedDocument(
            source, index, item, api_version_text, kind_text, name, model, errors, warnings, skipped
        )

    if not kind_text:
        problem = error("Required value: kind is missing", kind=None, name=name, path="kind")
        return make(errors=(problem,))
    deep = _too_deep(data)
    if deep is not None:
        problem = error(
            f"Invalid value: nested more than {MAX_JSON_DEPTH} levels deep",
            kind=kind_text,
            name=name,
            path=deep,
        )
        return make(errors=(problem,))
    group, _, version = api_version_text.rpartition("/")
    if not api_version_text:
        problem = error(
            "Required value: apiVersion is missing", kind=kind_text, name=name, path="apiVersion"
        )
        return make(errors=(problem,))
    model_class = _MODELS.get(kind_text)
    is_resource = group == GROUP
    if is_resource and kind_text in RESOURCE_KINDS and version not in SERVED_VERSIONS:
        problem = error(
            f'no matches for kind "{kind_text}" in version "{api_version_text}": dra-core reads '
            f"resource.k8s.io {', '.join(SERVED_VERSIONS)}; older DRA versions (such as "
            "v1alpha2, classic DRA) cannot be converted",
            kind=kind_text,
            name=name,
            path="apiVersion",
        )
        return make(errors=(problem,))
    if (
        model_class is None
        or (is_resource != bool(model_class.API_GROUP))
        or (not is_resource and group not in ("", "v1") and api_version_text != "v1")
    ):
        reason = f"{api_version_text} {kind_text} is not used by dra-core"
        return make(skipped=reason)
    warnings: list[str] = []
    converted: dict[str, Any] = dict(data)
    if is_resource:
        converted = to_v1(converted)
        if version != "v1" and kind_text != "DeviceTaintRule":
            warnings.append(f"converted from {api_version_text} to {GROUP}/v1")
        if defaults:
            converted = apply_defaults(converted)
    warnings.extend(
        f"unknown field {prefix}{path!s} (ignored, as the API server drops it)"
        for path in unknown_fields(converted, model_class)
    )
    type_errors: list[tuple[str, str]] = []  # (field path, reason) of wrong types
    candidate: Any = converted
    model: K8sModel | None = None
    if not model_class.__pydantic_complete__:
        build_shared_validators()  # before the kind's own (see there)
    for _attempt in range(4):
        try:
            model = model_class.model_validate(candidate)
            break
        except ValidationError as exc:
            found = exc.errors()
            for e in found:
                path = _field_path(model_class, e["loc"])
                if not any(_related(path, known) for known, _ in type_errors):
                    type_errors.append((path, _pydantic_reason(e)))
            # Drop the bad values and try again, so that the API validation below can
            # still report every other problem of the object.
            candidate = _without(candidate, [tuple(e["loc"]) for e in found])
    problems = [error(reason, kind=kind_text, name=name, path=path) for path, reason in type_errors]
    if model is not None and validate:
        checked = model
        if is_resource and not defaults:
            # The API server validates the defaulted object; keep ours as written.
            try:
                checked = model_class.model_validate(apply_defaults(candidate))
            except ValidationError:
                checked = model
        bad_paths = [path for path, _ in type_errors]
        problems.extend(
            error(fe.reason, kind=kind_text, name=name, path=fe.field)
            for fe in validate_object(checked)
            if not any(_related(fe.field, bad) for bad in bad_paths)
        )
    if problems or model is None:
        return make(errors=tuple(problems), warnings=tuple(warnings))
    return make(model, warnings=tuple(warnings))


def _related(path: str, bad: str) -> bool:
    """Whether ``path`` is ``bad`` or encloses it (a follow-on of a dropped value)."""
    return bad == path or bad.startswith((f"{path}.", f"{path}["))


def _step(parent: Any, key: Any) -> Any:
    if isinstance(parent, Mapping):
        return parent.get(key)
    if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
        return parent[key]
    return None


def _without(data: Any, locations: list[tuple[Any, ...]]) -> Any:
    """Return a copy of ``data`` without the values at the given pydantic locations."""
    out = copy.deepcopy(data)
    for loc in locations:
        parent: Any = out
        keys = [k for k in loc if isinstance(k, (str, int))]
        for key in keys[:-1]:
            parent = _step(parent, key)
        if not keys:
            continue
        last = keys[-1]
        if isinstance(parent, dict) and last in parent:
            del parent[last]
        elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            parent[last] = None
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _shown(value: Any) -> str:
    """``value`` as JSON for a message (a placeholder for what JSON cannot show)."""
    try:
        return json.dumps(value, default=str)
    except ValueError:  # an integer with more digits than Python converts (4300)
        return f"<{_json_type(value)} too large to show>"


_EXPECTED: Final = {
    "string_type": "a string",
    "bool_type": "a boolean",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _pydantic_reason(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    value = error.get("input")
    if kind in _EXPECTED:
        shown = _shown(value) if not isinstance(value, (dict, list)) else None
        got = f"{_json_type(value)} {shown}" if shown is not None else _json_type(value)
        if isinstance(value, YamlBoolWord):
            got = f"a YAML boolean {value}"
        hint = ""
        if kind == "string_type" and isinstance(value, (bool, int, float)):
            hint = " (quote the value in YAML)"
        return f"Invalid value: expected {_EXPECTED[kind]}, got {got}{hint}"
    message = str(error.get("msg", "invalid value"))
    return f"Invalid value: {message.removeprefix('Value error, ')}"


# ----------------------------------------------------------------------------------- model paths


_UNWRAPPED: dict[Any, Any] = {}
_FIELDS: dict[type[BaseModel], dict[str, tuple[str, Any]]] = {}


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] from an annotation (cached)."""
    try:
        return _UNWRAPPED[annotation]
    except KeyError:
        result = _UNWRAPPED[annotation] = _unwrap_uncached(annotation)
        return result
    except TypeError:  # an unhashable annotation
        return _unwrap_uncached(annotation)


def _unwrap_uncached(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _field_by_key(model: type[BaseModel], key: str) -> tuple[str, Any] | None:
    fields = _FIELDS.get(model)
    if fields is None:
        fields = {}
        # Aliases first, so that a Python name never shadows another field's alias.
        for name, info in reversed(model.model_fields.items()):
            fields[name] = (info.alias or name, info.annotation)
        for name, info in reversed(model.model_fields.items()):
            fields[info.alias or name] = (info.alias or name, info.annotation)
        _FIELDS[model] = fields
    return fields.get(key)


def _field_path(model: type[BaseModel], loc: Sequence[Any]) -> str:
    """Render a pydantic error location as a Kubernetes field path (``a.b[0].c[key]``)."""
    path = ""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            found = _field_by_key(current, part)
            if found is None:
                path = f"{path}.{part}" if path else part
                current = Any
            else:
                alias, current = found
                path = f"{path}.{alias}" if path else alias
        elif origin is list and isinstance(part, int):
            path = f"{path}[{part}]"
            current = typing.get_args(current)[0]
        elif origin is dict:
            path = f"{path}[{part}]"
            current = typing.get_args(current)[1]
        elif isinstance(part, int):
            path = f"{path}[{part}]"
        # other parts (validator names, union tags) are not fields
    return path


def unknown_fields(data: Any, model: type[BaseModel], path: str = "") -> list[str]:
    """Return the paths of the keys in ``data`` that ``model`` does not know (sorted by path)."""
    found: list[str] = []
    _walk_unknown(data, model, path, found)
    return found


_SHAPES: dict[Any, tuple[str, Any]] = {}


def _shape(annotation: Any) -> tuple[str, Any]:
    """Classify an annotation for the unknown-field walk (cached): model, list, dict or leaf."""
    try:
        return _SHAPES[annotation]
    except KeyError:
        pass
    except TypeError:  # an unhashable annotation
        return ("leaf", None)
    bare = _unwrap(annotation)
    origin = typing.get_origin(bare)
    shape: tuple[str, Any]
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        shape = ("leaf", None) if bare.model_config.get("extra") == "allow" else ("model", bare)
    elif origin is list:
        shape = ("list", typing.get_args(bare)[0])
    elif origin is dict:
        shape = ("dict", typing.get_args(bare)[1])
    else:
        shape = ("leaf", None)
    _SHAPES[annotation] = shape
    return shape


def _walk_unknown(data: Any, annotation: Any, path: str, found: list[str]) -> None:
    kind, inner = _shape(annotation)
    if kind == "model":
        if not isinstance(data, Mapping):
            return
        for key, value in data.items():
            field_info = _field_by_key(inner, str(key))
            if field_info is None:
                found.append(f"{path}.{key}" if path else str(key))
            elif isinstance(value, (Mapping, list)):
                _walk_unknown(value, field_info[1], f"{path}.{key}" if path else str(key), found)
    elif kind == "list" and isinstance(data, list):
        for i, item in enumerate(data):
            if isinstance(item, (Mapping, list)):
                _walk_unknown(item, inner, f"{path}[{i}]", found)
    elif kind == "dict" and isinstance(data, Mapping):
        for key, item in data.items():
            if isinstance(item, (Mapping, list)):
                _walk_unknown(item, inner, f"{path}[{key}]", found)


# ----------------------------------------------------------------------------------- dumping


def _as_json(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return dump(obj)
    return obj


def _documents(objects: BaseModel | Iterable[BaseModel] | Mapping[str, Any]) -> list[Any]:
    if isinstance(objects, (BaseModel, Mapping)):
        return [_as_json(objects)]
    return [_as_json(o) for o in objects]


# A lone surrogate (U+D800 to U+DFFF on its own) can reach a model only from JSON ("\\ud800")
# or from Python. It is not a Unicode character: UTF-8 cannot encode it and YAML cannot hold
# it (readers reject the escape).
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def dump_json(objects: BaseModel | Iterable[BaseModel], *, indent: int | None = 2) -> str:
    """Write one object as a JSON document, or several as a ``v1`` ``List``.

    Non-ASCII characters are written as they are, except lone surrogates, which are written as
    JSON escapes: JSON can hold them that way, and the text stays encodable as UTF-8.
    """
    documents = _documents(objects)
    data = (
        documents[0]
        if len(documents) == 1 and not isinstance(objects, (list, tuple))
        else {"apiVersion": "v1", "kind": "List", "items": documents}
    )
    text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    # Outside strings JSON text is ASCII, so every surrogate here is inside a string.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _Dumper(yaml.SafeDumper):
    """A safe dumper whose strings always read back as the same strings.

    A string is quoted whenever a reader could take its plain form for something else, and
    written double-quoted (with escapes) whenever it holds a character that a reader changes
    inside plain or single-quoted text.
    """


# Quote a string whenever either reader would make something else of it unquoted: a YAML 1.1
# reader (kubectl's go-yaml v2; the SafeDumper's own resolvers: yes/no/on/off, 1_000, 0b1,
# 2001-12-14, =, <<, ...) or dra-core's YAML 1.2-style loader (1e3 and 0o7 are numbers to it,
# y and n are YAML 1.1 booleans for boolean fields). A plain scalar is only written when its
# text resolves to the string tag under both sets of resolvers.
for _first, _resolvers in _Loader.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        _Dumper.add_implicit_resolver(_tag, _regexp, None if _first is None else [_first])

# Characters that a reader changes, or rejects, inside plain and single-quoted scalars:
# C0 controls other than the line feed (tab and CR included), DEL, the C1 controls (NEL
# U+0085 is a line break to YAML 1.1 readers and folds into a space), the line and paragraph
# separators U+2028 and U+2029, the byte order mark U+FEFF (a reader drops it), and the
# non-characters U+FFFE and U+FFFF. A double-quoted scalar writes each of them as an escape
# (\x85 as \N, U+2028 as \L, ...) that every reader turns back into the same character.
_NEEDS_ESCAPE: Final = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


class _UnwritableString(ValueError):
    """A string that YAML cannot hold (a lone surrogate); located by :func:`dump_yaml`."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    text = str(value)
    if _SURROGATE.search(text):
        raise _UnwritableString(text)
    style = '"' if _NEEDS_ESCAPE.search(text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(YamlBoolWord, _represent_str)
_Dumper.add_multi_representer(
    YamlInt,
    lambda d, v: d.represent_int(int(v)),
)
_Dumper.add_multi_representer(
    YamlFloat,
    lambda d, v: d.represent_float(float(v)),
)


def _find_surrogate(value: Any, path: str) -> tuple[str, str] | None:
    """Find the first string (key or value) with a lone surrogate: its field path and text."""
    if isinstance(value, str):
        return (path, value) if _SURROGATE.search(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                return child, key
            found = _find_surrogate(item, child)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _find_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def dump_yaml(objects: BaseModel | Iterable[BaseModel]) -> str:
    """Write objects as a multi-document YAML stream in Kubernetes shape.

    Every string reads back as the same string: strings that a YAML 1.1 or 1.2 reader would
    take for a number, boolean, null, timestamp or merge key are quoted, and strings with
    control characters, NEL, U+2028, U+2029 or a byte order mark are double-quoted with escapes.

    Raises:
        ManifestError: when a string holds a lone surrogate (U+D800 to U+DFFF), which is not a
            Unicode character and cannot be written as YAML (:func:`dump_json` can write it).

    """
    documents = _documents(objects)
    try:
        return yaml.dump_all(
            documents,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            explicit_start=len(documents) > 1,
        )
    except _UnwritableString:
        for index, document in enumerate(documents):
            found = _find_surrogate(document, "")
            if found is None:
                continue
            path, text = found
            kind = document.get("kind") if isinstance(document, Mapping) else None
            name = _name_of(document) if isinstance(document, Mapping) else ""
            char = _SURROGATE.search(text)
            assert char is not None  # found by _find_surrogate
            raise ManifestError(
                f"Invalid value: {json.dumps(text)}: a lone surrogate "
                f"(U+{ord(char.group()):04X}) is not a Unicode character and cannot be written "
                "as YAML (dump_json can write it)",
                source="<dump_yaml>",
                document=index,
                kind=kind if isinstance(kind, str) else None,
                name=name or None,
                field=path or None,
            ) from None
        raise  # pragma: no cover - the walk finds every string the dumper sees
