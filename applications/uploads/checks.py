"""What an uploaded file is, decided by decoding it — never by its name or claimed type.

Plain synchronous functions (Pillow is CPU-bound): the service calls `inspect` in a worker
thread. Images are decoded fully and **re-encoded**: that drops EXIF (GPS positions, device
serials) and every other metadata chunk, and it also drops whatever a polyglot smuggled after or
inside the image (a ZIP appended to a JPEG, HTML in a comment segment), because only the pixels
survive. PDFs cannot be re-encoded without a PDF library, so they are checked by structure
(`applications.uploads.pdf`).

HEIC/HEIF (iPhone photos) is read through pillow-heif's Pillow plugin when the optional `heic`
extra is installed (its binary wheels are GPL-2.0 because they bundle the x265 encoder: see
docs/applications.md, "HEIC"), and stored as JPEG, which every phone and clerk's browser shows.
Without the plugin a HEIC file is refused as UNSUPPORTED_TYPE with a hint.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from applications.uploads import pdf
from applications.uploads.errors import UploadRefused

try:
    import pillow_heif
except ImportError:  # the `heic` extra is not installed: HEIC is refused with a hint
    HEIF_READABLE = False
else:
    # Only the primary image is wanted: thumbnails, depth maps and auxiliary images would be
    # more parsing of hostile input for nothing. libheif applies the file's rotation and
    # mirroring (irot/imir) while decoding and pillow-heif then resets the EXIF orientation,
    # so exif_transpose below does not turn the photo twice.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    HEIF_READABLE = True

# Pillow format name → (content type, file extension, save options). MPO is what many phones
# write for JPEG photos (a JPEG with a second, multi-picture frame); it is stored as JPEG.
IMAGE_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", ".jpg"),
    "MPO": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
    # pillow-heif's format name for HEIC and HEIF; stored re-encoded as JPEG.
    "HEIF": ("image/jpeg", ".jpg"),
}
# ISO-BMFF major brands of HEIF files with HEVC or generic image content (what pillow-heif opens).
HEIF_BRANDS = frozenset(
    (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
)
PDF = ("application/pdf", ".pdf")
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Limits:
    max_pixels: int  # decoded size above which a file is a decompression bomb
    max_edge: int  # longer edge above which an image is downscaled


@dataclass(frozen=True, slots=True)
class Inspected:
    content: bytes  # what is stored: the re-encoded image or the checked PDF
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None


def inspect(data: bytes, limits: Limits) -> Inspected:
    if not data:
        raise UploadRefused("EMPTY_FILE", "文件为空 (empty file)")
    if data.startswith(b"%PDF-"):
        pdf.check(data)
        return Inspected(data, *PDF)
    return _image(data, limits)


def _image(data: bytes, limits: Limits) -> Inspected:
    with warnings.catch_warnings():
        # Pillow's warnings about broken metadata are moot (metadata is dropped anyway); its
        # decompression-bomb warning (between MAX_IMAGE_PIXELS and twice that) is a refusal.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        fmt = ""
        try:
            probe = Image.open(io.BytesIO(data))
            fmt = probe.format or ""
            if fmt not in IMAGE_FORMATS:
                raise _unsupported(fmt)
            _check_pixels(probe.size, limits)  # from the header (HEIF: ispe), nothing decoded
            probe.verify()  # structure and checksums (PNG CRCs) without keeping pixels
            decoded = Image.open(io.BytesIO(data))
            decoded.load()  # every byte of pixel data: a truncated file fails here
            _check_pixels(decoded.size, limits)  # a decoder may settle the size only now
            # Keep the photo upright once its EXIF orientation is gone. Inside the guard: broken
            # EXIF (a tag past the end of the file) warns or raises here, not in the decoder.
            image: Image.Image = ImageOps.exif_transpose(decoded)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb() from exc
        except UnidentifiedImageError as exc:
            if _looks_like_heif(data):
                # With the plugin, a HEIF that libheif cannot open is broken (libheif reads the
                # whole box structure up front, so a truncated one fails here, not in load()).
                raise (_corrupt() if HEIF_READABLE else _unsupported("HEIC")) from exc
            raise _unsupported("") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise _corrupt() from exc
        except RuntimeError as exc:
            # pillow-heif's exception for libheif's remaining error classes, among them its
            # own security limits (image size, tile count, memory). Pillow does not raise it.
            if fmt != "HEIF":
                raise
            if "security limit" in str(exc).lower():
                raise _bomb() from exc
            raise _corrupt() from exc
    content_type, extension = IMAGE_FORMATS[fmt]
    if max(image.size) > limits.max_edge:
        image.thumbnail((limits.max_edge, limits.max_edge), Image.Resampling.LANCZOS)
    # Savers copy some of `info` (a JPEG comment, a WebP's EXIF, a HEIF's XMP) into the output:
    # keep only what the pixels need.
    image.info = {k: v for k, v in image.info.items() if k == "transparency"}
    out = io.BytesIO()
    if content_type == "image/jpeg":
        if "A" in image.getbands():
            # A HEIF with an alpha plane: JPEG has none, so show it as on white paper.
            rgba = image.convert("RGBA")
            image = Image.new("RGB", rgba.size, (255, 255, 255))
            image.paste(rgba, mask=rgba.getchannel("A"))
        elif image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=90, optimize=False)
    elif content_type == "image/png":
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
            image = image.convert("RGBA")
        image.save(out, "PNG")
    else:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        image.save(out, "WEBP", quality=90)
    # Saving without exif=/icc_profile=/pnginfo=/xmp= writes no metadata chunks at all.
    return Inspected(out.getvalue(), content_type, extension, image.width, image.height)


def _looks_like_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS


def _check_pixels(size: tuple[int, int], limits: Limits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _corrupt()
    if width * height > limits.max_pixels:
        raise _bomb()


def _bomb() -> UploadRefused:
    return UploadRefused(
        "IMAGE_TOO_LARGE", "图片像素过多，疑似解压炸弹 (image too large when decoded)"
    )


def _corrupt() -> UploadRefused:
    return UploadRefused("CORRUPT_FILE", "图片已损坏或不完整 (corrupt or truncated image)")


def _unsupported(fmt: str) -> UploadRefused:
    hint = "；HEIC 照片请在手机上选择“最兼容”格式或转为 JPEG" if fmt == "HEIC" else ""
    heic = "、HEIC" if HEIF_READABLE else ""
    return UploadRefused(
        "UNSUPPORTED_TYPE",
        f"仅支持 JPEG、PNG、WebP{heic} 图片和 PDF 文件{hint} (unsupported file type)",
    )


def safe_name(raw: str | None, extension: str) -> str:
    """A display name only (never a storage key): no directories, control or reserved
    characters, at most MAX_NAME characters, ending in the extension of what the file *is*."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        "_" if ch in '<>:"|?*' else ch
        for ch in name
        if not unicodedata.category(ch).startswith(("C", "Z")) or ch == " "
    )
    name = name.strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip(" .")[: MAX_NAME - len(extension)] or "材料"
    return stem + extension
