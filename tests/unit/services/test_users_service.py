from __future__ import annotations

import pytest

from tests.unit.services.support import Services


def test_user_is_created_and_read_back(services: Services) -> None:
    client = services.users().client()
    created = client.post("/api/users", json={"name": "Ada", "email": "Ada@Example.com"})
    assert created.status_code == 201
    assert created.json is not None
    user = created.json
    assert (user["name"], user["email"]) == ("Ada", "ada@example.com")
    assert isinstance(user["id"], int)
    fetched = client.get(f"/api/users/{user['id']}")
    assert fetched.status_code == 200
    assert fetched.json == user


def test_duplicate_email_is_a_conflict(services: Services) -> None:
    client = services.users().client()
    assert client.post("/api/users", json={"name": "A", "email": "a@b.io"}).status_code == 201
    again = client.post("/api/users", json={"name": "B", "email": "A@B.io"})
    assert again.status_code == 409
    assert again.json is not None and "a@b.io" in again.json["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "A"},
        {"email": "a@b.io"},
        {"name": "", "email": "a@b.io"},
        {"name": "A", "email": "not-an-address"},
        {"name": 3, "email": "a@b.io"},
        "Ada",
    ],
)
def test_bad_user_bodies_are_400(services: Services, body: object) -> None:
    response = services.users().client().post("/api/users", json=body)
    assert response.status_code == 400
    assert response.json is not None and response.json["error"]


def test_unknown_user_is_404(services: Services) -> None:
    assert services.users().client().get("/api/users/42").status_code == 404
