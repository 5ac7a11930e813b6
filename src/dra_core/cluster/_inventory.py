"""An :class:`~dra_core.inventory.Inventory` that changes one slice at a time.

The allocator reads an inventory through ``pools_for_node`` (and its ``scratch``
cache). A :class:`ClusterInventory` answers those reads exactly as an inventory built
from scratch over the same slices would, but it is updated by :meth:`put` and
:meth:`drop`, each of which costs what the slice touches:

- the indexes (slices on a node, slices every node must look at, slices by pool) change
  by one entry;
- cached pool lists are forgotten only for the nodes that can see the changed pool: the
  nodes its slices name when the pool is node-local, every node when a slice of the pool
  is one that every node looks at (``allNodes``, a node selector, per-device node
  selection, shared counters);
- the allocator's per-node scratch cache is cleared (it is rebuilt on demand).

Order matters for error texts only (the first problem found in a pool), so slices keep
the order in which they were first put, and a replaced slice keeps its place: the same
order a from-scratch inventory gets from the cluster's object order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from dra_core.features import Features
from dra_core.inventory import DeviceEntry, Inventory, Pool, PoolID, SliceEntry, _slice_entry

if TYPE_CHECKING:
    from dra_core.api import Node, ResourceSlice

__all__ = ["ClusterInventory"]


def _looked_at_by_every_node(entry: SliceEntry) -> bool:
    # The same test Inventory._index uses to put a slice on the shared list.
    return not entry.node_name or bool(entry.counter_sets)


class ClusterInventory(Inventory):
    """An inventory kept up to date slice by slice (see the module docstring).

    Not thread-safe by itself: the :class:`~dra_core.cluster.Cluster` that owns it
    serialises every change and read.
    """

    def __init__(self, features: Features | None = None) -> None:
        self.features = features if features is not None else Features()
        self._entries: dict[str, SliceEntry] = {}
        # The base class's list of entries is not kept here (it would cost O(slices) per
        # change); slice_entries() and device_entries() read _entries instead.
        self.slices = []
        self._on_node = {}
        self._shared = []
        self._by_pool = {}
        self._pool_cache = {}
        self._pool_memo = {}
        # node name -> (labels, pools): pools_for_node's cache, by name so that one
        # node's entry can be forgotten without scanning.
        self._by_name: dict[str, tuple[tuple[tuple[str, str], ...], list[Pool]]] = {}
        self.scratch = {}

    # --- reading -------------------------------------------------------------------

    def slice_entries(self) -> list[SliceEntry]:
        """Return every slice entry, in the order the slices were first put."""
        return list(self._entries.values())

    def device_entries(self) -> Iterator[DeviceEntry]:
        """Every device of every slice, in slice order."""
        for entry in self._entries.values():
            yield from entry.devices

    def entry(self, name: str) -> SliceEntry | None:
        """Return the entry of the slice called ``name``, if any."""
        return self._entries.get(name)

    def pool_entries(self, pool: PoolID) -> list[SliceEntry]:
        """Every slice of ``pool`` (all generations)."""
        return list(self._by_pool.get(pool, ()))

    def pools(self) -> Iterable[PoolID]:
        """Every pool that has at least one slice."""
        return self._by_pool.keys()

    def pool_is_node_local(self, pool: PoolID) -> str | None:
        """Return the node that alone can see ``pool``'s devices, or None.

        A pool is node-local when every slice of it names the same node with
        ``nodeName``. Other nodes may still see its counter sets (a slice with shared
        counters is looked at by every node), but none of its devices.
        """
        entries = self._by_pool.get(pool)
        if not entries:
            return None
        name = entries[0].node_name
        if not name:
            return None
        for entry in entries:
            if entry.node_name != name:
                return None
        return name

    def pools_for_node(self, node: Node | None) -> list[Pool]:
        """Return the pools ``node`` can use, as :meth:`Inventory.pools_for_node` does."""
        name = node.metadata.name or "" if node is not None else ""
        labels = tuple(sorted((node.metadata.labels or {}).items())) if node is not None else ()
        hit = self._by_name.get(name)
        if hit is not None and hit[0] == labels:
            return hit[1]
        pools = self._gather(node)
        self._by_name[name] = (labels, pools)
        return pools

    # --- changing ------------------------------------------------------------------

    def put(self, slice_model: ResourceSlice) -> set[str] | None:
        """Add ``slice_model`` or replace the slice of the same name.

        Returns the names of the nodes whose pool lists changed, or None when every
        node's may have (a slice that every node looks at).
        """
        name = slice_model.metadata.name or ""
        entry = _slice_entry(slice_model, self.features.list_type_attributes)
        old = self._entries.get(name)
        if old is entry:
            return set()
        touched = self._touched(old, entry)
        if old is not None:
            self._unindex(old, replace_with=entry)
        else:
            self._index_new(entry)
        self._entries[name] = entry
        self._forget(touched)
        return touched

    def drop(self, name: str) -> set[str] | None:
        """Remove the slice called ``name`` (nothing when there is none).

        Returns what :meth:`put` returns.
        """
        old = self._entries.pop(name, None)
        if old is None:
            return set()
        touched = self._touched(old, None)
        self._unindex(old, replace_with=None)
        self._forget(touched)
        return touched

    def _touched(self, old: SliceEntry | None, new: SliceEntry | None) -> set[str] | None:
        nodes: set[str] = set()
        for entry in (old, new):
            if entry is None:
                continue
            for other in self._by_pool.get(entry.pool_id, ()):
                if _looked_at_by_every_node(other):
                    return None
                nodes.add(other.node_name)
            if _looked_at_by_every_node(entry):
                return None
            nodes.add(entry.node_name)
        return nodes

    def _index_new(self, entry: SliceEntry) -> None:
        if _looked_at_by_every_node(entry):
            self._shared.append(entry)
        else:
            self._on_node.setdefault(entry.node_name, []).append(entry)
        self._by_pool.setdefault(entry.pool_id, []).append(entry)

    def _unindex(self, old: SliceEntry, *, replace_with: SliceEntry | None) -> None:
        # A replacement takes the old entry's places where it goes to the same lists,
        # so the order stays the one of a from-scratch build.
        new = replace_with
        same_home = (
            new is not None
            and _looked_at_by_every_node(new) == _looked_at_by_every_node(old)
            and (new.node_name == old.node_name or _looked_at_by_every_node(old))
        )
        home = self._shared if _looked_at_by_every_node(old) else self._on_node[old.node_name]
        i = next(k for k, e in enumerate(home) if e is old)
        if same_home and new is not None:
            home[i] = new
        else:
            del home[i]
            if not home and home is not self._shared:
                del self._on_node[old.node_name]
            if new is not None:
                if _looked_at_by_every_node(new):
                    self._shared.append(new)
                else:
                    self._on_node.setdefault(new.node_name, []).append(new)
        pool = self._by_pool[old.pool_id]
        j = next(k for k, e in enumerate(pool) if e is old)
        if new is not None and new.pool_id == old.pool_id:
            pool[j] = new
            return
        del pool[j]
        if not pool:
            del self._by_pool[old.pool_id]
        if new is not None:
            self._by_pool.setdefault(new.pool_id, []).append(new)

    def _forget(self, nodes: set[str] | None) -> None:
        # The scratch cache holds per-node device tables keyed by the allocated
        # state's version, which a slice change does not move: clear it.
        self.scratch.clear()
        if nodes is None:
            self._by_name.clear()
            return
        for name in nodes:
            self._by_name.pop(name, None)

    def copy(self) -> ClusterInventory:
        """Return an independent copy that shares the (immutable) slice entries."""
        other = ClusterInventory(self.features)
        other._entries = dict(self._entries)
        other._on_node = {k: list(v) for k, v in self._on_node.items()}
        other._shared = list(self._shared)
        other._by_pool = {k: list(v) for k, v in self._by_pool.items()}
        other._by_name = dict(self._by_name)
        return other
