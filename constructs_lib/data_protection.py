"""SNS message data protection, typed: audit, de-identify and deny statements over the data
identifiers AWS manages (and custom ones), checked at synth, rendered as the topic's
``DataProtectionPolicy`` (aws-cdk's ``sns.Topic`` has no such property, aws-cdk#34136).

A policy is a :class:`DataProtection` holding statements, each one of:

* :class:`Audit`: sample inbound messages and log what was found (at most one per policy);
* :class:`Deidentify`: mask or redact what was found in published messages;
* :class:`DenyInbound`: refuse a publish whose message holds it;
* :class:`DenyOutbound`: refuse to deliver such a message to a subscription.

What each statement may say follows the SNS Developer Guide (data protection policies,
operations, managed and custom data identifiers); :meth:`DataProtection.to_policy` renders the
document, the shape that guide gives. Audit and de-identify statements apply to inbound
messages only, so they have no direction; deny has one class per direction.

SNS supports data protection on standard topics only, and closed it to new customers on
30 April 2026: an account that has not used it before cannot create policies.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_logs as logs

from ._private.validation import Problems, unresolved

VERSION = "2021-06-01"
"""The policy language version, the only one SNS documents."""
IDENTIFIER_ARN = "arn:aws:dataprotection::aws:data-identifier/"
"""Managed data identifiers are named by this ARN followed by the identifier."""
MAX_AUDIT_SAMPLE_RATE = 99
"""An audit samples 0 to 99 % of inbound messages."""
AUDIT_LOG_GROUP_PREFIX = "/aws/vendedlogs/"
"""An audit's CloudWatch Logs destination must be named so (and be in the topic's region)."""
MAX_CUSTOM_NAME_LENGTH = 128
MAX_CUSTOM_REGEX_LENGTH = 200
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ACCOUNT = re.compile(r"^\d{12}$")

_BY_COUNTRY: Mapping[str, tuple[str, ...]] = {
    "BankAccountNumber": ("DE", "ES", "FR", "GB", "IT"),
    "CepCode": ("BR",),
    "Cnpj": ("BR",),
    "CpfCode": ("BR",),
    "DriversLicense": (
        *("AT", "AU", "BE", "BG", "CA", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB"),
        *("GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE"),
        *("SI", "SK", "US"),
    ),
    "DrugEnforcementAgencyNumber": ("US",),
    "ElectoralRollNumber": ("GB",),
    "HealthInsuranceCardNumber": ("EU",),
    "HealthInsuranceClaimNumber": ("US",),
    "HealthInsuranceNumber": ("FR",),
    "HealthcareProcedureCode": ("US",),
    "IndividualTaxIdentificationNumber": ("US",),
    "InseeCode": ("FR",),
    "MedicareBeneficiaryNumber": ("US",),
    "NationalDrugCode": ("US",),
    "NationalIdentificationNumber": ("DE", "ES", "IT"),
    "NationalInsuranceNumber": ("GB",),
    "NationalProviderId": ("US",),
    "NhsNumber": ("GB",),
    "NieNumber": ("ES",),
    "NifNumber": ("ES",),
    "PassportNumber": ("CA", "DE", "ES", "FR", "GB", "IT", "US"),
    "PermanentResidenceNumber": ("CA",),
    "PersonalHealthNumber": ("CA",),
    "PhoneNumber": ("BR", "DE", "ES", "FR", "GB", "IT", "US"),
    "PostalCode": ("CA",),
    "RgNumber": ("BR",),
    "SocialInsuranceNumber": ("CA",),
    "Ssn": ("ES", "US"),
    "TaxId": ("DE", "ES", "FR", "GB"),
    "ZipCode": ("US",),
}
"""Managed identifiers that depend on a country or region: named ``<identifier>-<code>``."""
_EVERYWHERE = (
    *("Address", "AwsSecretKey", "CreditCardExpiration", "CreditCardNumber"),
    *("CreditCardSecurityCode", "EmailAddress", "IpAddress", "LatLong", "Name"),
    *("OpenSshPrivateKey", "PgpPrivateKey", "PkcsPrivateKey", "PuttyPrivateKey"),
    "VehicleIdentificationNumber",
)
"""Managed identifiers that do not depend on a country or language."""

MANAGED_DATA_IDENTIFIERS: frozenset[str] = frozenset(
    (*_EVERYWHERE, *(f"{name}-{code}" for name, codes in _BY_COUNTRY.items() for code in codes))
)
"""Every managed data identifier SNS documents, as a statement names it (``EmailAddress``,
``PhoneNumber-US``)."""


@dataclass(frozen=True)
class CustomDataIdentifier:
    """A data identifier of your own: a regular expression, named for the statements that use
    it (the policy declares it once in its ``Configuration``).

    :param name: letters, digits, ``_`` and ``-``, at most 128 characters, not the name of a
        managed identifier.
    :param regex: at most 200 characters.
    """

    name: str
    regex: str


Identifier = str | CustomDataIdentifier
"""A managed identifier's name (``"CreditCardNumber"``) or a :class:`CustomDataIdentifier`."""


