"""Property tests of the file checks, called directly (no HTTP: many examples, quickly).

Whatever the bytes, `inspect` either accepts the file (and what it returns decodes again as the
type it claims, without metadata) or refuses it with a typed UploadRefused — never another
exception, which would surface as a masked internal error."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from applications.uploads.checks import HEIF_READABLE, Limits, inspect
from applications.uploads.errors import UploadRefused
from tests.applications.test_uploads import jpeg_with_exif, pdf
from tests.applications.uploading import png

CODES = {"EMPTY_FILE", "UNSUPPORTED_TYPE", "CORRUPT_FILE", "IMAGE_TOO_LARGE", "PDF_ACTIVE_CONTENT"}
LIMITS = Limits(max_pixels=4_000_000, max_edge=512)
SEEDS = [png("p", (40, 30)), jpeg_with_exif((40, 30)), pdf()]


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (20, 20), (1, 2, 3, 4)).save(out, "WEBP")
    return out.getvalue()


SEEDS.append(_webp())
if HEIF_READABLE:  # libheif gets mutated HEIC files too
    from tests.applications.test_upload_heic import heic

    SEEDS.append(heic((48, 24), orientation=6))


def _accepted_or_refused(data: bytes) -> None:
    refused: str | None
    try:
        found = inspect(data, LIMITS)
    except UploadRefused as exc:
        refused = exc.code
    else:
        refused = None
    if refused is not None:
        assert refused in CODES
        return
    if found.content_type == "application/pdf":
        assert found.content == data
        return
    image = Image.open(io.BytesIO(found.content))
    image.load()
    assert Image.MIME[image.format or ""] == found.content_type
    assert max(image.size) <= LIMITS.max_edge
    assert len(image.getexif()) == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused_with_a_type(data: bytes) -> None:
    _accepted_or_refused(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.integers(0, 10_000),
)
def test_mutated_valid_files_are_accepted_or_refused_with_a_type(
    seed: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    _accepted_or_refused(bytes(data[: len(data) - cut % len(data)]))
