"""The application state machine as data: which status may follow which, and nothing else.

The service never writes a status without checking it here *and* guarding the update with the
status it read (see `store.transition`), so an illegal transition cannot happen even when two
clerks act at once. The property tests drive random sequences through this table.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    ACCEPTED_PENDING_SUPPLEMENT = "ACCEPTED_PENDING_SUPPLEMENT"
    RETURNED = "RETURNED"
    IN_REVIEW = "IN_REVIEW"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
    REVOKED = "REVOKED"


# How a status reads in a notice to the applicant.
STATUS_NAMES: dict[Status, str] = {
    Status.DRAFT: "草稿",
    Status.SUBMITTED: "已提交",
    Status.ACCEPTED: "已受理",
    Status.ACCEPTED_PENDING_SUPPLEMENT: "容缺受理（待补正）",
    Status.RETURNED: "退回补正",
    Status.IN_REVIEW: "审查中",
    Status.APPROVED: "已办结（准予）",
    Status.REJECTED: "不予许可",
    Status.WITHDRAWN: "已撤回",
    Status.REVOKED: "已撤销",
}

S = Status

TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.ACCEPTED_PENDING_SUPPLEMENT, S.RETURNED, S.WITHDRAWN}),
    # 一次补正: a returned application is corrected and resubmitted (or given up).
    S.RETURNED: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    # 容缺: the deferred materials arrive (→ ACCEPTED) or the supplement deadline is missed.
    S.ACCEPTED_PENDING_SUPPLEMENT: frozenset({S.ACCEPTED, S.REJECTED, S.WITHDRAWN}),
    S.ACCEPTED: frozenset({S.IN_REVIEW, S.WITHDRAWN}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.WITHDRAWN}),
    # 你失信、我撤销: an approval obtained by a broken commitment is revoked.
    S.APPROVED: frozenset({S.REVOKED}),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.REVOKED: frozenset(),
}

TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt) | {S.APPROVED}
OPEN = frozenset(S) - TERMINAL - {S.DRAFT}
# Where the applicant may still take the application back (not after a decision).
WITHDRAWABLE = frozenset(s for s, nxt in TRANSITIONS.items() if S.WITHDRAWN in nxt)


def allowed(before: Status, after: Status) -> bool:
    return after in TRANSITIONS[before]


def path(before: Status, target: Status) -> list[Status] | None:
    """The shortest chain of legal steps from `before` to `target` (excluding `before`).

    A clerk's "approve" on an ACCEPTED application passes through IN_REVIEW; the timeline
    records each step, so the history never skips a state.
    """
    frontier: list[list[Status]] = [[before]]
    seen = {before}
    while frontier:
        nxt: list[list[Status]] = []
        for chain in frontier:
            for step in sorted(TRANSITIONS[chain[-1]]):
                if step in seen:
                    continue
                if step is target:
                    return [*chain[1:], step]
                seen.add(step)
                nxt.append([*chain, step])
        frontier = nxt
    return None
