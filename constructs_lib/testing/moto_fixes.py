"""What moto 5.2.5's CloudFormation gets wrong for the CDK CLI, put right in the server process.

The CDK CLI deploys with change sets: before each deploy it deletes the change set it may have
left (``cdk-deploy-change-set``), creates one, waits on ``DescribeChangeSet``, executes it and
reads the stack's outputs. Each patch below restores what AWS does, written beside it; each is
applied once per process, before the server answers its first request, and only touches the
behaviour described.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from moto.cloudformation import models, parsing, responses
from moto.cloudformation.exceptions import CloudFormationError

from . import sns_archive, sns_fixes, sqs_fixes
from .gaps import Original, apply_once, fills, patch

_APPLIED = "_constructs_lib_fixed"


class ChangeSetNotFoundException(CloudFormationError):
    """AWS: ``DescribeChangeSet`` of a change set that does not exist answers
    ``ChangeSetNotFound`` (HTTP 404), which the CLI treats as "no change set yet". moto raises
    a ``ValidationError`` saying the *stack* does not exist, and the CLI gives up."""

    code = "ChangeSetNotFound"

    def __init__(self, name: str) -> None:
        super().__init__(f"ChangeSet [{name}] does not exist")


def apply() -> None:
    """Apply every fix (idempotent), the SQS and SNS ones of ``sqs_fixes``, ``sns_archive``
    and ``sns_fixes`` included."""
    sqs_fixes.apply()
    sns_archive.apply()
    sns_fixes.apply()
    apply_once(
        models.CloudFormationBackend,
        _APPLIED,
        _fix_delete_change_set,
        _fix_describe_change_set,
        _fix_execute_change_set,
        _fix_use_previous_value,
        _delete_in_dependency_order,
        _keep_a_stack_whose_delete_failed,
    )


def _find(backend: Any, name: str) -> Any:
    if name in backend.change_sets:  # an ARN
        return backend.change_sets[name]
    return next((c for c in backend.change_sets.values() if c.change_set_name == name), None)


@fills(
    "cloudformation",
    moto="`DeleteChangeSet` of a change set that does not exist fails with HTTP 500 (the CLI "
    "calls it before every deploy, then retries for about 45 s)",
    aws="succeeds",
)
def _fix_delete_change_set() -> None:
    """AWS: deleting a change set that does not exist succeeds (the CLI always deletes its
    previous change set before a deploy). moto fails with an ``UnboundLocalError`` (HTTP 500),
    which the CLI retries for about 45 s and reports as an XML parse error."""

    @patch(models.CloudFormationBackend, "delete_change_set")
    def delete_change_set(original: Original, self: Any, change_set_name: str) -> None:
        if _find(self, change_set_name) is None:
            return
        original(self, change_set_name)


@fills(
    "cloudformation",
    moto='`DescribeChangeSet` of a missing change set answers `ValidationError` "stack does '
    'not exist"',
    aws='`ChangeSetNotFound`, which the CLI reads as "no change set yet"',
)
def _fix_describe_change_set() -> None:
    @patch(models.CloudFormationBackend, "describe_change_set")
    def describe_change_set(original: Original, self: Any, change_set_name: str) -> Any:
        if _find(self, change_set_name) is None:
            raise ChangeSetNotFoundException(change_set_name)
        return original(self, change_set_name)


@fills(
    "cloudformation",
    moto="after a change set executes, the stack keeps the outputs of its first template",
    aws="outputs of the new template",
)
def _fix_execute_change_set() -> None:
    """AWS: after a change set runs, the stack's outputs are those of its new template (the CLI
    prints them, and cross-stack readers use them). moto applies the resources but keeps the
    outputs of the first template; rebuild them from the new one."""

    @patch(models.CloudFormationBackend, "execute_change_set")
    def execute_change_set(
        original: Original, self: Any, change_set_name: str, stack_name: str | None = None
    ) -> None:
        change_set = _find(self, change_set_name)
        original(self, change_set_name, stack_name)
        if change_set is not None:
            stack = self.stacks[change_set.stack_id]
            stack._parse_template()
            stack.output_map = stack._create_output_map()


@fills(
    "cloudformation",
    moto="`UsePreviousValue` on an SSM-typed parameter (bootstrap version, Powertools layer) "
    "keeps the resolved value, then looks it up as a parameter name (HTTP 500); on a "
    "default, `KeyError`",
    aws="the previous input (the parameter name) is resolved again",
)
def _fix_use_previous_value() -> None:
    """AWS: ``UsePreviousValue`` on an update keeps a parameter's previous *input*: for an
    SSM-typed parameter (``AWS::SSM::Parameter::Value<...>``, such as the bootstrap version
    and the Powertools layer ARN the CLI sends it for) that is the parameter's name, which is
    resolved again. moto keeps the previous *resolved* value instead, then looks it up as a
    parameter name and fails (HTTP 500); for a parameter it holds no value of, it fails with
    a ``KeyError``. Such entries are left out of the request, so the template's default (the
    parameter name CDK writes there) applies, as it did at create. An SSM-typed parameter
    given a non-default name at create would fall back to its default here."""

    @patch(responses.CloudFormationResponse, "create_change_set")
    def create_change_set(original: Original, self: Any) -> Any:
        if self._get_param("ChangeSetType", "CREATE") == "UPDATE":
            stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
            known = stack.stack_parameters
            declared = stack.template_dict.get("Parameters", {})
            given = self._get_param("Parameters", [])
            kept = [
                p
                for p in given
                if not (
                    p.get("UsePreviousValue")
                    and (
                        p["ParameterKey"] not in known
                        or str(declared.get(p["ParameterKey"], {}).get("Type", "")).startswith(
                            "AWS::SSM::Parameter::Value"
                        )
                    )
                )
            ]
            if len(kept) != len(given):
                self._get_param = _with_parameters(self._get_param, kept)
        return original(self)


def _with_parameters(get_param: Any, parameters: list[dict[str, Any]]) -> Any:
    def patched(name: str, *args: Any, **kwargs: Any) -> Any:
        return parameters if name == "Parameters" else get_param(name, *args, **kwargs)

    return patched


_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _references(value: Any) -> Iterator[str]:
    """The logical ids a resource's JSON names (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                yield str(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                yield from _SUB_REFERENCE.findall(str(text))
                if isinstance(inner, list) and len(inner) > 1:
                    yield from _references(inner[1])
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


