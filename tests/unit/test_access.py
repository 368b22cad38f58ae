"""API keys and roles (hub/access.py): roles in order, keys random and stored hashed."""

from __future__ import annotations

from hub.access import generate_key, hash_key, role_allows


def test_roles_are_ordered_and_keys_are_random_and_hashed() -> None:
    assert role_allows("admin", "operator") and role_allows("operator", "operator")
    assert not role_allows("viewer", "operator") and not role_allows("operator", "admin")
    assert not role_allows("root", "viewer")
    a, b = generate_key(), generate_key()
    assert a != b and a.startswith("hub_") and len(a) == 47
    assert hash_key(a) != hash_key(b) and len(hash_key(a)) == 32
