from tests.factories import Api, create_demo_user


async def test_login_and_me(api: Api) -> None:
    await create_demo_user(api.state, "13800000001")
    token = await api.token("13800000001")
    data = await api.data("{ me { id phone name idNumber roles assuranceLevel } }", token=token)
    assert data["me"]["phone"] == "138****0001"
    assert data["me"]["name"] == "张*明"
    assert data["me"]["idNumber"] == "3702**********1230"
    assert data["me"]["assuranceLevel"] == "L3"
