"""The backtracking search engine, in Kubernetes order.

It walks the :class:`~dra_core.allocator.problem.Problem` the way Kubernetes'
``allocateOne`` walks pools: claims in order, requests in order, ``firstAvailable``
subrequests in order, and for each request the candidates in Kubernetes order,
trying *combinations* (a request's devices are chosen in increasing candidate
position), never permutations. The first complete solution is the answer, so the
devices chosen are the ones Kubernetes chooses.

Pruning (each rule keeps the first solution unchanged):

- *Counting before searching*: when some request cannot get enough candidates
  even with nothing else chosen (fewer candidates than its count, an ``All``
  request with no device or an unusable one), no solution exists; when nothing on
  the way can raise (no poisoned candidate, no ``All`` request under a
  constraint), Kubernetes would also end with "does not fit" after searching, so
  the search is skipped.
- *Not enough left*: when fewer candidates remain after position ``i`` than devices
  are still needed, the request cannot be completed from here; Kubernetes would
  try them and fail. Only applied when no poisoned candidate remains (reaching one
  must raise its error, as Kubernetes does).
- *The 32-devices-per-claim limit*: as in Kubernetes, running over it aborts the
  current claim's branch early, and for ``firstAvailable`` requests moves on to
  the next subrequest, which may need fewer devices.
- *In order, without backtracking*: one claim without constraints whose ``ExactCount``
  requests share one candidate list, over devices that are neither shareable nor
  consume counters, is answered by taking candidates in order: that is the walk's
  first solution, and its poisoned candidates raise at the same point (see
  :func:`_in_order`; the tests compare it with the walk).

Bookkeeping pairs: every successful ``_take`` returns an undo function, and every
undo is called exactly once when the branch is abandoned.

A deadline, a cancellation flag and an effort budget (``max_steps``) are checked
every few steps; they raise :class:`~dra_core.errors.AllocationTimeout`,
:class:`~dra_core.errors.AllocationCancelled` or :class:`SearchBudgetExceeded`,
never "does not fit".
"""

from __future__ import annotations

import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Protocol

from dra_core.allocator.problem import (
    AttributeValue,
    Candidate,
    Choice,
    Problem,
    RequestInfo,
    Solution,
)
from dra_core.errors import (
    AllocationAborted,
    AllocationCancelled,
    AllocationInputError,
    AllocationTimeout,
)

__all__ = ["CancelFlag", "SearchBudgetExceeded", "check_abort", "search"]

# How many steps pass between two looks at the clock and the cancellation flag.
_CHECK_EVERY = 64


