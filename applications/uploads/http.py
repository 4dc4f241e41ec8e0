"""`GET /materials/{uploadId}`: the bytes of a material, for its owner, for the applicant of a
case it is attached to (帮办代办: an agent's upload in the principal's case), and for the clerks
processing an application that uses it (the file itself cannot travel through GraphQL).

Anything else — no such upload, someone else's, a clerk of another department — is the same 404,
so ids cannot be probed. A clerk's read is audited. The answer can never run in a browser: the
stored (decoded) type, `attachment`, `nosniff` and a sandboxing CSP; and it is never cached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.audit import AuditEvent
from app.errors import DomainError, UnauthenticatedError
from app.ids import object_id_from_global
from applications.departments import may_process
from applications.store import APPLICATIONS
from applications.uploads.store import Upload, UploadStore
from auth.models import Role

if TYPE_CHECKING:
    from app.context import AppState

_BEARER = "bearer "
_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


def materials_router(get_state: Callable[[], AppState]) -> APIRouter:
    router = APIRouter()

    @router.get("/materials/{upload_gid}", include_in_schema=False)
    async def material(upload_gid: str, request: Request) -> Response:
        state = get_state()
        header = request.headers.get("authorization", "")
        token = header[len(_BEARER) :].strip() if header.lower().startswith(_BEARER) else ""
        try:
            viewer = await state.auth_service().authenticate(token)
        except UnauthenticatedError:
            return _error(401, "UNAUTHENTICATED", "请先登录 (sign-in required)")
        if state.user_rate.hit(str(viewer.user_id)) > 0:
            return _error(429, "RATE_LIMITED", "请求过于频繁，请稍后再试 (rate limited)")
        not_found = _error(404, "NOT_FOUND", "材料不存在 (no such material)")
        try:
            upload_id = object_id_from_global(upload_gid, "Upload")
        except DomainError:
            return not_found
        uploads = state.upload_service().store
        upload = await uploads.get(upload_id)
        if upload is None:
            return not_found
        if upload.owner_id != viewer.user_id:
            if not upload.attached_to:
                return not_found
            cases = (
                await state.db[APPLICATIONS]
                .find(
                    {"_id": {"$in": list(upload.attached_to)}},
                    {"department_code": 1, "applicant_id": 1},
                )
                .to_list(None)
            )
            if any(c["applicant_id"] == viewer.user_id for c in cases):
                # 帮办代办: what the agent uploaded for the principal's case, the principal may
                # read (it was submitted in their name). Never the other way: an agent reads
                # only their own uploads, not the principal's vault.
                return await _send(uploads, upload)
            if not viewer.has_role(Role.CLERK):
                return not_found
            case = next(
                (c for c in cases if may_process(viewer.department_code, c["department_code"])),
                None,
            )
            if case is None:
                return not_found
            await state.audit().record(
                AuditEvent(
                    "applications.material.read",
                    viewer.user_id,
                    tuple(r.value for r in viewer.roles),
                    target=upload_gid,
                    details={"application_id": str(case["_id"])},
                )
            )
        return await _send(uploads, upload)

    return router


async def _send(uploads: UploadStore, upload: Upload) -> Response:
    content = await uploads.read(upload)
    disposition = f"attachment; filename*=UTF-8''{quote(upload.file_name, safe='')}"
    return Response(
        content,
        media_type=upload.content_type,
        headers={**_HEADERS, "Content-Disposition": disposition},
    )
