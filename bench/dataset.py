"""The benchmark's own database: created, migrated, grown to each table size, always dropped.

The database is named ``pets_test_bench_<random>`` so that it can never be mistaken for a real
one and so that any sweep of leftover ``pets_test_*`` databases catches it. It is migrated with
the project's own migrations (``ops.migrate``), so the benchmark reads the real schema and index.

Pets are named ``<prefix> <number>``: a few prefixes, one with a non-ASCII letter and all with
a space, so that the API's path parameter is really percent-encoded as a browser would send it.
Each table size gets its own database holding pets 0..n-1, loaded with multi-row INSERTs in
batches, which loads a million rows in seconds.
"""

import random
import time

from ops.db.admin import admin_connection

PREFIXES = ["Fluffy", "Mr Whiskers", "Rex", "Zoë"]
OWNERS = ["Harold", "Ana", "Ben", "Chidi", "Dana", "Eun-ji", "Farah", "Gustavo"]
SPECIES = ["cat", "dog", "fish", "hamster", "parrot", "snake"]
BATCH_ROWS = 5000


def pet_name(i):
    """The name of pet number ``i``: at most 20 characters for any i below 1e7."""
    return f"{PREFIXES[i % len(PREFIXES)]} {i:07d}"


def pet_row(i):
    return (pet_name(i), OWNERS[i % len(OWNERS)], SPECIES[i % len(SPECIES)], "fm"[i % 2])


def grow_to(settings, have, want):
    """Insert pets ``have`` .. ``want - 1`` and return ``want``."""
    with admin_connection(settings, settings.database) as conn, conn.cursor() as cursor:
        for start in range(have, want, BATCH_ROWS):
            rows = [pet_row(i) for i in range(start, min(start + BATCH_ROWS, want))]
            # pymysql turns executemany of one INSERT ... VALUES into multi-row INSERTs.
            cursor.executemany(
                "INSERT INTO pet (name, owner, species, sex) VALUES (%s, %s, %s, %s)", rows
            )
        # Fresh statistics, as a real table would have; the lookup uses the primary key anyway.
        cursor.execute("ANALYZE TABLE pet")
        cursor.fetchall()
    return want


def table_mb(settings):
    """Size of the ``pet`` table with its index, in MB, as InnoDB reports it."""
    with admin_connection(settings, settings.database) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT data_length + index_length FROM information_schema.tables"
            " WHERE table_schema = %s AND table_name = 'pet'",
            (settings.database,),
        )
        row = cursor.fetchone()
    return round(int(row[0]) / 1024 / 1024, 1) if row else None


def settle(server, timeout, dirty_pages=1000, poll=0.5):
    """Wait (up to ``timeout`` s) for InnoDB to flush what the bulk load left dirty.

    Otherwise the first seconds of timing compete with background page flushing. Other clients
    of the shared server dirty pages too, so this waits for "few", not for zero.
    """
    deadline = time.monotonic() + timeout
    with admin_connection(server) as conn, conn.cursor() as cursor:
        while True:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
            row = cursor.fetchone()
            if row is None or int(row[1]) <= dirty_pages or time.monotonic() > deadline:
                return
            time.sleep(poll)


def sample_ids(size, count, seed):
    """``count`` pet numbers drawn uniformly from a table of ``size`` pets."""
    rng = random.Random(seed)
    return [rng.randrange(size) for _ in range(count)]
