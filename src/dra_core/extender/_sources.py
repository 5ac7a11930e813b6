"""Where the extender's cluster state comes from: manifests on disk, or a live API server.

Both are a :class:`StateSource`: ``start(cluster)`` loads the objects into a
:class:`~dra_core.cluster.Cluster` and keeps them current from a background thread until
``stop()``; ``ready`` says when the first full load is done; ``pod()`` and ``bind()`` serve
the extender's bind verb.

- :class:`ManifestSource` reads a folder of YAML/JSON files and polls their modification
  times; a file that changed is read again and only the objects whose content changed
  are applied (so the reservations that bind made stay), objects that went away are
  deleted. ``bind`` records the pod's node in memory: no file is written.
- :class:`KubeSource` lists and watches Nodes, Pods, ResourceSlices, DeviceClasses,
  ResourceClaims, ResourceClaimTemplates and DeviceTaintRules through the official
  ``kubernetes`` client's configuration and HTTP pool (kubeconfig or in-cluster), with
  a new list when a watch ends in ``410 Gone``; ``bind`` writes each claim (finalizer,
  then status with allocation and reservedFor) and the pod's Binding, as kube-scheduler's
  PreBind and Bind do.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dra_core.errors import ClusterError, DraCoreError, ManifestError
from dra_core.extender._log import log

if TYPE_CHECKING:
    from dra_core.api import Pod, ResourceClaim
    from dra_core.cluster import Cluster

__all__ = ["KubeSource", "ManifestSource", "StateSource"]


_CLUSTER_KINDS = (
    "Node",
    "ResourceSlice",
    "DeviceClass",
    "ResourceClaim",
    "ResourceClaimTemplate",
    "DeviceTaintRule",
)
_NAMESPACED = frozenset({"ResourceClaim", "ResourceClaimTemplate", "Pod"})
#: kube-scheduler adds this finalizer to a claim before it writes an allocation.
DELETE_PROTECTION = "resource.kubernetes.io/delete-protection"

Key = tuple[str, str, str]  # kind, namespace, name


def _key(kind: str, meta: Any) -> Key:
    namespace = (meta.get("namespace") or "default") if kind in _NAMESPACED else ""
    return kind, namespace, meta.get("name") or ""


class StateSource(ABC):
    """What feeds a Cluster: start, stop, readiness, and the pod and bind side of bind."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pods: dict[tuple[str, str], Pod] = {}
        self._pods_lock = threading.Lock()
        self.cluster: Cluster | None = None

    @property
    def ready(self) -> bool:
        """True once the first full load is in the cluster."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for :attr:`ready`; return it."""
        return self._ready.wait(timeout)

    @abstractmethod
    def start(self, cluster: Cluster) -> None:
        """Load the objects into ``cluster`` and follow changes until :meth:`stop`."""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following changes; wait up to ``timeout`` seconds for the threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def pod(self, namespace: str, name: str) -> Pod | None:
        """Return the pod the source knows of, or None."""
        with self._pods_lock:
            return self._pods.get((namespace, name))

    @abstractmethod
    def bind(self, pod: Pod, node: str, claims: Sequence[ResourceClaim]) -> None:
        """Write the claims (allocated and reserved for the pod) and bind the pod."""

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()


# --- manifests ---------------------------------------------------------------------------

