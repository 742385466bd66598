"""Database machinery: the migration engine (local and on the admin host) and local admin."""