@dataclass(frozen=True)
class AuditDestination:
    """Where an audit writes its findings: any of a log group, a Firehose delivery stream and an
    S3 bucket (at least one).

    :param log_group: in the topic's region, named ``/aws/vendedlogs/...``.
    :param delivery_stream: name of a Firehose delivery stream with Direct PUT as its source,
        in the topic's region.
    :param bucket: name of an S3 bucket.
    """

    log_group: logs.ILogGroup | None = None
    delivery_stream: str | None = None
    bucket: str | None = None


@dataclass(frozen=True)
class Audit:
    """Sample inbound messages and log the sensitive data found, without blocking anything.

    :param identifiers: what to look for.
    :param sample_rate: percentage of published messages audited, 0..99. Default: 99.
    :param findings: where findings go. Default: a log group the fanout creates
        (``/aws/vendedlogs/sns/...``).
    :param no_findings: where messages without findings are logged. Default: nowhere.
    :param principals: the publishers audited: ``"*"``, account ids or IAM principal ARNs.
        Default: every publisher.
    :param sid: the statement's id. Default: none.
    """

    identifiers: Sequence[Identifier]
    sample_rate: int = MAX_AUDIT_SAMPLE_RATE
    findings: AuditDestination | None = None
    no_findings: AuditDestination | None = None
    principals: Sequence[str] = ("*",)
    sid: str | None = None


@dataclass(frozen=True)
class Deidentify:
    """Mask (each character replaced by ``mask_with``) or redact (removed) the sensitive data
    found in published messages, which are then delivered.

    :param identifiers: what to look for.
    :param mask_with: the masking character. Default: ``"*"``.
    :param redact: remove the data instead of masking it (then ``mask_with=None``).
        Default: False.
    :param principals: the publishers concerned. Default: every publisher.
    :param sid: the statement's id. Default: none.
    """

    identifiers: Sequence[Identifier]
    mask_with: str | None = "*"
    redact: bool = False
    principals: Sequence[str] = ("*",)
    sid: str | None = None


@dataclass(frozen=True)
class DenyInbound:
    """Refuse a publish whose message holds sensitive data (the publisher gets an
    ``AuthorizationError``).

    :param identifiers: what to look for.
    :param principals: the publishers refused. Default: every publisher.
    :param sid: the statement's id. Default: none.
    """

    identifiers: Sequence[Identifier]
    principals: Sequence[str] = ("*",)
    sid: str | None = None


@dataclass(frozen=True)
class DenyOutbound:
    """Do not deliver a message holding sensitive data to the subscriptions of the principals
    named (the delivery fails with status 403, in the delivery status log).

    :param identifiers: what to look for.
    :param principals: the subscribers (the principals that called ``Subscribe``) refused.
        Default: every subscriber.
    :param sid: the statement's id. Default: none.
    """

    identifiers: Sequence[Identifier]
    principals: Sequence[str] = ("*",)
    sid: str | None = None