_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestSource(StateSource):
    """Objects from the YAML/JSON files in a folder (and its subfolders), followed by polling.

    Args:
        directory: the folder.
        interval: seconds between two looks at the files' modification times.

    A file that does not load when it changes is logged and its previous objects are
    kept until it changes again; at :meth:`start` a bad file raises
    :class:`~dra_core.errors.ManifestError`. Kinds other than the Cluster's and Pods
    are skipped. Pods are kept for bind (not applied to the cluster).

    """

    def __init__(self, directory: str | Path, *, interval: float = 1.0) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.interval = interval
        self._stamps: dict[Path, tuple[int, int]] = {}
        # changed files waiting for a second look with the same stamp
        self._settling: dict[Path, tuple[int, int]] = {}
        # file -> key -> (content as JSON text, object as a dict)
        self._files: dict[Path, dict[Key, tuple[str, dict[str, Any]]]] = {}
        self._applied: dict[Key, str] = {}
        #: pods bound by bind: (namespace, name) -> node
        self.bound: dict[tuple[str, str], str] = {}

    def start(self, cluster: Cluster) -> None:
        """Load every file (raising on a bad one), then poll in a background thread."""
        if not self.directory.is_dir():
            raise ManifestError(f"{self.directory}: not a folder", source=str(self.directory))
        self.cluster = cluster
        self.poll(strict=True)
        self._ready.set()
        self._spawn(self._run, "dra-core-manifests")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # keep following changes whatever one look found
                log.exception("reading %s", self.directory)

    def _scan(self) -> dict[Path, tuple[int, int]]:
        stamps: dict[Path, tuple[int, int]] = {}
        for path in sorted(self.directory.rglob("*")):
            if path.suffix.lower() in _SUFFIXES and path.is_file():
                try:
                    stat = path.stat()
                except OSError:
                    continue  # removed between the listing and now
                stamps[path] = (stat.st_mtime_ns, stat.st_size)
        return stamps

    def poll(self, *, strict: bool = False) -> bool:
        """Look at the files once and apply what changed; return True if anything did.

        A changed file is read once its size and modification time are the same at two
        looks in a row, so that a file being written is not read half-way (``strict``,
        at start: read at once, and raise for a file that does not load).
        """
        assert self.cluster is not None, "start() first"
        stamps = self._scan()
        changed = [p for p, s in stamps.items() if self._stamps.get(p) != s]
        if not strict:
            settled = [p for p in changed if self._settling.get(p) == stamps[p]]
            self._settling = {p: stamps[p] for p in changed if p not in settled}
            changed = settled
        removed = [p for p in self._stamps if p not in stamps]
        if not changed and not removed:
            return False
        for path in removed:
            self._files.pop(path, None)
            self._stamps.pop(path, None)
        for path in changed:
            self._stamps[path] = stamps[path]
            try:
                self._files[path] = self._read(path)
            except (DraCoreError, OSError) as exc:
                if strict:
                    raise
                log.warning("%s: %s (keeping its previous objects)", path, exc)
        self._sync()
        return True

    def _read(self, path: Path) -> dict[Key, tuple[str, dict[str, Any]]]:
        from dra_core.io import load_report

        out: dict[Key, tuple[str, dict[str, Any]]] = {}
        for doc in load_report(path):
            if doc.skipped or doc.object is None:
                if not doc.ok:
                    raise ManifestError(
                        f"{doc.kind} {doc.name}: " + "; ".join(map(str, doc.errors)),
                        source=str(path),
                    )
                continue
            kind = type(doc.object).KIND or ""
            if kind not in _CLUSTER_KINDS and kind != "Pod":
                continue
            data = doc.object.model_dump(mode="json", by_alias=True, exclude_unset=True)
            data.setdefault("kind", kind)
            out[_key(kind, data.get("metadata") or {})] = (
                json.dumps(data, sort_keys=True),
                data,
            )
        return out

    def _sync(self) -> None:
        from dra_core.api import Pod

        assert self.cluster is not None
        wanted: dict[Key, tuple[str, dict[str, Any]]] = {}
        for objects in self._files.values():
            wanted.update(objects)
        pods = {(k[1], k[2]): Pod.model_validate(v[1]) for k, v in wanted.items() if k[0] == "Pod"}
        with self._pods_lock:
            self._pods = pods
        apply = [
            data
            for key, (text, data) in wanted.items()
            if key[0] != "Pod" and self._applied.get(key) != text
        ]
        gone = [key for key in self._applied if key not in wanted]
        if apply:
            self.cluster.apply(*apply)
        present = {(k[0], k[1], k[2]) for k in gone if self.cluster.get(k[0], k[2], k[1])}
        if present:
            self.cluster.delete(
                *[{"kind": k, "metadata": {"name": n, "namespace": ns}} for k, ns, n in present]
            )
        self._applied = {k: text for k, (text, _) in wanted.items() if k[0] != "Pod"}

    def bind(self, pod: Pod, node: str, claims: Sequence[ResourceClaim]) -> None:
        """Record the binding in memory (the files are not written)."""
        key = (pod.metadata.namespace or "default", pod.metadata.name)
        self.bound[key] = node
        with self._pods_lock:
            self._pods[key] = pod.model_copy(
                update={"spec": pod.spec.model_copy(update={"node_name": node})}
            )


