"""An SDL1 verifier written from shared/specs/sdl1-qr.md alone: cbor2 + cryptography, nothing
from `electronic_cards`. If our tokens pass here, a third party holding the spec can check them.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b45decode(text: str) -> bytes:
    """RFC 9285 §4.2, written out plainly."""
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = [_B45.index(c) for c in text[i : i + 3]]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError("base45 chunk out of range")
            out += bytes(divmod(n, 256))
        elif len(chunk) == 2:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("base45 chunk out of range")
            out.append(n)
        else:
            raise ValueError("dangling base45 character")
    return bytes(out)


def open_cose(text: str, prefix: str) -> tuple[dict[int, Any], dict[int, Any], bytes, bytes]:
    """(protected header, claims, Sig_structure bytes, raw signature) of a spec token."""
    assert text.startswith(prefix)
    data = b45decode(text[len(prefix) :])
    if data[0] == 0x78:
        data = zlib.decompress(data)
    assert data[0] == 0xD2  # tag 18
    tagged = cbor2.loads(data)
    assert tagged.tag == 18
    protected, unprotected, payload, signature = tagged.value
    assert dict(unprotected) == {}
    header = cbor2.loads(protected)
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    return dict(header), dict(cbor2.loads(payload)), to_be_signed, signature


def public_keys(document: dict[str, Any]) -> dict[bytes, ec.EllipticCurvePublicKey]:
    import base64

    def b64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    keys = {}
    for entry in document["keys"]:
        assert entry["alg"] == "ES256"
        assert entry["kty"] == "EC"
        assert entry["crv"] == "P-256"
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64(entry["x"]), "big"),
            int.from_bytes(b64(entry["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
        spki = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert hashlib.sha256(spki).digest()[:8] == b64(entry["kid"])  # spec §2
        keys[b64(entry["kid"])] = public
    return keys


def verify(text: str, document: dict[str, Any], prefix: str = "SDL1:") -> dict[int, Any]:
    """The claims if the signature verifies under a published key; raises otherwise."""
    header, claims, to_be_signed, signature = open_cose(text, prefix)
    assert header[1] == -7
    public = public_keys(document)[header[4]]
    assert len(signature) == 64
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    public.verify(der, to_be_signed, ec.ECDSA(hashes.SHA256()))
    return claims


def status_of(list_text: str, document: dict[str, Any], index: int) -> int:
    claims = verify(list_text, document, prefix="SDLS1:")
    assert claims[-70020] == 2
    assert claims[4] - claims[6] <= 24 * 3600
    array = zlib.decompress(claims[-70021])
    assert len(array) * 4 >= 131_072
    return (array[index // 4] >> (2 * (index % 4))) & 0b11
