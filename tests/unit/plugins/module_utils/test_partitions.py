# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""partitions: the trust principals per Region and partition (AWS_FACTS.md section 3)."""

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.aurora.kerberos.plugins.module_utils import partitions

GLOBAL = ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]


@pytest.mark.parametrize("region, partition, opt_in, expected", [
    ("us-east-1", "aws", False, GLOBAL),
    ("eu-west-1", "aws", False, GLOBAL),
    ("af-south-1", "aws", True, GLOBAL + ["directoryservice.rds.af-south-1.amazonaws.com",
                                          "rds.af-south-1.amazonaws.com"]),
    ("il-central-1", "aws", True, GLOBAL + ["directoryservice.rds.il-central-1.amazonaws.com",
                                            "rds.il-central-1.amazonaws.com"]),
    ("ca-west-1", "aws", True, GLOBAL + ["directoryservice.rds.ca-west-1.amazonaws.com", "rds.ca-west-1.amazonaws.com",
                                         "directoryservice-postgresql.rds.ca-west-1.amazonaws.com"]),
    ("mx-central-1", "aws", True, GLOBAL + ["directoryservice.rds.mx-central-1.amazonaws.com",
                                            "rds.mx-central-1.amazonaws.com",
                                            "directoryservice-postgresql.rds.mx-central-1.amazonaws.com"]),
    ("cn-north-1", "aws-cn", False, GLOBAL),
    ("us-gov-west-1", "aws-us-gov", False, GLOBAL),
    # an opt-in Region newer than the tables is one launched after il-central-1
    ("xx-new-1", "aws", True, GLOBAL + ["directoryservice.rds.xx-new-1.amazonaws.com", "rds.xx-new-1.amazonaws.com",
                                        "directoryservice-postgresql.rds.xx-new-1.amazonaws.com"]),
    # the suffix follows the partition
    ("cn-xx-9", "aws-cn", True, GLOBAL + ["directoryservice.rds.cn-xx-9.amazonaws.com.cn", "rds.cn-xx-9.amazonaws.com.cn",
                                          "directoryservice-postgresql.rds.cn-xx-9.amazonaws.com.cn"]),
])
def test_trust_principals_by_region(region, partition, opt_in, expected):
    assert partitions.trust_principals(region, partition, opt_in) == expected


def test_the_engine_part_is_a_variable():
    assert partitions.trust_principals("ca-west-1", "aws", True, "mysql")[-1] == \
        "directoryservice-mysql.rds.ca-west-1.amazonaws.com"


@pytest.mark.parametrize("arn, partition", [
    ("arn:aws:sts::123456789012:assumed-role/r/s", "aws"),
    ("arn:aws-cn:iam::123456789012:user/u", "aws-cn"),
    ("arn:aws-us-gov:sts::123456789012:assumed-role/r/s", "aws-us-gov"),
    ("not an arn", None),
    (None, None),
])
def test_partition_from_arn(arn, partition):
    assert partitions.partition_from_arn(arn) == partition


@pytest.mark.parametrize("partition, arn, sts", [
    ("aws", "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess", "https://sts.x-1.amazonaws.com"),
    ("aws-cn", "arn:aws-cn:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess",
     "https://sts.x-1.amazonaws.com.cn"),
    ("aws-us-gov", "arn:aws-us-gov:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess",
     "https://sts.x-1.amazonaws.com"),
])
def test_policy_arn_and_host_names_follow_the_partition(partition, arn, sts):
    assert partitions.managed_policy_arn(partition) == arn
    assert partitions.sts_endpoint("x-1", partition) == sts


@pytest.mark.parametrize("region, partition", [
    ("us-east-1", "aws"), ("af-south-1", "aws"), ("cn-north-1", "aws-cn"), ("cn-northwest-1", "aws-cn"),
    ("us-gov-west-1", "aws-us-gov"), ("us-isob-east-1", "aws-iso-b"), ("us-iso-east-1", "aws-iso"),
])
def test_partition_for_region(region, partition):
    assert partitions.partition_for_region(region) == partition


