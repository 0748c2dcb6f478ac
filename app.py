#!/usr/bin/env python3
"""CDK app: synthesizes every reference stack (account-agnostic; see stacks/__init__.py)."""

from aws_cdk import App

from stacks import add_reference_stacks

app = App()
add_reference_stacks(app)
app.synth()
