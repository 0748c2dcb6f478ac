"""An SNS mobile push platform application, as a CloudFormation custom resource.

CloudFormation has no resource type for SNS platform applications, so the construct backs one
with a Lambda function behind the CDK ``Provider`` framework. Entry points:

* ``handler.on_event``: the Provider's onEvent. Create reads the credentials secret and
  creates the application; Update replaces the application when ``Name`` or ``Platform``
  changes (CloudFormation then deletes the old one) and otherwise re-reads the secret and sets
  the attributes on the same ARN; Delete deletes it, and succeeds when it is already gone or the
  physical id is not an application ARN (the placeholder of a failed create).
* ``handler.on_secret_rotated``: target of an EventBridge rule on Secrets Manager
  ``PutSecretValue`` / ``RotationSucceeded``. The environment variable ``APPLICATIONS`` lists
  the applications fed by each secret (JSON list of objects with ``secret_arn``, ``platform``,
  ``auth_method`` and ``name``); each application whose secret the event names gets the
  credential of the secret's current version.

The credential never leaves the secret other than into SNS: it is not logged, not returned and
not put in error messages. Error messages of SNS (which can echo the input) and of botocore's
parameter validation (which does) are replaced by their error code.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

T = TypeVar("T")

PLATFORMS = ("APNS", "APNS_SANDBOX", "GCM")
APNS_PLATFORMS = ("APNS", "APNS_SANDBOX")
AUTH_METHODS = ("token", "certificate")
APNS_TOKEN_KEYS = ("signing_key", "key_id", "team_id", "bundle_id")
APNS_CERTIFICATE_KEYS = ("certificate", "private_key")
SERVICE_ACCOUNT_KEYS = ("project_id", "private_key", "client_email")
"""What SNS needs of a Google service-account key file to call FCM HTTP v1."""

TOPIC_ATTRIBUTES = (
    "EventEndpointCreated",
    "EventEndpointDeleted",
    "EventEndpointUpdated",
    "EventDeliveryFailure",
)
ROLE_ATTRIBUTES = ("SuccessFeedbackRoleArn", "FailureFeedbackRoleArn")
SAMPLE_RATE_ATTRIBUTE = "SuccessFeedbackSampleRate"
OPTIONAL_ATTRIBUTES = (*TOPIC_ATTRIBUTES, *ROLE_ATTRIBUTES, SAMPLE_RATE_ATTRIBUTE)
"""Resource properties passed to SNS as attributes of the same name."""

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,256}")
APPLICATION_ARN_PATTERN = re.compile(r"arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:app/[A-Z_]+/[^/]+")
SECRET_SUFFIX = r"-[A-Za-z0-9]{6}"
"""Secrets Manager appends a dash and six random characters to the name in a secret's ARN."""


# --- errors ---------------------------------------------------------------------------------


class PlatformApplicationError(Exception):
    """A failure whose message is safe to show: it names the problem, never the credential."""


class InvalidProperties(PlatformApplicationError):
    """The resource properties (or the APPLICATIONS setting) are missing or invalid."""


class SecretUnusable(PlatformApplicationError):
    """The credentials secret cannot be read or does not hold the expected JSON."""


