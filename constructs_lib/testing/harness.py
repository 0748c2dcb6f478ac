"""Deploy synthesized CDK templates to moto in server mode, and check nothing was skipped.

The emulator is moto's ``ThreadedMotoServer`` bound to 127.0.0.1 on a free port, in this
process, with the CloudFormation types moto lacks filled in (``cfn_gaps``). ``deploy`` does
what ``cdk deploy`` does with a cloud assembly: it publishes the stack's file assets (Lambda
code folders, the template itself) to the bootstrap bucket, then creates the stack from the
template's S3 URL with ``CreateStack``. The template is the one ``cdk synth`` writes and users
deploy; nothing is recreated by hand.

After the stack is created, every resource of the template is looked up among the stack's
resources as the emulator reports them. A resource the emulator did not create fails the
deploy, unless its type is on ``NOT_EMULATED`` with the reason written next to it. Then, for
the types whose behaviour the scenarios depend on, the settings the emulator holds are
compared with the template (a property moto ignored would otherwise pass silently).
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from aws_cdk import App, Token, cx_api
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from . import (
    cfn_gaps,
    custom_resources,
    event_sources,
    lambda_runtime,
    moto_fixes,
    push_fixes,
    sns_http,
)

ACCOUNT = "123456789012"
"""moto's default account id: the emulator's until a stack pinned to another account is
deployed (one account per emulator)."""
UNKNOWN_ACCOUNT = "unknown-account"
"""The account of an environment-agnostic stack in its cloud assembly."""

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"
"""What ``cdk bootstrap`` writes to ``/cdk-bootstrap/<qualifier>/version`` (the template's
``CheckBootstrapVersion`` rule reads it)."""

NOT_EMULATED: Mapping[str, str] = {
    # CDK's anonymous usage report: a template entry with no behaviour; real CloudFormation
    # creates nothing a consumer could observe either.
    "AWS::CDK::Metadata": "version reporting only",
}
"""Resource types the harness accepts as skipped by the emulator, each with its reason."""

PUBLIC_SSM_PARAMETERS: Mapping[str, str] = {
    # Powertools for AWS Lambda (Python) publishes its layer ARN per region in this public
    # parameter; the value here has the shape of the real one for eu-west-1.
    "/aws/service/powertools/python/arm64/python3.14/3.37.0": (
        "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27"
    ),
}
"""Parameters AWS publishes in every account that the reference templates read."""

UNKNOWN_REGION = "unknown-region"
"""The region of an environment-agnostic stack in its cloud assembly."""

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]

CLI_CONTEXT: Mapping[str, object] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
}
"""What ``cdk synth`` adds to the app's context: construct paths, asset paths and the usage
report in the template, so the harness deploys the template the CLI would write."""


def cli_app(
    outdir: str | Path,
    *,
    cdk_json: str | Path = "cdk.json",
    context: Mapping[str, object] | None = None,
) -> App:
    """An App as ``cdk synth`` runs yours: the ``context`` of your app's ``cdk_json`` (by
    default ``cdk.json`` in the working directory, where the CLI reads it; none when there is
    no such file), then ``context``, plus what the CLI adds; it writes to ``outdir``."""
    path = Path(cdk_json)
    from_file: dict[str, object] = (
        json.loads(path.read_text()).get("context", {}) if path.is_file() else {}
    )
    return App(context={**from_file, **(context or {}), **CLI_CONTEXT}, outdir=str(outdir))


class EmulatorGap(AssertionError):
    """The emulator skipped or changed part of a template: the test would prove nothing."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _check_port(port: int) -> None:
    """Raise ``OSError`` (``EADDRINUSE``) when ``port`` on 127.0.0.1 cannot be listened on:
    the server would fail in its thread and leave ``start()`` waiting for ever."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise OSError(error.errno, f"127.0.0.1:{port} is in use ({error.strerror})") from None


@dataclass
class Emulator:
    """moto in server mode on 127.0.0.1, with the variables that point clients at it.

    Use as a context manager. While it runs, ``AWS_ENDPOINT_URL`` and fake credentials are
    set in ``os.environ`` so that code which builds its own clients (the Lambda handlers)
    talks to the emulator; the previous values come back on exit.
    """

    region: str = "eu-west-1"
    account: str = ACCOUNT
    """The account resources are created in (moto reads ``MOTO_ACCOUNT_ID`` per request)."""
    port: int | None = None
    """The port on 127.0.0.1 to serve on; a free one by default. One that is in use raises
    ``OSError`` on entry."""
    endpoint_url: str = ""
    _server: ThreadedMotoServer | None = None
    _saved_environment: dict[str, str | None] = field(default_factory=dict)
    _bootstrapped: set[str] = field(default_factory=set)
    _deployed: set[str] = field(default_factory=set)
    _image_notice_given: bool = False

    def __enter__(self) -> Emulator:
        cfn_gaps.register()
        moto_fixes.apply()
        # The server's request log, and moto's note on each type it skips (judged by
        # check_against_template instead), would bury what a test or the demo prints.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").setLevel(logging.ERROR)
        if self.port is None:
            port = _free_port()
        else:
            port = self.port
            _check_port(port)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self._reset()
        lambda_runtime.install(self.endpoint_url)
        event_sources.install(self.endpoint_url)
        custom_resources.install(self.endpoint_url)
        push_fixes.install()
        sns_http.install(self.endpoint_url)
        self._set_environment(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_PROFILE": None,
                "AWS_SESSION_TOKEN": None,
                "MOTO_ACCOUNT_ID": self.account,
            }
        )
        return self

    def _use_account(self, account: str, stack_name: str) -> None:
        """Adopt the account of the first stack pinned to one; refuse a second account."""
        if account in (UNKNOWN_ACCOUNT, self.account) or Token.is_unresolved(account):
            return
        if self._deployed:
            raise EmulatorGap(
                f"{stack_name} is pinned to account {account}, but this emulator already holds "
                f"stacks of account {self.account} ({', '.join(sorted(self._deployed))}); "
                "one emulator emulates one account: use one emulator per account"
            )
        self.account = account
        os.environ["MOTO_ACCOUNT_ID"] = account
        self._bootstrapped.clear()

    def _reset(self) -> None:
        """Forget every resource: moto's backends are per process, not per server."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            event_sources.reset()
            lambda_runtime.reset()
            self._reset()
            self._server.stop()
            self._server = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()

    def _set_environment(self, values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def advance_sqs_clock(self, seconds: float) -> None:
        """Let ``seconds`` pass for SQS at once: messages whose visibility timeout or delay
        ends within them become visible (a failed message comes back, and after
        ``maxReceiveCount`` receives goes to its dead-letter queue)."""
        event_sources.advance_sqs_clock(seconds)

    def invoke_function_url(
        self,
        function_name: str,
        *,
        method: str = "POST",
        path: str = "/",
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        caller_arn: str | None = None,
        region: str | None = None,
    ) -> dict[str, Any]:
        """Call a deployed function through its function URL, as the URL service does: the
        payload-2.0 event (``events.function_url_event``; ``caller_arn`` for IAM auth, which
        the URL's ``AuthType`` must be), a synchronous ``Invoke``, and the HTTP answer it
        makes of the result (``status``, ``headers``, ``body``; a function error is a 502)."""
        from .events import function_url_event, function_url_response

        region = region or self.region
        lambda_ = self.client("lambda", region)
        config = lambda_.get_function_url_config(FunctionName=function_name)
        if config["AuthType"] == "AWS_IAM" and caller_arn is None:
            return {"status": 403, "headers": {}, "body": '{"Message":"Forbidden"}'}
        url_id = config["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
        request: dict[str, Any] = {"method": method, "path": path, "body": body, "headers": headers}
        caller: dict[str, Any] = {"account": self.account, "caller_arn": caller_arn}
        event = function_url_event(**request, url_id=url_id, region=region, **caller)
        answer = lambda_.invoke(FunctionName=function_name, Payload=json.dumps(event))
        payload = answer["Payload"].read()
        if answer.get("FunctionError"):
            return {"status": 502, "headers": {}, "body": '{"Message":"Internal Server Error"}'}
        return function_url_response(json.loads(payload) if payload else None)

    def client(self, service: str, region: str | None = None) -> Any:
        return boto3.client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    # -- cdk bootstrap and cdk deploy ------------------------------------------------------

    def asset_bucket(self, region: str | None = None) -> str:
        return f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{self.account}-{region or self.region}"

    def seed_public_parameters(self, region: str | None = None) -> None:
        """The parameters AWS publishes in every account that templates read (Powertools)."""
        region = region or self.region
        for name, value in PUBLIC_SSM_PARAMETERS.items():
            cfn_gaps.put_public_parameter(self.account, region, name, value.format(region=region))

    def cli_environment(self, region: str | None = None) -> dict[str, str]:
        """The environment in which the CDK CLI (``cdk bootstrap``, ``cdk deploy``, ``cdk
        diff``, ``cdk destroy``) works against this emulator: its endpoint, test credentials,
        the region, and the S3 endpoint the CLI names in the template URL it hands to
        CloudFormation (moto reads ``https://s3.<region>.amazonaws.com/<bucket>/<key>`` from
        its own S3, where the CLI uploaded the template; with the loopback endpoint moto
        would take ``127`` for the bucket)."""
        region = region or self.region
        environment = {
            k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")
        }
        environment.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": f"https://s3.{region}.amazonaws.com",
                # The CLI caches the account of each access key (~/.cdk/cache): one key per
                # emulated account keeps it from answering for another.
                "AWS_ACCESS_KEY_ID": f"testing{self.account}",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_EC2_METADATA_DISABLED": "true",
                "CDK_DISABLE_CLI_TELEMETRY": "true",
            }
        )
        return environment

    def cdk(
        self,
        *arguments: str,
        cwd: str | Path,
        region: str | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run the CDK CLI (``cdk`` on PATH, e.g. your project's pinned one in
        ``node_modules/.bin``) against this emulator, in your app's folder ``cwd``.

        ``cdk bootstrap`` (the stock template), ``cdk deploy`` (change sets, asset publishing,
        role assumption), ``cdk diff``, ``cdk destroy`` and deploying again all work once the
        server-side fixes in ``moto_fixes`` are in (the emulator applies them). Raises
        ``EmulatorGap`` with the CLI's output when it fails; check a deploy with
        :meth:`deployed`.
        """
        executable = shutil.which("cdk")
        if executable is None:
            raise EmulatorGap(
                "no `cdk` on PATH: install the CDK CLI (npm install aws-cdk@2) and put "
                "node_modules/.bin first on PATH"
            )
        region = region or self.region
        self.seed_public_parameters(region)
        result = subprocess.run(
            [executable, *arguments],
            cwd=cwd,
            env=self.cli_environment(region),
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise EmulatorGap(
                f"cdk {' '.join(arguments)} failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
        return result

    def deployed(
        self, stack: cx_api.CloudFormationStackArtifact, region: str | None = None
    ) -> DeployedStack:
        """A deployed stack (by :meth:`deploy`, or by other means such as ``cdk deploy``),
        checked against ``stack``'s template: every resource there, the settings scenarios
        rely on as in the template, nested stacks too. Its functions run and its event source
        mappings poll as in Lambda (``lambda_runtime``, ``event_sources``)."""
        if region is None:
            region = stack.environment.region
            if region == UNKNOWN_REGION:
                region = self.region
        self._deployed.add(stack.stack_name)
        deployed = DeployedStack(
            self,
            stack.stack_name,
            stack.template,
            region,
            assembly_directory=Path(stack.assembly.directory),
        )
        deployed.check_against_template()
        return deployed

    def bootstrap(self, region: str | None = None) -> None:
        """What ``cdk bootstrap`` leaves that a deploy reads: the version and asset bucket."""
        region = region or self.region
        self._bootstrapped.add(region)
        ssm = self.client("ssm", region)
        ssm.put_parameter(
            Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version",
            Value=BOOTSTRAP_VERSION,
            Type="String",
            Overwrite=True,
        )
        self.seed_public_parameters(region)
        s3 = self.client("s3", region)
        bucket = self.asset_bucket(region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )

    def deploy(
        self,
        stack: cx_api.CloudFormationStackArtifact,
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> DeployedStack:
        """Publish the stack's assets, create it from its template, and check the result.

        A stack with a region of its own (``env=Environment(region=...)``) is deployed
        there, the others to this emulator's region; each region is bootstrapped once.
        """
        region = stack.environment.region
        if region == UNKNOWN_REGION:
            region = self.region
        self._use_account(stack.environment.account, stack.stack_name)
        if region not in self._bootstrapped:
            self.bootstrap(region)
        template_url = self._publish_assets(stack, region)
        cloudformation = self.client("cloudformation", region)
        try:
            self._create_stack(cloudformation, stack, template_url, parameters or {})
        except ClientError as error:
            # moto creates resources while answering CreateStack and answers the first
            # failure as the call's error, without naming the resource.
            detail = error.response.get("Error", {})
            raise EmulatorGap(
                f"{stack.stack_name}: the emulator refused to create the stack: "
                f"{detail.get('Code', '')}: {detail.get('Message', error)}"
            ) from None
        described = cloudformation.describe_stacks(StackName=stack.stack_name)["Stacks"][0]
        if described["StackStatus"] != "CREATE_COMPLETE":
            failed = [
                f"{e['LogicalResourceId']} ({e['ResourceType']}): {e.get('ResourceStatusReason')}"
                for e in cloudformation.describe_stack_events(StackName=stack.stack_name)[
                    "StackEvents"
                ]
                if e.get("ResourceStatus", "").endswith("FAILED")
            ]
            raise EmulatorGap(
                f"{stack.stack_name}: {described['StackStatus']} "
                f"{described.get('StackStatusReason', '')}"
                + (f"; failed: {'; '.join(failed)}" if failed else "")
            )
        return self.deployed(stack, region)

    def deploy_app(
        self,
        source: App | cx_api.CloudAssembly | str | Path,
        *,
        stacks: Sequence[str] | None = None,
        parameters: Mapping[str, Mapping[str, str]] | None = None,
    ) -> dict[str, DeployedStack]:
        """Deploy the stacks of an app, a synthesized cloud assembly or a ``cdk.out`` folder.

        Stacks are deployed in the order the assembly lists them (dependencies first), each in
        its own region; ``stacks`` picks some by name, ``parameters`` gives a stack's template
        parameters by stack name. Returns the deployed stacks by name.
        """
        if isinstance(source, App):
            try:
                assembly = source.synth()
            except Exception as error:  # a construct refused its options: CDK's own message
                raise EmulatorGap(f"the app did not synthesize: {error}") from None
        elif isinstance(source, cx_api.CloudAssembly):
            assembly = source
        else:
            folder = Path(source)
            if not (folder / "manifest.json").is_file():
                raise EmulatorGap(
                    f"{folder} is not a cloud assembly (no manifest.json): run cdk synth"
                )
            assembly = cx_api.CloudAssembly(str(folder))
        available = [s.stack_name for s in assembly.stacks]
        wanted = list(stacks) if stacks is not None else available
        unknown = sorted(set(wanted) - set(available))
        if unknown:
            raise EmulatorGap(
                f"no stack {', '.join(unknown)} in the assembly; its stacks: {', '.join(available)}"
            )
        return {
            stack.stack_name: self.deploy(
                stack, parameters=(parameters or {}).get(stack.stack_name)
            )
            for stack in assembly.stacks
            if stack.stack_name in wanted
        }

    @staticmethod
    def _create_stack(
        cloudformation: Any,
        stack: cx_api.CloudFormationStackArtifact,
        template_url: str,
        parameters: Mapping[str, str],
    ) -> None:
        cloudformation.create_stack(
            StackName=stack.stack_name,
            TemplateURL=template_url,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=CAPABILITIES,
        )

    def _publish_assets(self, stack: cx_api.CloudFormationStackArtifact, region: str) -> str:
        """Upload every file asset as ``cdk-assets`` would; return the template's URL."""
        directory = Path(stack.assembly.directory)
        manifest = json.loads((directory / f"{stack.stack_name}.assets.json").read_text())
        if manifest.get("dockerImages") and not self._image_notice_given:
            # Said once: the emulator runs no container, so an image would serve no purpose.
            self._image_notice_given = True
            logging.getLogger(__name__).warning(
                "%s has container image assets: they are not built (no Docker engine here, "
                "and the emulator runs no container); the rest of the stack is deployed",
                stack.stack_name,
            )
        s3 = self.client("s3", region)
        template_url = ""
        for asset in manifest.get("files", {}).values():
            source = directory / asset["source"]["path"]
            body = _zipped(source) if asset["source"].get("packaging") == "zip" else source
            for destination in asset["destinations"].values():
                bucket = _substitute(destination["bucketName"], region, self.account)
                key = destination["objectKey"]
                s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body if isinstance(body, bytes) else body.read_bytes(),
                )
                if source.name == stack.template_file:
                    template_url = f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
        if not template_url:
            raise EmulatorGap(f"{stack.stack_name}: the asset manifest has no template entry")
        return template_url


