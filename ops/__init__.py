"""Operations for the pets service, run as ``python -m ops <command>``.

The folders are the architecture:

* ``cli``, ``context``, ``errors``, ``report``, ``http``, ``stages``, ``github``: the command
  line, the injected world (output, environment, clock, HTTP, AWS clients), the one error type,
  tables and job summaries, the one HTTP client, the stages defined once, and GitHub through the
  ``gh`` CLI (the settings the bootstrap makes, the pull request that moves the hosts' release);
* ``commands/``: one module per command, each ``add_arguments(parser)`` and ``run(args, ctx)``;
* ``cfn/``: CloudFormation machinery: templates, packaging, artifacts, change sets, execution;
* ``aws/``: the AWS error reader, SSM Run Command, Patch Manager, Amazon Linux releases, and
  what an account already holds;
* ``db/``: migrations and local database administration;
* ``local/``: what runs on a developer's machine behind ``make run``;
* ``host/``: what runs on a stage's admin host (shipped there by ``migrate --stage``).

Commands never build their own boto3 clients, sleep, fetch or print directly: they use the
``Context`` that ``ops.cli`` builds (or a test builds with moto or botocore Stubber), so no test
needs ``mock.patch``.
"""