class SnsRejected(PlatformApplicationError):
    """SNS refused a request. Only the error code is kept: SNS messages can echo the input."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


# --- structured logs ------------------------------------------------------------------------


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(getattr(record, "fields", {}))
        return json.dumps(document, default=str)


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to ``sys.stdout`` as it is when a line is written (CloudWatch reads stdout)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def _make_logger() -> logging.Logger:
    logger = logging.getLogger("push_platform_application")
    if not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
    logger.propagate = False
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logger.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    return logger


logger = _make_logger()


def _log(level: int, message: str, **fields: object) -> None:
    logger.log(level, message, extra={"fields": fields})


# --- what the resource describes ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Application:
    """A platform application and the secret its credential comes from."""

    name: str
    platform: str
    auth_method: str | None
    """``token`` or ``certificate`` for APNs; None for FCM."""
    secret_arn: str

    @classmethod
    def parse(
        cls, values: Mapping[str, object], keys: Mapping[str, str], where: str
    ) -> tuple[Application | None, list[str]]:
        """The application described by ``values`` and every problem found in them.

        ``keys`` maps ``name``, ``platform``, ``auth_method`` and ``secret_arn`` to the key each
        has in ``values``; ``where`` prefixes the problems ("Name", "APPLICATIONS[0].name").
        """
        problems: list[str] = []

        def text(attribute: str) -> str:
            value = values.get(keys[attribute])
            return value.strip() if isinstance(value, str) else ""

        name, platform, auth_method, secret_arn = (
            text(attribute) for attribute in ("name", "platform", "auth_method", "secret_arn")
        )
        label = {attribute: f"{where}{key}" for attribute, key in keys.items()}
        if not NAME_PATTERN.fullmatch(name):
            problems.append(
                f"{label['name']} is {name!r}; expected 1 to 256 letters, digits, '_', '-' or '.'"
            )
        if platform not in PLATFORMS:
            problems.append(
                f"{label['platform']} is {platform!r}; expected one of {', '.join(PLATFORMS)}"
            )
        if platform in APNS_PLATFORMS and auth_method not in AUTH_METHODS:
            problems.append(
                f"{label['auth_method']} is {auth_method!r}; APNs expects one of "
                f"{', '.join(AUTH_METHODS)}"
            )
        if platform == "GCM" and auth_method not in ("", "token"):
            problems.append(
                f"{label['auth_method']} is {auth_method!r}; FCM HTTP v1 authenticates with a "
                "service-account key: leave it out or use 'token'"
            )
        if not secret_arn.startswith("arn:") or ":secretsmanager:" not in secret_arn:
            problems.append(
                f"{label['secret_arn']} is {secret_arn!r}; expected the ARN of a Secrets Manager "
                "secret"
            )
        if problems:
            return None, problems
        method = auth_method if platform in APNS_PLATFORMS else None
        return cls(name, platform, method, secret_arn), []


RESOURCE_KEYS = {
    "name": "Name",
    "platform": "Platform",
    "auth_method": "AuthMethod",
    "secret_arn": "CredentialsSecretArn",
}


@dataclass(frozen=True, slots=True)
class Properties:
    """The resource properties: the application and its optional SNS attributes."""

    application: Application
    attributes: Mapping[str, str] = field(default_factory=dict)
    """The optional attributes given (event topics, feedback roles, sample rate)."""

    @classmethod
    def parse(cls, values: Mapping[str, object]) -> Properties:
        """Properties from CloudFormation's ResourceProperties; raises naming every problem."""
        application, problems = Application.parse(values, RESOURCE_KEYS, where="")
        attributes = {
            name: value.strip()
            for name in OPTIONAL_ATTRIBUTES
            if isinstance(value := values.get(name), str) and value.strip()
        }
        for name in TOPIC_ATTRIBUTES:
            if name in attributes and not _is_arn(attributes[name], "sns"):
                problems.append(f"{name} is {attributes[name]!r}; expected an SNS topic ARN")
        for name in ROLE_ATTRIBUTES:
            if name in attributes and not _is_arn(attributes[name], "iam"):
                problems.append(f"{name} is {attributes[name]!r}; expected an IAM role ARN")
        rate = attributes.get(SAMPLE_RATE_ATTRIBUTE)
        if rate is not None and not (rate.isdigit() and 0 <= int(rate) <= 100):
            problems.append(
                f"{SAMPLE_RATE_ATTRIBUTE} is {rate!r}; expected a whole number from 0 to 100"
            )
        if problems or application is None:
            raise InvalidProperties(
                "invalid platform application properties: " + "; ".join(problems)
            )
        return cls(application, attributes)

    def attribute_names(self) -> set[str]:
        """Names of every SNS attribute these properties set."""
        return set(credential_attribute_names(self.application)) | set(self.attributes)


