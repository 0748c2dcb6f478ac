"""Following secret rotation: the applications fed by a secret get its new current version."""

from __future__ import annotations

import json
from typing import Any

import pytest

PARTIAL_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:push/apns"
FULL_ARN = f"{PARTIAL_ARN}-Ab12Cd"


def cloudtrail_event(detail_type: str, event_name: str, **detail: Any) -> dict[str, Any]:
    """What EventBridge delivers for a Secrets Manager entry of CloudTrail."""
    return {
        "source": "aws.secretsmanager",
        "detail-type": detail_type,
        "resources": [],
        "detail": {
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": event_name,
            **detail,
        },
    }


def put_secret_value_event(secret_arn: str) -> dict[str, Any]:
    """What EventBridge delivers for a CloudTrail PutSecretValue entry."""
    return cloudtrail_event(
        "AWS API Call via CloudTrail",
        "PutSecretValue",
        requestParameters={"secretId": secret_arn, "clientRequestToken": "token"},
        responseElements={"arn": secret_arn, "versionId": "v2"},
    )


def rotation_succeeded_event(secret_arn: str) -> dict[str, Any]:
    """What EventBridge delivers for a CloudTrail RotationSucceeded entry."""
    return cloudtrail_event(
        "AWS Service Event via CloudTrail",
        "RotationSucceeded",
        additionalEventData={"SecretId": secret_arn},
    )


@pytest.fixture
def token_application(account, invoke, credentials, name):
    """An APNs token application created by the custom resource: (name, ARN, secret ARN)."""
    secret = account.secret(credentials.apns_token())
    result = invoke.ok(
        {
            "RequestType": "Create",
            "ResourceProperties": {
                "Name": name,
                "Platform": "APNS",
                "AuthMethod": "token",
                "CredentialsSecretArn": secret,
                "EventDeliveryFailure": "arn:aws:sns:eu-west-1:123456789012:push-events",
            },
        }
    )
    return name, result["PhysicalResourceId"], secret


def applications_setting(*entries: tuple[str, str]) -> str:
    return json.dumps(
        [
            {"name": name, "platform": "APNS", "auth_method": "token", "secret_arn": secret}
            for name, secret in entries
        ]
    )


@pytest.mark.parametrize("event", [put_secret_value_event, rotation_succeeded_event])
def test_updates_the_applications_fed_by_the_secret(
    account, invoke, credentials, token_application, monkeypatch, event
):
    name, arn, secret = token_application
    monkeypatch.setenv("APPLICATIONS", applications_setting((name, secret)))
    account.put_secret(secret, credentials.apns_token(key_id="ROTATED999"))

    result = invoke.rotated(event(secret))

    assert result == {"updated": [arn], "missing": []}
    attributes = account.attributes(arn)
    assert attributes["PlatformPrincipal"] == "ROTATED999"
    assert attributes["EventDeliveryFailure"].endswith(":push-events")


def test_leaves_applications_of_other_secrets_alone(
    account, invoke, credentials, token_application, monkeypatch
):
    name, arn, secret = token_application
    monkeypatch.setenv("APPLICATIONS", applications_setting((name, secret)))
    other = account.secret(credentials.apns_token(key_id="OTHER00000"))

    result = invoke.rotated(put_secret_value_event(other))

    assert result == {"updated": [], "missing": []}
    assert account.attributes(arn)["PlatformPrincipal"] == "KEY1234567"


def test_reports_an_application_that_does_not_exist(account, invoke, credentials, monkeypatch):
    secret = account.secret(credentials.apns_token())
    monkeypatch.setenv("APPLICATIONS", applications_setting(("never-created", secret)))

    result = invoke.rotated(rotation_succeeded_event(secret))

    assert result == {"updated": [], "missing": ["never-created"]}


def test_fails_naming_the_application_whose_secret_became_unusable(
    account, handler, invoke, token_application, monkeypatch
):
    name, _, secret = token_application
    monkeypatch.setenv("APPLICATIONS", applications_setting((name, secret)))
    account.secretsmanager.put_secret_value(SecretId=secret, SecretString='{"key_id": "only"}')

    with pytest.raises(handler.PlatformApplicationError, match=name) as raised:
        invoke.rotated(put_secret_value_event(secret))

    assert "missing keys: signing_key, team_id, bundle_id" in str(raised.value)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        (None, "APPLICATIONS is not set"),
        ("[{", "APPLICATIONS is not JSON"),
        (
            json.dumps([{"name": "app", "platform": "FCM", "secret_arn": FULL_ARN}]),
            "APPLICATIONS[0].platform is 'FCM'; expected one of APNS, APNS_SANDBOX, GCM",
        ),
    ],
    ids=["unset", "not-json", "bad-platform"],
)
def test_fails_naming_the_problem_with_the_setting(handler, invoke, monkeypatch, setting, problem):
    if setting is None:
        monkeypatch.delenv("APPLICATIONS", raising=False)
    else:
        monkeypatch.setenv("APPLICATIONS", setting)

    with pytest.raises(handler.InvalidProperties, match=problem.replace("[", r"\[")):
        invoke.rotated(put_secret_value_event(FULL_ARN))


@pytest.mark.parametrize(
    ("configured", "seen", "same"),
    [
        (FULL_ARN, FULL_ARN, True),
        (PARTIAL_ARN, FULL_ARN, True),
        (FULL_ARN, PARTIAL_ARN, True),
        (FULL_ARN, "push/apns", True),
        (PARTIAL_ARN, "push/apns", True),
        (FULL_ARN, f"{PARTIAL_ARN}-other-Ab12Cd", False),
        (FULL_ARN, "push/apns-other", False),
    ],
)
def test_recognises_the_secret_by_full_arn_partial_arn_or_name(handler, configured, seen, same):
    assert handler.same_secret(configured, seen) is same
