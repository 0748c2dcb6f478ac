"""The ``fanout`` operator command.

``fanout dlq ...`` (dead-letter queues), ``fanout replay`` (FIFO archive replay), ``fanout
local`` (the embedded emulator as a long-running process) and ``fanout diagram`` (each fanout
of a synthesized app, drawn from its templates). :mod:`constructs_lib.cli.main` builds the
parser; one module per subcommand; :mod:`constructs_lib.cli.core` holds the exit codes, the
expected errors and the context handlers work with; :mod:`constructs_lib.cli.aws` the boto3
side. The AWS subcommands import neither aws_cdk nor jsii.
"""
