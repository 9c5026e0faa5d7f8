#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: security_group_rule
short_description: Authorize or revoke security group rules one at a time, owned by a tag
version_added: 0.2.0
description:
  - Adds or removes one rule (one direction, one protocol and port range, one peer) of one security group. No other
    rule of the group is read back, re-applied or purged, so hosts that share a group each change only their rule.
  - O(rules) gives several such rules, of O(group_id) in O(direction) or each of its own group and direction. The
    groups are read in one call (C(DescribeSecurityGroupRules) filtered by group id); each rule is still authorized
    or revoked on its own, with one AWS call per rule.
  - A rule it adds carries the tag C(aurora.kerberos:chain=<chain>) (TagSpecifications with ResourceType
    C(security-group-rule) on AuthorizeSecurityGroupIngress or AuthorizeSecurityGroupEgress).
  - A rule with the same direction, protocol, ports and peer that does not carry that tag was there before (made by
    someone else), so it is reported as pre-existing and left alone. Its description is not rewritten, and
    O(state=absent) does not revoke it.
  - O(state=absent) revokes by C(SecurityGroupRuleId), and only the rule that carries this chain's tag.
  - Parallel runs converge. C(InvalidPermission.Duplicate) on authorize means another run has just added the rule.
    C(InvalidPermission.NotFound) on revoke means another run has just removed it. Neither is a failure.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  group_id:
    description:
      - Id (C(sg-...)) of the security group that holds the rule.
      - Required unless every entry of O(rules) gives its own O(rules[].group_id).
    type: str
  direction:
    description: V(ingress) (inbound) or V(egress) (outbound); an entry of O(rules) may give its own.
    type: str
    choices: [ingress, egress]
    default: ingress
  protocol:
    description:
      - V(tcp), V(udp), V(icmp), V(icmpv6), a protocol number, or V(-1) for all traffic.
      - Required unless O(rules) is given.
    type: str
  from_port:
    description:
      - First port of the range (TCP/UDP), or the ICMP type (V(-1) for all types).
    type: int
  to_port:
    description:
      - Last port of the range (TCP/UDP), or the ICMP code (V(-1) for all codes).
    type: int
  peer_group_id:
    description:
      - The other end of the rule as a security group id. Mutually exclusive with O(cidr_ip) and O(cidr_ipv6).
      - A group of a peered VPC can be referenced when the peering is in the same Region.
    type: str
  peer_owner_id:
    description: Account id of O(peer_group_id) when it belongs to another account (a peered VPC).
    type: str
  cidr_ip:
    description: The other end of the rule as an IPv4 network, such as C(10.0.1.0/24).
    type: str
  cidr_ipv6:
    description: The other end of the rule as an IPv6 network.
    type: str
  rules:
    description:
      - Several rules, instead of O(protocol) and the options after it. The groups are read in one call; each rule
        is still added or revoked on its own. Each entry takes one of O(rules[].peer_group_id), O(rules[].cidr_ip)
        and O(rules[].cidr_ipv6).
    type: list
    elements: dict
    suboptions:
      group_id:
        description: The group of this rule; defaults to O(group_id).
        type: str
      direction:
        description: The direction of this rule; defaults to O(direction).
        type: str
        choices: [ingress, egress]
      protocol:
        description: As O(protocol).
        type: str
        required: true
      from_port:
        description: As O(from_port).
        type: int
      to_port:
        description: As O(to_port).
        type: int
      peer_group_id:
        description: As O(peer_group_id).
        type: str
      peer_owner_id:
        description: As O(peer_owner_id).
        type: str
      cidr_ip:
        description: As O(cidr_ip).
        type: str
      cidr_ipv6:
        description: As O(cidr_ipv6).
        type: str
  description:
    description:
      - Description of the rule. It is written only on a rule this module adds, or updates one that carries this
        chain's tag. It is never written on a pre-existing rule.
    type: str
  chain:
    description:
      - Value of the ownership tag C(aurora.kerberos:chain) on the rule.
    type: str
    default: aurora-kerberos
  state:
    description:
      - V(present) adds the rule unless an equal rule is already there.
      - V(absent) revokes the rule only when it carries this chain's tag.
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
    description: Reads the group's rules and predicts the change without writing.
  diff_mode:
    support: full
    description: Shows the matching rules before and after, with their ids and owners.
  platform:
    platforms: all
