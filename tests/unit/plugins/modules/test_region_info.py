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


def role_read(aws, tags=None, found=True):
    if not found:
        aws["iam"].add_client_error("get_role", "NoSuchEntity", "The role with name rds-ds cannot be found.",
                                    404, expected_params={"RoleName": "rds-ds"})
        return
    role = {"Path": "/", "RoleName": "rds-ds", "RoleId": "AROA1234567890EXAMPLE",
            "Arn": "arn:aws-us-gov:iam::210987654321:role/rds-ds", "CreateDate": "2026-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D",
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
    aws["iam"].add_response("get_role", {"Role": role}, {"RoleName": "rds-ds"})
    aws["iam"].add_response("list_attached_role_policies", {"AttachedPolicies": [
        {"PolicyName": "AmazonRDSDirectoryServiceAccess",
         "PolicyArn": "arn:aws-us-gov:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"}],
        "IsTruncated": False}, {"RoleName": "rds-ds"})


@pytest.fixture
def aws_iam(monkeypatch):
    stubbers = stubbed(monkeypatch, "sts", "ec2", "iam")
    yield stubbers
    assert_all_used(stubbers)


def test_an_existing_role_is_read_in_two_calls_and_its_arn_stands_for_sts(aws_iam):
    # No get_caller_identity is stubbed: a call to it fails the test (the Stubber refuses unexpected calls).
    role_read(aws_iam, {"aurora.kerberos:chain": "c1"})
    regions(aws_iam, "us-gov-west-1", "opt-in-not-required")
    result = run(region="us-gov-west-1", iam_role_name="rds-ds")
    assert not result["failed"], result
    assert result["partition"] == "aws-us-gov" and result["account_id"] == "210987654321"
    role = result["iam_role"]
    assert role["arn"] == "arn:aws-us-gov:iam::210987654321:role/rds-ds" and role["tags"] == {"aurora.kerberos:chain": "c1"}
    assert [p["policy_arn"] for p in role["managed_policies"]] == [
        "arn:aws-us-gov:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"]
    assert role["assume_role_policy_document"] == {"Version": "2012-10-17", "Statement": []}


def test_a_missing_role_is_an_empty_dict_and_sts_gives_the_caller(aws_iam):
    role_read(aws_iam, found=False)
    caller(aws_iam, "aws")
    regions(aws_iam, "us-east-1", "opt-in-not-required")
    result = run(region="us-east-1", iam_role_name="rds-ds")
    assert not result["failed"], result
    assert result["iam_role"] == {} and result["account_id"] == "123456789012" and result["partition"] == "aws"


def test_a_role_that_cannot_be_read_fails_with_the_error(aws_iam):
    aws_iam["iam"].add_client_error("get_role", "AccessDenied", "not authorized to perform: iam:GetRole", 403,
                                    expected_params={"RoleName": "rds-ds"})
    result = run(region="us-east-1", iam_role_name="rds-ds")
    assert result["failed"] and "iam:GetRole" in result["msg"]


def test_without_a_role_name_nothing_of_iam_is_returned(aws):
    caller(aws)
    regions(aws, "us-east-1", "opt-in-not-required")
    assert "iam_role" not in run(region="us-east-1")
