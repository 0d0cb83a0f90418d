"""Helpers for tests of tenant isolation: SQL through psql (the stack's
DATABASE_URL) and a user moved into a tenant of its own."""
import uuid

import requests

from conftest import BASE, auth, login, register, sql



def tenant_of(token):
    r = requests.get(BASE + "/auth/me", headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()["tenant_id"]


def user_in_new_tenant(role="Customer", tenant=None):
    """A fresh user (customer, or administrator) in tenant, by default a new
    one: {id, email, password, token, tenant}. Registration only knows the
    default tenant, so the user and its customer profile are moved by SQL."""
    u = register()
    tenant = tenant or sql("INSERT INTO tenants (slug, name) VALUES (:'a0', 'Second store')"
                           " RETURNING id", "t-" + uuid.uuid4().hex[:12])
    sql("UPDATE users SET tenant_id = :'a0', role = :'a2' WHERE id = :'a1';"
        " UPDATE customers SET tenant_id = :'a0' WHERE user_id = :'a1'", tenant, u["id"], role)
    u["token"] = login(u["email"], u["password"])
    u["tenant"] = tenant
    assert tenant_of(u["token"]) == tenant
    return u
