"""Property tests: any name at all, delivered as API Gateway delivers it, never yields a 5xx.

hypothesis draws arbitrary Unicode (surrogates and control characters included), some of the
stored names and near-misses of them. Each is percent-encoded as a browser would and handed to the
Lambda handler inside an API Gateway proxy event, against the real database.
"""

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from tests.support.db import PETS
from tests.support.events import LambdaContext, proxy_event

STORED = [pet[0] for pet in PETS]
names = st.one_of(
    st.text(max_size=25),  # any code point, surrogates included
    st.sampled_from(STORED),
    st.sampled_from(STORED).map(str.upper),
    st.sampled_from(STORED).map(lambda n: n + " "),
    st.sampled_from(STORED).map(lambda n: n[:-1] + "%"),
)


@pytest.fixture(scope="module")
def handler(pets_db):
    return create_app(settings=pets_db)


def encode(name):
    # Lone surrogates have no UTF-8 form; a client can only send their bytes as best it can.
    return quote(name.encode("utf-8", "surrogatepass"), safe="")


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=names)
def test_any_name_is_answered_without_a_server_error(handler, name):
    response = handler(proxy_event(encode(name)), LambdaContext())
    status = response["statusCode"]
    body = json.loads(response["body"])
    assert status in (200, 400, 404), body
    if status == 200:
        assert body["name"] == name
        assert name in STORED
    elif status == 404:
        assert name not in STORED
    else:
        assert body["code"] == "BadRequest"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.text(alphabet=st.characters(codec="latin-1"), max_size=40))
def test_any_raw_path_parameter_is_answered_without_a_server_error(handler, raw):
    """Whatever bytes reach the parameter (malformed escapes, raw Latin-1), never a 5xx."""
    response = handler(proxy_event(raw), LambdaContext())
    assert response["statusCode"] in (200, 400, 404)
