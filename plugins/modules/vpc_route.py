#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: vpc_route
short_description: Add or remove exactly one route through a VPC peering, never replacing another
version_added: 0.2.0
description:
  - Adds or removes one route (one destination CIDR) of one route table. No other route of the table is read back
    or re-applied.
  - A route to the same destination through another target is never replaced. O(state=present) then fails and names
    both targets. (amazon.aws.ec2_vpc_route_table replaces such a route even with C(purge_routes=false).)
  - EC2 cannot tag a route, only its route table. The route table records each route this module adds, in the tag
    C(aurora.kerberos:route:<destination>=<chain> <target>). The record is on AWS, next to the route, where every
    host and every later run can read it. It names the target, so a route that someone later pointed at another
    target is no longer counted as this chain's.
  - A route already there through the same target, with no record, was made by someone else. It is reported as
    pre-existing and left alone, and O(state=absent) does not remove it.
  - O(state=absent) removes the route only when the table records it for this chain and the route still goes
    through the recorded target. It then removes the record.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  route_table_id:
    description: Id (C(rtb-...)) of the route table.
    type: str
    required: true
  destination_cidr_block:
    description: The IPv4 destination of the route, such as the other VPC's CIDR.
    type: str
    required: true
  vpc_peering_connection_id:
    description:
      - The target (C(pcx-...)). Required for O(state=present). For O(state=absent) the table's record names it.
    type: str
  chain:
    description: The chain named in the route table's record.
    type: str
    default: aurora-kerberos
  state:
    description: V(present) adds the route when the destination is free. V(absent) removes only a route this chain added.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: Reads the table and predicts the change without writing.
  diff_mode:
    support: full
    description: Shows the route and the record before and after.
  platform:
    platforms: all
seealso:
  - module: aurora.kerberos.security_group_rule
"""

EXAMPLES = r"""
- name: Route to the directory's VPC through the peering
  aurora.kerberos.vpc_route:
    route_table_id: rtb-0123456789abcdef0
    destination_cidr_block: 10.76.0.0/16
    vpc_peering_connection_id: pcx-0123456789abcdef0

- name: Remove it again (only if this chain added it)
  aurora.kerberos.vpc_route:
    route_table_id: rtb-0123456789abcdef0
    destination_cidr_block: 10.76.0.0/16
    state: absent
"""

RETURN = r"""
owned:
  description: Whether the route is (or, for V(absent), was) recorded as this chain's.
  returned: always
  type: bool
  sample: true
pre_existing:
  description: Whether a route to the destination that this chain did not add is there and was left alone.
  returned: always
  type: bool
  sample: false
target:
  description: The route's target id, or null when there is no route.
  returned: always
  type: str
  sample: pcx-0123456789abcdef0
msg:
  description: What was done, or why nothing was.
  returned: always
  type: str
  sample: route added
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.aurora.kerberos.plugins.module_utils import network
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


def read_table(ec2, table_id):
    try:
        tables = jittered_backoff()(ec2.describe_route_tables)(RouteTableIds=[table_id]).get("RouteTables") or []
    except is_boto3_error_code("InvalidRouteTableID.NotFound"):
        return None
    return tables[0] if tables else None


def _state(table, destination):
    route = network.find_route(table, destination)
    kind, target = network.route_target(route or {})
    record = network.tags_of(table).get(network.route_tag_key(destination))
    return dict(target=target, target_kind=kind, record=record)


