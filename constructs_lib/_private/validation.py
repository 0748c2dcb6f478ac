"""Synth-time validation shared by the constructs.

Constructs collect every problem with their options into a :class:`Problems` list and raise
once, so a user fixes all of them in one go. Each problem names the option, the value that
was given and what AWS allows. Values that are unresolved CDK tokens are skipped: they are
only known at deploy time.
"""

from __future__ import annotations

import functools
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from ..errors import FanoutConfigurationError

MIN_RETENTION = Duration.seconds(60)
MAX_RETENTION = Duration.days(14)
MAX_VISIBILITY_TIMEOUT = Duration.hours(12)
MAX_QUEUE_NAME_LENGTH = 80
FIFO_SUFFIX = ".fifo"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


_STRING_TOKEN = re.compile(r"\$\{Token\[[a-zA-Z0-9:._-]+\]\}")
_DOUBLE_TOKEN_BITS = 0xFBFF
"""aws-cdk encodes a string token as text holding ``${Token[<key>]}`` and a number token as a
double whose top 16 bits are 0xFBFF (a huge negative number no option takes)."""


def unresolved(value: object) -> bool:
    """Whether ``value`` is a token, known only at deploy time.

    Numbers, and strings that hold no ``${`` or ``#{`` or hold a string token, are answered
    here as aws-cdk's ``Token.isUnresolved`` answers them (its markers, above), without a
    round trip into the jsii runtime: a fanout asks this of every option of every consumer.
    Anything else (a list, a ``Duration``, an ``IResolvable``, an odd string) is asked of
    aws-cdk. NaN and infinity are never tokens, and must not be
    asked about: the question would cross into the jsii runtime as JSON, which has no such
    numbers, and the runtime dies with it (every later construct in the process fails).
    """
    if value is None or isinstance(value, bool | int):
        return False
    if isinstance(value, str):
        if _STRING_TOKEN.search(value):
            return True
        if "${" not in value and "#{" not in value:
            return False
    if isinstance(value, float):
        if not math.isfinite(value):
            return False
        bits: int = struct.unpack("<Q", struct.pack("<d", value))[0]
        return bits >> 48 == _DOUBLE_TOKEN_BITS
    return Token.is_unresolved(value)


def known_property(construct: IConstruct, cfn_type: type, name: str, unset: float) -> float | None:
    """Property ``name`` of the CloudFormation resource behind ``construct``, when that is a
    ``cfn_type`` of this app with a value known at synth (``unset``, the service's default,
    when it sets none); None for an imported resource or a deploy-time value."""
    cfn = construct.node.default_child
    if not isinstance(cfn, cfn_type):
        return None
    value = getattr(cfn, name)
    if value is None:
        return unset
    return None if unresolved(value) else float(value)


def describe(value: object) -> str:
    """Render an option value the way the user wrote it."""
    if isinstance(value, Duration):
        return f"Duration({value.to_human_string()})"
    return repr(value)


@functools.lru_cache(maxsize=1024)
def known_seconds(value: Duration) -> float | None:
    """``value`` in seconds (fractions kept), or None when it is an unresolved token.

    Cached per Duration object: every consumer is checked against the same module-level
    defaults and bounds, and each uncached check is a round trip into the jsii runtime
    (a 1,000-consumer fanout would make 15,000 of them).
    """
    if value.is_unresolved():
        return None
    return value.to_seconds(integral=False)


_NAMES = "_constructs_lib_physical_names"
_AWS_MANAGED_ALIAS = re.compile(r"(?:^|:)(alias/aws/[A-Za-z0-9/_-]+)$")


_FIFO = "_constructs_lib_fifo"
_MANAGED_ALIAS = "_constructs_lib_aws_managed_alias"


def fifo_of(topic: object) -> bool | None:
    """``topic.fifo`` (a queue's too), read once per object: each read is a round trip into
    the jsii runtime, and a fanout's consumers each ask it of the same topic."""
    cache = getattr(topic, "__dict__", None)
    if cache is not None and _FIFO in cache:
        known: bool | None = cache[_FIFO]
        return known
    value = getattr(topic, "fifo", None)
    fifo = value if isinstance(value, bool) else None
    if cache is not None:
        cache[_FIFO] = fifo
    return fifo


_TOPIC_ARN = "_constructs_lib_topic_arn"


def arn_of_topic(topic: sns.ITopic) -> str:
    """``topic.topic_arn``, read once per topic (a round trip into the jsii runtime)."""
    cache = getattr(topic, "__dict__", None)
    if cache is not None and _TOPIC_ARN in cache:
        known: str = cache[_TOPIC_ARN]
        return known
    arn = topic.topic_arn
    if cache is not None:
        cache[_TOPIC_ARN] = arn
    return arn


