# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.region_info with botocore's Stubber: the partition from the caller's ARN, the opt-in
status from DescribeRegions (or the table), and the trust principals and policy ARN they make."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import region_info as module_under_test

GLOBAL = ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "sts", "ec2")
    yield stubbers
    assert_all_used(stubbers)


def caller(aws, partition="aws"):
    aws["sts"].add_response("get_caller_identity", {
        "Account": "123456789012", "UserId": "AIDAEXAMPLE", "Arn": f"arn:{partition}:iam::123456789012:user/ops"}, {})


def regions(aws, region, status):
    aws["ec2"].add_response("describe_regions", {"Regions": [{"RegionName": region, "OptInStatus": status}]},
                            {"RegionNames": [region], "AllRegions": True})


def run(**args):
    return run_module(module_under_test.main, **args)


@pytest.mark.parametrize("region, partition, status, extra", [
    ("us-east-1", "aws", "opt-in-not-required", []),
    ("af-south-1", "aws", "opted-in", ["directoryservice.rds.af-south-1.amazonaws.com", "rds.af-south-1.amazonaws.com"]),
    ("ca-west-1", "aws", "opted-in", ["directoryservice.rds.ca-west-1.amazonaws.com", "rds.ca-west-1.amazonaws.com",
                                      "directoryservice-postgresql.rds.ca-west-1.amazonaws.com"]),
    ("cn-north-1", "aws-cn", "opt-in-not-required", []),
    ("us-gov-west-1", "aws-us-gov", "opt-in-not-required", []),
])
def test_principals_and_policy_by_region_and_partition(aws, region, partition, status, extra):
    caller(aws, partition)
    regions(aws, region, status)
    result = run(region=region)
    assert not result["failed"] and result["changed"] is False
    assert result["trust_principals"] == GLOBAL + extra
    assert result["managed_policy_arn"] == f"arn:{partition}:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
    assert result["partition"] == partition and result["account_id"] == "123456789012"
    assert result["dns_suffix"] == ("amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com")
    assert result["opt_in_source"] == "DescribeRegions"


def test_the_engine_part_and_the_table_when_describe_regions_is_denied(aws):
    caller(aws)
    aws["ec2"].add_client_error("describe_regions", "UnauthorizedOperation", "not allowed", 403)
    result = run(region="mx-central-1", engine_part="mysql")
    assert result["opt_in"] is True and result["opt_in_source"] == "table"
    assert result["trust_principals"][-1] == "directoryservice-mysql.rds.mx-central-1.amazonaws.com"


def test_an_unknown_region_without_describe_regions_fails_naming_the_role_variable(aws):
    caller(aws)
    aws["ec2"].add_client_error("describe_regions", "UnauthorizedOperation", "not allowed", 403)
    result = run(region="xx-new-1")
    assert result["failed"] and "iam_role_trust_principals" in result["msg"] and "ec2:DescribeRegions" in result["msg"]


def test_given_principals_are_returned_as_they_are(aws):
    caller(aws, "aws-cn")
    regions(aws, "cn-north-1", "opt-in-not-required")
    result = run(region="cn-north-1", trust_principals=["rds.amazonaws.com", "directoryservice.rds.amazonaws.com"])
    assert result["trust_principals"] == ["rds.amazonaws.com", "directoryservice.rds.amazonaws.com"]
    assert result["managed_policy_arn"].startswith("arn:aws-cn:")


@pytest.mark.parametrize("bad", ["PostgreSQL", "postgres ql", ""])
def test_a_bad_engine_part_is_refused_before_any_call(aws, bad):
    result = run(engine_part=bad)
    assert result["failed"] and "engine_part" in result["msg"]