class CancelFlag(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool:
        """Return true once the caller wants the allocation to stop."""
        ...


def check_abort(
    deadline: float | None, timeout: float | None, cancel: CancelFlag | Callable[[], bool] | None
) -> None:
    """Raise when the deadline has passed or the caller cancelled.

    Raises:
        AllocationTimeout: ``time.monotonic()`` reached ``deadline``.
        AllocationCancelled: ``cancel.is_set()`` (or ``cancel()``) is true.

    """
    if deadline is not None and time.monotonic() >= deadline:
        raise AllocationTimeout(f"allocation did not finish within {timeout}s", timeout=timeout)
    if cancel is not None:
        stopped = cancel.is_set() if hasattr(cancel, "is_set") else cancel()
        if stopped:
            raise AllocationCancelled("allocation was cancelled")


class SearchBudgetExceeded(AllocationAborted):
    """The search used up its effort budget (``max_steps``) without an answer.

    An ``auto`` engine catches this and hands the problem to a complete engine.

    Attributes:
        steps: the number of steps taken.

    """

    def __init__(self, message: str, *, steps: int) -> None:
        super().__init__(message)
        self.steps = steps


class _MaxSizeExceeded(Exception):
    """Internal: the 32-devices-per-claim limit cut the branch (Kubernetes' sentinel)."""


class _Search:
    def __init__(
        self,
        problem: Problem,
        *,
        deadline: float | None,
        timeout: float | None,
        cancel: CancelFlag | Callable[[], bool] | None,
        max_steps: int | None,
    ) -> None:
        self.problem = problem
        self.claims = problem.claims
        self.devices = problem.devices
        self.deadline = deadline
        self.timeout = timeout
        self.cancel = cancel
        self.max_steps = max_steps
        # _tick's budget (no budget: never reached) and whether it looks at the clock.
        self.step_limit = max_steps if max_steps is not None else sys.maxsize
        self.watched = deadline is not None or cancel is not None
        self.steps = 0
        self.limit = problem.max_devices_per_claim
        # allocating: device index -> claims holding it (non-shareable devices).
        self.holders: dict[int, set[int]] = {}
        # shares chosen in this call, and what they consume, per device index.
        self.shares: dict[int, int] = {}
        self.share_used: dict[int, dict[str, Fraction]] = {}
        # counters consumed by the devices chosen in this call, per pool, and what
        # each pool has (read from the problem when a device first consumes counters).
        self.counter_used: dict[Any, dict[tuple[str, str], Fraction]] = {}
        self.counter_avail: dict[Any, dict[tuple[str, str], Fraction]] = {}
        self.left: dict[int, dict[str, Fraction]] = {}
        self.results: list[list[Choice]] = [[] for _ in self.claims]
        self.chosen: list[list[list[AttributeValue]]] = [
            [[] for _ in claim.constraints] for claim in self.claims
        ]
        self.selected: dict[tuple[int, int], int] = {}

    # --- limits ------------------------------------------------------------------

    def _tick(self) -> None:
        self.steps += 1
        if self.steps > self.step_limit:
            raise SearchBudgetExceeded(
                f"search stopped after {self.max_steps} steps without an answer",
                steps=self.steps,
            )
        if self.watched and not self.steps % _CHECK_EVERY:
            self._check_abort()

    def _check_abort(self) -> None:
        check_abort(self.deadline, self.timeout, self.cancel)

    def _counters_available(self, pool: Any) -> dict[tuple[str, str], Fraction]:
        avail = self.counter_avail.get(pool)
        if avail is None:
            counters = self.problem.counters
            values_of = getattr(counters, "values_of", None)
            if values_of is not None:
                avail = values_of(pool)
            else:
                avail = {k: q.value for k, q in counters.get(pool, {}).items()}
            self.counter_avail[pool] = avail
        return avail

    # --- quick infeasibility ------------------------------------------------------------

    def hopeless(self) -> bool:
        """Return true when counting alone shows that no solution exists.

        Counting a request evaluates its devices only until it has enough
        candidates; the rest stay unevaluated unless some request falls short, when
        every device must be checked for poison.
        """
        claims = self.claims
        # An All request under a constraint can raise "cannot add device" when the
        # walk reaches it; answering "does not fit" early would hide that error.
        for claim in claims:
            for slot in claim.requests:
                for alt in slot.alternatives:
                    if alt.all_devices and alt.constraints:
                        return False
        for claim in claims:
            for slot in claim.requests:
                for alt in slot.alternatives:
                    if alt.all_devices:
                        candidates = alt.candidates
                        if candidates and all(c.usable for c in candidates):
                            break
                    elif alt.reach(alt.count):
                        break
                else:
                    return not self.problem.has_poison
        return False

    # --- the walk ----------------------------------------------------------------------

    def run(self) -> Solution | None:
        if self.watched:
            self._check_abort()
        if self.hopeless():
            return None
        # The walk recurses about four frames per chosen device and request: raise
        # Python's limit when a problem could need more. The limit is only ever raised
        # (never restored), so concurrent searches cannot lower it under each other's
        # feet.
        limit = sys.getrecursionlimit()
        slots = sum(len(claim.requests) for claim in self.claims)
        if 200 + 4 * (self.limit + 2) * slots > limit:
            needed = 200 + 4 * sum(
                min(max((a.count for a in slot.alternatives), default=0), self.limit) + 2
                for claim in self.claims
                for slot in claim.requests
            )
            if needed > limit:
                sys.setrecursionlimit(needed)
        try:
            found = self._one(0, 0, None, False, 0, 0)
        except _MaxSizeExceeded:
            found = False
        if not found:
            return None
        return Solution(
            choices=tuple(tuple(r) for r in self.results),
            selected=dict(self.selected),
        )

    def _one(self, c: int, r: int, sub: int | None, in_sub: bool, k: int, start: int) -> bool:
        # _tick(), inline: this runs once per step.
        steps = self.steps = self.steps + 1
        if steps > self.step_limit or (self.watched and not steps % _CHECK_EVERY):
            self.steps -= 1
            self._tick()
        claims = self.claims
        if c >= len(claims):
            return True
        claim = claims[c]
        if r >= len(claim.requests):
            try:
                return self._one(c + 1, 0, None, False, 0, 0)
            except _MaxSizeExceeded:
                # Not fatal: another choice for an earlier claim may let this one
                # use a subrequest that needs fewer devices.
                return False
        slot = claim.requests[r]
        if slot.first_available and not in_sub:
            all_exceeded = True
            for s in range(len(slot.alternatives)):
                try:
                    ok = self._one(c, r, s, True, 0, 0)
                except _MaxSizeExceeded:
                    continue
                all_exceeded = False
                if ok:
                    self.selected[(c, r)] = s
                    return True
            if all_exceeded:
                raise _MaxSizeExceeded
            return False

        req = slot.alternatives[sub or 0]
        if req.all_devices and not req.candidates:
            return False  # All needs at least one device
        if k >= req.count:
            return self._one(c, r + 1, None, False, 0, 0)
        if len(self.results[c]) + req.count - k > self.limit:
            raise _MaxSizeExceeded

        if req.all_devices:
            cand = req.candidates[k]
            if not cand.usable:
                return False
            undo = self._take(c, req, cand, must=True)
            if undo is None:
                return False
            try:
                done = self._one(c, r, sub, in_sub, k + 1, 0)
            except BaseException:
                undo()
                raise
            if not done:
                undo()
            return done

        admissible = self._admissible(c, req) if req.constraints else None
        if admissible is not None:
            # A matchAttribute constraint's value is fixed: only the devices with that
            # value can pass _take, so the others are skipped (in the same order; no
            # selector of the request can fail on them, see RequestInfo.admissible).
            # ``start`` < 0 is a device bound (-start - 1), passed between levels here.
            if start < 0:
                bound = -start - 1
            elif start > 0:
                bound = req.candidate(start - 1).device + 1
            else:
                bound = 0
            for j in range(bisect_left(admissible, bound), len(admissible)):
                d = admissible[j]
                cand_at = req.candidate_at(d)
                if cand_at is not None and self._try(c, r, sub, in_sub, k, req, cand_at, -(d + 2)):
                    return True
            return False

        # Candidates are evaluated as the walk reaches them (Kubernetes evaluates
        # selectors lazily too): reach(m) evaluates devices only until the m-th
        # candidate is known.
        need = req.count - k
        # A device bound (start < 0) is only ever passed between levels of the index
        # above: once a matchAttribute value is fixed it stays fixed for the request.
        assert start >= 0
        i = start - 1
        while True:
            i += 1
            # When fewer than need candidates are left from i on, every device has
            # been evaluated: stop unless a poisoned candidate must still be reached.
            if not req.reach(i + need) and (not req.reach(i + 1) or i > req.last_poison()):
                break
            if self._try(c, r, sub, in_sub, k, req, req.candidate(i), i + 1):
                return True
        return False

    def _try(
        self,
        c: int,
        r: int,
        sub: int | None,
        in_sub: bool,
        k: int,
        req: RequestInfo,
        cand: Candidate,
        start: int,
    ) -> bool:
        """Choose ``cand`` as device ``k`` of the request and walk on; undo on failure."""
        d = cand.device
        holders = self.holders.get(d)
        if holders and (not req.admin_access or c in holders):
            return False
        if cand.error is not None:
            raise cand.error
        if self.devices[d].shareable and not self._capacity_fits(d, cand):
            return False
        undo = self._take(c, req, cand, must=False)
        if undo is None:
            return False
        try:
            done = self._one(c, r, sub, in_sub, k + 1, start)
        except BaseException:
            undo()
            raise
        if not done:
            undo()
        return done

    def _admissible(self, c: int, req: RequestInfo) -> Sequence[int] | None:
        """Return the fewest devices a fixed matchAttribute value of claim ``c`` admits."""
        claim = self.claims[c]
        chosen = self.chosen[c]
        best: Sequence[int] | None = None
        for k in req.constraints:
            if not chosen[k]:
                continue
            found = req.admissible(claim.constraints[k], chosen[k])
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best

    # --- one device ----------------------------------------------------------------------

    def _capacity_left(self, d: int) -> dict[str, Fraction]:
        left = self.left.get(d)
        if left is None:
            left = {k: q.value for k, q in self.devices[d].capacity_left.items()}
            self.left[d] = left
        return left

    def _capacity_fits(self, d: int, cand: Candidate) -> bool:
        if not cand.demand:
            return True
        left = self._capacity_left(d)
        used = self.share_used.get(d)
        for name, amount in cand.demand.items():
            total = amount.value + (used.get(name, 0) if used else 0)
            if total > left.get(name, 0):
                return False
        return True

    def _take(
        self, c: int, req: RequestInfo, cand: Candidate, *, must: bool
    ) -> Callable[[], None] | None:
        """Choose ``cand`` for ``req`` if the rules allow it; return its undo."""
        d = cand.device
        info = self.devices[d]
        shareable = info.shareable
        holders = self.holders.get(d)
        if holders:
            if req.admin_access:
                if not shareable and c in holders:
                    return None
            else:
                return None

        # Counters: a shareable device pays once, and not at all when already shared.
        pay_counters = bool(info.consumes) and not info.counters_prepaid
        if pay_counters and shareable and self.shares.get(d, 0) > 0:
            pay_counters = False
        if pay_counters:
            avail = self._counters_available(info.pool)
            used = self.counter_used.setdefault(info.pool, {})
            need = info.need
            for key, total in need:
                if used.get(key, 0) + total > avail.get(key, 0):
                    return None

        # Constraints of the claim that cover this request.
        claim = self.claims[c]
        chosen = self.chosen[c]
        for k in req.constraints:
            con = claim.constraints[k]
            if not con.admits(chosen[k], con.value(info)):
                if must:
                    raise AllocationInputError(
                        f"claim {claim.ref}, request {req.subrequest_name or req.request_name}: "
                        f"cannot add device {info.id} because a claim constraint would not be "
                        "satisfied",
                        claim=claim.ref,
                        request=req.name,
                        device=str(info.id),
                    )
                return None

        if shareable and not self._capacity_fits(d, cand):
            return None

        # Commit.
        if pay_counters:
            for key, total in need:
                used[key] = used.get(key, 0) + total
        for k in req.constraints:
            value = claim.constraints[k].value(info)
            assert value is not None
            chosen[k].append(value)
        if shareable:
            self.shares[d] = self.shares.get(d, 0) + 1
            if cand.demand:
                share_used = self.share_used.setdefault(d, {})
                for name, amount in cand.demand.items():
                    share_used[name] = share_used.get(name, 0) + amount.value
        else:
            self.holders.setdefault(d, set()).add(c)
        results = self.results[c]
        results.append(Choice(req.key, cand))

        def undo() -> None:
            results.pop()
            if shareable:
                self.shares[d] -= 1
                if cand.demand:
                    share_used = self.share_used[d]
                    for name, amount in cand.demand.items():
                        share_used[name] -= amount.value
            else:
                self.holders[d].discard(c)
            for k in req.constraints:
                chosen[k].pop()
            if pay_counters:
                for key, total in need:
                    used[key] -= total

        return undo


def search(
    problem: Problem,
    *,
    deadline: float | None = None,
    timeout: float | None = None,
    cancel: CancelFlag | Callable[[], bool] | None = None,
    max_steps: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Solution | None:
    """Find Kubernetes' answer for ``problem``: the first solution in Kubernetes order.

    Args:
        problem: the problem built by :func:`~dra_core.allocator.problem.build_problem`.
        deadline: a :func:`time.monotonic` value after which the search stops.
        timeout: the time limit the deadline came from (for the error message).
        cancel: a flag (``is_set()``) or callable; once true, the search stops.
        max_steps: an effort budget; exceeding it raises :class:`SearchBudgetExceeded`.
        options: engine options (``max_steps`` may also be given here).

    Returns:
        The solution, or None when the claims do not fit.

    Raises:
        AllocationTimeout, AllocationCancelled, SearchBudgetExceeded: stopped early.
        InputError: a poisoned candidate was reached, or an ``All`` request's device
            violates a claim constraint (Kubernetes' "cannot add device").

    """
    if options and max_steps is None:
        raw = options.get("max_steps")
        max_steps = int(raw) if raw is not None else None
    if deadline is not None or cancel is not None:
        check_abort(deadline, timeout, cancel)
    found = _in_order(problem)
    if found is not _UNDECIDED:
        return found  # type: ignore[return-value]
    return _Search(
        problem, deadline=deadline, timeout=timeout, cancel=cancel, max_steps=max_steps
    ).run()


_UNDECIDED = object()


def _in_order(problem: Problem) -> Solution | object | None:
    """Answer without backtracking where taking candidates in order is the walk.

    That is the case for one claim without constraints whose requests are all
    ``ExactCount`` requests without ``firstAvailable`` or admin access, over one and the
    same candidate list (the same class and selectors: one request, usually), while the
    devices taken are neither shareable nor consume counters (not already paid for).
    Then nothing but "one device once" ties the choices together, and with one list,
    the first combination in Kubernetes' order is its first ``sum(counts)`` candidates:
    request 1 takes the first ``count1``, request 2 the next ``count2``, and so on; when
    the list is too short, no other choice of the earlier requests leaves more. The walk
    reaches candidates in that same order, so a poisoned one raises its error exactly
    when the walk would (before the list runs out, the walk takes every earlier one),
    and with fewer candidates than needed and no poison the answer is "does not fit".
    The 32-devices limit was checked when the problem was built.

    Returns ``_UNDECIDED`` when the problem is not of that kind, or a device turns out to
    be shareable or to consume counters: then the full search decides (from scratch;
    this only evaluated selectors, which are cached).
    """
    claims = problem.claims
    if len(claims) != 1:
        return _UNDECIDED
    claim = claims[0]
    if claim.constraints:
        return _UNDECIDED
    first: RequestInfo | None = None
    total = 0
    for slot in claim.requests:
        if slot.first_available:
            return _UNDECIDED
        req = slot.alternatives[0]
        if req.all_devices or req.admin_access:
            return _UNDECIDED
        if first is None:
            first = req
        elif not req.same_candidates(first):
            return _UNDECIDED
        total += req.count
    if total > problem.max_devices_per_claim:
        return _UNDECIDED
    devices = problem.devices
    choices: list[Choice] = []
    i = 0
    for slot in claim.requests:
        req = slot.alternatives[0]
        for _ in range(req.count):
            if not req.reach(i + 1):
                return None  # every candidate seen, none poisoned: does not fit
            cand = req.candidate(i)
            if cand.error is not None:
                raise cand.error
            info = devices[cand.device]
            if info.shareable or (info.consumes and not info.counters_prepaid):
                return _UNDECIDED
            choices.append(Choice(req.key, cand))
            i += 1
    return Solution(choices=(tuple(choices),), selected={})
