# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One security group rule and one route, owned by the chain that made them.

A security group rule made by the collection carries the tag OWNER_TAG = <chain> (EC2 tags security group
rules: TagSpecifications ResourceType security-group-rule on AuthorizeSecurityGroupIngress/Egress). A rule
with the same protocol, ports and peer but without that tag was there before: it is never rewritten (no
description update) nor revoked. Revoking goes by SecurityGroupRuleId, so nothing else of the group is read
back and re-applied.

Routes cannot carry tags (EC2 tags route tables, not their routes). The route table then records each route
the collection added: the tag ROUTE_TAG_PREFIX + <destination CIDR> = "<chain> <target id>". The record is
on AWS, next to the route, so every host and every later run sees it, and it names the target, so a route
someone replaced with another target since is not ours any more. A route to the same destination through
another target is never replaced.
"""

import ipaddress
import re

# EC2 resource ids: the type's prefix, then 8 (older) or 17 hex digits [inferred from the ids EC2 issues; the ec2
# model gives no pattern]. The roles' validation and the modules check them with these, through ec2_id_problem.
EC2_ID_PREFIXES = {"security_group": "sg", "subnet": "subnet", "route_table": "rtb", "vpc": "vpc"}
EC2_ID = {kind: re.compile(rf"^{prefix}-[0-9a-f]{{8,17}}$") for kind, prefix in EC2_ID_PREFIXES.items()}

OWNER_TAG = "aurora.kerberos:chain"
ROUTE_TAG_PREFIX = "aurora.kerberos:route:"

# The AD ports a DB outside the directory's VPC needs into the domain controllers' security group
# (AWS_FACTS section 2; exact ports inferred from the AddIpRoutes rule set and the RDS setup page).
DIRECTORY_ACCESS_PORTS = (
    ("tcp", 53, 53), ("udp", 53, 53),
    ("tcp", 88, 88), ("udp", 88, 88),
    ("tcp", 464, 464), ("udp", 464, 464),
    ("tcp", 389, 389), ("udp", 389, 389),
    ("tcp", 445, 445),
    ("tcp", 135, 135),
    ("tcp", 636, 636),
    ("tcp", 3268, 3269),
    ("tcp", 1024, 65535),
)

PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}

ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "VpcPeeringConnectionId", "TransitGatewayId", "NetworkInterfaceId",
                 "InstanceId", "EgressOnlyInternetGatewayId", "LocalGatewayId", "CarrierGatewayId",
                 "CoreNetworkArn", "VpcEndpointId")


class RuleError(ValueError):
    """A rule that cannot be sent as given; the message names the option and the fix."""


def normalize_protocol(protocol):
    """AWS's name for a protocol: tcp, udp, icmp, icmpv6 or -1 (all); other numbers stay numbers."""
    value = str(protocol).strip().lower()
    return PROTOCOL_NAMES.get(value, value)


def rule_spec(protocol, from_port, to_port, peer_group_id=None, cidr_ip=None, cidr_ipv6=None, peer_owner_id=None):
    """The rule as a comparable dict, checked: one peer, ports where the protocol has them."""
    protocol = normalize_protocol(protocol)
    peers = [p for p in (peer_group_id, cidr_ip, cidr_ipv6) if p]
    if len(peers) != 1:
        raise RuleError(f"give exactly one of peer_group_id, cidr_ip and cidr_ipv6 (got {len(peers)})")
    if protocol == "-1":
        from_port = to_port = -1
    elif protocol in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise RuleError(f"from_port and to_port are required for {protocol}")
        if not (0 <= int(from_port) <= int(to_port) <= 65535):
            raise RuleError(f"ports must satisfy 0 <= from_port <= to_port <= 65535 (got {from_port}-{to_port})")
    else:
        # icmp/icmpv6: from_port is the type, to_port the code (-1 for all); other protocols: -1.
        from_port = -1 if from_port is None else int(from_port)
        to_port = -1 if to_port is None else int(to_port)
    if cidr_ip:
        try:
            cidr_ip = str(ipaddress.IPv4Network(cidr_ip, strict=True))
        except ValueError as e:
            raise RuleError(f"cidr_ip must be an IPv4 network such as 10.0.1.0/24 ({e})")
    if cidr_ipv6:
        try:
            cidr_ipv6 = str(ipaddress.IPv6Network(cidr_ipv6, strict=True))
        except ValueError as e:
            raise RuleError(f"cidr_ipv6 must be an IPv6 network such as 2001:db8::/64 ({e})")
    return dict(protocol=protocol, from_port=int(from_port), to_port=int(to_port),
                peer_group_id=peer_group_id or None, peer_owner_id=peer_owner_id or None,
                cidr_ip=cidr_ip or None, cidr_ipv6=cidr_ipv6 or None)


