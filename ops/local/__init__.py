"""What runs on a developer's machine behind ``make run``: a private MariaDB when no server
answers, and the HTTP server that hosts the API (its own process, ``python -m ops.local.server``).
Nothing here is used in AWS."""
