# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.security_group_rule with botocore's Stubber: one rule added with the chain's tag, a rule
someone else had on the same port and peer left alone (no description rewrite, no revoke), revoke by rule id
of only our rule, and a parallel host's Duplicate / NotFound taken as converged."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import security_group_rule as module_under_test

GROUP, PEER = "sg-0123456789abcdef0", "sg-0fedcba9876543210"
FILTER = {"Filters": [{"Name": "group-id", "Values": [GROUP]}], "MaxResults": 1000}
TAG = {"Key": "aurora.kerberos:chain", "Value": "aurora-kerberos"}
ARGS = dict(group_id=GROUP, protocol="tcp", from_port=5432, to_port=5432, peer_group_id=PEER, description="ours")


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "ec2")
    yield stubbers["ec2"]
    assert_all_used(stubbers)


def rule(rule_id, tags=(), description="theirs", egress=False, port=5432, peer=PEER):
    return {"SecurityGroupRuleId": rule_id, "GroupId": GROUP, "IsEgress": egress, "IpProtocol": "tcp",
            "FromPort": port, "ToPort": port, "ReferencedGroupInfo": {"GroupId": peer},
            "Description": description, "Tags": list(tags)}


def rules(aws, *found):
    aws.add_response("describe_security_group_rules", {"SecurityGroupRules": list(found)}, FILTER)


def run(check_mode=False, **args):
    given = {k: v for k, v in dict(ARGS, **args).items() if v is not None}  # as the role's omit does
    return run_module(module_under_test.main, check_mode=check_mode, **given)


def test_a_missing_rule_is_added_with_the_chain_tag(aws):
    rules(aws, rule("sgr-other", port=22))
    aws.add_response("authorize_security_group_ingress", {"Return": True, "SecurityGroupRules": [
        {"SecurityGroupRuleId": "sgr-new"}]}, {
        "GroupId": GROUP,
        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                           "UserIdGroupPairs": [{"GroupId": PEER, "Description": "ours"}]}],
        "TagSpecifications": [{"ResourceType": "security-group-rule", "Tags": [TAG]}]})
    result = run()
    assert result["changed"] and result["owned"] and not result["pre_existing"]
    assert result["rule_id"] == "sgr-new"
    assert result["diff"]["after"]["rules"] == [{"rule_id": "sgr-new", "description": "ours", "owned": True}]


def exists(aws):
    aws.add_response("describe_security_groups", {"SecurityGroups": [{"GroupId": GROUP}]}, {"GroupIds": [GROUP]})


def test_check_mode_predicts_and_writes_nothing(aws):
    rules(aws)
    exists(aws)
    result = run(check_mode=True)
    assert result["changed"] and result["msg"] == "authorized"


def test_a_rule_someone_had_on_the_same_port_and_peer_is_left_alone(aws):
    rules(aws, rule("sgr-theirs"))
    result = run()
    assert not result["changed"] and result["pre_existing"] and not result["owned"]
    assert result["msg"] == "pre-existing, left alone" and result["rule_id"] == "sgr-theirs"


def test_absent_never_revokes_a_rule_without_our_tag(aws):
    rules(aws, rule("sgr-theirs"))
    result = run(state="absent")
    assert not result["changed"] and result["pre_existing"]


def test_absent_revokes_only_our_rule_by_its_id(aws):
    rules(aws, rule("sgr-theirs", tags=[{"Key": "aurora.kerberos:chain", "Value": "another-chain"}]),
          rule("sgr-ours", tags=[TAG], description="ours"))
    aws.add_response("revoke_security_group_ingress", {"Return": True},
                     {"GroupId": GROUP, "SecurityGroupRuleIds": ["sgr-ours"]})
    result = run(state="absent")
    assert result["changed"] and result["owned"] and result["pre_existing"]
    assert result["diff"]["after"]["rules"] == [{"rule_id": "sgr-theirs", "description": "theirs", "owned": False}]


def test_a_parallel_host_revoking_first_is_converged(aws):
    rules(aws, rule("sgr-ours", tags=[TAG], description="ours"))
    aws.add_client_error("revoke_security_group_ingress", "InvalidPermission.NotFound", "gone")
    result = run(state="absent")
    assert not result["failed"] and result["changed"]


def test_a_parallel_host_adding_first_is_converged(aws):
    rules(aws)
    exists(aws)
    aws.add_client_error("authorize_security_group_ingress", "InvalidPermission.Duplicate", "the specified rule already exists")
    rules(aws, rule("sgr-theirs-host", tags=[TAG], description="ours"))
    result = run()
    assert not result["failed"] and not result["changed"] and result["owned"]
    assert result["rule_id"] == "sgr-theirs-host" and "parallel" in result["msg"]


