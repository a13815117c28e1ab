from __future__ import annotations

from typing import Any

import httpx

from qualtrics_sandbox.testing import SandboxServer

from .conftest import api, make_user


def test_whoami_names_the_brand_admin_and_datacenter(admin: httpx.Client, brand: dict[str, Any]) -> None:
    reply = admin.get("/whoami")
    assert reply.status_code == 200
    result = reply.json()["result"]
    assert result["brandId"] == brand["brandId"]
    assert result["userId"] == brand["adminUserId"]
    assert result["accountType"] == "UT_BRANDADMIN"
    assert result["datacenter"] == "sandbox1"
    assert reply.json()["meta"]["httpStatus"] == "200 - OK"


def test_it_accepts_a_bearer_token(sandbox: SandboxServer, brand: dict[str, Any]) -> None:
    reply = httpx.get(f"{sandbox.url}/API/v3/whoami", headers={"Authorization": f"Bearer {brand['adminToken']}"})
    assert reply.status_code == 200


def test_it_refuses_an_unknown_token(sandbox: SandboxServer) -> None:
    with api(sandbox, "not-a-token") as client:
        reply = client.get("/whoami")
    assert reply.status_code == 401
    meta = reply.json()["meta"]
    assert meta["httpStatus"] == "401 - Unauthorized"
    assert meta["error"]["errorCode"]
    assert meta["requestId"]


def test_it_refuses_a_missing_token(sandbox: SandboxServer) -> None:
    with api(sandbox, None) as client:
        assert client.get("/surveys").status_code == 401


def test_it_requires_a_known_user_type(admin: httpx.Client) -> None:
    reply = admin.post(
        "/users",
        json={"username": "x@example.org", "firstName": "X", "lastName": "Y", "userType": "UT_nope", "password": "pw"},
    )
    assert reply.status_code == 400
    assert "userType" in reply.json()["meta"]["error"]["errorMessage"]


def test_it_requires_a_password(admin: httpx.Client, brand: dict[str, Any]) -> None:
    reply = admin.post(
        "/users",
        json={
            "username": "nopw@example.org",
            "firstName": "X",
            "lastName": "Y",
            "userType": brand["userTypes"]["standard"],
        },
    )
    assert reply.status_code == 400


def test_it_requires_a_unique_username(admin: httpx.Client, brand: dict[str, Any]) -> None:
    body = {
        "username": f"dup@{brand['brandId']}.org",
        "firstName": "A",
        "lastName": "B",
        "userType": brand["userTypes"]["standard"],
        "password": "pw",
    }
    assert admin.post("/users", json=body).status_code == 200
    assert admin.post("/users", json=body).status_code == 400


def test_a_new_user_can_be_read_updated_and_listed(admin: httpx.Client, brand: dict[str, Any]) -> None:
    user_id, _ = make_user(admin, brand, "Ada Lovelace")
    user = admin.get(f"/users/{user_id}").json()["result"]
    assert user["firstName"] == "Ada"
    assert user["userType"] == brand["userTypes"]["standard"]
    assert user["accountStatus"] == "active"
    assert admin.put(f"/users/{user_id}", json={"lastName": "Byron"}).status_code == 200
    assert admin.get(f"/users/{user_id}").json()["result"]["lastName"] == "Byron"
    listed = admin.get("/users").json()["result"]
    assert {u["id"] for u in listed["elements"]} >= {user_id, brand["adminUserId"]}
    assert listed["nextPage"] is None


def test_a_new_token_invalidates_the_old_one(
    sandbox: SandboxServer, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    user_id, first = make_user(admin, brand, "Grace Hopper")
    second = admin.post(f"/users/{user_id}/apitoken").json()["result"]["apiToken"]
    assert second != first
    with api(sandbox, first) as old, api(sandbox, second) as new:
        assert old.get("/whoami").status_code == 401
        assert new.get("/whoami").status_code == 200
    assert admin.get(f"/users/{user_id}/apitoken").json()["result"]["apiToken"] == second


def test_reading_a_token_the_user_never_had_is_a_400(admin: httpx.Client, brand: dict[str, Any]) -> None:
    reply = admin.post(
        "/users",
        json={
            "username": f"notoken@{brand['brandId']}.org",
            "firstName": "N",
            "lastName": "T",
            "userType": brand["userTypes"]["standard"],
            "password": "pw",
        },
    )
    user_id = reply.json()["result"]["id"]
    assert admin.get(f"/users/{user_id}/apitoken").status_code == 400


def test_admin_calls_are_refused_to_other_users(
    sandbox: SandboxServer, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    _, token = make_user(admin, brand, "Plain User")
    with api(sandbox, token) as client:
        assert client.get("/whoami").status_code == 200
        for method, path in [
            ("GET", "/users"),
            ("POST", "/users"),
            ("GET", "/eventsubscriptions"),
            ("POST", "/eventsubscriptions"),
            ("POST", f"/users/{brand['adminUserId']}/apitoken"),
        ]:
            reply = client.request(method, path, json={})
            assert reply.status_code == 403, (method, path)
            assert reply.json()["meta"]["httpStatus"] == "403 - Forbidden"
            assert reply.json()["meta"]["error"]["errorMessage"]


def test_a_user_type_without_api_access_gets_403(
    sandbox: SandboxServer, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    _, token = make_user(admin, brand, "No Api", role="noApi")
    with api(sandbox, token) as client:
        assert client.get("/whoami").status_code == 403


def test_disabling_a_user_makes_its_token_fail(
    sandbox: SandboxServer, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    user_id, token = make_user(admin, brand, "Soon Disabled")
    assert admin.put(f"/users/{user_id}", json={"status": "Disabled"}).status_code == 200
    with api(sandbox, token) as client:
        assert client.get("/whoami").status_code == 401
    assert admin.put(f"/users/{user_id}", json={"status": "Enabled"}).status_code == 200
    with api(sandbox, token) as client:
        assert client.get("/whoami").status_code == 200


def test_deleting_a_user_makes_its_token_fail(
    sandbox: SandboxServer, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    user_id, token = make_user(admin, brand, "Soon Gone")
    reply = admin.delete(f"/users/{user_id}")
    assert reply.status_code == 200
    assert set(reply.json()) == {"meta"}
    with api(sandbox, token) as client:
        assert client.get("/whoami").status_code == 401
    assert admin.get(f"/users/{user_id}").status_code == 404


def test_users_of_another_brand_are_not_found(
    sandbox: SandboxServer, control: httpx.Client, admin: httpx.Client
) -> None:
    other = control.post("/brands", json={}).json()
    assert admin.get(f"/users/{other['adminUserId']}").status_code == 404


def test_the_control_api_creates_brands_with_user_types(control: httpx.Client) -> None:
    reply = control.post("/brands", json={"brandId": "acmeresearch", "datacenter": "fra1"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["brandId"] == "acmeresearch"
    assert body["datacenter"] == "fra1"
    assert body["adminUserId"].startswith("UR_")
    assert set(body["userTypes"]) == {"brandAdmin", "standard", "noApi"}
    assert control.post("/brands", json={"brandId": "acmeresearch"}).status_code == 409
    assert control.get("/brands/acmeresearch").json() == body
