"""Which clerks may act on which department's cases (the one place routing rules live)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matters.service import MatterService

CITY_BUREAU = "370200-XZSPFWJ"  # 青岛市行政审批服务局


def may_process(clerk_department: str | None, handling_department: str) -> bool:
    """Whether a clerk of `clerk_department` may act on a case handled by `handling_department`.

    The implementing department's own clerks may. So may the city 行政审批服务局, for the district
    行政审批服务局s' cases (`3702xx-XZSPJ`): under 相对集中行政许可权 it receives and handles their
    matters citywide (全市通办, 一窗受理). Everyone else is refused.
    """
    if clerk_department is None:
        return False
    if clerk_department == handling_department:
        return True
    return clerk_department == CITY_BUREAU and handling_department.endswith("-XZSPJ")


async def processable_departments(
    matters: MatterService, clerk_department: str | None
) -> list[str]:
    """The codes of every department whose cases a clerk of `clerk_department` may act on (the
    filter of each clerk queue)."""
    return [d.code for d in await matters.departments() if may_process(clerk_department, d.code)]