def _substitute(value: str, region: str, account: str) -> str:
    return (
        value.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


@dataclass
class DeployedStack:
    """A stack the emulator created: its resources by logical id, and lookups on them."""

    emulator: Emulator
    name: str
    template: dict[str, Any]
    region: str
    physical_ids: dict[str, str] = field(default_factory=dict)
    assembly_directory: Path | None = None
    """The cloud assembly the template came from (nested templates are read from it)."""
    parameters: dict[str, str] = field(default_factory=dict)
    """The stack's parameter values as deployed (a nested stack's come from its parent)."""
    nested: dict[str, DeployedStack] = field(default_factory=dict)
    """Nested stacks by the construct path of the nested stack (``"Big/Orders/Consumers2"``),
    each checked against its own template."""

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template["Resources"]
        return resources

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r["Type"] == cfn_type}

    def client(self, service: str) -> Any:
        return self.emulator.client(service, self.region)

    def physical_id(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def queue_url(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def queue_arn(self, logical_id: str) -> str:
        name = self.queue_url(logical_id).rsplit("/", 1)[-1]
        return f"arn:aws:sqs:{self.region}:{self.emulator.account}:{name}"

    def logical_id_at(self, construct_path: str) -> str:
        """Logical id of the resource CDK created at ``construct_path`` (its metadata)."""
        paths = {
            resource.get("Metadata", {}).get("aws:cdk:path"): lid
            for lid, resource in self.resources.items()
        }
        if construct_path in paths:
            return paths[construct_path]
        known = sorted(p for p in paths if isinstance(p, str))
        near = difflib.get_close_matches(construct_path, known, n=8, cutoff=0.5)
        raise KeyError(
            f"{self.name}: no resource at {construct_path!r}; "
            + (f"close matches: {', '.join(near)}" if near else f"paths: {', '.join(known[:20])}")
        )

    # -- the check that the emulator did not skip anything ---------------------------------

    def check_against_template(self) -> None:
        cloudformation = self.client("cloudformation")
        described = cloudformation.describe_stacks(StackName=self.name)["Stacks"][0]
        self.parameters = {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
            for p in described.get("Parameters", [])
        }
        listed: dict[str, dict[str, Any]] = {}
        paginator = cloudformation.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=self.name):
            for summary in page["StackResourceSummaries"]:
                listed[summary["LogicalResourceId"]] = summary
        skipped = []
        for lid, resource in self.resources.items():
            summary = listed.get(lid)
            if summary and summary.get("PhysicalResourceId"):
                self.physical_ids[lid] = summary["PhysicalResourceId"]
            elif resource["Type"] not in NOT_EMULATED:
                skipped.append(f"{lid} ({resource['Type']})")
        if skipped:
            raise EmulatorGap(
                f"{self.name}: the emulator did not create {len(skipped)} resources: "
                + ", ".join(skipped)
            )
        problems = [
            problem
            for cfn_type, probe in PROBES.items()
            for lid, resource in self.of_type(cfn_type).items()
            for problem in probe(self, lid, resource.get("Properties", {}))
        ]
        if problems:
            raise EmulatorGap(
                f"{self.name}: the emulator holds other settings than the template:\n  "
                + "\n  ".join(problems)
            )
        self._check_nested_stacks()

    def _check_nested_stacks(self) -> None:
        """Each nested stack (a fanout's ``Consumers2``, ...) checked against its template,
        which CDK writes beside the parent's in the cloud assembly."""
        for lid, resource in self.of_type("AWS::CloudFormation::Stack").items():
            metadata = resource.get("Metadata", {})
            template_file = metadata.get("aws:asset:path")
            if not template_file or self.assembly_directory is None:
                raise EmulatorGap(
                    f"{self.name}: cannot find the template of nested stack {lid} to check it"
                )
            template = json.loads((self.assembly_directory / template_file).read_text())
            name = self.client("cloudformation").describe_stacks(StackName=self.physical_ids[lid])[
                "Stacks"
            ][0]["StackName"]
            child = DeployedStack(
                self.emulator,
                name,
                template,
                self.region,
                assembly_directory=self.assembly_directory,
            )
            child.check_against_template()
            # "Big/Orders/Consumers2.NestedStack/Consumers2.NestedStackResource"
            path = str(metadata.get("aws:cdk:path", lid)).split(".NestedStack/", 1)[0]
            self.nested[path] = child

    def resolve(self, value: Any) -> Any:
        """A template value with the references this harness can resolve replaced."""
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" and argument in self.physical_ids:
                return self._ref(argument)
            if function == "Ref" and argument in self.pseudo_parameters:
                return self.pseudo_parameters[argument]
            if function == "Ref" and argument in self.parameters:
                return self.parameters[argument]
            if function == "Fn::GetAtt" and argument[1] == "Arn":
                return self._arn(argument[0])
            if function == "Fn::GetAtt" and argument[0] in self.physical_ids:
                attribute = self._attribute(*argument)
                if attribute is not None:
                    return attribute
            if function == "Fn::Join":
                separator, parts = argument
                resolved = [self.resolve(part) for part in parts]
                if all(isinstance(part, str) for part in resolved):
                    return separator.join(resolved)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    @property
    def pseudo_parameters(self) -> dict[str, str]:
        return {
            "AWS::AccountId": self.emulator.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.name,
        }

    def _ref(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def _attribute(self, logical_id: str, name: str) -> str | None:
        """``Fn::GetAtt`` attributes read off a physical id: a queue's name (from its URL), an
        ECS service's name (from its ARN); None for others."""
        cfn_type = self.resources[logical_id]["Type"]
        physical_id = self.physical_ids[logical_id]
        if (cfn_type, name) in (("AWS::SQS::Queue", "QueueName"), ("AWS::ECS::Service", "Name")):
            return physical_id.rsplit("/", 1)[-1]
        return None

    def _arn(self, logical_id: str) -> str:
        cfn_type = self.resources[logical_id]["Type"]
        if cfn_type == "AWS::SQS::Queue":
            return self.queue_arn(logical_id)
        if cfn_type == "AWS::Lambda::Function":
            name = self.physical_ids[logical_id]
            return f"arn:aws:lambda:{self.region}:{self.emulator.account}:function:{name}"
        if cfn_type == "AWS::KMS::Key":
            key = self.client("kms").describe_key(KeyId=self.physical_ids[logical_id])
            arn: str = key["KeyMetadata"]["Arn"]
            return arn
        return self.physical_ids[logical_id]


def _probe_queue(deployed: DeployedStack, lid: str, props: Mapping[str, Any]) -> Iterator[str]:
    attributes = deployed.client("sqs").get_queue_attributes(
        QueueUrl=deployed.queue_url(lid), AttributeNames=["All"]
    )["Attributes"]
    expected = {
        "VisibilityTimeout": props.get("VisibilityTimeout"),
        "MessageRetentionPeriod": props.get("MessageRetentionPeriod"),
        "FifoQueue": props.get("FifoQueue"),
    }
    for name, value in expected.items():
        if value is not None and str(attributes.get(name)).lower() != str(value).lower():
            yield f"{lid}.{name}: template {value}, emulator {attributes.get(name)}"
    if "RedrivePolicy" in props:
        want = deployed.resolve(props["RedrivePolicy"])
        have = json.loads(attributes.get("RedrivePolicy", "{}"))
        if (int(have.get("maxReceiveCount", -1)), have.get("deadLetterTargetArn")) != (
            int(want["maxReceiveCount"]),
            want["deadLetterTargetArn"],
        ):
            yield f"{lid}.RedrivePolicy: template {want}, emulator {have}"


def _probe_subscription(
    deployed: DeployedStack, lid: str, props: Mapping[str, Any]
) -> Iterator[str]:
    region = props.get("Region") or deployed.region
    attributes = deployed.emulator.client("sns", region).get_subscription_attributes(
        SubscriptionArn=deployed.physical_id(lid)
    )["Attributes"]
    if attributes["Endpoint"] != deployed.resolve(props["Endpoint"]):
        yield f"{lid}.Endpoint: template {props['Endpoint']}, emulator {attributes['Endpoint']}"
    raw = str(props.get("RawMessageDelivery", False)).lower()
    held = attributes.get("RawMessageDelivery", "false")
    if held != raw:
        yield f"{lid}.RawMessageDelivery: template {raw}, emulator {held}"
    for name in ("FilterPolicy", "RedrivePolicy"):
        if name in props and json.loads(attributes.get(name, "{}")) != deployed.resolve(
            props[name]
        ):
            yield f"{lid}.{name}: template {props[name]}, emulator {attributes.get(name)}"


def _probe_queue_policy(
    deployed: DeployedStack, lid: str, props: Mapping[str, Any]
) -> Iterator[str]:
    for queue in props["Queues"]:
        url = deployed.resolve(queue)
        policy = (
            deployed.client("sqs")
            .get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            .get("Attributes", {})
            .get("Policy")
        )
        if policy is None:
            yield f"{lid}: queue {url} has no policy in the emulator"


def _probe_event_source_mapping(
    deployed: DeployedStack, lid: str, props: Mapping[str, Any]
) -> Iterator[str]:
    mapping = deployed.client("lambda").get_event_source_mapping(UUID=deployed.physical_id(lid))
    if mapping["EventSourceArn"] != deployed.resolve(props["EventSourceArn"]):
        yield f"{lid}.EventSourceArn: emulator {mapping['EventSourceArn']}"


def _probe_task_definition(
    deployed: DeployedStack, lid: str, props: Mapping[str, Any]
) -> Iterator[str]:
    """What a task's containers and its placement depend on: each container's image,
    environment and stop timeout; CPU, memory, network mode, compatibilities, platform."""
    held = deployed.client("ecs").describe_task_definition(
        taskDefinition=deployed.physical_id(lid)
    )["taskDefinition"]
    expected = {
        "cpu": props.get("Cpu"),
        "memory": props.get("Memory"),
        "networkMode": props.get("NetworkMode"),
        "requiresCompatibilities": props.get("RequiresCompatibilities"),
    }
    for name, value in expected.items():
        if value is not None and held.get(name) != value:
            yield f"{lid}.{name}: template {value}, emulator {held.get(name)}"
    if "RuntimePlatform" in props:
        platform = {k[:1].lower() + k[1:]: v for k, v in props["RuntimePlatform"].items()}
        have = held.get("runtimePlatform")
        if have != platform:
            yield f"{lid}.RuntimePlatform: template {platform}, emulator {have}"
    containers = {c["name"]: c for c in held.get("containerDefinitions", [])}
    for definition in props.get("ContainerDefinitions", []):
        container = containers.get(definition["Name"])
        if container is None:
            yield f"{lid}: container {definition['Name']} is not in the emulator"
            continue
        want = {e["Name"]: deployed.resolve(e["Value"]) for e in definition.get("Environment", [])}
        have = {e["name"]: e["value"] for e in container.get("environment", [])}
        if have != want:
            yield f"{lid}.{definition['Name']}.Environment: template {want}, emulator {have}"
        if (
            "StopTimeout" in definition
            and container.get("stopTimeout") != definition["StopTimeout"]
        ):
            yield f"{lid}.{definition['Name']}.StopTimeout: emulator {container.get('stopTimeout')}"


def _probe_scalable_target(
    deployed: DeployedStack, lid: str, props: Mapping[str, Any]
) -> Iterator[str]:
    resource_id, dimension, namespace = deployed.physical_id(lid).split("|")
    targets = deployed.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace=namespace, ResourceIds=[resource_id], ScalableDimension=dimension
    )["ScalableTargets"]
    if len(targets) != 1:
        yield f"{lid}: the emulator holds {len(targets)} scalable targets for {resource_id}"
        return
    for name in ("MinCapacity", "MaxCapacity"):
        if int(targets[0][name]) != int(props[name]):
            yield f"{lid}.{name}: template {props[name]}, emulator {targets[0][name]}"


def _probe_scaling_policy(
    deployed: DeployedStack, lid: str, props: Mapping[str, Any]
) -> Iterator[str]:
    """The policy's whole configuration (target, metric math, steps, cooldowns), resolved."""
    resource_id, dimension, namespace = str(deployed.resolve(props["ScalingTargetId"])).split("|")
    policies = deployed.client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace=namespace, ResourceId=resource_id, ScalableDimension=dimension
    )["ScalingPolicies"]
    held = next((p for p in policies if p["PolicyARN"] == deployed.physical_id(lid)), None)
    if held is None or held["PolicyType"] != props["PolicyType"]:
        yield f"{lid}: no {props['PolicyType']} policy {deployed.physical_id(lid)} in the emulator"
        return
    for key in ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration"):
        want = deployed.resolve(props.get(key))
        if key in props and held.get(key) != want:
            yield f"{lid}.{key}: template {want}, emulator {held.get(key)}"


PROBES = {
    "AWS::SQS::Queue": _probe_queue,
    "AWS::SNS::Subscription": _probe_subscription,
    "AWS::SQS::QueuePolicy": _probe_queue_policy,
    "AWS::Lambda::EventSourceMapping": _probe_event_source_mapping,
    "AWS::ECS::TaskDefinition": _probe_task_definition,
    "AWS::ApplicationAutoScaling::ScalableTarget": _probe_scalable_target,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _probe_scaling_policy,
}
"""Per type: compare what the emulator holds with the template, yield each difference."""


@contextlib.contextmanager
def running_emulator(region: str = "eu-west-1") -> Iterator[Emulator]:
    """An emulator, bootstrapped for ``region``, for the duration of the block."""
    with Emulator(region=region) as emulator:
        emulator.bootstrap()
        yield emulator
