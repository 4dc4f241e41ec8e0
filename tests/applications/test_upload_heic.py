"""HEIC/HEIF uploads (iPhone photos): decoded for real by libheif through pillow-heif, checked
like every other image, and stored as JPEG.

The HEIC files are made here with pillow-heif's own encoder (its wheels bundle x265), so no
binary fixture is committed. The direct `inspect` tests are quick; the HTTP ones check what is
stored and how the name and type follow what the file is, never what it is called."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from applications.uploads import checks
from applications.uploads.checks import Limits, inspect
from applications.uploads.errors import UploadRefused
from applications.uploads.store import Upload
from tests.applications.test_uploads import codes, stored_count
from tests.applications.uploading import png, upload
from tests.factories import Api

pytestmark = pytest.mark.skipif(not checks.HEIF_READABLE, reason="the `heic` extra is absent")

LIMITS = Limits(max_pixels=4_000_000, max_edge=512)
RED, BLUE = (220, 20, 20), (20, 20, 220)
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>SecretXmpPlace</rdf:RDF></x:xmpmeta>'


def heic(size: tuple[int, int] = (64, 32), *, orientation: int = 1, alpha: bool = False) -> bytes:
    """A HEIC photo as a phone writes one: left half red, right half blue, with EXIF (maker,
    GPS position, orientation) and XMP."""
    width, height = size
    image = Image.new("RGBA" if alpha else "RGB", size, RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    if alpha:
        image.putalpha(0)  # fully transparent: shown on white once stored as JPEG
    exif = Image.Exif()
    exif[0x010F] = "SecretPhoneMaker"  # Make
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (36.0, 4.0, 0.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "HEIF", quality=80, exif=exif.tobytes(), xmp=XMP)
    data = out.getvalue()
    assert data[4:12] == b"ftypheic"
    return data


def declaring(data: bytes, width: int, height: int) -> bytes:
    """The same file with the size in its `ispe` box (image spatial extents) changed."""
    at = data.index(b"ispe")
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]


def refused(data: bytes) -> str:
    with pytest.raises(UploadRefused) as caught:
        inspect(data, LIMITS)
    return caught.value.code


def test_a_heic_photo_is_decoded_turned_upright_stripped_and_stored_as_jpeg() -> None:
    original = heic((64, 32), orientation=6)  # 6: shown turned 90° clockwise
    assert b"SecretPhoneMaker" in original
    assert b"SecretXmpPlace" in original
    found = inspect(original, LIMITS)
    assert (found.content_type, found.extension) == ("image/jpeg", ".jpg")
    assert found.content[:2] == b"\xff\xd8"
    stored = Image.open(io.BytesIO(found.content))
    assert stored.format == "JPEG"
    # Upright as a phone shows it: portrait, the left (red) half now on top — turned once.
    assert stored.size == (found.width, found.height) == (32, 64)
    rgb = stored.convert("RGB")
    top, bottom = rgb.getpixel((16, 8)), rgb.getpixel((16, 56))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 150 > top[2]
    assert bottom[2] > 150 > bottom[0]
    # No metadata survives: no EXIF (maker, GPS, orientation), no XMP, no ICC profile.
    assert len(stored.getexif()) == 0
    assert b"SecretPhoneMaker" not in found.content
    assert b"SecretXmpPlace" not in found.content
    assert b"xmpmeta" not in found.content
    assert "icc_profile" not in stored.info


def test_a_very_large_heic_is_downscaled() -> None:
    found = inspect(heic((1200, 300)), LIMITS)
    assert (found.width, found.height) == (512, 128)
    assert Image.open(io.BytesIO(found.content)).size == (512, 128)


def test_a_heic_with_transparency_is_shown_on_white() -> None:
    found = inspect(heic((32, 32), alpha=True), LIMITS)
    stored = Image.open(io.BytesIO(found.content))
    assert stored.mode == "RGB"
    assert stored.getpixel((4, 4)) == pytest.approx((255, 255, 255), abs=3)


@pytest.mark.parametrize("keep", [12, 40, 200, 0.5, -200, -20, -1])
def test_a_truncated_heic_is_refused_as_corrupt(keep: float) -> None:
    data = heic()
    end = int(len(data) * keep) if isinstance(keep, float) else keep
    assert refused(data[:end]) == "CORRUPT_FILE"


def test_a_heic_with_unreadable_exif_is_refused_as_corrupt() -> None:
    """Found by the mutation property test: Pillow's EXIF reader raised SyntaxError (and warned)
    outside the decoding guard, which would have surfaced as a masked internal error."""
    data = heic()
    tiff = data.index(b"Exif\x00\x00MM\x00*") + 6  # the EXIF item's TIFF header
    assert refused(data[:tiff] + b"%\x00\x04\x00" + data[tiff + 4 :]) == "CORRUPT_FILE"


def test_heic_with_a_huge_declared_size_is_refused_before_decoding() -> None:
    data = heic((64, 64))  # a multiple of the coding block: no clean-aperture crop box
    # 25 Mpx declared, 64×64 coded: decoding would fail with a size mismatch (CORRUPT_FILE),
    # so IMAGE_TOO_LARGE shows that the refusal came from the header, before any decoding.
    assert refused(declaring(data, 5000, 5000)) == "IMAGE_TOO_LARGE"
    # Beyond Pillow's own bomb limit, and beyond libheif's security limit.
    assert refused(declaring(data, 40_000, 40_000)) == "IMAGE_TOO_LARGE"
    assert refused(declaring(data, 0, 0)) == "CORRUPT_FILE"


def test_without_the_plugin_heic_is_unsupported_with_a_hint() -> None:
    """The production image without the `heic` extra: a clear refusal, not a corrupt-file one."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pillow_heif"] = None  # what an absent package looks like to `import`
        from applications.uploads import checks
        from applications.uploads.errors import UploadRefused
        assert not checks.HEIF_READABLE
        try:
            checks.inspect(sys.stdin.buffer.read(), checks.Limits(4_000_000, 512))
        except UploadRefused as exc:
            print(exc.code, exc.message)
        """
    )
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", script],
        input=heic(),
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    out = done.stdout.decode()
    assert out.startswith("UNSUPPORTED_TYPE"), out
    assert "最兼容" in out
    assert "HEIC" in out


async def test_heic_upload_is_stored_as_jpeg_named_for_what_it_is(api: Api, citizen: str) -> None:
    payload = await upload(
        api, citizen, heic((64, 32)), file_name="IMG_0001.HEIC", content_type="image/heic"
    )
    assert payload["userErrors"] == []
    up = payload["upload"]
    assert (up["contentType"], up["fileName"]) == ("image/jpeg", "IMG_0001.jpg")
    assert (up["width"], up["height"]) == (64, 32)
    doc = await api.state.db["material_uploads"].find_one({"file_name": "IMG_0001.jpg"})
    assert doc is not None
    stored = await api.state.upload_service().store.read(Upload.from_document(doc))
    assert stored[:2] == b"\xff\xd8"
    assert b"SecretPhoneMaker" not in stored
    assert b"SecretXmpPlace" not in stored
    assert len(Image.open(io.BytesIO(stored)).getexif()) == 0


async def test_extension_lies_are_settled_by_decoding(api: Api, citizen: str) -> None:
    # A PNG called .heic is a PNG.
    as_heic = await upload(api, citizen, png("lie"), file_name="x.heic", content_type="image/heic")
    assert (as_heic["upload"]["contentType"], as_heic["upload"]["fileName"]) == (
        "image/png",
        "x.png",
    )
    # A HEIC called .jpg is decoded as HEIC and stored as a real JPEG.
    as_jpg = await upload(
        api, citizen, heic((48, 16)), file_name="photo.jpg", content_type="image/jpeg"
    )
    up = as_jpg["upload"]
    assert (up["contentType"], up["fileName"], up["width"]) == ("image/jpeg", "photo.jpg", 48)
    # A truncated HEIC called .jpg is refused like any broken image; nothing is stored.
    before = await stored_count(api)
    assert await codes(api, citizen, heic()[:-40], file_name="p.jpg") == ["CORRUPT_FILE"]
    assert await stored_count(api) == before


async def test_a_heic_sent_with_the_submission_is_kept_as_jpeg(api: Api, citizen: str) -> None:
    """submitApplication with its files in the request takes the same checks."""
    from tests.applications.test_inline_files import business_with_two_files, post_submit

    parts = {
        "a": ("申请书.HEIC", heic((64, 32)), "image/heic"),
        "b": ("id.heic", heic((32, 64), orientation=6), "image/heic"),
    }
    payload = await post_submit(
        api, citizen, business_with_two_files("inline-heic-1"), parts, {"a": [0, 2], "b": [1]}
    )
    assert payload["userErrors"] == []
    db = api.state.db
    names = {"$in": ["id.jpg", "申请书.jpg", "id.heic", "申请书.HEIC"]}
    found = db["material_uploads"].find({"file_name": names}).sort("file_name", 1)
    kept = await found.to_list(None)
    assert [(u["file_name"], u["content_type"]) for u in kept] == [
        ("id.jpg", "image/jpeg"),
        ("申请书.jpg", "image/jpeg"),
    ]
    for doc in kept:
        stored = await api.state.upload_service().store.read(Upload.from_document(doc))
        assert stored[:2] == b"\xff\xd8"
        assert b"SecretPhoneMaker" not in stored


def test_a_heic_whose_exif_item_is_cut_short_is_corrupt() -> None:
    """Pillow's EXIF reader raises struct.error on a TIFF header cut short: CORRUPT_FILE, not a
    masked internal error (found by mutating two bytes of a HEIC: the EXIF item's extent)."""
    data = bytearray(heic((64, 64)))
    assert (data[37], data[124]) == (0, 132)
    data[37], data[124] = 31, 17
    assert refused(bytes(data)) == "CORRUPT_FILE"