# --- a live API server -----------------------------------------------------------------------

#: kind -> (API path of the list, namespaced)
RESOURCES: dict[str, str] = {
    "Node": "/api/v1/nodes",
    "Pod": "/api/v1/pods",
    "ResourceSlice": "/apis/resource.k8s.io/v1/resourceslices",
    "DeviceClass": "/apis/resource.k8s.io/v1/deviceclasses",
    "ResourceClaim": "/apis/resource.k8s.io/v1/resourceclaims",
    "ResourceClaimTemplate": "/apis/resource.k8s.io/v1/resourceclaimtemplates",
    "DeviceTaintRule": "/apis/resource.k8s.io/v1alpha3/devicetaintrules",
}


class ApiError(ClusterError):
    """The API server answered with an error status (``status``, ``reason``)."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class _Gone(Exception):
    """A watch ended with 410 Gone: list again."""


class KubeSource(StateSource):
    """Objects listed and watched from an API server through the ``kubernetes`` client.

    Args:
        api_client: a ``kubernetes.client.ApiClient``; when None, one is made from
            ``kubeconfig`` (a path; ``None`` and not ``in_cluster``: the default
            kubeconfig) or from the in-cluster service account.
        kubeconfig, context, in_cluster: where the configuration comes from.
        resources: kind -> list path (defaults: :data:`RESOURCES`). A kind the server
            does not serve (404, e.g. DeviceTaintRule without its feature) is skipped.
        watch_timeout: seconds a watch asks the server to stay open before a new one.
        retry: seconds to wait after an error before listing again.

    """

    def __init__(
        self,
        api_client: Any = None,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool = False,
        resources: dict[str, str] | None = None,
        watch_timeout: int = 300,
        retry: float = 2.0,
    ) -> None:
        super().__init__()
        self.api_client = api_client
        self.kubeconfig = kubeconfig
        self.context = context
        self.in_cluster = in_cluster
        self.resources = dict(RESOURCES if resources is None else resources)
        self.watch_timeout = watch_timeout
        self.retry = retry
        self._listed: set[str] = set()
        self._listed_lock = threading.Lock()
        # kind -> key -> resourceVersion of what the cluster holds
        self._versions: dict[str, dict[Key, str]] = {kind: {} for kind in self.resources}
        self._responses: set[Any] = set()
        # one writer at a time: the version check and the apply go together
        self._write_lock = threading.RLock()
        #: how many times each kind was listed (a 410 Gone lists again)
        self.lists: dict[str, int] = dict.fromkeys(self.resources, 0)

    # --- the HTTP side ---------------------------------------------------------------

    def _client(self) -> Any:
        # The client's own errors (ConfigException, OSError, YAML errors) propagate as
        # they are; `dra-core extender` says them in one line.
        if self.api_client is None:
            from kubernetes import client, config

            if self.in_cluster:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
                self.api_client = client.ApiClient()
            else:
                self.api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                    config_file=self.kubeconfig, context=self.context
                )
        return self.api_client

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout: float | None = 30.0,
        stream: bool = False,
        content_type: str = "application/json",
    ) -> Any:
        import urllib3

        api = self._client()
        cfg = api.configuration
        headers = {"Accept": "application/json", "User-Agent": "dra-core-extender"}
        token = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix(
            "authorization"
        )
        if token:
            headers["Authorization"] = token
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        response = api.rest_client.pool_manager.request(
            method,
            cfg.host.rstrip("/") + path,
            body=data,
            headers=headers,
            preload_content=False,
            timeout=urllib3.Timeout(connect=10.0, read=timeout),
        )
        if response.status >= 300:
            text = response.read().decode("utf-8", "replace")
            response.release_conn()
            message, reason = text.strip(), ""
            try:
                status = json.loads(text)
                message = status.get("message") or message
                reason = status.get("reason") or ""
            except ValueError:
                pass
            raise ApiError(
                f"{method} {path}: {response.status} {message}",
                status=response.status,
                reason=reason,
            )
        if stream:
            return response
        text = response.read()
        response.release_conn()
        return json.loads(text) if text else None

    # --- list and watch --------------------------------------------------------------

    def start(self, cluster: Cluster) -> None:
        """List every kind once (in background threads), then watch each."""
        self.cluster = cluster
        self._client()
        for kind in self.resources:
            self._spawn(self._follow, f"dra-core-watch-{kind}", kind)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the watches (open streams are closed) and wait for the threads."""
        self._stop.set()
        for response in list(self._responses):
            try:
                response.shutdown() if hasattr(response, "shutdown") else None
                response.release_conn()
            except Exception:  # closing is best effort
                pass
        super().stop(timeout)

    def _follow(self, kind: str) -> None:
        path = self.resources[kind]
        while not self._stop.is_set():
            try:
                version = self._list(kind, path)
                while not self._stop.is_set():
                    version = self._watch(kind, path, version)
            except _Gone:
                log.info("%s: watch expired (410 Gone): listing again", kind)
                continue
            except ApiError as exc:
                if exc.status == 404:
                    log.warning("%s: not served by the API server: skipped", kind)
                    self._mark_listed(kind)
                    return
                log.warning("%s: %s", kind, exc)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning("%s: %s: %s", kind, type(exc).__name__, exc)
            self._stop.wait(self.retry)

    def _mark_listed(self, kind: str) -> None:
        with self._listed_lock:
            self._listed.add(kind)
            if self._listed >= set(self.resources):
                self._ready.set()

    def _list(self, kind: str, path: str) -> str:
        assert self.cluster is not None
        body = self._request("GET", path)
        self.lists[kind] += 1
        items = []
        for item in body.get("items") or []:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", body.get("apiVersion", "v1"))
            items.append(item)
        seen = {_key(kind, i.get("metadata") or {}) for i in items}
        versions = self._versions[kind]
        for item in items:
            self._put(kind, item)
        for key in [k for k in versions if k not in seen]:
            self._remove(kind, key)
        self._mark_listed(kind)
        resource_version: str = (body.get("metadata") or {}).get("resourceVersion", "")
        return resource_version

    def _watch(self, kind: str, path: str, version: str) -> str:
        from kubernetes.watch.watch import iter_resp_lines

        query = (
            f"?watch=true&allowWatchBookmarks=true&timeoutSeconds={self.watch_timeout}"
            f"&resourceVersion={version}"
        )
        response = self._request("GET", path + query, timeout=self.watch_timeout + 30, stream=True)
        self._responses.add(response)
        try:
            lines = iter_resp_lines(response)  # type: ignore[no-untyped-call]
            for line in _lines(lines, self._stop):
                if not line:
                    continue
                event = json.loads(line)
                kind_of = event.get("type")
                obj = event.get("object") or {}
                if kind_of == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone
                    raise ApiError(
                        f"watch {kind}: {obj.get('message', obj)}", status=obj.get("code", 0)
                    )
                version = (obj.get("metadata") or {}).get("resourceVersion", version)
                if kind_of == "BOOKMARK":
                    continue
                obj.setdefault("kind", kind)
                if kind_of in ("ADDED", "MODIFIED"):
                    self._put(kind, obj)
                elif kind_of == "DELETED":
                    self._remove(kind, _key(kind, obj.get("metadata") or {}))
        finally:
            self._responses.discard(response)
            response.release_conn()
        return version

    def _put(self, kind: str, obj: dict[str, Any]) -> None:
        assert self.cluster is not None
        meta = obj.get("metadata") or {}
        key = _key(kind, meta)
        version = str(meta.get("resourceVersion", ""))
        with self._write_lock:
            known = self._versions[kind].get(key)
            if known and version and _older(version, known):
                return  # an event from before a write of ours that the cluster has already
            self._apply(kind, key, obj, version)

    def _apply(self, kind: str, key: Key, obj: dict[str, Any], version: str) -> None:
        from dra_core.api import Pod

        assert self.cluster is not None
        try:
            if kind == "Pod":
                pod = Pod.model_validate(obj)
                with self._pods_lock:
                    self._pods[(key[1], key[2])] = pod
            else:
                self.cluster.apply(obj)
        except DraCoreError as exc:
            log.warning("%s %s/%s: %s (skipped)", kind, key[1], key[2], exc)
            return
        except ValueError as exc:
            log.warning("%s %s/%s: %s (skipped)", kind, key[1], key[2], exc)
            return
        self._versions[kind][key] = version

    def _remove(self, kind: str, key: Key) -> None:
        assert self.cluster is not None
        with self._write_lock:
            self._remove_locked(kind, key)

    def _remove_locked(self, kind: str, key: Key) -> None:
        assert self.cluster is not None
        self._versions[kind].pop(key, None)
        if kind == "Pod":
            with self._pods_lock:
                self._pods.pop((key[1], key[2]), None)
            return
        if self.cluster.get(kind, key[2], key[1]) is not None:
            self.cluster.delete(kind=kind, name=key[2], namespace=key[1])

    # --- bind ------------------------------------------------------------------------

    def bind(self, pod: Pod, node: str, claims: Sequence[ResourceClaim]) -> None:
        """Write each claim and bind the pod, as kube-scheduler's PreBind and Bind.

        For each claim: add the ``resource.kubernetes.io/delete-protection`` finalizer
        (an update of the claim), then write ``status`` (allocation and reservedFor).
        The claim for extended resources backed by DRA (KEP-5004) does not exist yet: it
        is created first (with the finalizer, under the name the extender gave it), and
        the pod's ``status.extendedResourceClaimStatus`` is patched to name it. Then the
        pod's ``Binding`` is created. When a step fails, what was written is undone
        (best effort: the status writes, the created claim) and :class:`ApiError` is
        raised.
        """
        self._write(pod, claims, node)

    def write_claims(self, pod: Pod, claims: Sequence[ResourceClaim]) -> None:
        """Write the claims as :meth:`bind` does, without binding the pod.

        For devices with binding conditions (KEP-5007): the controller that makes them
        ready acts on the allocation; the pod is bound by a later bind.
        """
        self._write(pod, claims, None)

    def delete_claim(self, claim: ResourceClaim) -> None:
        """Delete a claim for extended resources (its finalizer first), best effort."""
        namespace = claim.metadata.namespace or "default"
        path = (
            f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims/{claim.metadata.name}"
        )
        self._delete_extended(path, namespace, claim.metadata.name)

    def _write(self, pod: Pod, claims: Sequence[ResourceClaim], node: str | None) -> None:
        from dra_core.api import dump
        from dra_core.cluster._extended import is_extended_resource_claim, request_mappings

        assert self.cluster is not None
        namespace = pod.metadata.namespace or "default"
        claims_path = f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims"
        written: list[dict[str, Any]] = []
        created: list[str] = []
        try:
            for claim in claims:
                data = dump(claim)
                data["apiVersion"] = "resource.k8s.io/v1"
                data["kind"] = "ResourceClaim"
                name = claim.metadata.name
                base = f"{claims_path}/{name}"
                try:
                    current = self._request("GET", base)
                except ApiError as exc:
                    if exc.status != 404 or not is_extended_resource_claim(claim):
                        raise
                    current = self._create_extended(claims_path, data)
                    created.append(name)
                finalizers = (current.get("metadata") or {}).get("finalizers") or []
                if DELETE_PROTECTION not in finalizers:
                    current.setdefault("metadata", {})["finalizers"] = [
                        *finalizers,
                        DELETE_PROTECTION,
                    ]
                    current = self._request("PUT", base, current)
                before = json.loads(json.dumps(current))
                current["status"] = data.get("status") or {}
                updated = self._request("PUT", base + "/status", current)
                if name not in created:
                    written.append(before)
                updated.setdefault("kind", "ResourceClaim")
                self._put("ResourceClaim", updated)
                if is_extended_resource_claim(claim) and claim.status and claim.status.allocation:
                    # kube-scheduler's patchPodExtendedResourceClaimStatus
                    status = {
                        "resourceClaimName": name,
                        "requestMappings": request_mappings(claim, pod),
                    }
                    self._request(
                        "PATCH",
                        f"/api/v1/namespaces/{namespace}/pods/{pod.metadata.name}/status",
                        {"status": {"extendedResourceClaimStatus": status}},
                        content_type="application/merge-patch+json",
                    )
            if node is None:
                return
            binding = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {
                    "name": pod.metadata.name,
                    "namespace": namespace,
                    "uid": pod.metadata.uid,
                },
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            }
            self._request(
                "POST", f"/api/v1/namespaces/{namespace}/pods/{pod.metadata.name}/binding", binding
            )
        except Exception:
            for before in written:
                name = before["metadata"]["name"]
                base = f"{claims_path}/{name}"
                try:
                    current = self._request("GET", base)
                    current["status"] = before.get("status") or {}
                    self._request("PUT", base + "/status", current)
                except Exception as undo:
                    log.warning("undoing the status of claim %s/%s: %s", namespace, name, undo)
            for name in created:
                self._delete_extended(f"{claims_path}/{name}", namespace, name)
            raise

    def _create_extended(self, claims_path: str, data: dict[str, Any]) -> dict[str, Any]:
        """Create the claim for extended resources (as kube-scheduler's PreBind does).

        Under the extender's name rather than from ``generateName``: the Cluster holds
        the reservation under that name, and the watch must bring back the same claim.
        """
        meta = dict(data["metadata"])
        for field in ("uid", "resourceVersion", "creationTimestamp"):
            meta.pop(field, None)
        meta["finalizers"] = [*meta.get("finalizers", []), DELETE_PROTECTION]
        body = {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": meta,
            "spec": data["spec"],
        }
        created: dict[str, Any] = self._request("POST", claims_path, body)
        return created

    def _delete_extended(self, path: str, namespace: str, name: str) -> None:
        """Delete a claim this bind created (its finalizer first), as Unreserve does."""
        try:
            current = self._request("GET", path)
            finalizers = (current.get("metadata") or {}).get("finalizers") or []
            if DELETE_PROTECTION in finalizers:
                current["metadata"]["finalizers"] = [
                    f for f in finalizers if f != DELETE_PROTECTION
                ]
                self._request("PUT", path, current)
            self._request("DELETE", path)
        except Exception as undo:
            log.warning("deleting the extended-resource claim %s/%s: %s", namespace, name, undo)


def _older(version: str, than: str) -> bool:
    # resourceVersions are opaque, but kube-scheduler's assume cache compares them as
    # integers too; when they are not integers, nothing is older.
    try:
        return int(version) < int(than)
    except ValueError:
        return False


def _lines(lines: Iterator[str], stop: threading.Event) -> Iterator[str]:
    for line in lines:
        if stop.is_set():
            return
        yield line