def present(module, ec2, table, destination, pcx, chain):
    table_id = table["RouteTableId"]
    key, value = network.route_tag_key(destination), network.route_tag_value(chain, pcx)
    now = _state(table, destination)
    recorded_ours = now["record"] is not None and now["record"].split(" ")[0] == chain
    result = dict(changed=False, owned=False, pre_existing=False, target=now["target"])
    if now["target"] == pcx:
        if now["record"] == value:
            return dict(result, owned=True, msg="present (added by this chain)"), now
        return dict(result, pre_existing=True, msg="pre-existing, left alone"), now
    if now["target"] is not None and not (recorded_ours and now["record"] == network.route_tag_value(chain, now["target"])):
        module.fail_json(
            msg=f"route table {table_id} already routes {destination} through {now['target_kind']} {now['target']}; this "
                f"chain would route it through the peering {pcx}. A route to the same destination is never replaced: "
                "remove or change that route yourself, give another route table, or reach the directory through the "
                "existing target (network_vpc_peering: false)",
            existing_target=now["target"], wanted_target=pcx)
    # Free, or our own route through an older peering of ours (a blackhole left by a deleted peering): replace it.
    replace = now["target"] is not None
    result.update(changed=True, owned=True, target=pcx, msg=f"route replaced (ours, through {now['target']})"
                  if replace else "route added")
    if module.check_mode:
        return result, dict(target=pcx, target_kind="VpcPeeringConnectionId", record=value)
    # The record first: a run cut short between the two writes leaves a record without a route, which the next
    # run completes or removes, never a route nobody owns.
    jittered_backoff()(ec2.create_tags)(Resources=[table_id], Tags=[{"Key": key, "Value": value}])
    try:
        if replace:
            jittered_backoff()(ec2.replace_route)(RouteTableId=table_id, DestinationCidrBlock=destination,
                                                  VpcPeeringConnectionId=pcx)
        else:
            jittered_backoff()(ec2.create_route)(RouteTableId=table_id, DestinationCidrBlock=destination,
                                                 VpcPeeringConnectionId=pcx)
    except is_boto3_error_code("RouteAlreadyExists"):
        again = _state(read_table(ec2, table_id) or {}, destination)
        if again["target"] != pcx:
            module.fail_json(msg=f"route table {table_id} now routes {destination} through {again['target_kind']} "
                                 f"{again['target']} (added while this run was adding it through {pcx}): never "
                                 "replaced, resolve it by hand")
        result.update(changed=False, msg="added by a parallel run: converged")
    return result, dict(target=pcx, target_kind="VpcPeeringConnectionId", record=value)


def absent(module, ec2, table, destination, chain):
    table_id = table["RouteTableId"]
    key = network.route_tag_key(destination)
    now = _state(table, destination)
    record = now["record"] or ""
    chain_part, _sep, recorded_target = record.partition(" ")
    result = dict(changed=False, owned=False, pre_existing=False, target=now["target"])
    if not record or chain_part != chain:
        msg = "not added by this chain, left alone" if now["target"] else "absent"
        return dict(result, pre_existing=bool(now["target"]), msg=msg), now
    ours = now["target"] is not None and now["target"] == recorded_target
    result.update(changed=True, owned=ours, pre_existing=now["target"] is not None and not ours,
                  msg="route removed" if ours else "record removed (the route is gone or goes elsewhere now)")
    after = dict(now, record=None)
    if ours:
        after.update(target=None, target_kind=None)
    if module.check_mode:
        return result, after
    if ours:
        try:
            jittered_backoff()(ec2.delete_route)(RouteTableId=table_id, DestinationCidrBlock=destination)
        except is_boto3_error_code("InvalidRoute.NotFound"):
            pass  # a parallel run removed it
    jittered_backoff()(ec2.delete_tags)(Resources=[table_id], Tags=[{"Key": key}])
    return result, after


def main():
    argument_spec = dict(
        route_table_id=dict(type="str", required=True),
        destination_cidr_block=dict(type="str", required=True),
        vpc_peering_connection_id=dict(type="str"),
        chain=dict(type="str", default="aurora-kerberos"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[("state", "present", ["vpc_peering_connection_id"])])
    params = module.params
    if not params["chain"] or " " in params["chain"]:
        module.fail_json(msg=f"chain must be a non-empty value without spaces (got {params['chain']!r})")
    try:
        destination = str(network.ipaddress.IPv4Network(params["destination_cidr_block"], strict=True))
    except ValueError as e:
        module.fail_json(msg=f"destination_cidr_block must be an IPv4 network such as 10.76.0.0/16 ({e})")
    ec2 = module.client("ec2", retry_decorator=jittered_backoff())
    try:
        table = read_table(ec2, params["route_table_id"])
        if table is None:
            if params["state"] == "absent":
                module.exit_json(changed=False, owned=False, pre_existing=False, target=None,
                                 msg=f"route table {params['route_table_id']} does not exist")
            module.fail_json(msg=f"route table {params['route_table_id']} was not found in this account and Region: check the id and the AWS Region")
        before = _state(table, destination)
        if params["state"] == "present":
            result, after = present(module, ec2, table, destination, params["vpc_peering_connection_id"], params["chain"])
        else:
            result, after = absent(module, ec2, table, destination, params["chain"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not {'add' if params['state'] == 'present' else 'remove'} the route to {destination} in {params['route_table_id']}")
    module.exit_json(diff=dict(before=dict(before, destination=destination), after=dict(after, destination=destination)),
                     **result)


if __name__ == "__main__":
    main()