def test_our_rule_with_another_description_is_updated(aws):
    rules(aws, rule("sgr-ours", tags=[TAG], description="old"))
    aws.add_response("modify_security_group_rules", {"Return": True}, {
        "GroupId": GROUP, "SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-ours", "SecurityGroupRule": {
            "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "ReferencedGroupId": PEER, "Description": "ours"}}]})
    assert run()["changed"]


def test_egress_and_cidr_rules_are_told_apart(aws):
    rules(aws, rule("sgr-in", tags=[TAG]))  # an ingress rule does not satisfy an egress one
    aws.add_response("authorize_security_group_egress", {"Return": True, "SecurityGroupRules": [
        {"SecurityGroupRuleId": "sgr-out"}]}, {
        "GroupId": GROUP,
        "IpPermissions": [{"IpProtocol": "udp", "FromPort": 88, "ToPort": 88,
                           "IpRanges": [{"CidrIp": "10.75.1.0/24"}]}],
        "TagSpecifications": [{"ResourceType": "security-group-rule", "Tags": [TAG]}]})
    result = run(direction="egress", protocol="udp", from_port=88, to_port=88, peer_group_id=None,
                 cidr_ip="10.75.1.0/24", description=None)
    assert not result["failed"], result
    assert result["changed"] and result["rule_id"] == "sgr-out"


def test_a_bad_rule_is_refused_before_any_call(aws):
    result = run(from_port=6000, to_port=5000)
    assert result["failed"] and "from_port <= to_port" in result["msg"]
    result = run(peer_group_id=None, cidr_ip="10.0.0.1/16")
    assert result["failed"] and "cidr_ip" in result["msg"]


def test_a_missing_group_fails_on_present_and_is_nothing_to_do_on_absent(aws):
    rules(aws)
    aws.add_client_error("describe_security_groups", "InvalidGroup.NotFound", "no such group")
    assert run()["failed"]
    rules(aws)
    aws.add_client_error("describe_security_groups", "InvalidGroup.NotFound", "no such group")
    result = run(state="absent")
    assert not result["failed"] and not result["changed"]


def test_several_rules_read_the_group_once_and_each_is_its_own_call(aws):
    rules(aws, rule("sgr-theirs", port=88))
    aws.add_response("authorize_security_group_ingress", {"Return": True, "SecurityGroupRules": [
        {"SecurityGroupRuleId": "sgr-udp"}]}, {
        "GroupId": GROUP,
        "IpPermissions": [{"IpProtocol": "udp", "FromPort": 88, "ToPort": 88, "UserIdGroupPairs": [{"GroupId": PEER}]}],
        "TagSpecifications": [{"ResourceType": "security-group-rule", "Tags": [TAG]}]})
    result = run_module(module_under_test.main, group_id=GROUP, rules=[
        {"protocol": "tcp", "from_port": 88, "to_port": 88, "peer_group_id": PEER},
        {"protocol": "udp", "from_port": 88, "to_port": 88, "peer_group_id": PEER}])
    assert result["changed"]
    assert [(r["pre_existing"], r["owned"], r["rule_id"]) for r in result["results"]] == \
        [(True, False, "sgr-theirs"), (False, True, "sgr-udp")]


def test_rules_of_two_groups_and_directions_cost_one_read(aws):
    # The network role's path: into the DB group from the directory group, and out of the directory group to it.
    ingress = rule("sgr-in", tags=[TAG], description="ours")
    egress = dict(rule("sgr-out", tags=[TAG], description="ours", egress=True, peer=GROUP), GroupId=PEER)
    aws.add_response("describe_security_group_rules", {"SecurityGroupRules": [ingress, egress]},
                     {"Filters": [{"Name": "group-id", "Values": [GROUP, PEER]}], "MaxResults": 1000})
    result = run(group_id=None, protocol=None, from_port=None, to_port=None, peer_group_id=None, rules=[
        {"group_id": GROUP, "direction": "ingress", "protocol": "tcp", "from_port": 5432, "to_port": 5432,
         "peer_group_id": PEER},
        {"group_id": PEER, "direction": "egress", "protocol": "tcp", "from_port": 5432, "to_port": 5432,
         "peer_group_id": GROUP}])
    assert not result["changed"], result
    assert [r["rule_id"] for r in result["results"]] == ["sgr-in", "sgr-out"]
    assert all(r["owned"] and not r["pre_existing"] for r in result["results"])


def test_a_rule_without_a_group_is_refused_before_any_call(aws):
    result = run(group_id=None, protocol=None, from_port=None, to_port=None, peer_group_id=None, rules=[
        {"protocol": "tcp", "from_port": 5432, "to_port": 5432, "peer_group_id": PEER}])
    assert result["failed"] and "No security group for the rule (rules[0]): give group_id" in result["msg"]


def test_a_missing_group_among_two_is_named(aws):
    aws.add_response("describe_security_group_rules", {"SecurityGroupRules": [rule("sgr-in", tags=[TAG])]},
                     {"Filters": [{"Name": "group-id", "Values": [GROUP, "sg-0aaaaaaaaaaaaaaaa"]}], "MaxResults": 1000})
    aws.add_client_error("describe_security_groups", "InvalidGroup.NotFound",
                         "The security group 'sg-0aaaaaaaaaaaaaaaa' does not exist", 400,
                         expected_params={"GroupIds": ["sg-0aaaaaaaaaaaaaaaa"]})
    result = run(group_id=None, protocol=None, from_port=None, to_port=None, peer_group_id=None, rules=[
        {"group_id": GROUP, "protocol": "tcp", "from_port": 5432, "to_port": 5432, "peer_group_id": PEER},
        {"group_id": "sg-0aaaaaaaaaaaaaaaa", "direction": "egress", "protocol": "tcp", "from_port": 5432,
         "to_port": 5432, "peer_group_id": GROUP}])
    assert result["failed"] and "security group sg-0aaaaaaaaaaaaaaaa was not found" in result["msg"]
