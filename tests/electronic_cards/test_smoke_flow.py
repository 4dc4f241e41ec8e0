from tests.electronic_cards.helpers import (
    HOLDER,
    TRAFFIC,
    licence_id,
    mint_text,
    records,
    seeded,
    verify,
)
from tests.factories import Api


async def test_show_and_check_a_driving_licence(api: Api) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    lid = await licence_id(api, holder, "JDCJSZ")
    text = await mint_text(api, holder, lid)
    officer = await api.token(TRAFFIC)
    answer = await verify(api, officer, text, "TRAFFIC_CHECK")
    assert answer["result"] == "VALID", answer
    assert answer["licence"]["holderName"] == "张*明"
    seen = await records(api, holder, lid)
    assert [r["result"] for r in seen] == ["VALID"]