def aws_managed_key_alias(key: object) -> str | None:
    """The alias (``alias/aws/sqs`` ...) when ``key`` is an AWS-managed KMS key, else None.

    Recognises ``kms.Alias.from_alias_name`` and keys imported by an alias ARN or id; keys
    known only by a token cannot be told apart and count as customer-managed. Answered once
    per key (a fanout's consumers share one).
    """
    cache = getattr(key, "__dict__", None)
    if cache is not None and _MANAGED_ALIAS in cache:
        known: str | None = cache[_MANAGED_ALIAS]
        return known
    alias = None
    for attribute in ("alias_name", "key_arn", "key_id"):
        value = getattr(key, attribute, None)
        if isinstance(value, str) and not unresolved(value):
            match = _AWS_MANAGED_ALIAS.search(value)
            if match:
                alias = match.group(1)
                break
    if cache is not None:
        cache[_MANAGED_ALIAS] = alias
    return alias


GRANTABLE = (
    "an iam.IGrantable such as a Role or a Function (for a role known by its ARN: "
    "iam.Role.from_role_arn(scope, id, arn))"
)


def expect_grantee(construct: Construct, grantee: object) -> None:
    """A grant's ``grantee`` is an ``iam.IGrantable`` (a role, a function, ...)."""
    if isinstance(grantee, str | bytes) or not hasattr(grantee, "grant_principal"):
        problems = Problems()
        problems.wrong_type("grantee", grantee, GRANTABLE)
        problems.raise_if_any(construct)


@dataclass(frozen=True)
class EnvironmentRules:
    """What a program's environment may hold: :meth:`Problems.check_environment`."""

    reserved: frozenset[str]
    """Names set by the platform or the library, refused with ``reserved_reason``."""
    reserved_reason: str
    name: re.Pattern[str]
    """The names accepted, described by ``name_rule``."""
    name_rule: str
    max_bytes: int | None
    """Keys and values together (one byte more per variable when ``one_line``), or None."""
    size_reason: str
    one_line: bool = False
    """Values may not hold line breaks (an environment file holds one variable a line)."""


Range = tuple[int, int] | tuple[Duration, Duration]
"""The bounds of a numeric option, both included."""


