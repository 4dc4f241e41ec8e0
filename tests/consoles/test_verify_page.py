"""/verify/: a verifier signs in, scans a 亮证 QR with the (fake) camera or pastes its text, and
sees VALID / EXPIRED / REPLAYED; with the network cut the page still opens and verifies in the
browser with the cached keys and status lists, labelled as an offline check."""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Page, expect

from electronic_cards import sdl1
from tests.consoles.conftest import Live, new_page, screenshot, sign_in

CITIZEN = "13800000001"  # 张三明: 居民身份证, 机动车驾驶证, 营业执照
TRAFFIC = "13800000101"  # verifier, scene TRAFFIC_CHECK (this page's user)
HOTEL = "13800000102"  # verifier, scene HOTEL_CHECKIN (scans a code first: the replay)

LICENCES = "{ myLicences { id type { code } } }"
CREATE_QR = """
mutation Q($id: ID!, $mode: QrMode!) {
  createLicenceQr(input: {licenceId: $id, mode: $mode}) {
    qr { text png(size: 360) } userErrors { code message }
  }
}"""
VERIFY = """
mutation V($text: String!, $scene: String!) {
  verifyLicenceQr(input: {text: $text, scene: $scene}) { result userErrors { code } }
}"""


def _mint(live: Live, token: str, type_code: str, mode: str = "ONLINE") -> dict[str, str]:
    licences = live.gql(LICENCES, {}, token)["myLicences"]
    lid = next(x["id"] for x in licences if x["type"]["code"] == type_code)
    payload = live.gql(CREATE_QR, {"id": lid, "mode": mode}, token)["createLicenceQr"]
    assert payload["userErrors"] == [], payload
    return dict(payload["qr"])


def _expired_copy(live: Live, text: str) -> str:
    """The same token issued 200 s ago with the usual 60 s life, signed by the server's key."""
    decoded = sdl1.decode_token(text)
    now = int(time.time())
    claims = dataclasses.replace(decoded.claims, iat=now - 200, exp=now - 140, cti=os.urandom(8))
    return sdl1.encode_token(claims, live.state.sdl_keys.signing_key(datetime.now(UTC)))


def _write_y4m(png_base64: str, path: Path) -> None:
    """The QR picture as one 640×480 YUV 4:2:0 frame: Chromium's fake webcam loops it."""
    qr = Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("L")
    frame = Image.new("L", (640, 480), 255)
    frame.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    chroma = bytes([128]) * (320 * 240)
    header = b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"
    path.write_bytes(header + b"FRAME\n" + frame.tobytes() + chroma + chroma)


def _paste(page: Page, text: str) -> None:
    page.get_by_label("或粘贴二维码文本").fill(text)
    page.get_by_role("button", name="核验", exact=True).click()


def test_scan_paste_replay_and_offline(browser: Browser, live: Live, camera_file: Path) -> None:
    holder = live.token(CITIZEN)
    page = new_page(browser, live, width=1024, height=1200)  # a tablet held upright
    page.goto("/verify/")
    expect(page.get_by_role("heading", name="核验人员登录")).to_be_visible()
    screenshot(page, "verify-sign-in.png")
    sign_in(page, live, TRAFFIC)
    expect(page.locator("#offline-ready")).to_contain_text("已可离线使用")
    expect(page.locator("#who")).to_contain_text("交通警察支队")

    # The camera: the fake webcam shows an online 机动车驾驶证 code.
    driving = _mint(live, holder, "JDCJSZ")
    _write_y4m(driving["png"], camera_file)
    page.get_by_role("button", name="打开摄像头扫码").click()
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-result", "VALID", timeout=20_000)
    expect(verdict).to_contain_text("有效 VALID")
    expect(verdict).to_contain_text("在线核验")
    expect(verdict).to_contain_text("张*明")  # disclosed, masked
    expect(page.get_by_label("或粘贴二维码文本")).to_have_value(driving["text"])
    screenshot(page, "verify-valid.png")

    # Pasted text: a code past its lifetime.
    _paste(page, _expired_copy(live, _mint(live, holder, "JDCJSZ")["text"]))
    expect(verdict).to_have_attribute("data-result", "EXPIRED")
    expect(verdict).to_contain_text("无效 EXPIRED")
    expect(verdict).to_contain_text("已过期")
    screenshot(page, "verify-expired.png")

    # A code the hotel's verifier has already used.
    id_card = _mint(live, holder, "JMSFZ")["text"]
    hotel = live.token(HOTEL)
    first = live.gql(VERIFY, {"text": id_card, "scene": "HOTEL_CHECKIN"}, hotel)
    assert first["verifyLicenceQr"]["result"] == "VALID"
    _paste(page, id_card)
    expect(verdict).to_have_attribute("data-result", "REPLAYED")
    expect(verdict).to_contain_text("已被其他核验方使用")
    screenshot(page, "verify-replayed.png")

    # Network cut: the page reopens from its service worker and checks in the browser.
    offline_code = _mint(live, holder, "JDCJSZ", "OFFLINE")["text"]
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#net")).to_have_text("离线")
    expect(page.locator("#who")).to_contain_text("交通警察支队")  # still this tab's verifier
    _paste(page, offline_code)
    expect(verdict).to_have_attribute("data-result", "VALID")
    mode = verdict.locator("[data-mode]")
    expect(mode).to_have_attribute("data-mode", "offline")
    expect(mode).to_contain_text("离线核验")
    expect(verdict).to_contain_text("机动车驾驶证")
    expect(verdict).to_contain_text("张*明")
    screenshot(page, "verify-offline-valid.png")

    # Offline still refuses what it should: a forged signature, a code past its lifetime.
    forged = offline_code[:-6] + ("000000" if not offline_code.endswith("000000") else "111111")
    _paste(page, forged)
    expect(verdict).not_to_have_attribute("data-result", "VALID")
    _paste(page, _expired_copy(live, offline_code))
    expect(verdict).to_have_attribute("data-result", "EXPIRED")
    expect(verdict.locator("[data-mode]")).to_have_attribute("data-mode", "offline")
    page.context.close()
