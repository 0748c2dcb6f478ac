"""Scale-in protection and termination notice, one small interface for each platform.

The worker marks itself busy while it holds a message (``protect``), idle once the queue has
been empty for a poll (``unprotect``), asks between messages and while it works whether the
platform wants it gone (``termination_requested``), and says when it has drained
(``complete_termination``):

* ``EcsTaskProtection``: the ECS container agent's task scale-in protection endpoint
  (``PUT $ECS_AGENT_URI/task-protection/v1/state``). The agent calls ECS
  ``UpdateTaskProtection`` with the task role's credentials. ECS asks a task to stop with
  SIGTERM only, so there is no notice to poll and nothing to complete.
* ``Ec2InstanceProtection``: Auto Scaling instance scale-in protection
  (``SetInstanceProtection``) for the instance named by the instance metadata service
  (IMDSv2); the notice is the metadata item ``autoscaling/target-lifecycle-state`` turning to
  ``Terminated`` while a termination lifecycle hook holds the instance, and completing it is
  ``CompleteLifecycleAction`` with ``CONTINUE``.
* ``NoProtection``: nothing to do (local runs, tests).

Protection is best effort: the visibility timeout keeps a message safe whatever happens to
the worker. So no method here raises for a failed call; each failure is logged (as a
structured log line) and work goes on. A call whose outcome is unknown leaves the state
unknown, so the next ``protect`` or ``unprotect`` sends its request again.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

LOGGER = logging.getLogger("queue_worker.protection")

ECS_PROTECTION_PATH = "/task-protection/v1/state"
ECS_AGENT_TIMEOUT_SECONDS = 5.0
ECS_MAX_PROTECTION_MINUTES = 2880

IMDS_URL = "http://169.254.169.254"
IMDS_TIMEOUT_SECONDS = 2.0
IMDS_TOKEN_TTL_SECONDS = 21600
IMDS_TOKEN_REFRESH_MARGIN_SECONDS = 60
TERMINATED = "Terminated"

AWS_ERRORS = (BotoCoreError, ClientError)
HTTP_ERRORS = (OSError, http.client.HTTPException, ValueError)
"""What a call to a local endpoint can raise: ``URLError``/``HTTPError`` and timeouts are
``OSError``; a garbled response is an ``HTTPException``; an unusable URL a ``ValueError``."""

# Link-local endpoints are never reached through a proxy, whatever HTTP(S)_PROXY says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Protection(Protocol):
    """What the worker asks of its platform; implementations never raise for a failed call."""

    def protect(self) -> None:
        """Keeps this worker from being chosen for scale-in; renews a protection that lapses."""

    def unprotect(self) -> None:
        """Lets scale-in choose this worker again."""

    def termination_requested(self) -> bool:
        """Whether the platform has begun to terminate this worker (polled; SIGTERM aside)."""

    def complete_termination(self) -> None:
        """Tells the platform the worker has drained and may be terminated now."""


class NoProtection:
    """No platform to tell: every method does nothing."""

    def protect(self) -> None:
        pass

    def unprotect(self) -> None:
        pass

    def termination_requested(self) -> bool:
        return False

    def complete_termination(self) -> None:
        pass


def ecs_protection_minutes(visibility_timeout: int) -> int:
    """How long one ECS protection request protects the task: two visibility timeouts.

    Rounded up to whole minutes, 1 to 2,880 (what ECS accepts). The worker renews protection
    whenever half of it has passed, and it asks at least once a heartbeat (a third of the
    visibility timeout) while it works and before each message it starts; so a busy task stays
    protected however long its job takes, and a worker that stops renewing (hung or gone) lets
    the protection lapse within minutes instead of the two hours ECS gives by default.
    """
    return min(ECS_MAX_PROTECTION_MINUTES, max(1, math.ceil(2 * visibility_timeout / 60)))


def _log_failure(
    action: str,
    error: BaseException,
    fields: Mapping[str, object] | None = None,
    *,
    level: int = logging.WARNING,
) -> None:
    LOGGER.log(
        level,
        "%s failed; work goes on without it",
        action,
        extra={
            "fields": {
                "action": action,
                "error": str(error) or type(error).__name__,
                "error_type": type(error).__name__,
                **(fields or {}),
            }
        },
    )


def _http_failure_fields(error: BaseException) -> dict[str, object]:
    """The status and body of an HTTP error response, when there was one."""
    if not isinstance(error, urllib.error.HTTPError):
        return {}
    try:
        body = error.read().decode("utf-8", "replace")
    except HTTP_ERRORS:
        body = ""
    return {"status": error.code, "response": body[:500]}


class EcsTaskProtection:
    """Task scale-in protection through the ECS container agent endpoint."""

    def __init__(
        self,
        agent_uri: str,
        *,
        protection_minutes: int,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = ECS_AGENT_TIMEOUT_SECONDS,
    ) -> None:
        """``agent_uri`` is ``$ECS_AGENT_URI``, which the agent sets in every container."""
        self.url = agent_uri.rstrip("/") + ECS_PROTECTION_PATH
        self.protection_minutes = protection_minutes
        self._clock = clock
        self._timeout = timeout
        self._protected: bool | None = None
        self._protected_at = 0.0

    def protect(self) -> None:
        renew_after = self.protection_minutes * 60 / 2
        if self._protected and self._clock() - self._protected_at < renew_after:
            return
        now = self._clock()
        if self._put({"ProtectionEnabled": True, "ExpiresInMinutes": self.protection_minutes}):
            self._protected, self._protected_at = True, now

    def unprotect(self) -> None:
        if self._protected is False:
            return
        if self._put({"ProtectionEnabled": False}):
            self._protected = False

    def termination_requested(self) -> bool:
        return False

    def complete_termination(self) -> None:
        pass

    def _put(self, state: dict[str, object]) -> bool:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(state).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        try:
            with _DIRECT.open(request, timeout=self._timeout) as response:
                response.read()
        except HTTP_ERRORS as error:
            self._protected = None
            _log_failure(
                "ECS task scale-in protection",
                error,
                {"protection_enabled": state["ProtectionEnabled"], **_http_failure_fields(error)},
            )
            return False
        LOGGER.debug("ECS task scale-in protection set", extra={"fields": dict(state)})
        return True


class ImdsError(Exception):
    """The instance metadata service answered, but not with what was asked for."""


class InstanceMetadata:
    """Reads instance metadata through IMDSv2: a session token first, then GETs with it."""

    def __init__(
        self,
        base_url: str = IMDS_URL,
        *,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = IMDS_TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._timeout = timeout
        self._token: str | None = None
        self._token_expires_at = 0.0

    def get(self, path: str) -> str:
        """The metadata item at ``path`` (like ``/latest/meta-data/instance-id``)."""
        try:
            return self._get(path, self._session_token())
        except urllib.error.HTTPError as error:
            if error.code != 401:
                raise
        # The token expired or was revoked: take a new one, once.
        self._token = None
        return self._get(path, self._session_token())

    def _get(self, path: str, token: str) -> str:
        request = urllib.request.Request(
            self.base_url + path, headers={"X-aws-ec2-metadata-token": token}
        )
        with _DIRECT.open(request, timeout=self._timeout) as response:
            return str(response.read().decode("utf-8")).strip()

    def _session_token(self) -> str:
        if self._token is None or self._clock() >= self._token_expires_at:
            now = self._clock()
            request = urllib.request.Request(
                self.base_url + "/latest/api/token",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": str(IMDS_TOKEN_TTL_SECONDS)},
                method="PUT",
            )
            with _DIRECT.open(request, timeout=self._timeout) as response:
                token = str(response.read().decode("ascii")).strip()
            if not token:
                raise ImdsError("the instance metadata service returned an empty token")
            self._token = token
            self._token_expires_at = (
                now + IMDS_TOKEN_TTL_SECONDS - IMDS_TOKEN_REFRESH_MARGIN_SECONDS
            )
        return self._token


class Ec2InstanceProtection:
    """Auto Scaling instance protection, and the termination lifecycle hook, on EC2."""

    def __init__(
        self,
        autoscaling: Any,
        *,
        group_name: str,
        lifecycle_hook_name: str,
        metadata: InstanceMetadata | None = None,
    ) -> None:
        """``autoscaling`` is a boto3 Auto Scaling client; ``metadata`` reads this instance's
        metadata (IMDSv2 at its usual address unless given)."""
        self._autoscaling = autoscaling
        self.group_name = group_name
        self.lifecycle_hook_name = lifecycle_hook_name
        self._metadata = metadata or InstanceMetadata()
        self._instance_id: str | None = None
        self._protected: bool | None = None
        self._state_failures = 0

    def instance_id(self) -> str:
        """This instance's id, read from instance metadata once."""
        if self._instance_id is None:
            instance_id = self._metadata.get("/latest/meta-data/instance-id")
            if not instance_id.startswith("i-"):
                raise ImdsError(f"instance metadata gave {instance_id[:40]!r} as instance id")
            self._instance_id = instance_id
        return self._instance_id

    def protect(self) -> None:
        if self._protected is not True:
            self._set_protection(True)

    def unprotect(self) -> None:
        if self._protected is not False:
            self._set_protection(False)

    def _set_protection(self, protected: bool) -> None:
        try:
            self._autoscaling.set_instance_protection(
                InstanceIds=[self.instance_id()],
                AutoScalingGroupName=self.group_name,
                ProtectedFromScaleIn=protected,
            )
        except (*AWS_ERRORS, *HTTP_ERRORS, ImdsError) as error:
            self._protected = None
            _log_failure("EC2 instance scale-in protection", error, {"protected": protected})
            return
        self._protected = protected
        LOGGER.debug(
            "EC2 instance scale-in protection set",
            extra={"fields": {"instance_id": self._instance_id, "protected": protected}},
        )

    def termination_requested(self) -> bool:
        try:
            state = self._metadata.get("/latest/meta-data/autoscaling/target-lifecycle-state")
        except (*HTTP_ERRORS, ImdsError) as error:
            # Polled every few seconds: say it once, not every time, until it works again.
            level = logging.DEBUG if self._state_failures else logging.WARNING
            self._state_failures += 1
            _log_failure("reading the target lifecycle state", error, level=level)
            return False
        self._state_failures = 0
        return state == TERMINATED

    def complete_termination(self) -> None:
        try:
            self._autoscaling.complete_lifecycle_action(
                LifecycleHookName=self.lifecycle_hook_name,
                AutoScalingGroupName=self.group_name,
                LifecycleActionResult="CONTINUE",
                InstanceId=self.instance_id(),
            )
        except (*AWS_ERRORS, *HTTP_ERRORS, ImdsError) as error:
            _log_failure(
                "completing the termination lifecycle action",
                error,
                {"lifecycle_hook": self.lifecycle_hook_name},
            )
            return
        LOGGER.info(
            "termination lifecycle action completed: the instance may terminate",
            extra={
                "fields": {
                    "instance_id": self._instance_id,
                    "lifecycle_hook": self.lifecycle_hook_name,
                }
            },
        )
