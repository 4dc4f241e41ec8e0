"""uploadMaterial through real multipart requests: what is accepted, what is stored, and every
hostile file refused with a typed error and nothing stored."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from applications.uploads.checks import safe_name
from applications.uploads.store import Upload
from tests.applications.conftest import CITIZEN, ELDER
from tests.applications.uploading import png, post_upload, upload
from tests.conftest import make_settings, running_api
from tests.factories import Api, create_demo_user


def jpeg_with_exif(size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretPhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (36.0, 4.0, 0.0)}  # GPSInfo: where the photo was taken
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"<script>alert(1)</script>")
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.html", "<script>alert(1)</script>")
    return out.getvalue()


def pdf(body: bytes = b"", *, tail: bytes = b"") -> bytes:
    """A minimal well-formed PDF (correct xref offsets) with `body` added to its catalogue."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R " + body + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out) + tail


async def codes(api: Api, token: str, content: bytes, **kw: Any) -> list[str]:
    payload = await upload(api, token, content, **kw)
    assert payload["upload"] is None
    return [e["code"] for e in payload["userErrors"]]


async def stored_count(api: Api) -> tuple[int, int]:
    db = api.state.db
    return (
        await db["material_uploads"].count_documents({}),
        await db["materials.files"].count_documents({}),
    )


async def test_a_photo_is_decoded_reencoded_and_stripped_of_exif(api: Api, citizen: str) -> None:
    original = jpeg_with_exif()
    payload = await upload(
        api, citizen, original, file_name="../../etc/passwd.jpg", content_type="text/html"
    )
    assert payload["userErrors"] == []
    up = payload["upload"]
    assert up["contentType"] == "image/jpeg"  # what it is, not what the client said
    assert up["fileName"] == "passwd.jpg"  # no directories
    assert (up["width"], up["height"]) == (64, 48)
    doc = await api.state.db["material_uploads"].find_one({"file_name": "passwd.jpg"})
    assert doc is not None
    stored = await api.state.upload_service().store.read(Upload.from_document(doc))
    assert b"SecretPhoneMaker" not in stored
    assert b"<script>" not in stored
    assert len(Image.open(io.BytesIO(stored)).getexif()) == 0
    assert up["sha256"] == hashlib.sha256(stored).hexdigest()
    assert doc["file_id"] != doc["file_name"]  # the name is never a storage key


async def test_same_content_by_the_same_owner_is_one_upload(api: Api, citizen: str) -> None:
    before = await stored_count(api)
    first = (await upload(api, citizen, png("same")))["upload"]
    again = (await upload(api, citizen, png("same"), file_name="other.png"))["upload"]
    assert first["id"] == again["id"]
    assert await stored_count(api) == (before[0] + 1, before[1] + 1)
    await create_demo_user(api.state, ELDER)
    elder = await api.token(ELDER)
    theirs = (await upload(api, elder, png("same")))["upload"]
    assert theirs["id"] != first["id"]  # dedup is per owner: nobody learns another's files
    from tests.applications.test_materials import quota_matches_what_is_kept

    await quota_matches_what_is_kept(api)


async def test_concurrent_uploads_of_the_same_content_store_it_once(api: Api, citizen: str) -> None:
    before = await stored_count(api)
    payloads = await asyncio.gather(*(upload(api, citizen, png("twice")) for _ in range(4)))
    assert len({p["upload"]["id"] for p in payloads}) == 1
    assert await stored_count(api) == (before[0] + 1, before[1] + 1)
    assert await api.state.db["materials.chunks"].count_documents({}) == before[1] + 1
    from tests.applications.test_materials import quota_matches_what_is_kept

    await quota_matches_what_is_kept(api)


async def test_large_images_are_downscaled_and_webp_accepted(api: Api, citizen: str) -> None:
    wide = io.BytesIO()
    Image.new("RGB", (5000, 100), (1, 2, 3)).save(wide, "WEBP")
    up = (await upload(api, citizen, wide.getvalue(), file_name="w.webp"))["upload"]
    assert up["contentType"] == "image/webp"
    assert (up["width"], up["height"]) == (4096, 82)


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "EMPTY_FILE"),
        (b"<html><script>alert(1)</script></html>", "UNSUPPORTED_TYPE"),  # HTML as image/png
        (b"GIF89a" + b"\x00" * 40, "UNSUPPORTED_TYPE"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "CORRUPT_FILE"),  # HEIC header only
        (png("t")[:-30], "CORRUPT_FILE"),  # truncated PNG
        (jpeg_with_exif((400, 300))[:600], "CORRUPT_FILE"),  # truncated JPEG
        (zip_bytes() + pdf(), "UNSUPPORTED_TYPE"),  # a ZIP that is also a PDF
        (pdf(tail=zip_bytes()), "CORRUPT_FILE"),  # a PDF with an archive appended
        (pdf()[:-40], "CORRUPT_FILE"),  # truncated PDF
        (pdf(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "), "PDF_ACTIVE_CONTENT"),
        (pdf(b"/Names << /J#61vaScript 4 0 R >> "), "PDF_ACTIVE_CONTENT"),  # escaped name
        (pdf(b"/Names << /EmbeddedFiles 4 0 R >> "), "PDF_ACTIVE_CONTENT"),
    ],
)
async def test_hostile_or_broken_files_are_refused_and_nothing_is_stored(
    api: Api, citizen: str, content: bytes, code: str
) -> None:
    before = await stored_count(api)
    assert await codes(api, citizen, content) == [code]
    assert await stored_count(api) == before


