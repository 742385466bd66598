"""Operations for the pets service, run as ``python -m ops <command>``.

Each command is a module with ``add_parser(subparsers)`` and ``run(args, ctx)``. Commands never
build their own boto3 clients, sleep or print directly: they use the ``Context`` that
``ops.cli`` builds (or a test builds with moto or botocore Stubber), so no test needs mock.patch.
"""