Statement = Audit | Deidentify | DenyInbound | DenyOutbound
STATEMENT_TYPES = (Audit, Deidentify, DenyInbound, DenyOutbound)


@dataclass(frozen=True)
class DataProtection:
    """A topic's data protection policy: its statements, a name and a description.

    :param statements: the statements, at least one, at most one :class:`Audit`.
    :param name: the policy's name. Default: ``"data-protection"``.
    :param description: Default: none.
    """

    statements: Sequence[Statement]
    name: str = "data-protection"
    description: str | None = None

    @property
    def needs_findings_log_group(self) -> bool:
        """Whether an audit statement leaves its findings destination to the topic's owner."""
        return any(isinstance(s, Audit) and s.findings is None for s in self.statements)

    def to_policy(self, *, findings_log_group: logs.ILogGroup | None = None) -> dict[str, Any]:
        """The policy document SNS takes (``DataProtectionPolicy``), checked first.

        ``findings_log_group`` receives the findings of an audit that names no destination.
        Raises :class:`~constructs_lib.FanoutConfigurationError` on any rule broken.
        """
        problems = Problems()
        check(problems, "data_protection", self)
        if self.needs_findings_log_group and findings_log_group is None:
            problems.add(
                "findings_log_group",
                None,
                "an Audit without findings needs the log group its findings go to",
            )
        problems.raise_for(f"DataProtection {self.name!r}")
        default = AuditDestination(log_group=findings_log_group)
        document: dict[str, Any] = {"Name": self.name}
        if self.description is not None:
            document["Description"] = self.description
        document["Version"] = VERSION
        custom = _custom_identifiers(self)
        if custom:
            document["Configuration"] = {
                "CustomDataIdentifier": [{"Name": c.name, "Regex": c.regex} for c in custom]
            }
        document["Statement"] = [_statement(s, default) for s in self.statements]
        return document


def _custom_identifiers(policy: DataProtection) -> list[CustomDataIdentifier]:
    """The custom identifiers the statements use, each once, in the order first used."""
    seen: dict[str, CustomDataIdentifier] = {}
    for statement in policy.statements:
        for identifier in statement.identifiers:
            if isinstance(identifier, CustomDataIdentifier):
                seen.setdefault(identifier.name, identifier)
    return list(seen.values())


def _identifier(identifier: Identifier) -> str:
    if isinstance(identifier, CustomDataIdentifier):
        return identifier.name
    return IDENTIFIER_ARN + identifier


def _destination(destination: AuditDestination) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if destination.log_group is not None:
        rendered["CloudWatchLogs"] = {"LogGroup": destination.log_group.log_group_name}
    if destination.delivery_stream is not None:
        rendered["Firehose"] = {"DeliveryStream": destination.delivery_stream}
    if destination.bucket is not None:
        rendered["S3"] = {"Bucket": destination.bucket}
    return rendered


def _operation(statement: Statement, default: AuditDestination) -> dict[str, Any]:
    if isinstance(statement, Audit):
        audit: dict[str, Any] = {
            "SampleRate": str(statement.sample_rate),
            "FindingsDestination": _destination(statement.findings or default),
        }
        if statement.no_findings is not None:
            audit["NoFindingsDestination"] = _destination(statement.no_findings)
        return {"Audit": audit}
    if isinstance(statement, Deidentify):
        if statement.redact:
            return {"Deidentify": {"RedactConfig": {}}}
        return {"Deidentify": {"MaskConfig": {"MaskWithCharacter": statement.mask_with}}}
    return {"Deny": {}}


def _statement(statement: Statement, default: AuditDestination) -> dict[str, Any]:
    rendered: dict[str, Any] = {} if statement.sid is None else {"Sid": statement.sid}
    rendered["DataDirection"] = "Outbound" if isinstance(statement, DenyOutbound) else "Inbound"
    rendered["Principal"] = list(statement.principals)
    rendered["DataIdentifier"] = [_identifier(i) for i in statement.identifiers]
    rendered["Operation"] = _operation(statement, default)
    return rendered