async def test_encrypted_pdf_refused_and_plain_pdf_kept_byte_for_byte(
    api: Api, citizen: str
) -> None:
    encrypted = pdf().replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt 9 0 R")
    assert await codes(api, citizen, encrypted) == ["PDF_ACTIVE_CONTENT"]
    plain = pdf()
    up = (await upload(api, citizen, plain, file_name="证明.PDF", content_type="image/png"))[
        "upload"
    ]
    assert (up["contentType"], up["fileName"], up["size"]) == (
        "application/pdf",
        "证明.pdf",
        len(plain),
    )


async def test_a_decompression_bomb_is_refused_before_decoding(api: Api, citizen: str) -> None:
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 Mpx in a few kB
    assert len(bomb.getvalue()) < 100_000
    assert await codes(api, citizen, bomb.getvalue()) == ["IMAGE_TOO_LARGE"]


async def test_polyglot_jpeg_zip_loses_its_payload(api: Api, citizen: str) -> None:
    polyglot = jpeg_with_exif() + zip_bytes()
    assert zipfile.is_zipfile(io.BytesIO(polyglot))
    up = (await upload(api, citizen, polyglot, file_name="x.zip"))["upload"]
    assert up["fileName"] == "x.jpg"
    doc = await api.state.db["material_uploads"].find_one({"file_name": "x.jpg"})
    assert doc is not None
    stored = await api.state.upload_service().store.read(Upload.from_document(doc))
    assert not zipfile.is_zipfile(io.BytesIO(stored))
    assert b"PK\x03\x04" not in stored


async def test_multipart_without_a_preflight_header_is_refused(api: Api, citizen: str) -> None:
    response = await post_upload(api, citizen, png(), preflight=False)
    assert response.status_code == 400
    anonymous = await post_upload(api, None, png("anon"))
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_multipart_carries_the_upload_mutation_only(api: Api, citizen: str) -> None:
    """Multipart gets the upload size limit and a late database deadline: nothing else may
    ride on it (another operation, a query, an upload plus something else, a fragment)."""
    before = await api.state.db["material_uploads"].count_documents({})
    for query in (
        "{ me { id } }",
        "mutation { logout { ok } }",
        "mutation($input: UploadMaterialInput!) { uploadMaterial(input: $input) { upload { id } }"
        " logout { ok } }",
        "mutation($input: UploadMaterialInput!) { ...F } fragment F on Mutation {"
        " uploadMaterial(input: $input) { upload { id } } }",
        "not graphql",
    ):
        operations = {"query": query, "variables": {"input": {"file": None}}}
        response = await api.client.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.input.file"]}),
            },
            files={"0": ("a.png", png("m"), "image/png")},
            headers={"Authorization": f"Bearer {citizen}", "apollo-require-preflight": "true"},
        )
        assert response.status_code == 400, (query, response.text)
    assert await api.state.db["material_uploads"].count_documents({}) == before


async def test_size_limits_typed_within_the_envelope_and_413_beyond(
    mongo_uri: str, tmp_path: Path
) -> None:
    settings = make_settings(mongo_uri, tmp_path, max_upload_bytes=100_000)
    async with running_api(settings) as api:
        await create_demo_user(api.state, CITIZEN)
        token = await api.token(CITIZEN)
        over = pdf() + b"\n" * 100_001  # just over the file limit, inside the request envelope
        assert await codes(api, token, over) == ["FILE_TOO_LARGE"]
        huge = await post_upload(api, token, b"\0" * 2_000_000)
        assert huge.status_code == 413
        assert huge.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
        assert await stored_count(api) == (0, 0)


async def test_upload_rate_and_quota_per_user(mongo_uri: str, tmp_path: Path) -> None:
    settings = make_settings(mongo_uri, tmp_path, upload_rate="3/600", upload_quota_files=2)
    async with running_api(settings) as api:
        await create_demo_user(api.state, CITIZEN)
        token = await api.token(CITIZEN)
        assert (await upload(api, token, png("a")))["userErrors"] == []
        assert (await upload(api, token, png("b")))["userErrors"] == []
        assert await codes(api, token, png("c")) == ["QUOTA_EXCEEDED"]
        assert await codes(api, token, png("d")) == ["RATE_LIMITED"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd.jpg"),
        ("..\\..\\windows\\win.ini", "win.jpg"),
        ("a\x00b\r\nc.jpg", "abc.jpg"),
        ("invoice\u202egpj.exe", "invoicegpj.jpg"),  # right-to-left override removed
        ('con<>:"|?*.png', "con_______.jpg"),
        ("...", "材料.jpg"),
        (None, "材料.jpg"),
        ("x" * 300 + ".jpg", "x" * 96 + ".jpg"),
    ],
)
def test_file_names_are_sanitised(raw: str | None, expected: str) -> None:
    assert safe_name(raw, ".jpg") == expected


async def test_multipart_requests_have_no_request_wide_database_deadline() -> None:
    """A slow phone link may take minutes to send a file; the upload service starts its own
    database budget once the body is in (other requests keep the request-wide one)."""
    from pymongo import _csot

    from app.http_guards import DatabaseDeadline

    seen: list[float | None] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(_csot.get_timeout())

    guard = DatabaseDeadline(inner, seconds=10.0)
    for content_type in (b"multipart/form-data; boundary=x", b"application/json"):
        scope = {"type": "http", "headers": [(b"content-type", content_type)]}
        await guard(scope, None, None)  # type: ignore[arg-type]
    assert seen[0] is None
    assert seen[1] is not None
