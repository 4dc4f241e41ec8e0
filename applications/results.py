"""Result delivery (出件): the ONE place an approval's result leaves 申办.

`deliver_result` hands an e-licence result to the wallet (`WalletSink`: the licence appears in
the applicant's 电子卡包 within the approving request); `RecordingSink` only records it, for
channels not wired yet. `ResultSpec` mirrors the wallet's `LicenceSpec` field for field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from bson import ObjectId

# Licence type codes of results the wallet knows (the wallet branch owns the full list).
# A result named here is issued into the applicant's wallet on approval, 秒批 or manual.
LICENCE_TYPES = {"老年人优待证": "LNRYDZ", "退役军人优待证": "TYJRYDZ"}


@dataclass(frozen=True, slots=True)
class ResultSpec:
    type_code: str
    holder_name: str
    number: str
    id_number: str | None
    issuer: str
    issuer_code: str
    valid_from: date
    valid_until: date | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: dict[str, Any], id_number: str | None) -> ResultSpec:
        """The spec an application's stored `result` was made from (to deliver it again)."""
        until = doc.get("valid_until")
        return cls(
            type_code=doc["type_code"],
            holder_name=doc["holder_name"],
            number=doc["number"],
            id_number=id_number,
            issuer=doc["issuer"],
            issuer_code=doc["issuer_code"],
            valid_from=date.fromisoformat(doc["valid_from"]),
            valid_until=date.fromisoformat(until) if until else None,
            attributes=dict(doc.get("attributes") or {}),
        )

    def to_document(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("id_number")  # the plain number stays out of the application document
        doc["valid_from"] = self.valid_from.isoformat()
        doc["valid_until"] = self.valid_until.isoformat() if self.valid_until else None
        return doc


def build_result(
    result_name: str | None,
    *,
    matter_code: str,
    holder_name: str,
    id_number: str | None,
    number: str,
    issuer: str,
    issuer_code: str,
    valid_from: date,
) -> tuple[dict[str, Any], ResultSpec | None]:
    """The case's `result` document for an approval, and the licence to issue when the result
    is an e-licence (None otherwise). Both 秒批 and a clerk's approval build it here."""
    type_code = LICENCE_TYPES.get(result_name or "")
    if type_code is None:
        return {"name": result_name, "delivery": None}, None
    spec = ResultSpec(
        type_code=type_code,
        holder_name=holder_name,
        number=number,
        id_number=id_number,
        issuer=issuer,
        issuer_code=issuer_code,
        valid_from=valid_from,
        attributes={"matterCode": matter_code, "resultName": result_name or ""},
    )
    return {"name": result_name, **spec.to_document(), "delivery": None}, spec


def licence_pending(result: dict[str, Any] | None) -> bool:
    """An e-licence result not yet in the wallet (what a retry has to deliver)."""
    return bool(
        result
        and result.get("delivery") is None
        and result.get("type_code") in LICENCE_TYPES.values()
    )


class ResultSink(Protocol):
    async def __call__(
        self, application_id: ObjectId, holder_id: ObjectId, spec: ResultSpec
    ) -> None: ...


class RecordingSink:
    """The branch's delivery: mark the result as delivered on the application itself."""

    def __init__(self, record: Any) -> None:
        self._record = record  # store.record_delivery

    async def __call__(
        self, application_id: ObjectId, holder_id: ObjectId, spec: ResultSpec
    ) -> None:
        await self._record(application_id, "WALLET_PENDING_WIRING", datetime.now().astimezone())


class WalletSink:
    """Delivers e-licence results into the applicant's wallet (电子卡包) at once, then records
    the delivery on the application."""

    def __init__(self, wallet: Any, record: Any) -> None:
        self._wallet = wallet  # electronic_cards.service.CardsService
        self._record = record  # store.record_delivery

    async def __call__(
        self, application_id: ObjectId, holder_id: ObjectId, spec: ResultSpec
    ) -> None:
        licence = await self._wallet.issue_licence(
            holder_id,
            _licence_spec(spec),
            # One application, one licence: a retried delivery finds the licence it issued.
            licence_id=application_id,
        )
        await self._record(application_id, f"WALLET:{licence.id}", datetime.now().astimezone())

    async def with_case(
        self, application_id: ObjectId, holder_id: ObjectId, spec: ResultSpec
    ) -> tuple[str, Any, Callable[[], Awaitable[None]]]:
        """The delivery as a write for the case's own transaction (秒批: the licence and the
        approved case committed together), the channel to record on the case, and what to call
        once that committed (the wallet counts the licence's status-list slot). A duplicate
        key at the write: its status slot was taken meanwhile (deliver with `__call__`)."""
        licence, write = await self._wallet.licence_to_issue(
            holder_id, _licence_spec(spec), application_id
        )

        async def issued() -> None:
            await self._wallet.licence_issued(licence)

        return f"WALLET:{licence.id}", write, issued

    async def revoke(self, licence_id: ObjectId, reason: str, actor_id: ObjectId | None) -> bool:
        """Withdraw a licence this sink delivered (the wallet marks it REVOKED)."""
        return await self._wallet.revoke_issued(licence_id, reason, actor_id) is not None


def _licence_spec(spec: ResultSpec) -> Any:
    from electronic_cards.service import LicenceSpec  # the wallet's own input type

    return LicenceSpec(
        type_code=spec.type_code,
        holder_name=spec.holder_name,
        number=spec.number,
        issuer=spec.issuer,
        issuer_code=spec.issuer_code,
        valid_from=spec.valid_from,
        valid_until=spec.valid_until,
        id_number=spec.id_number,
        attributes=dict(spec.attributes),
    )


async def withdraw_result(sink: Any, result: Any, reason: str, actor_id: ObjectId | None) -> bool:
    """Revoke a delivered e-licence result (撤销); False when there is nothing to revoke."""
    delivery = (result or {}).get("delivery") or ""
    revoke = getattr(sink, "revoke", None)
    if not delivery.startswith("WALLET:") or revoke is None:
        return False
    return bool(await revoke(ObjectId(delivery.removeprefix("WALLET:")), reason, actor_id))


async def deliver_result(
    sink: ResultSink, application_id: ObjectId, holder_id: ObjectId, spec: ResultSpec
) -> None:
    """Hand an approval's result to its channel (wallet for e-licences)."""
    await sink(application_id, holder_id, spec)
