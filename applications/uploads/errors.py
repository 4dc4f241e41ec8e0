"""Error codes of material uploads (stable: clients switch on them)."""

from __future__ import annotations

from typing import NoReturn

from app.errors import DomainError, NotFoundError


class UploadRefused(DomainError):
    """The file is not an acceptable material."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, field="file")


def refuse(code: str, message: str) -> NoReturn:
    raise UploadRefused(code, message)


class UploadNotFoundError(NotFoundError):
    def __init__(self, field: str = "uploadId") -> None:
        super().__init__("材料不存在 (no such upload)", field=field)


class MaterialInUseError(DomainError):
    code = "MATERIAL_IN_USE"

    def __init__(self) -> None:
        super().__init__(
            "该材料已用于提交的申请，作为存档不能删除 (attached to a submitted application)",
            field="uploadId",
        )
