"""`uploadMaterial`, `deleteMaterial` and `myMaterials`: thin calls into `UploadService`.

`uploadMaterial` is sent as a GraphQL multipart request (the `operations` / `map` / file parts
of the multipart request spec) with an `apollo-require-preflight` header (CSRF guard).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from bson import ObjectId
from strawberry.file_uploads import Upload as UploadScalar
from strawberry.types import Info

from app.api_types import UserError, run_mutation
from app.context import Context
from app.errors import DomainError
from app.ids import object_id_from_global, to_global_id
from app.pagination import Connection, Edge
from applications.uploads import store


def upload_id(value: str, field: str = "uploadId") -> ObjectId:
    return object_id_from_global(str(value), "Upload", field=field)


@strawberry.type(name="MaterialUpload", description="A material file in the vault (材料库).")
class Upload:
    upload: strawberry.Private[store.Upload]

    @strawberry.field(description="Opaque global id: the `reference` of an UPLOAD material.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Upload", self.upload.id))

    @strawberry.field(description="Display name (sanitised; the extension is the real type's).")
    def file_name(self) -> str:
        return self.upload.file_name

    @strawberry.field(description="The type found by decoding: image/jpeg, image/png, …")
    def content_type(self) -> str:
        return self.upload.content_type

    @strawberry.field(description="Bytes stored (after re-encoding images).")
    def size(self) -> int:
        return self.upload.size

    @strawberry.field(description="SHA-256 of the stored bytes, hex.")
    def sha256(self) -> str:
        return self.upload.sha256

    @strawberry.field(description="When it was uploaded (UTC).")
    def created_at(self) -> datetime:
        return self.upload.created_at

    @strawberry.field(description="Pixel width of an image; null for a PDF.")
    def width(self) -> int | None:
        return self.upload.width

    @strawberry.field(description="Pixel height of an image; null for a PDF.")
    def height(self) -> int | None:
        return self.upload.height

    @strawberry.field(description="Used by a submitted application: kept as evidence.")
    def in_use(self) -> bool:
        return bool(self.upload.attached_to)


@strawberry.input(description="Upload one material file (multipart request).")
class UploadMaterialInput:
    file: UploadScalar = strawberry.field(description="The file part of the multipart request.")


@strawberry.input(description="Delete a material from one's vault.")
class DeleteMaterialInput:
    upload_id: strawberry.ID = strawberry.field(description="The upload.")


@strawberry.type(description="Result of uploadMaterial.")
class UploadMaterialPayload:
    upload: Upload | None = strawberry.field(default=None, description="The stored material.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Expected failures."
    )


@strawberry.type(description="Result of deleteMaterial.")
class DeleteMaterialPayload:
    deleted_upload_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the deleted material."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Expected failures."
    )


@strawberry.type
class Query:
    @strawberry.field(description="材料库: the viewer's uploads, newest first (reuse them).")
    async def my_materials(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Upload]:
        viewer = info.context.require_viewer()
        page = await info.context.uploads.mine(viewer, first, after)
        return Connection(
            edges=[Edge(node=Upload(upload=e.node), cursor=e.cursor) for e in page.edges],
            page_info=page.page_info,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Upload a material (JPEG, PNG, WebP or PDF; HEIC/HEIF too where the server "
        "has the heic extra, stored as JPEG; checked)."
    )
    async def upload_material(
        self, info: Info[Context, None], input: UploadMaterialInput
    ) -> UploadMaterialPayload:
        viewer = info.context.require_viewer()
        file: Any = input.file

        async def act() -> UploadMaterialPayload:
            if not callable(getattr(file, "read", None)):  # a string where the file belongs
                raise DomainError("请以文件上传 (send a file)", code="INVALID_FILE", field="file")
            name = getattr(file, "filename", None)
            try:
                stored = await info.context.uploads.upload(viewer, name, file)
            finally:
                await file.close()  # its spooled temporary file, now rather than at GC
            return UploadMaterialPayload(upload=Upload(upload=stored))

        return await run_mutation(UploadMaterialPayload, act)

    @strawberry.mutation(description="Delete one's material (not one a submission uses).")
    async def delete_material(
        self, info: Info[Context, None], input: DeleteMaterialInput
    ) -> DeleteMaterialPayload:
        viewer = info.context.require_viewer()

        async def act() -> DeleteMaterialPayload:
            gone = await info.context.uploads.delete(viewer, upload_id(str(input.upload_id)))
            return DeleteMaterialPayload(
                deleted_upload_id=strawberry.ID(to_global_id("Upload", gone.id))
            )

        return await run_mutation(DeleteMaterialPayload, act)
