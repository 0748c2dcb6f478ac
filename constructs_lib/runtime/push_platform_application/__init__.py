"""Runtime code of the SNS mobile push platform application custom resource.

The folder is the Lambda asset: ``handler.on_event`` (CDK Provider onEvent) and
``handler.on_secret_rotated`` (EventBridge rule on the credentials secret). It needs nothing but
boto3, which the Lambda Python runtime provides.
"""
