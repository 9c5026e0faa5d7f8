# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.vpc_route with botocore's Stubber: a free destination gets the route and the table's
record; a route to it through another target is refused naming both, never replaced; a route someone else
made through the same peering is left alone; absent removes only what the table records for this chain."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import vpc_route as module_under_test

TABLE, DEST, PCX = "rtb-0123456789abcdef0", "10.76.0.0/16", "pcx-0123456789abcdef0"
KEY = "aurora.kerberos:route:10.76.0.0/16"


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "ec2")
    yield stubbers["ec2"]
    assert_all_used(stubbers)


def table(aws, routes=(), tags=()):
    aws.add_response("describe_route_tables", {"RouteTables": [{
        "RouteTableId": TABLE, "Routes": [{"DestinationCidrBlock": "10.75.0.0/16", "GatewayId": "local"}, *routes],
        "Tags": [{"Key": k, "Value": v} for k, v in tags]}]}, {"RouteTableIds": [TABLE]})


def run(check_mode=False, **args):
    return run_module(module_under_test.main, check_mode=check_mode,
                      **dict(dict(route_table_id=TABLE, destination_cidr_block=DEST, vpc_peering_connection_id=PCX), **args))


def test_a_free_destination_gets_the_record_then_the_route(aws):
    table(aws)
    aws.add_response("create_tags", {}, {"Resources": [TABLE], "Tags": [{"Key": KEY, "Value": "aurora-kerberos " + PCX}]})
    aws.add_response("create_route", {"Return": True},
                     {"RouteTableId": TABLE, "DestinationCidrBlock": DEST, "VpcPeeringConnectionId": PCX})
    result = run()
    assert result["changed"] and result["owned"] and result["diff"]["after"]["target"] == PCX


def test_check_mode_writes_nothing(aws):
    table(aws)
    assert run(check_mode=True)["changed"]


def test_our_route_again_is_unchanged(aws):
    table(aws, [{"DestinationCidrBlock": DEST, "VpcPeeringConnectionId": PCX}], [(KEY, "aurora-kerberos " + PCX)])
    result = run()
    assert not result["changed"] and result["owned"]


def test_a_route_through_another_target_is_refused_naming_both(aws):
    table(aws, [{"DestinationCidrBlock": DEST, "TransitGatewayId": "tgw-0123456789abcdef0"}])
    result = run()
    assert result["failed"] and "tgw-0123456789abcdef0" in result["msg"] and PCX in result["msg"]
    assert "never replaced" in result["msg"]


def test_a_route_someone_made_through_the_same_peering_is_left_alone(aws):
    table(aws, [{"DestinationCidrBlock": DEST, "VpcPeeringConnectionId": PCX}])
    result = run()
    assert not result["changed"] and result["pre_existing"]
    table(aws, [{"DestinationCidrBlock": DEST, "VpcPeeringConnectionId": PCX}])
    result = run(state="absent")
    assert not result["changed"] and result["pre_existing"]


def test_absent_removes_our_route_and_its_record(aws):
    table(aws, [{"DestinationCidrBlock": DEST, "VpcPeeringConnectionId": PCX}], [(KEY, "aurora-kerberos " + PCX)])
    aws.add_response("delete_route", {}, {"RouteTableId": TABLE, "DestinationCidrBlock": DEST})
    aws.add_response("delete_tags", {}, {"Resources": [TABLE], "Tags": [{"Key": KEY}]})
    result = run(state="absent", vpc_peering_connection_id=None)
    assert result["changed"] and result["owned"]


def test_absent_keeps_a_route_repointed_since_and_drops_the_stale_record(aws):
    table(aws, [{"DestinationCidrBlock": DEST, "TransitGatewayId": "tgw-0123456789abcdef0"}],
          [(KEY, "aurora-kerberos " + PCX)])
    aws.add_response("delete_tags", {}, {"Resources": [TABLE], "Tags": [{"Key": KEY}]})
    result = run(state="absent")
    assert result["changed"] and not result["owned"] and result["pre_existing"]


def test_another_chains_record_is_left_alone(aws):
    table(aws, [{"DestinationCidrBlock": DEST, "VpcPeeringConnectionId": PCX}], [(KEY, "other-chain " + PCX)])
    result = run(state="absent")
    assert not result["changed"]