seealso:
  - module: aurora.kerberos.vpc_route
"""

EXAMPLES = r"""
- name: Let the directory's controllers reach the DB port
  aurora.kerberos.security_group_rule:
    group_id: sg-0123456789abcdef0
    protocol: tcp
    from_port: 5432
    to_port: 5432
    peer_group_id: sg-0fedcba9876543210
    description: aurora.kerberos Kerberos path between Aurora and the directory

- name: The AD ports into the domain controllers' group from a DB in a peered VPC, each its own rule
  aurora.kerberos.security_group_rule:
    group_id: sg-0aaaaaaaaaaaaaaaa
    rules:
      - {protocol: tcp, from_port: 88, to_port: 88, peer_group_id: sg-0123456789abcdef0}
      - {protocol: udp, from_port: 88, to_port: 88, peer_group_id: sg-0123456789abcdef0}

- name: Both ends of the path in one task (one read of both groups)
  aurora.kerberos.security_group_rule:
    rules:
      - {group_id: sg-0123456789abcdef0, direction: ingress, protocol: tcp, from_port: 5432, to_port: 5432,
         peer_group_id: sg-0fedcba9876543210}
      - {group_id: sg-0fedcba9876543210, direction: egress, protocol: tcp, from_port: 5432, to_port: 5432,
         peer_group_id: sg-0123456789abcdef0}

- name: Remove it again (only if this chain made it)
  aurora.kerberos.security_group_rule:
    group_id: sg-0123456789abcdef0
    protocol: tcp
    from_port: 5432
    to_port: 5432
    peer_group_id: sg-0fedcba9876543210
    state: absent
