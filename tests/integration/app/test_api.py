"""The API against a real database: every status code and the lookup rule (docs/lookup-rule.md).

Requests go through Chalice's test client, which is ``chalice local``'s gateway: paths arrive
percent-encoded, as API Gateway hands them over.
"""

import json
from urllib.parse import quote

import pytest
from chalice.test import Client

from app import create_app
from tests.support.db import PETS
from tests.support.tcpproxy import free_port


@pytest.fixture(scope="module")
def client(pets_db):
    with Client(create_app(settings=pets_db)) as test_client:
        yield test_client


def get(client, path):
    response = client.http.get(path)
    return response.status_code, json.loads(response.body), response.headers


def url_for(name):
    # What a browser or curl --data-urlencode builds: UTF-8, then percent-escapes.
    return "/api/pet/" + quote(name, safe="")


@pytest.mark.parametrize(("name", "owner", "species", "sex"), PETS)
def test_every_stored_pet_is_reachable_by_its_url(client, name, owner, species, sex):
    status, body, headers = get(client, url_for(name))
    assert status == 200
    assert body == {"name": name, "owner": owner, "species": species}
    assert headers["Content-Type"] == "application/json"


def test_body_has_exactly_name_owner_species(client):
    _, body, _ = get(client, "/api/pet/Fluffy")
    assert list(body) == ["name", "owner", "species"]


@pytest.mark.parametrize(
    "name",
    [
        "fluffy",  # case matters
        "FLUFFY",
        "Fluffy ",  # trailing space: PAD SPACE would match without the byte comparison
        " Fluffy",
        "Tabby",  # the stored name is "Tabby " (with a trailing space)
        "Zoe",  # no accent folding
        "Zoe\u0308",  # NFD form of Zoë: a different sequence of code points
        "Fluff%",  # LIKE wildcards are literal
        "Fluff_",
        "%",
        "_",
        "a%",
        "abc",  # 'a_c' is stored: '_' must not match 'b'
        "' OR '1'='1",  # SQL injection attempts are just names
        "Fluffy' --",
        '"; SELECT 1; --',
        "Rex'); DROP TABLE x",
    ],
)
def test_a_name_matches_only_itself(client, name):
    status, body, _ = get(client, url_for(name))
    assert status == 404, body
    assert body == {"code": "NotFound", "message": "No pet has that name."}


def test_injection_did_not_touch_the_table(client):
    get(client, url_for("x'; DROP TABLE pet; --"))
    assert get(client, "/api/pet/Fluffy")[0] == 200


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/api/pet/" + "x" * 21, "at most 20"),
        ("/api/pet/a%00b", "control"),
        ("/api/pet/a%0Db", "control"),
        ("/api/pet/%FF%FE", "UTF-8"),
        ("/api/pet/%E2%82", "UTF-8"),
        ("/api/pet/100%", "percent-encoded"),
    ],
)
def test_names_that_cannot_exist_are_400(client, path, fragment):
    status, body, _ = get(client, path)
    assert status == 400
    assert body["code"] == "BadRequest"
    assert fragment in body["message"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_other_methods_are_405(client, method):
    response = getattr(client.http, method)("/api/pet/Fluffy")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert json.loads(response.body)["code"] == "MethodNotAllowed"


@pytest.mark.parametrize("path", ["/api/pet/Fluffy", "/api/pet/Nobody", "/api/pet/%FF"])
def test_head_answers_as_get_would_without_a_body(client, path):
    got = client.http.get(path)
    head = client.http.head(path)
    assert head.status_code == got.status_code
    assert head.headers == got.headers
    assert head.body == b""


@pytest.mark.parametrize(
    ("method", "path", "status", "cache"),
    [
        ("get", "/api/pet/Fluffy", 200, "max-age=60"),
        ("get", "/api/pet/Nobody", 404, "max-age=60"),
        ("get", "/api/pet/%FF", 400, "no-store"),
        ("post", "/api/pet/Fluffy", 405, "no-store"),
    ],
)
def test_every_answer_is_nosniff_and_says_how_long_it_may_be_cached(
    client, method, path, status, cache
):
    # A lookup's answer may be kept a minute; an error about the request, never.
    response = getattr(client.http, method)(path)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == cache


def test_an_unavailable_database_answer_is_never_stored(pets_db):
    app = create_app(settings=pets_db._replace(port=free_port()))
    with Client(app) as test_client:
        response = test_client.http.get("/api/pet/Fluffy")
    assert response.status_code == 503
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_pet_data_is_unchanged_by_other_methods(client):
    client.http.delete("/api/pet/Fluffy")
    assert get(client, "/api/pet/Fluffy")[0] == 200


def test_connection_is_opened_once_and_reused(pets_db):
    app = create_app(settings=pets_db)
    with Client(app) as test_client:
        for _ in range(50):
            assert test_client.http.get("/api/pet/Rex").status_code == 200
    assert app.get_db().connections_opened == 1


def test_invalid_names_never_open_a_connection(pets_db):
    app = create_app(settings=pets_db)
    with Client(app) as test_client:
        assert test_client.http.get("/api/pet/%FF").status_code == 400
    assert app.get_db().connections_opened == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "*/*"])
def test_any_content_type_is_accepted_on_get(client, content_type):
    response = client.http.get("/api/pet/Rex", headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert json.loads(response.body)["name"] == "Rex"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_other_methods_are_405_whatever_the_content_type(client, content_type):
    response = client.http.post(
        "/api/pet/Rex", headers={"Content-Type": content_type}, body=b"name=Rex"
    )
    assert response.status_code == 405
    assert json.loads(response.body)["code"] == "MethodNotAllowed"