def ip_permission(spec, description=None):
    """The IpPermissions entry that authorizes or revokes exactly the rule `spec`."""
    permission = {"IpProtocol": spec["protocol"]}
    if spec["protocol"] != "-1":
        permission.update(FromPort=spec["from_port"], ToPort=spec["to_port"])
    extra = {"Description": description} if description else {}
    if spec["peer_group_id"]:
        pair = dict(GroupId=spec["peer_group_id"], **extra)
        if spec["peer_owner_id"]:
            pair["UserId"] = spec["peer_owner_id"]
        permission["UserIdGroupPairs"] = [pair]
    elif spec["cidr_ip"]:
        permission["IpRanges"] = [dict(CidrIp=spec["cidr_ip"], **extra)]
    else:
        permission["Ipv6Ranges"] = [dict(CidrIpv6=spec["cidr_ipv6"], **extra)]
    return permission


def _rule_ports(rule):
    from_port, to_port = rule.get("FromPort"), rule.get("ToPort")
    return (-1 if from_port is None else int(from_port)), (-1 if to_port is None else int(to_port))


def matches(rule, spec, egress):
    """Whether a DescribeSecurityGroupRules entry is the rule `spec` (same direction, protocol, ports, peer)."""
    if bool(rule.get("IsEgress")) != bool(egress):
        return False
    protocol = normalize_protocol(rule.get("IpProtocol", ""))
    if protocol != spec["protocol"]:
        return False
    if protocol != "-1" and _rule_ports(rule) != (spec["from_port"], spec["to_port"]):
        return False
    if spec["peer_group_id"]:
        return (rule.get("ReferencedGroupInfo") or {}).get("GroupId") == spec["peer_group_id"]
    if spec["cidr_ip"]:
        return rule.get("CidrIpv4") == spec["cidr_ip"]
    return rule.get("CidrIpv6") == spec["cidr_ipv6"]


def tags_of(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or []}


def owned_by(rule, chain):
    return tags_of(rule).get(OWNER_TAG) == chain


def describe(spec, egress, group_id):
    """A rule in words, for messages."""
    if spec["protocol"] == "-1":
        ports = "all traffic"
    elif spec["protocol"] in ("tcp", "udp"):
        span = spec["from_port"] if spec["from_port"] == spec["to_port"] else f"{spec['from_port']}-{spec['to_port']}"
        ports = f"{spec['protocol']}/{span}"
    else:
        ports = f"{spec['protocol']} type {spec['from_port']} code {spec['to_port']}"
    peer = spec["peer_group_id"] or spec["cidr_ip"] or spec["cidr_ipv6"]
    return f"{group_id} {'egress' if egress else 'ingress'} {ports} {'to' if egress else 'from'} {peer}"


def route_tag_key(destination):
    return ROUTE_TAG_PREFIX + destination


def route_tag_value(chain, target):
    return f"{chain} {target}"


def route_target(route):
    """(kind, id) of a route's target, e.g. ("VpcPeeringConnectionId", "pcx-..."), or (None, None)."""
    for key in ROUTE_TARGETS:
        if route.get(key):
            return key, route[key]
    return None, None


def find_route(table, destination):
    for route in table.get("Routes") or []:
        if route.get("DestinationCidrBlock") == destination:
            return route
    return None


def ec2_id_problem(value, variable, kind="security_group", hint=None):
    """What is wrong with an EC2 id (kind: security_group, subnet, route_table, vpc), or with each id of a list
    of them; None when it passes. The message names variable and ends with hint (or an example)."""
    prefix = EC2_ID_PREFIXES[kind]
    what = kind.replace("_", " ")
    example = hint or f"use e.g. {prefix}-0123456789abcdef0"
    if isinstance(value, list):
        bad = [item for item in value if not (isinstance(item, str) and EC2_ID[kind].match(item))]
        return f"{variable} must list {what} ids ({prefix}-...) (got {bad}): {example}" if bad else None
    if isinstance(value, str) and EC2_ID[kind].match(value):
        return None
    cidr = ", not a CIDR" if "/" in str(value) else ""
    return f"{variable} must be a {what} id ({prefix}-...){cidr}: {value!r}; {example}"
