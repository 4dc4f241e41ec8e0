"""Filling in: 智能辅助填单 (prefill) and server-side drafts resumable on another device.

A draft is an application document in status DRAFT with a placeholder idempotency key;
submitting it turns that same document into SUBMITTED with one guarded update.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import Binary, ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app import sealing
from app.errors import AlreadyExistsError, DomainError
from app.json_input import check_keys
from app.masking import mask_number, mask_phone
from app.txn import DuplicateKeyAt
from applications import form_sealing, forms
from applications.errors import ApplicationNotFoundError
from applications.models import Application
from applications.store import ApplicationStore, Requirement
from applications.workflow import Status
from auth.models import AssuranceLevel, User
from auth.permissions import Viewer
from auth.service import AuthService
from matters.models import Matter

MAX_DRAFT_BYTES = 20_000
# Drafts hold a placeholder key so the unique (applicant, key) index needs no partial filter;
# clients may not choose keys with this prefix.
DRAFT_KEY_PREFIX = "draft:"
DRAFT_DELIVERY = "draft-delivery"  # sealing purpose of a draft's 结果送达 choice
MAX_DELIVERY_BYTES = 2_000


class Drafts:
    store: ApplicationStore
    now: Callable[[], datetime]
    auth: AuthService

    async def _published(self, code: str) -> Matter:
        raise NotImplementedError

    async def _identity(self, viewer: Viewer) -> tuple[User, str | None]:
        raise NotImplementedError

    async def prefill(self, viewer: Viewer, matter_code: str) -> dict[str, Any]:
        """智能辅助填单: identity first, then what the applicant typed last time."""
        matter = await self._published(matter_code)
        props = forms.form_schema(matter).get("properties", {})
        user, id_number = await self._identity(viewer)
        earlier = await self.store.latest_form(viewer.user_id, self.auth.keyring)
        # Full identity number and phone only for a real-name verified holder (L2+); a phone-only
        # session (L1, e.g. a stolen SMS code) sees them masked and must type them.
        verified = viewer.assurance_level.rank >= AssuranceLevel.L2.rank
        identity = {
            "applicantName": user.name,
            "operatorName": user.name,
            "legalRepresentative": user.name,
            "idNumber": id_number if verified or not id_number else mask_number(id_number),
            "phone": user.phone if verified or not user.phone else mask_phone(user.phone),
        }
        if "applicantType" in props:
            identity["applicantType"] = "个人"
        data = {k: v for k, v in earlier.items() if k in props}
        if not verified:  # numbers typed last time (an agent's, an emergency contact's) too
            data = form_sealing.masked_form(
                form_sealing.personal_fields({"properties": props}), data
            )
        data.update({k: v for k, v in identity.items() if k in props and v})
        return data

    async def save_draft(
        self,
        viewer: Viewer,
        matter_code: str,
        situation: str | None,
        form: Any,
        draft_id: ObjectId | None,
        delivery: Any = None,
    ) -> Application:
        """Keep what was typed so far; no field validation (a draft may be incomplete).

        A 结果送达 choice is kept as typed too, sealed whole (it may hold an address), and
        checked when the draft is submitted without a choice of its own."""
        if not isinstance(form, dict) or len(form) > forms.MAX_FIELDS:
            raise DomainError("表单应为对象 (form must be an object)", field="form")
        if len(json.dumps(form, ensure_ascii=False, default=str)) > MAX_DRAFT_BYTES:
            raise DomainError("草稿过大 (draft too large)", code="TOO_LONG", field="form")
        check_keys(form, "form")  # stored as typed: no operator- or path-shaped keys
        now = self.now()
        keyring = self.auth.keyring
        kept: dict[str, Any] = {}
        if delivery is not None:
            text = json.dumps(delivery, ensure_ascii=False)
            if len(text) > MAX_DELIVERY_BYTES:
                raise DomainError("送达信息过长", code="TOO_LONG", field="resultDelivery")
            key = keyring.delivery_address
            kept["draft_delivery"] = Binary(sealing.encrypt(key, text, DRAFT_DELIVERY))
        if draft_id is not None:
            mine = {"_id": draft_id, "applicant_id": viewer.user_id, "status": Status.DRAFT.value}
            # The draft's own matter says which fields are sealed (not the code sent with it).
            found = await self.store.apps.find_one(mine, {"matter_code": 1})
            if found is None:
                raise ApplicationNotFoundError(field="applicationId")
            matter = await self._published(found["matter_code"])
            kept.update(form_sealing.sealed(form_sealing.matter_fields([matter]), form, keyring))
            doc = await self.store.apps.find_one_and_update(
                mine,
                {
                    "$set": {"draft_situation": situation, "updated_at": now, **kept},
                    "$inc": {"rev": 1},
                },
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                raise ApplicationNotFoundError(field="applicationId")
            return Application.from_document(doc)
        matter = await self._published(matter_code)
        situation_code = next(
            (s.code for s in matter.situations if situation in (s.code, s.name)),
            matter.situations[0].code,
        )
        new_id = ObjectId()
        doc = {
            "_id": new_id,
            "idempotency_key": f"{DRAFT_KEY_PREFIX}{new_id}",
            "rev": 0,
            "applicant_id": viewer.user_id,
            "matter_code": matter.code,
            "matter_name": matter.name,
            "situation_code": situation_code,
            "draft_situation": situation,
            "department_code": matter.department_code,
            "department_name": matter.department_name,
            "status": Status.DRAFT.value,
            **form_sealing.sealed(form_sealing.matter_fields([matter]), form, keyring),
            "materials": [],
            "committed_days": matter.committed_days,
            "created_at": now,
            "updated_at": now,
            "timeline": [],
            **kept,
        }
        await self.store.apps.insert_one(doc)
        return Application.from_document(doc)

    async def _draft_delivery(self, viewer: Viewer, draft_id: ObjectId) -> Any:
        """The 结果送达 choice saved with a draft (None when none was saved)."""
        doc = await self.store.apps.find_one(
            {"_id": draft_id, "applicant_id": viewer.user_id, "status": Status.DRAFT.value},
            {"draft_delivery": 1},
        )
        blob = (doc or {}).get("draft_delivery")
        if blob is None:
            return None
        keys = self.auth.keyring.all("delivery_address")  # during a rotation: either generation
        return json.loads(sealing.decrypt_any(keys, bytes(blob), DRAFT_DELIVERY))

    async def _submit_draft(
        self, viewer: Viewer, doc: dict[str, Any], requires: Requirement | None = None
    ) -> Application:
        """DRAFT → SUBMITTED on the draft's own document; its timeline gets the new events.
        With `requires` (an agent's submission: the grant), in one transaction with it."""
        fields = {k: v for k, v in doc.items() if k not in ("_id", "rev", "timeline", "created_at")}
        guard = {"_id": doc["_id"], "applicant_id": viewer.user_id, "status": Status.DRAFT.value}
        update = {
            "$set": fields,
            "$inc": {"rev": 1},
            "$push": {"timeline": {"$each": doc["timeline"]}},
            "$unset": {"draft_delivery": ""},  # the case holds the checked choice
        }
        try:
            if requires is None:
                updated = await self.store.apps.find_one_and_update(
                    guard, update, return_document=ReturnDocument.AFTER
                )
            else:
                updated = await self.store.update_requiring(guard, update, requires)
        except (DuplicateKeyError, DuplicateKeyAt) as exc:  # the key was used meanwhile
            raise AlreadyExistsError("申请已提交 (already submitted)") from exc
        if updated is None:
            # Submitted meanwhile with this key (a double click)? Then answer with it.
            existing = await self.store.by_key(viewer.user_id, doc["idempotency_key"])
            if existing is not None:
                raise AlreadyExistsError("申请已提交 (already submitted)")
            raise ApplicationNotFoundError(field="draftId")
        return Application.from_document(updated)
