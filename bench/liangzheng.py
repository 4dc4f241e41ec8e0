"""亮证 benchmark: our token minting, verification and PNG rendering against the raw library
calls, measured in the same run on the same machine (ratios, not absolute figures).

    python bench/liangzheng.py           # the full measurement
    python bench/liangzheng.py --quick   # a shorter one (well under three minutes)

Prints `name=value` lines. Targets (issue 4): mint_vs_raw_sign >= 0.5,
verify_vs_raw_verify >= 0.7, png_vs_qrcode_default >= 10.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qrcode
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from electronic_cards import sdl1
from electronic_cards.keys import SdlKey, kid_of
from electronic_cards.rendering import render_png
from electronic_cards.verification import decode_step, signature_and_time


def _clock() -> float:
    # CPU time of this process, not wall time: the machine is shared (two cores, other jobs),
    # and time spent descheduled is nobody's cost. Single-threaded, so the two agree when idle.
    return time.process_time()


def _batch(action: Callable[[], object], seconds: float) -> int:
    """How many calls take about a twentieth of a round."""
    batch = 1
    while True:
        started = _clock()
        for _ in range(batch):
            action()
        if _clock() - started > seconds / 20:
            return batch
        batch *= 2


def rates(
    actions: dict[str, Callable[[], object]], seconds: float, rounds: int
) -> dict[str, float]:
    """Operations per second of each action: the best of `rounds` rounds.

    Short rounds of all actions are interleaved and the best of each kept, so a busy neighbour
    on the machine (two cores, shared) slows an action and its baseline alike instead of
    skewing their ratio.
    """
    batches = {name: _batch(action, seconds) for name, action in actions.items()}
    best = dict.fromkeys(actions, 0.0)
    for _ in range(rounds):
        for name, action in actions.items():
            batch, count, started = batches[name], 0, _clock()
            while _clock() - started < seconds:
                for _ in range(batch):
                    action()
                count += batch
            best[name] = max(best[name], count / (_clock() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter rounds")
    args = parser.parse_args()
    seconds, rounds = (0.2, 15) if args.quick else (0.5, 40)

    private = ec.generate_private_key(ec.SECP256R1())
    now_dt = datetime.now(UTC)
    key = SdlKey(kid_of(private.public_key()), private, private.public_key(), now_dt, now_dt, None)
    ecdsa = ec.ECDSA(hashes.SHA256())

    def mint() -> str:
        iat = int(time.time())
        fresh = os.urandom(20)  # as the service draws them: cti and the online handle
        claims = sdl1.Claims("370200", iat, iat + 60, fresh[:8], "04", ref=fresh[8:])
        return sdl1.encode_token(claims, key)

    text = mint()
    decoded = sdl1.decode_token(text)
    issued_at = decoded.claims.iat
    message = decoded.sign1.to_be_signed  # the very bytes a token signs, for the raw baseline
    der = private.sign(message, ecdsa)
    public = private.public_key()

    def raw_sign() -> bytes:
        return private.sign(message, ecdsa)

    def raw_verify() -> None:
        public.verify(der, message, ecdsa)

    def verify() -> None:
        token = decode_step(text)
        assert not isinstance(token, str), token
        # The clock is read as in the service, then held inside the token's lifetime: a full
        # run outlives the 60-second token.
        checked_at = min(int(time.time()), issued_at + 60)
        result = signature_and_time(token, key.verify, checked_at)
        assert result is None, result

    def png_ours() -> bytes:
        return render_png(text, 570)  # qrcode's default: 10 px per module, 4-module border

    def png_default() -> bytes:
        out = io.BytesIO()
        qrcode.make(text).save(out, format="PNG")
        return out.getvalue()

    figures = rates(
        {
            "raw_sign_per_s": raw_sign,
            "mint_per_s": mint,
            "raw_verify_per_s": raw_verify,
            "verify_per_s": verify,
            "png_ours_per_s": png_ours,
            "png_qrcode_default_per_s": png_default,
        },
        seconds,
        rounds,
    )
    for name, value in figures.items():
        print(f"{name}={value:.1f}")
    print(f"token_chars={len(text)}")
    print(f"mint_vs_raw_sign={figures['mint_per_s'] / figures['raw_sign_per_s']:.3f}")
    print(f"verify_vs_raw_verify={figures['verify_per_s'] / figures['raw_verify_per_s']:.3f}")
    png_ratio = figures["png_ours_per_s"] / figures["png_qrcode_default_per_s"]
    print(f"png_vs_qrcode_default={png_ratio:.2f}")


if __name__ == "__main__":
    main()