class Problems:
    """Collects option problems; :meth:`raise_if_any` raises them together."""

    def __init__(self) -> None:
        self._items: list[str] = []

    def __bool__(self) -> bool:
        return bool(self._items)

    def add(self, option: str, value: object, allowed: str) -> None:
        self._items.append(f"{option}={describe(value)}: {allowed}")

    def wrong_type(self, option: str, value: object, what: str) -> None:
        """``option`` was given ``value`` where ``what`` was expected."""
        self._items.append(
            f"{option}={describe(value):.80}: expected {what}, got {type(value).__name__}"
        )

    def check_int(self, option: str, value: int | None, low: int, high: int) -> None:
        if value is None or not self.check_finite(option, value) or unresolved(value):
            return
        integral = (
            not isinstance(value, bool) and isinstance(value, int | float) and value == int(value)
        )
        if not integral or not low <= value <= high:
            self.add(option, value, f"must be an integer from {low} to {high}")

    def check_ranges(self, settings: Mapping[str, object], ranges: Mapping[str, Range]) -> set[str]:
        """Check each option of ``ranges`` (name -> (low, high), integers or Durations) that
        is set; the names whose values are usable (tokens included)."""
        usable: set[str] = set()
        for option, (low, high) in ranges.items():
            value = settings[option]
            if value is None:
                continue
            if isinstance(low, Duration) and isinstance(high, Duration):
                ok = self.check_duration(option, value, low, high)  # type: ignore[arg-type]
            else:
                before = len(self._items)
                self.check_int(option, value, int(low), int(high))  # type: ignore[arg-type]
                ok = len(self._items) == before
            if ok:
                usable.add(option)
        return usable

    def check_finite(self, option: str, value: object) -> bool:
        """A number that is NaN or infinite is a problem (jsii cannot even carry it to
        CloudFormation); True when ``value`` is usable so far."""
        if isinstance(value, float) and not math.isfinite(value):
            self.add(option, value, "must be a finite number")
            return False
        return True

    def check_queue_key(self, option: str, key: object) -> None:
        """A queue key SNS can use: not an AWS-managed key, whose policy nobody can change."""
        managed = aws_managed_key_alias(key)
        if managed is not None:
            self.add(
                option,
                managed,
                "is an AWS-managed key: its key policy cannot be changed to let "
                "sns.amazonaws.com encrypt messages, so SNS could never deliver to the queue; "
                "pass a customer-managed key, or leave the option out for a new one",
            )

    def check_alarm_topic(self, option: str, topic: sns.ITopic | None) -> None:
        """CloudWatch alarm actions publish to standard topics only.

        An alarm publishes its notification without a message group id, which every publish
        to a FIFO topic requires; the CloudWatch user guide documents alarm notifications for
        standard topics. Checked where the topic's type is known at synth.
        """
        if topic is None:
            return
        if fifo_of(topic) is True:
            self.add(
                option,
                topic.node.path,
                "is a FIFO topic; CloudWatch alarm actions can only notify standard SNS "
                "topics (an alarm publishes without the message group id a FIFO topic "
                "requires): pass a standard topic",
            )

    def check_duration(
        self, option: str, value: Duration | None, low: Duration, high: Duration
    ) -> bool:
        """Check ``low <= value <= high`` in whole seconds; True when the value is usable.

        Unresolved tokens count as usable: they are checked by CloudFormation at deploy.
        """
        if value is not None and not isinstance(value, Duration):
            self.add(option, value, "must be a Duration, e.g. Duration.seconds(30)")
            return False
        seconds = None if value is None else known_seconds(value)
        if seconds is None:
            return True
        if seconds != int(seconds):
            self.add(option, value, "must be a whole number of seconds")
            return False
        if not (known_seconds(low) or 0) <= seconds <= (known_seconds(high) or seconds):
            self.add(
                option,
                value,
                f"must be from {low.to_human_string()} to {high.to_human_string()}",
            )
            return False
        return True

    def check_name(self, option: str, name: str | None, *, max_length: int, fifo: bool) -> None:
        """Check a queue or topic name; the ``.fifo`` suffix counts towards the limit."""
        if name is None or unresolved(name):
            return
        full = with_fifo_suffix(name) if fifo else name
        base = full.removesuffix(FIFO_SUFFIX) if fifo else full
        if len(full) > max_length:
            counted = " including the '.fifo' suffix" if fifo else ""
            self.add(
                option,
                name,
                f"is {len(full)} characters{counted}; at most {max_length} are allowed",
            )
        if not fifo and name.endswith(FIFO_SUFFIX):
            self.add(option, name, "ends with '.fifo' but the resource is not FIFO")
        elif not _NAME_PATTERN.match(base):
            self.add(
                option,
                name,
                "may contain only letters, digits, hyphens and underscores"
                + (" (plus the '.fifo' suffix)" if fifo else ""),
            )

    def check_environment(
        self, option: str, environment: Mapping[str, str] | None, rules: EnvironmentRules
    ) -> None:
        """Names ``rules`` accept and do not reserve, string values, and the size limit.

        Values only known at deploy time count with their literal parts only, so the size
        check is a lower bound.
        """
        if environment is None:
            return
        if not isinstance(environment, Mapping):
            self.add(option, environment, "must be a dict of variable name to string")
            return
        size = 0
        for key, value in environment.items():
            if unresolved(key):
                continue
            if key in rules.reserved:
                self.add(option, key, rules.reserved_reason)
            elif not rules.name.match(key):
                self.add(option, key, f"is not a valid variable name: {rules.name_rule}")
            if not isinstance(value, str):
                self.add(f"{option}[{key!r}]", value, "must be a string")
                continue
            literal = "" if unresolved(value) else value
            if rules.one_line and ("\n" in literal or "\r" in literal):
                self.add(
                    f"{option}[{key!r}]",
                    value,
                    "holds a line break; the environment file holds one variable a line",
                )
            size += len(key.encode()) + len(literal.encode()) + int(rules.one_line)
        if rules.max_bytes is not None and size > rules.max_bytes:
            self.add(
                option,
                f"{len(environment)} variables",
                f"take {size} bytes; {rules.size_reason}: move large values to SSM Parameter "
                "Store or S3",
            )

    def check_unique_name(self, scope: Construct, option: str, kind: str, name: str | None) -> None:
        """A physical name you give is unique per account and region among this library's
        resources of ``kind`` in the app (per stack while the stack's environment is unknown):
        CloudFormation would otherwise fail the second create with "already exists"."""
        if name is None or unresolved(name):
            return
        stack = Stack.of(scope)
        account, region = stack.account, stack.region
        where = (
            f"{account}/{region}"
            if not unresolved(account) and not unresolved(region)
            else stack.node.path
        )
        root = scope.node.root
        registry: dict[tuple[str, str, str], str] | None = getattr(root, _NAMES, None)
        if registry is None:
            registry = {}
            setattr(root, _NAMES, registry)
        other = registry.setdefault((kind, where, name), scope.node.path)
        if other != scope.node.path:
            self.add(
                option,
                name,
                f"is also the name of {other}'s {kind} in the same account and region; "
                f"{kind} names are unique there: pass another name or leave it out",
            )

    def raise_if_any(self, construct: IConstruct) -> None:
        if self._items:  # the path is a round trip into the jsii runtime: only when needed
            self.raise_for(construct.node.path)

    def raise_for(self, what: str) -> None:
        """Raise the problems of ``what`` (a construct's path, or a value checked on its own)."""
        if self._items:
            raise FanoutConfigurationError(what, self._items)


def with_fifo_suffix(name: str) -> str:
    return name if name.endswith(FIFO_SUFFIX) else name + FIFO_SUFFIX
