"""The pieces of the VPC a :class:`~constructs_lib.QueueWorkerPool` builds in the zones it is
given (no availability-zone lookup at synth)."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from aws_cdk import CfnTag
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

VPC_CIDR = "10.0.0.0/16"


@dataclass(frozen=True)
class ZonedNetwork:
    """The L1 VPC of :meth:`QueueWorkerPool._zoned_vpc` and its internet gateway."""

    scope: Construct
    vpc: ec2.CfnVPC
    gateway: ec2.CfnInternetGateway
    attachment: ec2.CfnVPCGatewayAttachment


def named_zone_is_intended(subnet: ec2.CfnSubnet) -> None:
    """A subnet of a pinned stack names its zone (given, or from cdk.context.json): that is
    what cfn-lint's W3010 ("avoid hardcoding availability zones") flags. Acknowledged on the
    subnet only; in an environment-agnostic stack the zone is ``Fn::GetAZs`` and nothing is
    flagged."""
    subnet.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3010"]}})


def subnet_blocks(zone_count: int) -> list[str]:
    """:data:`VPC_CIDR` cut into equal blocks, two per zone (public, private)."""
    network = ipaddress.ip_network(VPC_CIDR)
    prefix = network.prefixlen + max(1, math.ceil(math.log2(2 * zone_count)))
    return [str(block) for block in network.subnets(new_prefix=prefix)]


def zoned_subnet(
    network: ZonedNetwork, kind: str, index: int, zone: str, block: str
) -> tuple[Construct, ec2.CfnSubnet, ec2.CfnRouteTable]:
    """A subnet of the zoned VPC with its own route table (no routes yet), in its own scope
    ``<kind>Subnet<index>`` as ``ec2.Vpc`` names them."""
    subnet_scope = Construct(network.scope, f"{kind}Subnet{index}")
    subnet = ec2.CfnSubnet(
        subnet_scope,
        "Subnet",
        vpc_id=network.vpc.ref,
        cidr_block=block,
        availability_zone=zone,
        map_public_ip_on_launch=False,
        tags=[CfnTag(key="Name", value=subnet_scope.node.path)],
    )
    named_zone_is_intended(subnet)
    table = ec2.CfnRouteTable(subnet_scope, "RouteTable", vpc_id=network.vpc.ref)
    ec2.CfnSubnetRouteTableAssociation(
        subnet_scope,
        "RouteTableAssociation",
        subnet_id=subnet.ref,
        route_table_id=table.ref,
    )
    return subnet_scope, subnet, table
