"""Fixtures for the platform application handler: moto, secrets, events, and leak checks.

The handler module is imported as Lambda imports it, with its folder on ``sys.path``, inside
``mock_aws`` and with the environment Lambda sets, then removed from ``sys.modules``. The
emulated account and the module last for the test module; each test makes secrets and
applications with names of its own.

Every test is checked for leaks of the credential: each secret holds ``MARKER``, which must
appear in no returned value, no error message, nothing written to stdout or stderr and no log
record (the handler's own logger included).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from helpers import emulated_aws, import_from

SOURCE = (
    Path(__file__).resolve().parents[4] / "constructs_lib" / "runtime" / "push_platform_application"
)
REGION = "eu-west-1"
MARKER = "SECRET-MARKER-123"
SERVICE_TOKEN = "arn:aws:lambda:eu-west-1:123456789012:function:framework-onEvent"

_names = count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


class Credentials:
    """Credential documents as the secrets hold them; the private parts carry ``MARKER``."""

    marker = MARKER

    @staticmethod
    def apns_token(key_id: str = "KEY1234567") -> dict[str, str]:
        return {
            "signing_key": f"-----BEGIN PRIVATE KEY-----\n{MARKER}-p8\n-----END PRIVATE KEY-----",
            "key_id": key_id,
            "team_id": "TEAM123456",
            "bundle_id": "com.example.app",
        }

    @staticmethod
    def apns_certificate() -> dict[str, str]:
        return {
            "certificate": "-----BEGIN CERTIFICATE-----\nMIIcert\n-----END CERTIFICATE-----",
            "private_key": f"-----BEGIN PRIVATE KEY-----\n{MARKER}-pem\n-----END PRIVATE KEY-----",
        }

    @staticmethod
    def service_account() -> dict[str, str]:
        return {
            "type": "service_account",
            "project_id": "example-project",
            "private_key_id": "abc123",
            "private_key": f"-----BEGIN PRIVATE KEY-----\n{MARKER}-fcm\n-----END PRIVATE KEY-----",
            "client_email": "sns@example-project.iam.gserviceaccount.com",
        }


@pytest.fixture
def credentials() -> type[Credentials]:
    return Credentials


@dataclass
class Account:
    """Clients of the emulated AWS account."""

    sns: Any
    secretsmanager: Any

    def secret(self, value: dict[str, Any] | str) -> str:
        """A new secret holding ``value`` (JSON unless a string); returns its ARN."""
        text = value if isinstance(value, str) else json.dumps(value)
        created = self.secretsmanager.create_secret(Name=unique("push/creds"), SecretString=text)
        return str(created["ARN"])

    def put_secret(self, arn: str, value: dict[str, Any]) -> None:
        """A new current version of the secret."""
        self.secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps(value))

    def attributes(self, arn: str) -> dict[str, str]:
        """The application's attributes as SNS holds them, the write-only credential and
        principal included (``GetPlatformApplicationAttributes`` returns neither, and the
        emulator of ``constructs_lib.testing`` hides them as SNS does)."""
        from moto.sns.models import sns_backends

        _, _, _, region, account, _ = arn.split(":", 5)
        return dict(sns_backends[account][region].get_application(arn).attributes)

    def application_arns(self) -> set[str]:
        listed = self.sns.list_platform_applications()["PlatformApplications"]
        return {application["PlatformApplicationArn"] for application in listed}


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    """An emulated account (moto) and the environment Lambda sets."""
    with emulated_aws(REGION, environment={"AWS_REGION": REGION}, unset=("APPLICATIONS",)):
        yield Account(
            sns=boto3.client("sns", region_name=REGION),
            secretsmanager=boto3.client("secretsmanager", region_name=REGION),
        )


@pytest.fixture(scope="module")
def handler(account: Account) -> Iterator[ModuleType]:
    """The handler module, imported from its folder as Lambda does."""
    module = import_from(SOURCE, "handler")
    try:
        yield module
    finally:
        sys.modules.pop("handler", None)


@pytest.fixture(autouse=True)
def no_credential_leaks(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Fails the test if the secret's marker was printed or logged, by anyone."""
    own = logging.getLogger("push_platform_application")
    own.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    try:
        yield
    finally:
        own.removeHandler(caplog.handler)
    captured = capsys.readouterr()
    records = caplog.get_records("setup") + caplog.get_records("call")
    logged = [f"{record.getMessage()} {record.__dict__}" for record in records]
    assert MARKER not in captured.out
    assert MARKER not in captured.err
    assert not [line for line in logged if MARKER in line]


def assert_no_marker(value: object) -> None:
    assert MARKER not in json.dumps(value, default=repr)


class Invoke:
    """Calls the handler's entry points, checking what comes back for the marker."""

    def __init__(self, handler: ModuleType) -> None:
        self.handler = handler

    def ok(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.on_event(event, None)
        assert_no_marker(result)
        return result

    def fails(self, event: dict[str, Any]) -> str:
        """The error message CloudFormation would show as the reason."""
        with pytest.raises(self.handler.PlatformApplicationError) as raised:
            self.handler.on_event(event, None)
        message = str(raised.value)
        assert MARKER not in message
        assert MARKER not in repr(raised.value)
        assert raised.value.__cause__ is None
        assert raised.value.__suppress_context__ or raised.value.__context__ is None
        return message

    def rotated(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.on_secret_rotated(event, None)
        assert_no_marker(result)
        return result


@pytest.fixture
def invoke(handler: ModuleType) -> Invoke:
    return Invoke(handler)


@pytest.fixture
def name() -> str:
    """A platform application name no other test uses."""
    return unique("app")


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[str]]:
    """Call to read the lines written to stdout so far (checked for the marker)."""

    def read() -> list[str]:
        captured = capsys.readouterr()
        assert MARKER not in captured.out
        assert MARKER not in captured.err
        return captured.out.splitlines()

    return read
