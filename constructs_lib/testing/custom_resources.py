"""CloudFormation custom resources in the emulator, for create, update and delete.

moto sends a custom resource's function only the ``Create`` request, from a thread, with a
response URL that points at a Docker host; it never sends ``Update`` or ``Delete``, ignores the
physical id the function answers and a ``FAILED`` answer leaves the stack in progress for ever.
:func:`install` replaces that: CloudFormation's request goes to the service token's function
(run by ``lambda_runtime``, so the CDK provider framework's Node.js ``onEvent`` really runs and
invokes the user's handler through the Lambda API), and the stack operation waits for the
answer the function PUTs to the response URL, as CloudFormation does:

* ``Create``: the answer's ``PhysicalResourceId`` and ``Data`` become the resource's id and its
  ``Fn::GetAtt`` attributes; ``FAILED`` fails the operation with the answer's ``Reason``.
* ``Update`` (the resource's properties changed): sent with ``PhysicalResourceId`` and
  ``OldResourceProperties``; a new physical id means replacement, and the old resource then
  gets its ``Delete``, as in CloudFormation's clean-up phase.
* ``Delete``: when the resource leaves the template or its stack is deleted.

The response URL is the emulator's own (``http://127.0.0.1:PORT/cloudformation_<region>/
cfnresponse``); in AWS it is an https pre-signed S3 URL. A function that never answers fails
the operation after its timeout (CloudFormation waits an hour).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from moto.awslambda import models as lambda_models
from moto.cloudformation import parsing, responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.common_models import CloudFormationModel

from . import lambda_runtime
from .gaps import Original, apply_once, fills, patch


@dataclass
class _State:
    endpoint_url: str = ""
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    live: dict[str, EmulatedCustomResource] = field(default_factory=dict)


_state = _State()


def install(endpoint_url: str) -> None:
    """Serve custom resources in this process's emulator (idempotent)."""
    _state.endpoint_url = endpoint_url
    apply_once(
        parsing,
        "_constructs_lib_custom_resources",
        _replace_custom_model,
        _read_answers,
        _route_answers_by_path,
    )


@fills(
    "cloudformation",
    moto="a custom resource gets only `Create`, from a thread, with a response URL on a Docker "
    "host; the answered physical id is ignored, `FAILED` leaves the stack in progress, and "
    "`Update` and `Delete` are never sent",
    aws="`Create`, `Update` (with `OldResourceProperties`; a new physical id replaces the "
    "resource and deletes the old one) and `Delete` go to the service token's function and "
    "the operation waits for its answer; `FAILED` fails it with the answer's reason",
)
def _replace_custom_model() -> None:
    module: Any = parsing
    module.CustomModel = EmulatedCustomResource


@fills(
    "cloudformation",
    moto="the response URL reads only a `SUCCESS` answer's data",
    aws="every answer (status, reason, physical id, data, `NoEcho`) is taken",
)
def _read_answers() -> None:
    def cfnresponse(cls: Any, request: Any, full_url: str, headers: Any) -> Any:
        body = request.get_data() if hasattr(request, "get_data") else request.body
        if not body and getattr(request, "form", None):  # parsed away as a form
            body = next(iter(request.form))
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        answer = json.loads(text or "{}")
        with _state.arrived:
            _state.answers[str(answer.get("RequestId"))] = answer
            _state.arrived.notify_all()
        return 200, {"status": 200}, ""

    responses.CloudFormationResponse.cfnresponse = classmethod(cfnresponse)  # type: ignore[assignment, method-assign]


@fills(
    "cloudformation",
    moto="routes a PUT to the response URL by its body and content type: an answer sent the "
    "way Python's `urllib` sends it (a form content type) goes to another service (404)",
    aws="the response URL (a pre-signed S3 URL) takes the answer whatever its content type",
)
def _route_answers_by_path() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    @patch(DomainDispatcherApplication, "infer_service_region_host")
    def infer_service_region_host(
        original: Original, self: Any, environ: dict[str, Any], path: str
    ) -> Any:
        if environ.get("PATH_INFO", "").endswith("/cfnresponse") and path.startswith(
            "/cloudformation_"
        ):
            region = path[len("/cloudformation_") :].split("/", 1)[0]
            return f"cloudformation.{region}.amazonaws.com"
        return original(self, environ, path)


