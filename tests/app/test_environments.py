"""Production refuses dev conveniences; introspection and GraphiQL are dev-only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.main import create_app
from app.settings import ProductionMisconfigured, Settings
from tests.conftest import make_settings, running_api

PROD_OK = {
    "env": "production",
    "secret_key": "p" * 48,
    "mongodb_uri": "mongodb://db.example.invalid:27017",
    "sms_sender": "http",
    "sms_gateway_url": "https://sms.example.invalid/send",
}


def test_a_complete_production_configuration_passes() -> None:
    assert Settings.model_validate(PROD_OK).production_problems() == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"demo_data": True}, "ZSB_DEMO_DATA"),
        ({"sms_sender": "dev"}, "ZSB_SMS_SENDER=dev"),
        ({"secret_key": None}, "ZSB_SECRET_KEY"),
        ({"secret_key": "short"}, "ZSB_SECRET_KEY"),
        ({"read_secret_keys": ["short"]}, "ZSB_READ_SECRET_KEYS"),
        ({"dev_issuer": True}, "ZSB_DEV_ISSUER"),
        ({"mongodb_uri": None}, "ZSB_MONGODB_URI"),
        ({"rate_limits": "off"}, "ZSB_RATE_LIMITS"),
    ],
)
def test_production_refuses_dev_conveniences(change: dict[str, object], complaint: str) -> None:
    settings = Settings.model_validate({**PROD_OK, **change})
    with pytest.raises(ProductionMisconfigured, match=complaint):
        create_app(settings)


def test_zsb_serve_refuses_to_start_in_production_with_demo_data(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZSB_")}
    env.update({"ZSB_ENV": "production", "ZSB_DEMO_DATA": "true", "ZSB_DATA_DIR": str(tmp_path)})
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "ZSB_DEMO_DATA" in done.stderr
    assert not (tmp_path / "db").exists()  # refused before starting anything


async def test_production_disables_introspection_and_graphiql(
    mongo_uri: str, tmp_path: Path
) -> None:
    settings = make_settings(
        mongo_uri,
        tmp_path,
        env="production",
        sms_sender="http",
        sms_gateway_url="http://127.0.0.1:9/unused",
    )
    async with running_api(settings) as api:
        payload = await api.gql("{ __schema { types { name } } }")
        assert "introspection" in payload["errors"][0]["message"].lower()
        page = await api.client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code in (400, 404)
        assert "graphiql" not in page.text.lower()
        typo = await api.gql("{ mee { phone } }")
        assert "Did you mean" not in typo["errors"][0]["message"]


async def test_dev_exposes_introspection(mongo_uri: str, tmp_path: Path) -> None:
    async with running_api(make_settings(mongo_uri, tmp_path)) as api:
        payload = await api.data("{ __schema { queryType { name } } }")
        assert payload["__schema"]["queryType"]["name"] == "Query"
