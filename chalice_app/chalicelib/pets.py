"""Pet queries. The lookup rule is documented in docs/lookup-rule.md.

``name`` is ``utf8mb4_bin``, so ``=`` compares code points: case-sensitive and with no
accent or width folding. Both MySQL 8.0 and MariaDB treat ``utf8mb4_bin`` as PAD SPACE, where
``'Rex' = 'Rex '`` is true; the second condition compares the bytes, which are never padded, so
a name matches only itself. The first condition is the one the unique index serves.
``=`` never treats ``%`` or ``_`` as wildcards, and the name is always a bound parameter.
"""

FIND_PET_SQL = (
    "SELECT name, owner, species FROM pet "
    "WHERE name = %s AND CAST(name AS BINARY) = CAST(%s AS BINARY)"
)


def find_pet(db, name):
    """Return ``{"name", "owner", "species"}`` for the pet called exactly ``name``, or ``None``."""
    row = db.fetch_one(FIND_PET_SQL, (name, name))
    if row is None:
        return None
    return {"name": row[0], "owner": row[1], "species": row[2]}