def _is_arn(value: str, service: str) -> bool:
    return value.startswith("arn:") and f":{service}:" in value


# --- from secret to SNS attributes ----------------------------------------------------------


def credential_attribute_names(application: Application) -> tuple[str, ...]:
    if application.platform == "GCM":
        return ("PlatformCredential",)
    if application.auth_method == "token":
        return (
            "PlatformCredential",
            "PlatformPrincipal",
            "ApplePlatformTeamID",
            "ApplePlatformBundleID",
        )
    return ("PlatformCredential", "PlatformPrincipal")


def credential_attributes(application: Application, secret: str) -> dict[str, str]:
    """The SNS attributes carrying the credential held, as JSON, by ``secret``.

    Raises ``SecretUnusable`` naming the problem (never quoting the secret).
    """
    where = f"credentials secret {application.secret_arn}"
    try:
        document = json.loads(secret)
    except ValueError:
        # The decode error keeps the whole document: not chained, not quoted.
        raise SecretUnusable(
            f"{where} is not JSON; expected {_expected_secret(application)}"
        ) from None
    if not isinstance(document, dict):
        raise SecretUnusable(
            f"{where} holds JSON that is not an object; expected {_expected_secret(application)}"
        )
    if application.platform == "GCM":
        return {"PlatformCredential": json.dumps(_service_account(document, where))}
    if application.auth_method == "token":
        values = _strings(document, APNS_TOKEN_KEYS, where)
        return {
            "PlatformCredential": values["signing_key"],
            "PlatformPrincipal": values["key_id"],
            "ApplePlatformTeamID": values["team_id"],
            "ApplePlatformBundleID": values["bundle_id"],
        }
    values = _strings(document, APNS_CERTIFICATE_KEYS, where)
    return {"PlatformCredential": values["private_key"], "PlatformPrincipal": values["certificate"]}


def _expected_secret(application: Application) -> str:
    if application.platform == "GCM":
        return (
            'an object {"service_account": <the Google service-account key JSON>} or the '
            "service-account key JSON itself"
        )
    keys = APNS_TOKEN_KEYS if application.auth_method == "token" else APNS_CERTIFICATE_KEYS
    return f"an object with the keys {', '.join(keys)}"