@fills(
    "cloudformation",
    moto="a stack's resources are deleted in no particular order, each failure retried in "
    "another pass (a custom resource can outlive the function that must delete it)",
    aws="resources are deleted in reverse dependency order (`Ref`, `Fn::GetAtt`, `Fn::Sub`, "
    "`DependsOn`): a resource only after everything that depends on it",
)
def _delete_in_dependency_order() -> None:
    """AWS deletes a resource only once everything that references it or depends on it is
    deleted; a resource that fails to delete keeps what it depends on, and the stack's
    deletion fails with the first failure."""

    @patch(parsing.ResourceMap, "delete")
    def delete(original: Original, self: Any) -> None:
        templates: dict[str, Any] = self._resource_json_map
        remaining = {
            lid for lid, body in templates.items() if body.get("DeletionPolicy") != "Retain"
        }
        needs: dict[str, set[str]] = {}
        for lid, body in templates.items():
            depends = body.get("DependsOn", [])
            named = {*_references(body.get("Properties", {})), *_references(depends)}
            if isinstance(depends, str):
                named.add(depends)
            needs[lid] = {other for other in named if other in templates and other != lid}
        failures: list[Exception] = []
        failed: set[str] = set()
        while True:
            ready = [
                lid
                for lid in sorted(remaining - failed)
                if not any(lid in needs[other] for other in remaining if other != lid)
            ]
            if not ready:
                break
            for lid in ready:
                parsed = self._parsed_resources.get(lid)
                try:
                    if not isinstance(parsed, str) and parsed is not None:
                        self._delete_resource(parsed, templates[lid])
                        self._parsed_resources.pop(lid)
                except Exception as error:  # any failure fails the stack's delete
                    failures.append(error)
                    failed.add(lid)
                else:
                    remaining.discard(lid)
        if failures:
            raise failures[0]


@fills(
    "cloudformation",
    moto="a resource that fails to delete makes `DeleteStack` fail with HTTP 500 and the "
    "stack vanishes",
    aws="`DeleteStack` succeeds and the stack ends in `DELETE_FAILED` with the resource's "
    "error as its reason; it can be deleted again once the cause is gone",
)
def _keep_a_stack_whose_delete_failed() -> None:
    @patch(models.Stack, "delete")
    def delete(original: Original, self: Any) -> None:
        try:
            original(self)
        except Exception as error:  # reported as the stack's status
            self._add_stack_event("DELETE_FAILED", resource_status_reason=str(error))
            self.status = "DELETE_FAILED"
            raise _DeleteFailed(self) from error

    @patch(models.CloudFormationBackend, "delete_stack")
    def delete_stack(original: Original, self: Any, name_or_stack_id: str) -> None:
        try:
            original(self, name_or_stack_id)
        except _DeleteFailed as failed:
            self.stacks[failed.stack.stack_id] = failed.stack


class _DeleteFailed(Exception):
    """A stack whose deletion failed: it stays, in ``DELETE_FAILED``."""

    def __init__(self, stack: Any) -> None:
        super().__init__(stack.stack_id)
        self.stack = stack