# -- rules ---------------------------------------------------------------------------------


def check(
    problems: Problems,
    option: str,
    policy: DataProtection,
    *,
    fifo: bool = False,
    region: str | None = None,
) -> None:
    """Add a problem for every SNS rule ``policy`` breaks (what :class:`FanoutTopic` runs
    on its ``data_protection``); ``fifo`` and ``region`` are the topic's (the region a token
    when unknown)."""
    if fifo:
        problems.add(
            option,
            policy.name,
            "SNS supports message data protection on standard topics only, not FIFO topics",
        )
    if not isinstance(policy.name, str) or not policy.name:
        problems.add(f"{option}.name", policy.name, "a policy needs a non-empty name")
    if isinstance(policy.statements, str | bytes) or not isinstance(policy.statements, Sequence):
        problems.wrong_type(f"{option}.statements", policy.statements, "a list of statements")
        return
    if not policy.statements:
        problems.add(f"{option}.statements", [], "a policy needs at least one statement")
    audits = 0
    for index, statement in enumerate(policy.statements):
        where = f"{option}.statements[{index}]"
        if not isinstance(statement, STATEMENT_TYPES):
            problems.wrong_type(where, statement, "Audit, Deidentify, DenyInbound or DenyOutbound")
            continue
        _check_identifiers(problems, f"{where}.identifiers", statement.identifiers)
        _check_principals(problems, f"{where}.principals", statement.principals)
        if isinstance(statement, Audit):
            audits += 1
            if audits == 2:
                problems.add(where, "Audit", "a policy holds at most one Audit statement")
            _check_audit(problems, where, statement, region)
        elif isinstance(statement, Deidentify):
            _check_deidentify(problems, where, statement)
    _check_custom_names(problems, option, policy)


