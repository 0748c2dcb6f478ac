"""Reference architecture: push notifications through APNs and FCM."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnParameter, Stack
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib import MobilePush, PushPlatform


class PushNotificationsStack(Stack):
    """APNs and FCM applications from two existing secrets, a broadcast topic, a ``beta``
    segment, device registration behind an IAM-authenticated function URL, feedback that
    removes dead endpoints, and delivery status logs (failures, 5% of successes).

    The secrets are stack parameters (their ARNs), so the stack synthesizes without any
    credential: store the APNs key and the FCM service-account JSON in Secrets Manager first,
    then ``cdk deploy PushNotifications --parameters ApnsCredentialsArn=... --parameters
    FcmServiceAccountArn=...``.
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        apns = CfnParameter(
            self,
            "ApnsCredentialsArn",
            description="ARN of the Secrets Manager secret with the APNs .p8 key JSON "
            '({"signing_key", "key_id", "team_id", "bundle_id"})',
            allowed_pattern=r"^arn:aws[a-z-]*:secretsmanager:.+$",
        )
        fcm = CfnParameter(
            self,
            "FcmServiceAccountArn",
            description="ARN of the Secrets Manager secret with the FCM service-account JSON",
            allowed_pattern=r"^arn:aws[a-z-]*:secretsmanager:.+$",
        )
        self.push = MobilePush(
            self,
            "Push",
            credentials={
                PushPlatform.APNS: secretsmanager.Secret.from_secret_complete_arn(
                    self, "ApnsCredentials", apns.value_as_string
                ),
                PushPlatform.FCM: secretsmanager.Secret.from_secret_complete_arn(
                    self, "FcmCredentials", fcm.value_as_string
                ),
            },
            segments=["beta"],
            delivery_status_logging=True,
            success_sample_rate=5,
        )