class EmulatedCustomResource(CloudFormationModel):
    """One custom resource of a stack, as CloudFormation keeps it."""

    def __init__(
        self,
        *,
        logical_id: str,
        stack_id: str,
        resource_type: str,
        account_id: str,
        region: str,
        properties: dict[str, Any],
        physical_id: str,
        data: dict[str, Any],
    ) -> None:
        self.logical_id = logical_id
        self.stack_id = stack_id
        self.resource_type = resource_type
        self.account_id = account_id
        self.region = region
        self.properties = properties
        self.physical_id = physical_id
        self.data = data

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFormation::CustomResource"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.data:
            raise ValidationError(
                message=f"CustomResource attribute error: Vendor response doesn't contain "
                f"{attribute_name} key in object {self.stack_id}|{self.logical_id}"
            )
        return self.data[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> EmulatedCustomResource:
        properties = cloudformation_json["Properties"]
        answer = _request(
            "Create",
            account_id=account_id,
            region=region_name,
            stack_id=kwargs["StackId"],
            logical_id=kwargs["LogicalId"],
            resource_type=kwargs["ResourceType"],
            properties=properties,
        )
        resource = cls(
            logical_id=kwargs["LogicalId"],
            stack_id=kwargs["StackId"],
            resource_type=kwargs["ResourceType"],
            account_id=account_id,
            region=region_name,
            properties=properties,
            physical_id=str(answer.get("PhysicalResourceId") or answer["RequestId"]),
            data=dict(answer.get("Data") or {}),
        )
        _state.live[resource.physical_id] = resource
        return resource

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: EmulatedCustomResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> EmulatedCustomResource:
        old = original_resource
        properties = cloudformation_json["Properties"]
        answer = old._send("Update", account_id, region_name, properties, old.properties)
        new_id = str(answer.get("PhysicalResourceId") or old.physical_id)
        updated = cls(
            logical_id=old.logical_id,
            stack_id=old.stack_id,
            resource_type=cloudformation_json.get("Type", old.resource_type),
            account_id=account_id,
            region=region_name,
            properties=properties,
            physical_id=new_id,
            data=dict(answer.get("Data") or {}),
        )
        _state.live.pop(old.physical_id, None)
        _state.live[new_id] = updated
        if new_id != old.physical_id:  # replaced: CloudFormation deletes the old one after
            old.delete(account_id, region_name)
        return updated

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        resource = _state.live.get(resource_name)
        if resource is not None:
            resource.delete(account_id, region_name)

    def delete(self, account_id: str, region: str) -> None:
        self._send("Delete", account_id, region, self.properties)
        _state.live.pop(self.physical_id, None)

    def _send(
        self,
        request_type: str,
        account_id: str,
        region: str,
        properties: dict[str, Any],
        old_properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A request about this resource (by its physical id) and its function's answer."""
        return _request(
            request_type,
            account_id=account_id,
            region=region,
            stack_id=self.stack_id,
            logical_id=self.logical_id,
            resource_type=self.resource_type,
            properties=properties,
            physical_id=self.physical_id,
            old_properties=old_properties,
        )


def _request(
    request_type: str,
    *,
    account_id: str,
    region: str,
    stack_id: str,
    logical_id: str,
    resource_type: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send one request to the resource's function and wait for its answer."""
    service_token = str(properties["ServiceToken"])
    if ":lambda:" not in service_token:
        raise ValidationError(
            message=f"{logical_id}: the emulator sends custom resource requests to Lambda "
            f"functions only, not to {service_token}"
        )
    request_id = str(uuid4())
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": f"{_state.endpoint_url}/cloudformation_{region}/cfnresponse"
        f"?stack={stack_id}&request={request_id}",
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": properties,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = old_properties
    _, _, _, token_region, token_account, _ = service_token.split(":", 5)
    backend = lambda_models.lambda_backends[token_account][token_region]
    function = backend.get_function(service_token)
    invocation = lambda_runtime.run(function, event)
    with _state.arrived:
        _state.arrived.wait_for(lambda: request_id in _state.answers, timeout=5)
        answer = _state.answers.pop(request_id, None)
    if answer is None:
        detail = invocation.error or {"errorMessage": "the function returned without answering"}
        raise ValidationError(
            message=f"{logical_id} ({resource_type}) {request_type}: no answer from "
            f"{function.function_name}: {detail.get('errorType', '')} "
            f"{detail.get('errorMessage', '')} (its log: "
            f"{lambda_runtime.log_group_of(function)} in the emulator's CloudWatch Logs; the "
            "function must PUT its answer to the event's ResponseURL)"
        )
    if answer.get("Status") != "SUCCESS":
        raise ValidationError(
            message=f"Received response status [{answer.get('Status')}] from custom resource. "
            f"Message returned: {answer.get('Reason', '')} ({logical_id} {request_type})"
        )
    return answer