def _strings(document: Mapping[str, object], keys: tuple[str, ...], where: str) -> dict[str, str]:
    missing = [key for key in keys if key not in document]
    not_text = [
        key
        for key in keys
        if key in document and not (isinstance(document[key], str) and document[key])
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    if not_text:
        problems.append(f"keys that are not non-empty strings: {', '.join(not_text)}")
    if problems:
        raise SecretUnusable(
            f"{where} lacks what the platform needs ({'; '.join(problems)}); expected an object "
            f"with the keys {', '.join(keys)}"
        )
    return {key: str(document[key]) for key in keys}


def _service_account(document: Mapping[str, object], where: str) -> dict[str, object]:
    account: object = document.get("service_account", document)
    if isinstance(account, str):
        try:
            account = json.loads(account)
        except ValueError:
            raise SecretUnusable(
                f"{where}: service_account is a string that is not JSON; expected the Google "
                "service-account key JSON"
            ) from None
    if not isinstance(account, dict):
        raise SecretUnusable(
            f"{where}: service_account is not an object; expected the Google service-account "
            "key JSON"
        )
    _strings(account, SERVICE_ACCOUNT_KEYS, f"{where} (service account)")
    return account


# --- AWS ------------------------------------------------------------------------------------


def _sns() -> Any:
    return boto3.client("sns")


def _secretsmanager() -> Any:
    return boto3.client("secretsmanager")


SECRET_ERRORS = {
    "ResourceNotFoundException": "does not exist or has no current (AWSCURRENT) version",
    "AccessDeniedException": (
        "cannot be read by this function: grant it secretsmanager:GetSecretValue on the secret "
        "and, if a customer managed KMS key encrypts the secret, kms:Decrypt on that key"
    ),
    "DecryptionFailure": (
        "cannot be decrypted: grant this function kms:Decrypt on the secret's KMS key"
    ),
    "InvalidRequestException": "cannot be read now (is it scheduled for deletion?)",
}


def read_secret(client: Any, secret_arn: str) -> str:
    """The current version of the secret, as a string."""
    try:
        response = client.get_secret_value(SecretId=secret_arn)
    except ClientError as error:
        code = _code(error)
        reason = SECRET_ERRORS.get(code, "cannot be read")
        raise SecretUnusable(
            f"credentials secret {secret_arn} {reason} (GetSecretValue: {code})"
        ) from None
    except BotoCoreError as error:
        raise SecretUnusable(
            f"credentials secret {secret_arn} cannot be read ({type(error).__name__})"
        ) from None
    secret = response.get("SecretString")
    if not isinstance(secret, str):
        raise SecretUnusable(
            f"credentials secret {secret_arn} holds binary data; store the credential JSON as "
            "the secret string"
        )
    return secret


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _sns_call(operation: str, subject: str, call: Callable[[], T]) -> T:
    """``call()``, with SNS errors replaced by messages naming only the operation and code."""
    try:
        return call()
    except ClientError as error:
        code = _code(error)
        hint = (
            "; SNS rejected the attributes: check that the secret holds a valid credential for "
            "the platform and that the event topics and feedback roles exist"
            if code in ("InvalidParameter", "InvalidParameterValue")
            else ""
        )
        raise SnsRejected(
            f"SNS {operation} failed for {subject} with error code {code}{hint} (the error "
            "message is not shown because it can repeat the credential)",
            code,
        ) from None
    except BotoCoreError as error:
        # botocore's parameter validation errors quote the value.
        raise SnsRejected(
            f"SNS {operation} failed for {subject} ({type(error).__name__})", "Client"
        ) from None


def create_application(sns: Any, properties: Properties, credentials: Mapping[str, str]) -> str:
    application = properties.application
    response = _sns_call(
        "CreatePlatformApplication",
        f"platform application {application.name!r}",
        lambda: sns.create_platform_application(
            Name=application.name,
            Platform=application.platform,
            Attributes={**credentials, **properties.attributes},
        ),
    )
    return str(response["PlatformApplicationArn"])


def set_attributes(sns: Any, arn: str, attributes: Mapping[str, str]) -> None:
    _sns_call(
        "SetPlatformApplicationAttributes",
        arn,
        lambda: sns.set_platform_application_attributes(
            PlatformApplicationArn=arn, Attributes=dict(attributes)
        ),
    )


def application_exists(sns: Any, arn: str) -> bool:
    try:
        _sns_call(
            "GetPlatformApplicationAttributes",
            arn,
            lambda: sns.get_platform_application_attributes(PlatformApplicationArn=arn),
        )
    except SnsRejected as error:
        if error.code == "NotFound":
            return False
        raise
    return True


def delete_application(sns: Any, arn: str) -> bool:
    """Deletes the application; False when there was nothing to delete."""
    if not APPLICATION_ARN_PATTERN.fullmatch(arn) or not application_exists(sns, arn):
        return False
    try:
        _sns_call(
            "DeletePlatformApplication",
            arn,
            lambda: sns.delete_platform_application(PlatformApplicationArn=arn),
        )
    except SnsRejected as error:
        if error.code == "NotFound":
            return False
        raise
    return True


def find_application(sns: Any, application: Application) -> str | None:
    """The ARN of the application with this name and platform, if it exists."""
    suffix = f":app/{application.platform}/{application.name}"
    pages: Iterator[Mapping[str, Any]] = _sns_call(
        "ListPlatformApplications",
        "this account and region",
        lambda: iter(list(sns.get_paginator("list_platform_applications").paginate())),
    )
    for page in pages:
        for found in page.get("PlatformApplications", []):
            arn = str(found.get("PlatformApplicationArn", ""))
            if arn.endswith(suffix):
                return arn
    return None


# --- custom resource ------------------------------------------------------------------------


def on_event(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """CDK Provider onEvent: creates, updates or deletes the platform application."""
    request_type = event.get("RequestType")
    values = event.get("ResourceProperties") or {}
    fields: dict[str, object] = {
        "RequestType": request_type,
        "Name": values.get("Name"),
        "Platform": values.get("Platform"),
        "PhysicalResourceId": event.get("PhysicalResourceId"),
        "RequestId": getattr(context, "aws_request_id", None),
    }
    try:
        action, arn = _handle(event)
    except PlatformApplicationError as error:
        _log(logging.ERROR, "Platform application request failed", **fields, Error=str(error))
        raise
    except Exception as error:
        # Not ours: its message is not known to be free of the credential.
        _log(logging.ERROR, "Platform application request failed", **fields, Error=_kind(error))
        raise PlatformApplicationError(
            f"{request_type} of platform application {values.get('Name')!r} failed unexpectedly "
            f"({_kind(error)}); see the function's logs"
        ) from None
    fields["PhysicalResourceId"] = arn
    _log(logging.INFO, f"Platform application {action}", **fields)
    return {"PhysicalResourceId": arn, "Data": {"PlatformApplicationArn": arn}}


def _kind(error: BaseException) -> str:
    """The exception type and where it was raised; no message, which could quote data."""
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    where = (
        f" at {os.path.basename(traceback.tb_frame.f_code.co_filename)}:{traceback.tb_lineno}"
        if traceback is not None
        else ""
    )
    return f"{type(error).__name__}{where}"


def _handle(event: Mapping[str, Any]) -> tuple[str, str]:
    """What was done ("created", "updated", ...) and the physical id to return."""
    request_type = event.get("RequestType")
    physical_id = str(event.get("PhysicalResourceId") or "")
    sns = _sns()
    if request_type == "Delete":
        deleted = delete_application(sns, physical_id)
        return ("deleted" if deleted else "already absent"), physical_id
    if request_type not in ("Create", "Update"):
        raise InvalidProperties(
            f"RequestType is {request_type!r}; expected one of Create, Update, Delete"
        )
    properties = Properties.parse(event.get("ResourceProperties") or {})
    credentials = credential_attributes(
        properties.application, read_secret(_secretsmanager(), properties.application.secret_arn)
    )
    if request_type == "Create" or _replaced(event, physical_id):
        return "created", create_application(sns, properties, credentials)
    attributes = {**credentials, **properties.attributes}
    for name in _previous_attribute_names(event) - properties.attribute_names():
        attributes[name] = ""  # an empty value removes the attribute
    try:
        set_attributes(sns, physical_id, attributes)
    except SnsRejected as error:
        if error.code != "NotFound":
            raise
        return "recreated", create_application(sns, properties, credentials)
    return "updated", physical_id


def _replaced(event: Mapping[str, Any], physical_id: str) -> bool:
    """Whether an Update needs a new application: new name or platform, or no ARN to update."""
    old = event.get("OldResourceProperties") or {}
    new = event.get("ResourceProperties") or {}
    return not APPLICATION_ARN_PATTERN.fullmatch(physical_id) or any(
        str(old.get(key, "")).strip() != str(new.get(key, "")).strip()
        for key in ("Name", "Platform")
    )


def _previous_attribute_names(event: Mapping[str, Any]) -> set[str]:
    try:
        return Properties.parse(event.get("OldResourceProperties") or {}).attribute_names()
    except InvalidProperties:
        return set()


# --- secret rotation ------------------------------------------------------------------------

APPLICATION_KEYS = {
    "name": "name",
    "platform": "platform",
    "auth_method": "auth_method",
    "secret_arn": "secret_arn",
}


@dataclass(frozen=True, slots=True)
class RotationSettings:
    """The environment of the function when it follows secret rotation."""

    applications: tuple[Application, ...]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RotationSettings:
        """Settings from ``APPLICATIONS``; raises naming every problem."""
        raw = environ.get("APPLICATIONS")
        if not raw:
            raise InvalidProperties("APPLICATIONS is not set; expected a JSON list of objects")
        try:
            listed = json.loads(raw)
        except ValueError:
            raise InvalidProperties(
                "APPLICATIONS is not JSON; expected a list of objects"
            ) from None
        if not isinstance(listed, list):
            raise InvalidProperties("APPLICATIONS is not a JSON list of objects")
        applications: list[Application] = []
        problems: list[str] = []
        for index, item in enumerate(listed):
            if not isinstance(item, dict):
                problems.append(f"APPLICATIONS[{index}] is not an object")
                continue
            application, found = Application.parse(
                item, APPLICATION_KEYS, where=f"APPLICATIONS[{index}]."
            )
            problems.extend(found)
            if application is not None:
                applications.append(application)
        if problems:
            raise InvalidProperties("invalid APPLICATIONS: " + "; ".join(problems))
        return cls(tuple(applications))


def on_secret_rotated(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Gives the applications fed by the secret in ``event`` its current credential.

    Raises after trying every application if any of them could not be updated, so that the
    invocation is retried (and, once retries run out, lands where the rule sends failures).
    """
    settings = RotationSettings.from_environ(os.environ)
    named = secrets_named_by(event)
    matching = [
        application
        for application in settings.applications
        if any(same_secret(application.secret_arn, seen) for seen in named)
    ]
    sns = _sns()
    secretsmanager = _secretsmanager()
    updated: list[str] = []
    missing: list[str] = []
    failures: list[str] = []
    for application in matching:
        fields = {
            "Name": application.name,
            "Platform": application.platform,
            "SecretArn": application.secret_arn,
            "RequestId": getattr(context, "aws_request_id", None),
        }
        try:
            arn = find_application(sns, application)
            if arn is None:
                missing.append(application.name)
                _log(logging.WARNING, "Platform application not found; nothing to update", **fields)
                continue
            credentials = credential_attributes(
                application, read_secret(secretsmanager, application.secret_arn)
            )
            set_attributes(sns, arn, credentials)
        except PlatformApplicationError as error:
            failures.append(f"{application.name}: {error}")
            _log(logging.ERROR, "Credential update failed", **fields, Error=str(error))
            continue
        updated.append(arn)
        _log(logging.INFO, "Credential updated", **fields, PlatformApplicationArn=arn)
    if not matching:
        _log(logging.INFO, "No platform application uses the secret", Secrets=sorted(named))
    if failures:
        raise PlatformApplicationError("could not update the credential of: " + "; ".join(failures))
    return {"updated": updated, "missing": missing}


def secrets_named_by(event: Mapping[str, Any]) -> set[str]:
    """ARNs (or names) of the secrets a Secrets Manager event through CloudTrail is about.

    ``PutSecretValue`` ("AWS API Call via CloudTrail") names the secret in
    ``requestParameters.secretId`` (as the caller gave it) and ``responseElements.arn``;
    ``RotationSucceeded`` ("AWS Service Event via CloudTrail") in
    ``additionalEventData.SecretId``.
    """
    detail = event.get("detail") or {}
    response = detail.get("responseElements") or {}
    candidates: list[object] = [
        *(event.get("resources") or []),
        response.get("arn"),
        response.get("aRN"),  # the spelling of some CloudTrail entries
        (detail.get("additionalEventData") or {}).get("SecretId"),  # RotationSucceeded
        (detail.get("requestParameters") or {}).get("secretId"),  # PutSecretValue
    ]
    return {candidate for candidate in candidates if isinstance(candidate, str) and candidate}


def same_secret(configured: str, seen: str) -> bool:
    """Whether ``seen`` (full ARN, partial ARN or name) names the secret ``configured``."""
    if configured == seen:
        return True
    if seen.startswith("arn:"):
        return bool(
            re.fullmatch(re.escape(configured) + SECRET_SUFFIX, seen)
            or re.fullmatch(re.escape(seen) + SECRET_SUFFIX, configured)
        )
    return bool(re.fullmatch(rf".*:secret:{re.escape(seen)}({SECRET_SUFFIX})?", configured))
