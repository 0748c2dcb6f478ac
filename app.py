#!/usr/bin/env python3
"""CDK app: synthesizes every reference stack, environment-agnostic."""

from aws_cdk import App

from stacks import add_reference_stacks

app = App()
add_reference_stacks(app)
app.synth()
