"""`zsb keys reseal`: move every sealed field to the current master-secret generation.

After a rotation of `ZSB_SECRET_KEY` (the previous secret listed in `ZSB_READ_SECRET_KEYS`, so
every process reads both generations meanwhile; docs/operations.md, "Master secret rotation")
this re-encrypts each cipher, recomputes each blind index and re-wraps each signing key under
the current generation. What it covers:

| collection | fields |
|---|---|
| `users` | `phone_cipher`, `phone_index`, `id_number_cipher`, `id_number_index` |
| `licences` | `number_cipher`, `id_number_cipher` |
| `auth_signing_keys`, `sdl_signing_keys` | `private_cipher` (wrapped private keys) |
| `applications` | `delivery.address.sealed` (结果送达), `draft_delivery`, `form_sealed` (form) |
| `application_bundles` | `request.delivery.address.sealed` (incomplete), `request.form_sealed` |
| `agency_grants` | `agent_phone_cipher`, `agent_phone_index` (from the sealed phone; see below) |
| `notification_campaigns` not yet planned | `target.phones` (blind indexes, through accounts) |

A grant stored before grants sealed the agent's phone (no `agent_phone_cipher`) is re-indexed
through the agent's account, and gets the sealed phone from it, so the next rotation needs no
account; one whose number has no account is counted `unmatched` and left as it is: it matches
(under the old generation's index) until the old secret is dropped, then never again — the
principal grants anew (docs/operations.md, "Master secret rotation").

A form stored before forms were sealed (no `form_sealed` key: databases from before that
release) is sealed by the first reseal: its values that are identity or mobile numbers
(`form_sealing.detected_fields`; the schema of then may be gone) are masked and sealed, and the
key is set (null when there was nothing to seal), so a rerun leaves it alone.

Not covered, on purpose: login codes and their quotas (minutes and a day; a code requested
across the switch is simply asked for again) and refresh-token hashes (not reversible; the auth
service looks a presented token up under every generation it reads, and each refresh stores it
under the current one).

Resumable and idempotent: collections are walked in `_id` order in batches; after each batch
the last `_id` is saved in `key_reseal_progress` under the generation and phase, and a rerun
continues from there (a finished phase is skipped). A document already under the current
generation is left alone, so a rerun from scratch (`restart=True`) changes nothing twice. Each
update is guarded on the values read, so a concurrent write is never overwritten (the document
is read again and done over). The phases run in order: grants and campaigns are mapped through
accounts' phones *before* the accounts' own indexes change.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from cryptography.exceptions import InvalidTag
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app import sealing
from app.audit import AuditEvent, AuditLog
from app.db import Document
from app.keyring import Keyring
from applications import form_sealing
from applications.delivery import PURPOSE as DELIVERY_PURPOSE
from applications.drafts import DRAFT_DELIVERY
from applications.flow_store import AGENCY_GRANTS, BUNDLES
from applications.grant_phones import GRANT_PHONE_PURPOSE
from applications.store import APPLICATIONS
from auth.identity_numbers import PURPOSE as ID_NUMBER_PURPOSE
from auth.store import SIGNING_KEYS
from auth.user_store import PHONE_PURPOSE, USERS
from electronic_cards.store import LICENCES, SDL_KEYS
from notifications.campaign_store import CAMPAIGNS

log = logging.getLogger(__name__)

PROGRESS = "key_reseal_progress"
LICENCE_PURPOSE = "licence-data"  # electronic_cards.service._SEAL_PURPOSE
SIGNING_KEY_PURPOSE = "signing-key"  # auth.tokens._WRAP_PURPOSE
SDL_KEY_PURPOSE = "sdl-signing-key"  # electronic_cards.keys._WRAP_PURPOSE
SEALED_APPLICATION = {
    "$or": [
        {"delivery.address.sealed": {"$exists": True}},
        {"draft_delivery": {"$exists": True}},
        {"form_sealed": {"$type": "binData"}},
        {"form": {"$exists": True}, "form_sealed": {"$exists": False}},  # stored before sealing
    ]
}
SEALED_BUNDLE = {
    "$or": [
        {"request.delivery.address.sealed": {"$exists": True}},
        {"request.form_sealed": {"$type": "binData"}},
        {"request.form": {"$exists": True}, "request.form_sealed": {"$exists": False}},
    ]
}
UNPLANNED = {"status": {"$in": ["PENDING_APPROVAL", "APPROVED"]}, "plan_cursor": None}


class Unreadable(Exception):
    """A field no generation the process knows can open (the data of a secret not configured)."""


@dataclass
class Counts:
    resealed: int = 0
    current: int = 0
    unreadable: int = 0
    conflicts: int = 0  # a recomputed unique index already held by another document
    unmatched: int = 0  # grant / campaign keys naming no account (left as they are)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if v}


Change = dict[str, Any]


@dataclass
class Resealer:
    db: AsyncDatabase[Document]
    keyring: Keyring
    batch: int = 200
    counts: dict[str, Counts] = field(default_factory=dict)

    # -- one field ----------------------------------------------------------------------

    def _cipher(self, purpose_key: str, blob: bytes, purpose: str) -> tuple[str, bytes | None]:
        """The plain value, and its cipher under the current generation if it is not yet."""
        current = getattr(self.keyring, purpose_key)
        try:
            return sealing.decrypt(current, blob, purpose), None
        except ValueError:
            pass
        older = self.keyring.all(purpose_key)[1:]
        if not older:
            raise Unreadable(purpose)
        try:
            plain = sealing.decrypt_any(older, blob, purpose)
        except ValueError as exc:
            raise Unreadable(purpose) from exc
        return plain, sealing.encrypt(current, plain, purpose)

    def _index(self, purpose_key: str, plain: str) -> str:
        return sealing.blind_index(getattr(self.keyring, purpose_key), plain)

    # -- documents ----------------------------------------------------------------------

    async def _user(self, doc: Document) -> Change:
        change: Change = {}
        phone, cipher = self._cipher("phone_encryption", doc["phone_cipher"], PHONE_PURPOSE)
        if cipher is not None:
            change["phone_cipher"] = cipher
        if doc.get("phone_index") != (index := self._index("phone_index", phone)):
            change["phone_index"] = index
        if doc.get("id_number_cipher"):
            number, cipher = self._cipher(
                "identity_encryption", doc["id_number_cipher"], ID_NUMBER_PURPOSE
            )
            if cipher is not None:
                change["id_number_cipher"] = cipher
            if doc.get("id_number_index") != (index := self._index("identity_index", number)):
                change["id_number_index"] = index
        return change

    async def _licence(self, doc: Document) -> Change:
        change: Change = {}
        for name in ("number_cipher", "id_number_cipher"):
            if doc.get(name):
                _, cipher = self._cipher("licence_data", doc[name], LICENCE_PURPOSE)
                if cipher is not None:
                    change[name] = cipher
        return change

    async def _application(self, doc: Document) -> Change:
        change: Change = {}
        address = (doc.get("delivery") or {}).get("address") or {}
        if address.get("sealed"):
            _, cipher = self._cipher("delivery_address", address["sealed"], DELIVERY_PURPOSE)
            if cipher is not None:
                change["delivery"] = {**doc["delivery"], "address": {**address, "sealed": cipher}}
        if doc.get("draft_delivery"):
            _, cipher = self._cipher("delivery_address", doc["draft_delivery"], DRAFT_DELIVERY)
            if cipher is not None:
                change["draft_delivery"] = cipher
        change.update(self._form(doc))
        return change

    def _form(self, holder: Document) -> Change:
        """`form_sealed` under the current generation; a form stored before forms were sealed
        (no `form_sealed` key) gets its identity numbers and phones sealed now."""
        if "form_sealed" not in holder:
            if not isinstance(holder.get("form"), dict):
                return {}
            fields = form_sealing.detected_fields(holder["form"])
            return form_sealing.sealed(fields, holder["form"], self.keyring)
        if not holder["form_sealed"]:
            return {}
        _, cipher = self._cipher("form_data", holder["form_sealed"], form_sealing.PURPOSE)
        return {"form_sealed": cipher} if cipher is not None else {}

    async def _bundle(self, doc: Document) -> Change:
        request = dict(doc["request"])
        delivery = request.get("delivery") or {}
        address = delivery.get("address") or {}
        changed = False
        if address.get("sealed"):
            _, cipher = self._cipher("delivery_address", address["sealed"], DELIVERY_PURPOSE)
            if cipher is not None:
                request["delivery"] = {**delivery, "address": {**address, "sealed": cipher}}
                changed = True
        if form := self._form(request):
            request.update(form)
            changed = True
        return {"request": request} if changed else {}

    def _wrapped(self, purpose_key: str, purpose: str) -> Callable[[Document], Awaitable[Change]]:
        async def rewrap(doc: Document) -> Change:
            current = getattr(self.keyring, purpose_key)
            with contextlib.suppress(InvalidTag, ValueError):  # not under the current key
                sealing.unwrap_private_key(current, doc["private_cipher"], purpose)
                return {}
            older = self.keyring.all(purpose_key)[1:]
            if not older:
                raise Unreadable(purpose)
            try:
                private = sealing.unwrap_private_key_any(older, doc["private_cipher"], purpose)
            except (InvalidTag, ValueError) as exc:  # no generation opens it
                raise Unreadable(purpose) from exc
            return {"private_cipher": sealing.wrap_private_key(current, private, purpose)}

        return rewrap

    async def _current_phone_keys(self, keys: list[str]) -> dict[str, str]:
        """Blind index (any generation) -> the current one, through the accounts holding them."""
        mapped: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            cursor = self.db[USERS].find(
                {"phone_index": {"$in": chunk}}, {"phone_cipher": 1, "phone_index": 1}
            )
            async for user in cursor:
                phone, _ = self._cipher("phone_encryption", user["phone_cipher"], PHONE_PURPOSE)
                mapped[user["phone_index"]] = self._index("phone_index", phone)
        return mapped

    async def _account_phone(self, key: str) -> str | None:
        """The phone of the account whose blind index (any generation) is `key`."""
        user = await self.db[USERS].find_one({"phone_index": key}, {"phone_cipher": 1})
        if user is None:
            return None
        phone, _ = self._cipher("phone_encryption", user["phone_cipher"], PHONE_PURPOSE)
        return phone

    async def _grant(self, doc: Document) -> Change:
        """Every grant is re-indexed from its sealed agent phone, whether or not the number has
        an account; a grant from before the phone was sealed, from its agent's account (and
        the sealed phone filled in), or left `unmatched` without one."""
        change: Change = {}
        if doc.get("agent_phone_cipher"):
            blob = bytes(doc["agent_phone_cipher"])
            phone, cipher = self._cipher("phone_encryption", blob, GRANT_PHONE_PURPOSE)
            if cipher is not None:
                change["agent_phone_cipher"] = cipher
        else:
            found = await self._account_phone(doc["agent_phone_index"])
            if found is None:
                self.counts[AGENCY_GRANTS].unmatched += 1
                return {}
            phone = found
            change["agent_phone_cipher"] = sealing.encrypt(
                self.keyring.phone_encryption, phone, GRANT_PHONE_PURPOSE
            )
        if doc["agent_phone_index"] != (index := self._index("phone_index", phone)):
            change["agent_phone_index"] = index
        return change

    async def _campaign(self, doc: Document) -> Change:
        keys = list((doc.get("target") or {}).get("phones") or [])
        if not keys:
            return {}
        mapped = await self._current_phone_keys(keys)
        self.counts[CAMPAIGNS].unmatched += sum(1 for k in keys if k not in mapped)
        phones = list(dict.fromkeys(mapped.get(k, k) for k in keys))
        return {"target.phones": phones} if phones != keys else {}

    # -- walking a collection -------------------------------------------------------------

    def phases(self) -> list[tuple[str, dict[str, Any], Callable[[Document], Awaitable[Change]]]]:
        return [
            (AGENCY_GRANTS, {}, self._grant),
            (CAMPAIGNS, UNPLANNED, self._campaign),
            (USERS, {}, self._user),
            (LICENCES, {}, self._licence),
            (APPLICATIONS, SEALED_APPLICATION, self._application),
            (BUNDLES, SEALED_BUNDLE, self._bundle),
            (SIGNING_KEYS, {}, self._wrapped("signing_key_wrap", SIGNING_KEY_PURPOSE)),
            (SDL_KEYS, {}, self._wrapped("sdl_key_wrap", SDL_KEY_PURPOSE)),
        ]

    async def _one(
        self, collection: str, doc: Document, handle: Callable[[Document], Awaitable[Change]]
    ) -> None:
        counts = self.counts[collection]
        for _ in range(3):  # re-read and redo when a concurrent write got there first
            try:
                change = await handle(doc)
            except Unreadable:
                counts.unreadable += 1
                return
            if not change:
                counts.current += 1
                return
            guard = {"_id": doc["_id"]}
            for name in change:
                top = name.split(".")[0]
                guard[top] = doc.get(top)
            try:
                done = await self.db[collection].update_one(guard, {"$set": change})
            except DuplicateKeyError:
                counts.conflicts += 1
                log.warning("reseal conflict", extra={"collection": collection, "id": doc["_id"]})
                return
            if done.matched_count:
                counts.resealed += 1
                return
            fresh = await self.db[collection].find_one({"_id": doc["_id"]})
            if fresh is None:  # deleted meanwhile: nothing left to reseal
                return
            doc = fresh
        counts.conflicts += 1

    async def run(self, *, limit: int | None = None, restart: bool = False) -> bool:
        """Every phase from its saved position; False when `limit` documents were done first."""
        gen = self.keyring.generation
        budget = limit
        for collection, query, handle in self.phases():
            self.counts.setdefault(collection, Counts())
            marker_id = f"{gen}:{collection}"
            if restart:
                await self.db[PROGRESS].delete_one({"_id": marker_id})
            marker = await self.db[PROGRESS].find_one({"_id": marker_id}) or {}
            if marker.get("finished_at") is not None:
                continue
            last: ObjectId | str | None = marker.get("last_id")
            while True:
                where = dict(query) if last is None else {**query, "_id": {"$gt": last}}
                size = self.batch if budget is None else min(self.batch, budget)
                if size <= 0:
                    return False
                docs = await self.db[collection].find(where).sort("_id", ASCENDING).to_list(size)
                for doc in docs:
                    await self._one(collection, doc, handle)
                if docs:
                    last = docs[-1]["_id"]
                    if budget is not None:
                        budget -= len(docs)
                finished = len(docs) < size
                update: dict[str, Any] = {"generation": gen, "phase": collection, "last_id": last}
                if finished:
                    update["finished_at"] = datetime.now(UTC)
                await self.db[PROGRESS].update_one(
                    {"_id": marker_id},
                    {"$set": update, "$inc": _prefixed(self.counts[collection].as_dict())},
                    upsert=True,
                )
                self.counts[collection] = Counts()  # saved: a resumed run adds from here
                if finished:
                    break
        return True

    async def totals(self) -> dict[str, dict[str, int]]:
        """Per phase, what every run of this generation did (from the progress markers)."""
        cursor = self.db[PROGRESS].find({"generation": self.keyring.generation})
        return {
            d["phase"]: {k[len("n_") :]: v for k, v in d.items() if k.startswith("n_")}
            async for d in cursor
        }


def _prefixed(counts: dict[str, int]) -> dict[str, int]:
    return {f"n_{k}": v for k, v in counts.items()}


async def reseal(
    db: AsyncDatabase[Document],
    keyring: Keyring,
    *,
    batch: int = 200,
    limit: int | None = None,
    restart: bool = False,
) -> tuple[bool, dict[str, dict[str, int]]]:
    """Run (or resume) the reseal; audited at each run's start and end. Returns whether every
    phase has finished, and the totals so far."""
    audit = AuditLog(db)
    older = [k.generation for k in keyring.older]
    await audit.record(
        AuditEvent(
            "keys.reseal.started",
            None,
            target=keyring.generation,
            details={"from": older, "restart": restart, "limit": limit},
        )
    )
    resealer = Resealer(db, keyring, batch=batch)
    complete = await resealer.run(limit=limit, restart=restart)
    totals = await resealer.totals()
    await audit.record(
        AuditEvent(
            "keys.reseal.finished" if complete else "keys.reseal.paused",
            None,
            target=keyring.generation,
            details={"totals": totals},
        )
    )
    return complete, totals
