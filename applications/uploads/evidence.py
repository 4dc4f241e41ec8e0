"""Material references at submission: an UPLOAD must be the applicant's own upload, a LICENCE
(免证办) a VALID licence the applicant holds, of the type the catalogue names for the material.

Anything else is a typed error, reported with the submission's other errors, before anything
is written. Accepted uploads are then *attached* to the application (its id is chosen before
the insert): an attached upload cannot be deleted by its owner or the orphan sweep, and the
attach is a guarded update, so an upload deleted between the check and the attach is noticed
(`FORBIDDEN_MATERIAL`), never silently referenced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from bson import ObjectId
from pymongo import UpdateMany

from app.errors import DomainError, InputErrors
from app.ids import object_id_from_global
from applications.models import MaterialRef, Provision
from applications.uploads.store import UploadStore
from auth.permissions import Viewer
from electronic_cards.models import Licence, LicenceStatus, today_in_china
from matters.models import Situation


class Wallet(Protocol):
    async def my_licences(self, viewer: Viewer) -> list[Licence]: ...


def _err(field: str, code: str, message: str) -> DomainError:
    return DomainError(message, code=code, field=field)


def _ref_id(ref: str | None, kind: str) -> ObjectId | None:
    try:
        return object_id_from_global(ref or "", kind)
    except DomainError:
        return None


class MaterialEvidence:
    def __init__(self, uploads: UploadStore, wallet: Wallet) -> None:
        self.uploads = uploads
        self.wallet = wallet

    async def check(
        self,
        viewer: Viewer,
        situation: Situation | None,
        given: list[MaterialRef],
        fields: list[str] | None = None,
        *,
        uploads: bool = True,
        uploaders: tuple[ObjectId, ...] | None = None,
    ) -> list[DomainError]:
        """One error per reference that is not the applicant's to use; `fields` names each
        material's input position (defaults to its index in `given`). `uploads=False` leaves
        upload ownership to `attach`, which checks it in its update's filter."""
        where = fields or [f"materials[{i}]" for i in range(len(given))]
        specs = {m.name: m for m in situation.materials} if situation else {}
        errors: list[DomainError] = []
        upload_ids: dict[int, ObjectId] = {}
        licence_ids: dict[int, ObjectId] = {}
        for i, item in enumerate(given):
            if item.provision is Provision.COMMITMENT:
                continue
            kind = "Upload" if item.provision is Provision.UPLOAD else "Licence"
            found = _ref_id(item.reference, kind)
            if found is None:
                errors.append(
                    _err(
                        f"{where[i]}.reference",
                        "INVALID_REFERENCE",
                        "材料引用无效：请上传材料或选择电子证照 (malformed reference)",
                    )
                )
            elif kind == "Upload":
                upload_ids[i] = found
            else:
                licence_ids[i] = found
        if licence_ids:
            held = {lic.id: lic for lic in await self.wallet.my_licences(viewer)}
            today = today_in_china(datetime.now(UTC))
            for i, licence_id in licence_ids.items():
                licence = held.get(licence_id)
                spec = specs.get(given[i].name)
                wanted = spec.licence_type_code if spec else None
                field = f"{where[i]}.reference"
                if licence is None:
                    errors.append(
                        _err(field, "LICENCE_NOT_HELD", "申请人没有该电子证照 (licence not held)")
                    )
                elif wanted is None or licence.type_code != wanted:
                    errors.append(
                        _err(
                            field,
                            "LICENCE_TYPE_MISMATCH",
                            f"该电子证照不能代替“{given[i].name}” (wrong licence type)",
                        )
                    )
                elif licence.effective_status(today) is not LicenceStatus.VALID:
                    errors.append(
                        _err(
                            field,
                            "LICENCE_NOT_VALID",
                            "该电子证照已过期、暂停或注销 (licence not valid)",
                        )
                    )
        # Any other problem: report upload ones at once too (the failure path may cost).
        if upload_ids and (uploads or errors):
            owned = await self.uploads.get_many(list(set(upload_ids.values())))
            for i, upload_id in upload_ids.items():
                upload = owned.get(upload_id)
                if upload is None or upload.owner_id not in (uploaders or (viewer.user_id,)):
                    errors.append(
                        _err(
                            f"{where[i]}.reference",
                            "FORBIDDEN_MATERIAL",
                            "材料不存在或不属于申请人 (not the applicant's upload)",
                        )
                    )
        return errors

    @staticmethod
    def upload_ids(given: list[MaterialRef]) -> list[ObjectId]:
        ids = {_ref_id(m.reference, "Upload") for m in given if m.provision is Provision.UPLOAD}
        return [i for i in ids if i is not None]

    async def attach(
        self,
        viewer: Viewer,
        given: list[MaterialRef],
        app_id: ObjectId,
        situation: Situation | None = None,
        fields: list[str] | None = None,
        *,
        uploaders: tuple[ObjectId, ...] | None = None,
    ) -> None:
        """Mark the applicant's uploads as this application's evidence. The update matches only
        the applicant's own uploads, so a count short of the ids given means one is someone
        else's, unknown, or was deleted meanwhile: undone, and each culprit reported."""
        ids = self.upload_ids(given)
        if not ids:
            return
        owners = list(uploaders or (viewer.user_id,))
        marked = await self.uploads.attach(owners, ids, app_id)
        if marked != len(ids):
            await self.uploads.detach(ids, app_id)
            errors = await self.check(viewer, situation, given, fields, uploaders=uploaders)
            raise InputErrors(
                errors
                or [
                    _err(
                        "materials",
                        "FORBIDDEN_MATERIAL",
                        "材料已被删除，请重新选择 (an upload was deleted meanwhile)",
                    )
                ]
            )

    def attach_write(
        self,
        viewer: Viewer,
        given: list[MaterialRef],
        app_id: ObjectId,
        *,
        uploaders: tuple[ObjectId, ...] | None = None,
    ) -> tuple[UpdateMany, int] | None:
        """`attach` as a write for the application's transaction, with the count it must
        match (fewer: one upload is someone else's, unknown or deleted — abort, and let
        `attach` find which); None when no uploads are referenced."""
        ids = self.upload_ids(given)
        if not ids:
            return None
        owners = list(uploaders or (viewer.user_id,))
        return self.uploads.attach_write(owners, ids, app_id), len(ids)

    async def release(self, given: list[MaterialRef], app_id: ObjectId) -> None:
        """Undo `attach` when the application was not written after all."""
        ids = self.upload_ids(given)
        if ids:
            await self.uploads.detach(ids, app_id)
