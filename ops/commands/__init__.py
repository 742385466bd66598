"""One module per ``python -m ops`` command (listed in ``ops.cli.COMMANDS``)."""
