"""The platform application custom resource: Create, Update, Delete and their failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from helpers import refusing_client

SERVICE_TOKEN = "arn:aws:lambda:eu-west-1:123456789012:function:framework-onEvent"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:push-events"
ROLE = "arn:aws:iam::123456789012:role/sns-feedback"
MISSING_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:push/absent-AbCdEf"


def create_event(**properties: str) -> dict[str, Any]:
    return {
        "RequestType": "Create",
        "ResourceProperties": {"ServiceToken": SERVICE_TOKEN, **properties},
    }


def update_event(physical_id: str, old: dict[str, str], **properties: str) -> dict[str, Any]:
    return {
        "RequestType": "Update",
        "PhysicalResourceId": physical_id,
        "ResourceProperties": {"ServiceToken": SERVICE_TOKEN, **properties},
        "OldResourceProperties": {"ServiceToken": SERVICE_TOKEN, **old},
    }


def delete_event(physical_id: str, **properties: str) -> dict[str, Any]:
    return {
        "RequestType": "Delete",
        "PhysicalResourceId": physical_id,
        "ResourceProperties": {"ServiceToken": SERVICE_TOKEN, **properties},
    }


def apns_token_properties(name: str, secret_arn: str, **extra: str) -> dict[str, str]:
    return {
        "Name": name,
        "Platform": "APNS",
        "AuthMethod": "token",
        "CredentialsSecretArn": secret_arn,
        **extra,
    }


# --- Create ---------------------------------------------------------------------------------


def test_creates_apns_token_application_from_the_secret(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_token())

    result = invoke.ok(create_event(**apns_token_properties(name, secret)))

    arn = result["PhysicalResourceId"]
    assert arn.endswith(f":app/APNS/{name}")
    assert result["Data"] == {"PlatformApplicationArn": arn}
    assert account.attributes(arn) == {
        "PlatformCredential": credentials.apns_token()["signing_key"],
        "PlatformPrincipal": "KEY1234567",
        "ApplePlatformTeamID": "TEAM123456",
        "ApplePlatformBundleID": "com.example.app",
    }


def test_creates_apns_certificate_application_from_the_secret(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_certificate())

    result = invoke.ok(
        create_event(
            Name=name,
            Platform="APNS_SANDBOX",
            AuthMethod="certificate",
            CredentialsSecretArn=secret,
        )
    )

    arn = result["PhysicalResourceId"]
    assert arn.endswith(f":app/APNS_SANDBOX/{name}")
    assert account.attributes(arn) == {
        "PlatformCredential": credentials.apns_certificate()["private_key"],
        "PlatformPrincipal": credentials.apns_certificate()["certificate"],
    }


@pytest.mark.parametrize("nested", [True, False], ids=["service_account-key", "whole-secret"])
def test_creates_fcm_application_with_the_service_account_json(
    account, invoke, credentials, name, nested
):
    document = credentials.service_account()
    secret = account.secret({"service_account": document} if nested else document)

    result = invoke.ok(create_event(Name=name, Platform="GCM", CredentialsSecretArn=secret))

    attributes = account.attributes(result["PhysicalResourceId"])
    assert set(attributes) == {"PlatformCredential"}
    assert json.loads(attributes["PlatformCredential"]) == document


def test_passes_event_topics_and_feedback_settings_as_attributes(
    account, invoke, credentials, name
):
    secret = account.secret(credentials.apns_token())
    optional = {
        "EventEndpointCreated": TOPIC,
        "EventEndpointDeleted": TOPIC,
        "EventEndpointUpdated": TOPIC,
        "EventDeliveryFailure": TOPIC,
        "SuccessFeedbackRoleArn": ROLE,
        "FailureFeedbackRoleArn": ROLE,
        "SuccessFeedbackSampleRate": "25",
    }

    result = invoke.ok(create_event(**apns_token_properties(name, secret, **optional)))

    assert account.attributes(result["PhysicalResourceId"]).items() >= optional.items()


def test_logs_one_json_line_without_attribute_values(account, invoke, credentials, name, output):
    secret = account.secret(credentials.apns_token())

    arn = invoke.ok(create_event(**apns_token_properties(name, secret)))["PhysicalResourceId"]

    lines = output()
    assert len(lines) == 1
    log = json.loads(lines[0])
    assert log["level"] == "INFO"
    assert {key: log[key] for key in ("RequestType", "Name", "Platform")} == {
        "RequestType": "Create",
        "Name": name,
        "Platform": "APNS",
    }
    assert log["PhysicalResourceId"] == arn
    assert "KEY1234567" not in lines[0]
    assert "TEAM123456" not in lines[0]


# --- Update ---------------------------------------------------------------------------------


def test_update_sets_the_new_secret_version_on_the_same_application(
    account, invoke, credentials, name
):
    secret = account.secret(credentials.apns_token())
    properties = apns_token_properties(name, secret)
    arn = invoke.ok(create_event(**properties))["PhysicalResourceId"]
    account.put_secret(secret, credentials.apns_token(key_id="ROTATED999"))

    result = invoke.ok(update_event(arn, properties, **properties, CredentialsVersion="2"))

    assert result["PhysicalResourceId"] == arn
    assert account.attributes(arn)["PlatformPrincipal"] == "ROTATED999"


def test_update_clears_an_event_topic_no_longer_given(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_token())
    old = apns_token_properties(name, secret, EventDeliveryFailure=TOPIC)
    arn = invoke.ok(create_event(**old))["PhysicalResourceId"]

    invoke.ok(update_event(arn, old, **apns_token_properties(name, secret)))

    assert account.attributes(arn)["EventDeliveryFailure"] == ""


def test_rename_creates_a_new_application_and_keeps_the_old_one(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_token())
    old = apns_token_properties(name, secret)
    old_arn = invoke.ok(create_event(**old))["PhysicalResourceId"]

    result = invoke.ok(update_event(old_arn, old, **apns_token_properties(f"{name}-v2", secret)))

    new_arn = result["PhysicalResourceId"]
    assert new_arn != old_arn
    assert new_arn.endswith(f":app/APNS/{name}-v2")
    assert {old_arn, new_arn} <= account.application_arns()
    assert result["Data"] == {"PlatformApplicationArn": new_arn}


def test_platform_change_creates_a_new_application(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_token())
    old = apns_token_properties(name, secret)
    old_arn = invoke.ok(create_event(**old))["PhysicalResourceId"]
    new = {**old, "Platform": "APNS_SANDBOX"}

    new_arn = invoke.ok(update_event(old_arn, old, **new))["PhysicalResourceId"]

    assert new_arn.endswith(f":app/APNS_SANDBOX/{name}")
    assert {old_arn, new_arn} <= account.application_arns()


def test_update_recreates_an_application_deleted_outside_cloudformation(
    account, invoke, credentials, name
):
    secret = account.secret(credentials.apns_token())
    properties = apns_token_properties(name, secret)
    arn = invoke.ok(create_event(**properties))["PhysicalResourceId"]
    account.sns.delete_platform_application(PlatformApplicationArn=arn)

    result = invoke.ok(update_event(arn, properties, **properties, CredentialsVersion="2"))

    assert result["PhysicalResourceId"] in account.application_arns()


# --- Delete ---------------------------------------------------------------------------------


def test_delete_removes_the_application(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_token())
    properties = apns_token_properties(name, secret)
    arn = invoke.ok(create_event(**properties))["PhysicalResourceId"]

    result = invoke.ok(delete_event(arn, **properties))

    assert result["PhysicalResourceId"] == arn
    assert arn not in account.application_arns()


def test_delete_succeeds_when_the_application_is_already_gone(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_token())
    properties = apns_token_properties(name, secret)
    arn = invoke.ok(create_event(**properties))["PhysicalResourceId"]
    invoke.ok(delete_event(arn, **properties))

    assert invoke.ok(delete_event(arn, **properties))["PhysicalResourceId"] == arn


@pytest.mark.parametrize(
    "physical_id",
    ["", "placeholder-of-a-failed-create", "arn:aws:sns:eu-west-1:123456789012:some-topic"],
)
def test_delete_succeeds_when_the_physical_id_is_not_an_application_arn(invoke, name, physical_id):
    event = delete_event(physical_id, Name=name, Platform="APNS")

    assert invoke.ok(event)["PhysicalResourceId"] == physical_id


def test_delete_does_not_read_the_secret(invoke, credentials, name, account):
    secret = account.secret(credentials.apns_token())
    properties = apns_token_properties(name, secret)
    arn = invoke.ok(create_event(**properties))["PhysicalResourceId"]
    account.secretsmanager.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)

    invoke.ok(delete_event(arn, **properties))

    assert arn not in account.application_arns()


# --- failures -------------------------------------------------------------------------------


def test_fails_naming_a_missing_secret(invoke, name):
    message = invoke.fails(create_event(**apns_token_properties(name, MISSING_SECRET)))

    assert MISSING_SECRET in message
    assert "does not exist" in message


def test_fails_saying_what_to_grant_when_the_secret_cannot_be_read(
    handler, invoke, name, monkeypatch
):
    denied = refusing_client("get_secret_value", "AccessDeniedException", "not authorized")
    monkeypatch.setattr(handler, "_secretsmanager", denied)

    message = invoke.fails(create_event(**apns_token_properties(name, MISSING_SECRET)))

    assert MISSING_SECRET in message
    assert "secretsmanager:GetSecretValue" in message
    assert "kms:Decrypt" in message


def test_fails_when_the_secret_is_not_json(account, invoke, credentials, name):
    secret = account.secret(f"{credentials.marker} is not JSON")

    message = invoke.fails(create_event(**apns_token_properties(name, secret)))

    assert secret in message
    assert "is not JSON" in message
    assert "signing_key, key_id, team_id, bundle_id" in message


def test_fails_naming_the_keys_missing_from_the_secret(account, invoke, credentials, name):
    document = credentials.apns_token()
    del document["team_id"], document["bundle_id"]
    secret = account.secret(document)

    message = invoke.fails(create_event(**apns_token_properties(name, secret)))

    assert "missing keys: team_id, bundle_id" in message


def test_fails_naming_the_keys_missing_from_the_service_account(account, invoke, credentials, name):
    document = credentials.service_account()
    del document["client_email"]
    secret = account.secret({"service_account": document})

    message = invoke.fails(create_event(Name=name, Platform="GCM", CredentialsSecretArn=secret))

    assert "missing keys: client_email" in message


def test_fails_naming_the_allowed_platforms(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_token())

    message = invoke.fails(
        create_event(**{**apns_token_properties(name, secret), "Platform": "FCM"})
    )

    assert "Platform is 'FCM'; expected one of APNS, APNS_SANDBOX, GCM" in message


def test_fails_naming_the_allowed_apns_auth_methods(account, invoke, credentials, name):
    secret = account.secret(credentials.apns_token())
    properties = {**apns_token_properties(name, secret), "AuthMethod": "p12"}

    message = invoke.fails(create_event(**properties))

    assert "AuthMethod is 'p12'; APNs expects one of token, certificate" in message


def test_fails_naming_every_invalid_property_at_once(invoke):
    message = invoke.fails(
        create_event(
            Name="has spaces",
            Platform="APNS",
            CredentialsSecretArn="my-secret",
            SuccessFeedbackSampleRate="200",
        )
    )

    for problem in ("Name is", "AuthMethod is", "CredentialsSecretArn is", "SampleRate is"):
        assert problem in message


@pytest.mark.parametrize(
    "error",
    [
        ClientError(
            {
                "Error": {
                    "Code": "InvalidParameter",
                    "Message": "Invalid parameter: Attributes Reason: "
                    "PlatformCredential SECRET-MARKER-123 is not a valid key",
                }
            },
            "CreatePlatformApplication",
        ),
        ParamValidationError(report="Invalid length for parameter SECRET-MARKER-123"),
    ],
    ids=["sns-error", "botocore-validation"],
)
def test_sns_rejection_reports_the_error_code_without_the_input(
    account, handler, invoke, credentials, name, monkeypatch, error
):
    class Rejecting:
        def create_platform_application(self, **_: object) -> None:
            raise error

    monkeypatch.setattr(handler, "_sns", Rejecting)
    secret = account.secret(credentials.apns_token())

    message = invoke.fails(create_event(**apns_token_properties(name, secret)))

    assert "CreatePlatformApplication" in message
    assert ("InvalidParameter" if isinstance(error, ClientError) else "ParamValidation") in message


def test_unexpected_errors_keep_their_message_out_of_the_reason(
    account, handler, invoke, credentials, name, monkeypatch
):
    def explode(*_: object) -> None:
        raise RuntimeError(credentials.marker)

    monkeypatch.setattr(handler, "_sns", explode)
    secret = account.secret(credentials.apns_token())

    message = invoke.fails(create_event(**apns_token_properties(name, secret)))

    assert "failed unexpectedly (RuntimeError" in message


def test_logs_a_failure_as_one_error_line(invoke, name, output):
    invoke.fails(create_event(**apns_token_properties(name, MISSING_SECRET)))

    lines = output()
    assert len(lines) == 1
    log = json.loads(lines[0])
    assert log["level"] == "ERROR"
    assert log["Name"] == name
    assert MISSING_SECRET in log["Error"]
