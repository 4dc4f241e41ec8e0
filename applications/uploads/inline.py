"""Files sent with the submission itself: `submitApplication` as a multipart request.

A phone that has the photos in hand can send them with the form in one request instead of an
`uploadMaterial` request for each first. Every file gets exactly an upload's checks
(`UploadService.prepare`: decoded, re-encoded, EXIF dropped, bombs refused, the rate limit),
and the uploads are written in the submission's own transaction (`applications/accept.py`), so
the application and its evidence exist together or not at all, and a refused submission leaves
no file behind. Where that cannot be — the owner's first upload (no quota counter yet) or a
full quota, content the owner has uploaded before, a draft's submission, a 秒批 licence whose
random status index was taken meanwhile (they take the step-by-step path) — the files are kept
as ordinary uploads first (`materialise`, once the submission passed its checks), the
submission references them, and they are removed again if it is refused after all: the same
result, with more round trips.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bson import ObjectId
from pymongo.errors import PyMongoError

from app.errors import DomainError, InputErrors
from app.ids import object_id_from_global, to_global_id
from app.txn import Write
from applications.models import MaterialRef, Provision
from applications.uploads.service import PreparedUpload, UploadService
from auth.permissions import Viewer

log = logging.getLogger(__name__)
MAX_INLINE_FILES = 10  # a request's bytes are bounded anyway (one upload's maximum)


class InlineNotKept(Exception):
    """The inline uploads could not go into the submission's transaction (nothing of it was
    written): keep them as ordinary uploads (`materialise`) and submit again."""


class MaterialInputLike(Protocol):
    name: str
    provision: Provision
    reference: str | None
    file: Any


@dataclass(frozen=True, slots=True)
class InlineUploads:
    """The checked files of one submission, written with it (`writes`) or before it."""

    prepared: tuple[PreparedUpload, ...]
    service: UploadService
    fields: dict[ObjectId, str]  # each file's place in the input, for errors

    def writes(self) -> list[Write]:
        """Quota count (write 0: `UploadStore.admitted`), GridFS documents, upload documents
        (unattached: the submission's attach marks them with the other references)."""
        policy = self.service.policy
        files = [(p.doc, p.content) for p in self.prepared]
        writes, _ = self.service.store.keep_writes(files, policy.quota_files, policy.quota_bytes)
        return writes

    def covers(self, ref: MaterialRef) -> bool:
        """Whether the material is one of these files."""
        return _upload_id(ref) in {p.id for p in self.prepared}

    async def materialise(
        self, given: list[MaterialRef]
    ) -> tuple[list[MaterialRef], list[ObjectId]]:
        """Keep each file as an ordinary upload (or find the owner's upload of the same
        content) and point the materials at those; also the uploads made here (`discard`
        them if the submission is refused after all). A file refused (QUOTA_EXCEEDED) undoes
        the ones kept before it."""
        kept: dict[ObjectId, ObjectId] = {}
        try:
            for p in self.prepared:
                try:
                    kept[p.id] = (await self.service.keep(p)).id
                except DomainError as exc:  # said of the material's file
                    raise _at(exc, self.fields[p.id]) from exc
        except Exception:
            await self.discard(_made(kept))
            raise
        out = []
        for ref in given:
            inline_id = _upload_id(ref)
            if inline_id in kept:
                ref = dataclasses.replace(ref, reference=to_global_id("Upload", kept[inline_id]))
            out.append(ref)
        return out, _made(kept)

    async def discard(self, made: list[ObjectId]) -> None:
        """Remove uploads `materialise` made for a submission refused after all — only while
        no application uses them (a concurrent copy's attach wins; the delete's filter says
        so). Best effort: what a failure here leaves, the orphan sweep removes."""
        if not made:
            return
        try:
            await self.service.store.delete_unattached({"_id": {"$in": made}})
        except PyMongoError:  # the submission's own error is the one to report
            log.exception("could not remove the uploads of a refused submission")


def _made(kept: dict[ObjectId, ObjectId]) -> list[ObjectId]:
    """The uploads written by `materialise` (not the owner's earlier one of the same bytes)."""
    return [prepared for prepared, upload in kept.items() if prepared == upload]


async def given_materials(
    service: UploadService, viewer: Viewer, inputs: Sequence[MaterialInputLike]
) -> tuple[list[MaterialRef], InlineUploads | None]:
    """The materials as references, inline files checked and given their upload's id; every
    problem with the files at once (InputErrors), nothing written either way."""
    errors: list[DomainError] = []
    by_file: dict[int, list[int]] = {}  # one part mapped to several materials is one file
    files: dict[int, Any] = {}
    for i, item in enumerate(inputs):
        if item.file is None:
            continue
        field = f"materials[{i}].file"
        if not callable(getattr(item.file, "read", None)):  # a string where the file belongs
            errors.append(
                DomainError("请以文件上传 (send a file)", code="INVALID_FILE", field=field)
            )
        elif item.provision is not Provision.UPLOAD:
            errors.append(
                DomainError(
                    "只有 UPLOAD 材料可以随附文件 (a file goes with an UPLOAD material)",
                    code="INVALID_PROVISION",
                    field=field,
                )
            )
        elif item.reference is not None:
            errors.append(
                DomainError(
                    "材料引用与随附文件只能二选一 (a reference or a file, not both)",
                    code="INVALID_REFERENCE",
                    field=field,
                )
            )
        else:
            by_file.setdefault(id(item.file), []).append(i)
            files[id(item.file)] = item.file
    if len(files) > MAX_INLINE_FILES:
        errors.append(
            DomainError(
                f"随附文件不能超过 {MAX_INLINE_FILES} 个，其余请先上传到材料库 (too many files)",
                code="TOO_MANY_FILES",
                field="materials",
            )
        )
    if errors:
        raise InputErrors(errors)
    prepared: dict[int, PreparedUpload] = {}
    fields: dict[ObjectId, str] = {}
    by_hash: dict[str, PreparedUpload] = {}  # the same bytes in two parts: one upload
    for key, file in files.items():
        try:
            p = await service.prepare(viewer, getattr(file, "filename", None), file)
            prepared[key] = by_hash.setdefault(p.sha256, p)
            fields.setdefault(prepared[key].id, f"materials[{by_file[key][0]}].file")
        except DomainError as exc:
            errors.append(_at(exc, f"materials[{by_file[key][0]}].file"))
        finally:
            await file.close()  # its spooled temporary file, now rather than at the request's end
    if errors:
        raise InputErrors(errors)
    refs = []
    for item in inputs:
        reference = item.reference
        if item.file is not None:
            reference = to_global_id("Upload", prepared[id(item.file)].id)
        refs.append(MaterialRef(item.name, item.provision, reference))
    if not by_hash:
        return refs, None
    return refs, InlineUploads(tuple(by_hash.values()), service, fields)


def _at(exc: DomainError, field: str) -> DomainError:
    """The error of an upload check, placed at the material's file."""
    return DomainError(exc.message, code=exc.code, field=field)


def _upload_id(ref: MaterialRef) -> ObjectId | None:
    if ref.provision is not Provision.UPLOAD or not ref.reference:
        return None
    try:
        return object_id_from_global(ref.reference, "Upload")
    except DomainError:
        return None