def _listed(problems: Problems, where: str, value: object, what: str) -> Sequence[object]:
    """``value`` as the non-empty list of ``what`` a statement needs (empty when it is not)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        problems.wrong_type(where, value, f"a list of {what}")
        return ()
    if not value:
        problems.add(where, [], f"a statement needs at least one of its {what}")
    return value


def _check_identifiers(problems: Problems, where: str, identifiers: object) -> None:
    for position, identifier in enumerate(
        _listed(problems, where, identifiers, "data identifiers")
    ):
        at = f"{where}[{position}]"
        if isinstance(identifier, CustomDataIdentifier):
            _check_custom(problems, at, identifier)
        elif not isinstance(identifier, str):
            problems.wrong_type(at, identifier, "a managed identifier name or CustomDataIdentifier")
        elif identifier not in MANAGED_DATA_IDENTIFIERS and not unresolved(identifier):
            problems.add(at, identifier, _unknown_identifier(identifier))


def _unknown_identifier(name: str) -> str:
    """What to say of a name that is no managed identifier."""
    if name.startswith(IDENTIFIER_ARN):
        return f"name the identifier without its ARN prefix: {name.removeprefix(IDENTIFIER_ARN)!r}"
    if name in _BY_COUNTRY:
        codes = ", ".join(f"{name}-{code}" for code in _BY_COUNTRY[name])
        return f"depends on the country; name one of {codes}"
    nearest = difflib.get_close_matches(name, sorted(MANAGED_DATA_IDENTIFIERS), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(n) for n in nearest)}? " if nearest else ""
    return (
        f"is not a managed data identifier SNS documents; {hint}(a pattern of your own is a "
        "CustomDataIdentifier(name, regex))"
    )


def _check_custom(problems: Problems, at: str, identifier: CustomDataIdentifier) -> None:
    name, regex = identifier.name, identifier.regex
    if not isinstance(name, str) or unresolved(name):
        pass
    elif not _CUSTOM_NAME.fullmatch(name) or len(name) > MAX_CUSTOM_NAME_LENGTH:
        problems.add(
            f"{at}.name",
            name,
            f"letters, digits, '_' and '-', 1 to {MAX_CUSTOM_NAME_LENGTH} characters",
        )
    elif name in MANAGED_DATA_IDENTIFIERS:
        problems.add(f"{at}.name", name, "is a managed identifier's name; choose another")
    if not isinstance(regex, str) or unresolved(regex):
        return
    if not regex or len(regex) > MAX_CUSTOM_REGEX_LENGTH:
        problems.add(
            f"{at}.regex",
            regex,
            f"is {len(regex)} characters; 1 to {MAX_CUSTOM_REGEX_LENGTH} are allowed",
        )
    else:
        try:
            re.compile(regex)
        except re.error as error:
            problems.add(f"{at}.regex", regex, f"is not a regular expression ({error})")


def _check_custom_names(problems: Problems, option: str, policy: DataProtection) -> None:
    """One custom identifier name, one pattern: the policy declares each name once."""
    patterns: dict[str, str] = {}
    for statement in policy.statements:
        for identifier in getattr(statement, "identifiers", ()):
            if not isinstance(identifier, CustomDataIdentifier):
                continue
            known = patterns.setdefault(identifier.name, identifier.regex)
            if known != identifier.regex:
                problems.add(
                    option,
                    identifier.name,
                    f"two CustomDataIdentifier named {identifier.name!r} with different "
                    f"patterns ({known!r}, {identifier.regex!r}); a policy declares each once",
                )


def _check_principals(problems: Problems, where: str, principals: object) -> None:
    for position, principal in enumerate(
        _listed(problems, where, principals, 'principals ("*" for all)')
    ):
        if not isinstance(principal, str):
            problems.wrong_type(f"{where}[{position}]", principal, "a str")
        elif not (
            principal == "*"
            or _ACCOUNT.fullmatch(principal)
            or principal.startswith("arn:")
            or unresolved(principal)
        ):
            problems.add(
                f"{where}[{position}]",
                principal,
                'expected "*", a 12-digit account id or an IAM principal ARN',
            )


def _check_audit(problems: Problems, where: str, audit: Audit, region: str | None) -> None:
    problems.check_int(f"{where}.sample_rate", audit.sample_rate, 0, MAX_AUDIT_SAMPLE_RATE)
    for field_name in ("findings", "no_findings"):
        destination = getattr(audit, field_name)
        at = f"{where}.{field_name}"
        if destination is None:
            continue
        if not isinstance(destination, AuditDestination):
            problems.wrong_type(at, destination, "an AuditDestination")
            continue
        if (destination.log_group, destination.delivery_stream, destination.bucket) == (
            None,
            None,
            None,
        ):
            problems.add(at, "AuditDestination()", "name a log group, delivery stream or bucket")
        group = destination.log_group
        if group is None:
            continue
        name = group.log_group_name
        if not unresolved(name) and not name.startswith(AUDIT_LOG_GROUP_PREFIX):
            problems.add(
                f"{at}.log_group",
                name,
                f"SNS writes audit findings only to log groups named {AUDIT_LOG_GROUP_PREFIX}...",
            )
        group_region = group.env.region
        if (
            region is not None
            and not unresolved(region)
            and not unresolved(group_region)
            and group_region != region
        ):
            problems.add(
                f"{at}.log_group",
                group.node.path,
                f"is in {group_region}; the log group must be in the topic's region ({region})",
            )


def _check_deidentify(problems: Problems, where: str, statement: Deidentify) -> None:
    mask = statement.mask_with
    if statement.redact and mask is not None:
        problems.add(
            f"{where}.mask_with",
            mask,
            "redact=True removes the data, there is nothing to mask with; set mask_with=None",
        )
    elif not statement.redact and mask is None:
        problems.add(f"{where}.mask_with", None, "give a masking character or redact=True")
    elif mask is not None and (not isinstance(mask, str) or len(mask) != 1):
        problems.add(f"{where}.mask_with", mask, "a single character")