"""

RETURN = r"""
rule_id:
  description: The C(SecurityGroupRuleId) of the matching rule (this chain's when there is one), or null.
  returned: always
  type: str
  sample: sgr-0123456789abcdef0
owned:
  description: Whether the matching rule carries this chain's tag (before a revoke, for V(absent)).
  returned: always
  type: bool
  sample: true
pre_existing:
  description: Whether a matching rule without this chain's tag is there, and was left alone.
  returned: always
  type: bool
  sample: false
rule:
  description: The rule in words.
  returned: always
  type: str
  sample: sg-0123456789abcdef0 ingress tcp/5432 from sg-0fedcba9876543210
msg:
  description: What was done, or why nothing was.
  returned: always
  type: str
  sample: pre-existing, left alone
results:
  description: With O(rules), one result per rule (RV(rule_id), RV(owned), RV(pre_existing), RV(rule), RV(msg), changed).
  returned: when O(rules) is given
  type: list
  elements: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.aurora.kerberos.plugins.module_utils import network
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

GONE_RULE = ("InvalidPermission.NotFound", "InvalidSecurityGroupRuleId.NotFound")


def groups_rules(ec2, group_ids):
    """{group id: every rule of the group (both directions), or None when the group does not exist}, in one
    DescribeSecurityGroupRules call (a page of up to 1000 rules) for all the groups."""
    rules, token = [], None
    while True:
        request = dict(Filters=[{"Name": "group-id", "Values": list(group_ids)}], MaxResults=1000)
        if token:
            request["NextToken"] = token
        try:
            page = jittered_backoff()(ec2.describe_security_group_rules)(**request)
        except is_boto3_error_code("InvalidGroup.NotFound"):
            if len(group_ids) == 1:
                return {group_ids[0]: None}
            return {group_id: group_rules(ec2, group_id) for group_id in group_ids}  # which one: each alone
        rules.extend(page.get("SecurityGroupRules") or [])
        token = page.get("NextToken")
        if not token:
            break
    found = {group_id: [r for r in rules if r.get("GroupId") == group_id] for group_id in group_ids}
    for group_id in [g for g, group in found.items() if not group]:
        # The filter answers an empty list for a group that does not exist: tell it from a group without rules.
        try:
            jittered_backoff()(ec2.describe_security_groups)(GroupIds=[group_id])
        except is_boto3_error_code("InvalidGroup.NotFound"):
            found[group_id] = None
    return found


def group_rules(ec2, group_id):
    """Every rule of the group (both directions), or None when the group does not exist."""
    return groups_rules(ec2, [group_id])[group_id]


def _view(rules, chain):
    return [dict(rule_id=r.get("SecurityGroupRuleId"), description=r.get("Description"),
                 owned=network.owned_by(r, chain)) for r in rules]


def ensure(module, ec2, group_id, rules, spec, egress, chain, description, state):
    """One rule of group_id to `state`, given the group's rules as read (None: no such group, which main refuses
    before any write for state present). Returns the result."""
    words = network.describe(spec, egress, group_id)
    if rules is None:
        return dict(changed=False, rule_id=None, owned=False, pre_existing=False, rule=words,
                    msg=f"the group {group_id} does not exist: nothing to revoke")
    matching = [r for r in rules if network.matches(r, spec, egress)]
    ours = [r for r in matching if network.owned_by(r, chain)]
    theirs = [r for r in matching if not network.owned_by(r, chain)]
    before = _view(matching, chain)
    result = dict(changed=False, owned=bool(ours), pre_existing=bool(theirs), rule=words,
                  rule_id=(ours or theirs or [{}])[0].get("SecurityGroupRuleId"))

    if state == "present":
        if ours:
            rule = ours[0]
            if description is not None and rule.get("Description", "") != description:
                result.update(changed=True, msg="description updated on this chain's rule")
                if not module.check_mode:
                    modify_description(ec2, group_id, rule, spec, description)
                after = [dict(v, description=description) if v["rule_id"] == rule["SecurityGroupRuleId"] else v
                         for v in before]
            else:
                result["msg"] = "present (this chain's rule)"
                after = before
        elif theirs:
            result["msg"] = "pre-existing, left alone"
            after = before
        else:
            result.update(changed=True, owned=True, msg="authorized")
            after = before + [dict(rule_id=None, description=description, owned=True)]
            if not module.check_mode:
                added = authorize(ec2, group_id, spec, egress, chain, description)
                if added is None:  # another run added it between our read and our write
                    again = [r for r in group_rules(ec2, group_id) or [] if network.matches(r, spec, egress)]
                    mine = [r for r in again if network.owned_by(r, chain)]
                    result.update(changed=False, owned=bool(mine), pre_existing=not mine,
                                  rule_id=(mine or again or [{}])[0].get("SecurityGroupRuleId"),
                                  msg="added by a parallel run: converged" if mine else "pre-existing, left alone")
                    after = _view(again, chain)
                else:
                    result["rule_id"] = added
                    after[-1]["rule_id"] = added
    else:
        if ours:
            result.update(changed=True, msg="revoked" + (" (a pre-existing equal rule was left alone)" if theirs else ""))
            if not module.check_mode:
                for rule in ours:
                    revoke(ec2, group_id, rule["SecurityGroupRuleId"], egress)
            after = _view(theirs, chain)
        elif theirs:
            result["msg"] = "pre-existing, left alone"
            after = before
        else:
            result["msg"] = "absent"
            after = before
    result["diff"] = dict(before=dict(rule=words, rules=before), after=dict(rule=words, rules=after))
    return result


def authorize(ec2, group_id, spec, egress, chain, description):
    """The new rule's id, or None when the rule was already there (InvalidPermission.Duplicate)."""
    call = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
    try:
        answer = jittered_backoff()(call)(
            GroupId=group_id, IpPermissions=[network.ip_permission(spec, description)],
            TagSpecifications=[{"ResourceType": "security-group-rule",
                                "Tags": [{"Key": network.OWNER_TAG, "Value": chain}]}])
    except is_boto3_error_code("InvalidPermission.Duplicate"):
        return None
    rules = answer.get("SecurityGroupRules") or [{}]
    return rules[0].get("SecurityGroupRuleId")


def revoke(ec2, group_id, rule_id, egress):
    call = ec2.revoke_security_group_egress if egress else ec2.revoke_security_group_ingress
    try:
        jittered_backoff()(call)(GroupId=group_id, SecurityGroupRuleIds=[rule_id])
    except is_boto3_error_code(list(GONE_RULE)):
        pass  # another run revoked it first


def modify_description(ec2, group_id, rule, spec, description):
    request = {"IpProtocol": spec["protocol"], "Description": description}
    if spec["protocol"] != "-1":
        request.update(FromPort=spec["from_port"], ToPort=spec["to_port"])
    if spec["peer_group_id"]:
        request["ReferencedGroupId"] = spec["peer_group_id"]
    elif spec["cidr_ip"]:
        request["CidrIpv4"] = spec["cidr_ip"]
    else:
        request["CidrIpv6"] = spec["cidr_ipv6"]
    jittered_backoff()(ec2.modify_security_group_rules)(
        GroupId=group_id, SecurityGroupRules=[{"SecurityGroupRuleId": rule["SecurityGroupRuleId"],
                                               "SecurityGroupRule": request}])


RULE_OPTIONS = dict(
    protocol=dict(type="str", required=True),
    from_port=dict(type="int"),
    to_port=dict(type="int"),
    peer_group_id=dict(type="str"),
    peer_owner_id=dict(type="str"),
    cidr_ip=dict(type="str"),
    cidr_ipv6=dict(type="str"),
)


DIRECTIONS = ["ingress", "egress"]


def main():
    single = {name: dict(option, required=False) for name, option in RULE_OPTIONS.items()}
    argument_spec = dict(
        group_id=dict(type="str"),
        direction=dict(type="str", choices=DIRECTIONS, default="ingress"),
        rules=dict(type="list", elements="dict",
                   options=dict(RULE_OPTIONS, group_id=dict(type="str"), direction=dict(type="str", choices=DIRECTIONS)),
                   mutually_exclusive=[("peer_group_id", "cidr_ip", "cidr_ipv6")],
                   required_one_of=[("peer_group_id", "cidr_ip", "cidr_ipv6")]),
        description=dict(type="str"),
        chain=dict(type="str", default="aurora-kerberos"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        **single,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("peer_group_id", "cidr_ip", "cidr_ipv6", "rules"),
                                                  ("protocol", "rules")],
                              required_one_of=[("protocol", "rules")])
    params = module.params
    if not params["chain"]:
        module.fail_json(msg="chain must not be empty: it is the value of the ownership tag aurora.kerberos:chain")
    given = params["rules"] if params["rules"] is not None else [{name: params[name] for name in RULE_OPTIONS}]
    wanted = []  # (group id, egress, spec) per rule
    for number, item in enumerate(given):
        where = "" if params["rules"] is None else f" (rules[{number}])"
        group_id = item.get("group_id") or params["group_id"]
        if not group_id:
            module.fail_json(msg=f"No security group for the rule{where}: give group_id, for all the rules or in each")
        try:
            wanted.append((group_id, (item.get("direction") or params["direction"]) == "egress",
                           network.rule_spec(item["protocol"], item["from_port"], item["to_port"], item["peer_group_id"],
                                             item["cidr_ip"], item["cidr_ipv6"], item["peer_owner_id"])))
        except network.RuleError as e:
            module.fail_json(msg=f"Invalid rule for {group_id}{where}: {e}")
    ec2 = module.client("ec2", retry_decorator=jittered_backoff())
    results = []
    try:
        # One read for all the rules of the call, whatever their groups.
        rules = groups_rules(ec2, list(dict.fromkeys(group_id for group_id, _egress, _spec in wanted)))
        missing = [group_id for group_id, found in rules.items() if found is None]
        if missing and params["state"] == "present":  # before any rule is written
            module.fail_json(msg=f"security group {' and '.join(missing)} was not found in this account and Region: "
                                 "check the id and the AWS Region")
        for group_id, egress, spec in wanted:
            results.append(ensure(module, ec2, group_id, rules[group_id], spec, egress, params["chain"],
                                  params["description"], params["state"]))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        verb = "authorize" if params["state"] == "present" else "revoke"
        group_id, egress, spec = wanted[len(results)]
        module.fail_json_aws(e, msg=f"Could not {verb} the rule {network.describe(spec, egress, group_id)}")
    if params["rules"] is None:
        module.exit_json(**results[0])
    diff = dict(before=[r["diff"]["before"] for r in results], after=[r["diff"]["after"] for r in results])
    for result in results:
        result.pop("diff")
    module.exit_json(changed=any(r["changed"] for r in results), results=results, diff=diff,
                     msg="; ".join(f"{r['rule']}: {r['msg']}" for r in results))


if __name__ == "__main__":
    main()