def ec2_client():
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


@pytest.mark.parametrize("status, opt_in", [("opt-in-not-required", False), ("opted-in", True), ("not-opted-in", True)])
def test_opt_in_is_read_from_describe_regions(status, opt_in):
    client, stub = ec2_client()
    # us-east-1 is in the table as not opt-in: the answer read at run time wins.
    stub.add_response("describe_regions", {"Regions": [{"RegionName": "us-east-1", "OptInStatus": status}]},
                      {"RegionNames": ["us-east-1"], "AllRegions": True})
    with stub:
        assert partitions.read_opt_in(client, "us-east-1") == (opt_in, "DescribeRegions")
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("region, opt_in", [("af-south-1", True), ("ca-west-1", True), ("us-east-1", False),
                                            ("cn-north-1", False), ("us-gov-west-1", False)])
def test_a_denied_describe_regions_falls_back_to_the_table(region, opt_in):
    client, stub = ec2_client()
    stub.add_client_error("describe_regions", "UnauthorizedOperation", "not allowed", 403)
    with stub:
        assert partitions.read_opt_in(client, region) == (opt_in, "table")


def test_a_region_in_no_table_with_describe_regions_denied_is_unknown():
    client, stub = ec2_client()
    stub.add_client_error("describe_regions", "UnauthorizedOperation", "not allowed", 403)
    with stub, pytest.raises(partitions.UnknownRegion):
        partitions.read_opt_in(client, "xx-new-1")


D_GLOBAL = "directoryservice.rds.amazonaws.com"


@pytest.mark.parametrize("services, region, opt_in, missing", [
    (GLOBAL, "us-east-1", False, []),
    (["rds.amazonaws.com"], "us-east-1", False, [D_GLOBAL]),
    ([D_GLOBAL], "us-east-1", False, ["rds.amazonaws.com"]),
    # opt-in: the global directory-service principal is not enough ...
    (GLOBAL, "af-south-1", True, ["directoryservice.rds.af-south-1.amazonaws.com"]),
    # ... the regionalized pair alone is (the RDS PostgreSQL set-up page's example) ...
    (["directoryservice.rds.af-south-1.amazonaws.com", "rds.af-south-1.amazonaws.com"], "af-south-1", True, []),
    # ... and so is the regionalized directory-service principal with the global rds one
    (["directoryservice.rds.af-south-1.amazonaws.com", "rds.amazonaws.com"], "af-south-1", True, []),
    # another Region's regionalized principal does not count
    (GLOBAL + ["directoryservice.rds.me-south-1.amazonaws.com"], "af-south-1", True,
     ["directoryservice.rds.af-south-1.amazonaws.com"]),
    # from ca-west-1 on: the engine-specific form, any engine part
    (GLOBAL + ["directoryservice.rds.ca-west-1.amazonaws.com"], "ca-west-1", True,
     ["directoryservice-postgresql.rds.ca-west-1.amazonaws.com"]),
    (GLOBAL + ["directoryservice-postgresql.rds.ca-west-1.amazonaws.com"], "ca-west-1", True, []),
    (GLOBAL + ["directoryservice-aurora-postgresql.rds.ca-west-1.amazonaws.com"], "ca-west-1", True, []),
    (GLOBAL, "cn-north-1", False, []),
])
def test_trust_problems(services, region, opt_in, missing):
    partition = partitions.partition_for_region(region)
    assert partitions.trust_problems(services, region, partition, opt_in) == missing


def test_every_computed_list_satisfies_its_own_check():
    for region in sorted(partitions.OPT_IN_REGIONS | partitions.DEFAULT_REGIONS):
        partition = partitions.partition_for_region(region)
        opt_in = partitions.opt_in_from_table(region)
        principals = partitions.trust_principals(region, partition, opt_in)
        assert partitions.trust_problems(principals, region, partition, opt_in) == [], region
