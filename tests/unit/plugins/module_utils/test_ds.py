# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ds module_utils: validation, lookups and waiters, with botocore's Stubber checking every request."""

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.aurora.kerberos.plugins.module_utils import ds

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]


def directory(directory_id="d-1234567890", name="corp.example.com", stage="Active", vpc=VPC, **extra):
    return dict(DirectoryId=directory_id, Name=name, ShortName="CORP", Type="MicrosoftAD", Edition="Standard",
                Stage=stage, DnsIpAddrs=["10.0.1.10", "10.0.2.10"],
                VpcSettings={"VpcId": vpc, "SubnetIds": SUBNETS, "SecurityGroupId": "sg-0123456789abcdef0"}, **extra)


@pytest.fixture
def client():
    ds_client = boto3.client("ds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ds_client) as stubber:
        ds_client.stubber = stubber
        yield ds_client
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("password, problem", [
    ("Sh0rt!", "8 to 64"),
    ("x" * 65, "8 to 64"),
    ("MyAdmin-Passw0rd", "admin"),
    ("alllowercase1", "3 of"),
    ("Passw0rd!", None),
    ("Password!", None),
    ("passw0rd!", None),
])
def test_admin_password_rules(password, problem):
    found = ds.admin_password_problem(password)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("kwargs, expect", [
    ({"name": "corp"}, "name 'corp' must be the directory's fully qualified DNS name"),
    ({"name": "corp..example.com"}, "fully qualified"),
    ({"short_name": "CORP.EXAMPLE"}, "short_name"),
    ({"short_name": "A" * 16}, "short_name"),
    ({"vpc_id": "10.0.0.0/16"}, "vpc_id '10.0.0.0/16' is not a VPC id"),
    ({"subnet_ids": SUBNETS[:1]}, "exactly 2 different subnets"),
    ({"subnet_ids": [SUBNETS[0], SUBNETS[0]]}, "exactly 2 different subnets"),
    ({"subnet_ids": ["10.0.1.0/24", SUBNETS[1]]}, "not subnet ids"),
    ({"directory_id": "d-123"}, "directory_id 'd-123' is not a directory id"),
    ({"edition": "Premium"}, "edition must be one of"),
    ({"password": "weak"}, "password must be 8 to 64"),
])
def test_each_bad_input_names_its_option(kwargs, expect):
    problems = ds.directory_input_problems(**kwargs)
    assert len(problems) == 1 and expect in problems[0], problems


def test_good_input_has_no_problem():
    assert ds.directory_input_problems(name="corp.example.com", short_name="CORP", password="Passw0rd!x",
                                       vpc_id=VPC, subnet_ids=SUBNETS, directory_id="d-1234567890",
                                       edition="Standard") == []


def test_find_by_name_and_vpc_across_pages_ignores_deleting(client):
    client.stubber.add_response("describe_directories", {
        "DirectoryDescriptions": [directory("d-0000000001", stage="Deleting"), directory("d-0000000002", vpc="vpc-1111111111111111a")],
        "NextToken": "page2"}, {})
    client.stubber.add_response("describe_directories", {
        "DirectoryDescriptions": [directory("d-0000000003", name="CORP.example.com"), directory("d-0000000004", name="other.example.com")]},
        {"NextToken": "page2"})
    found = ds.find_directories(client, "corp.example.com", VPC)
    assert [d["DirectoryId"] for d in found] == ["d-0000000003"]


def test_missing_directory_reads_as_none(client):
    client.stubber.add_client_error("describe_directories", "EntityDoesNotExistException", "Directory d-1234567890 does not exist",
                                    expected_params={"DirectoryIds": ["d-1234567890"]})
    assert ds.get_directory(client, "d-1234567890") is None


def test_check_mode_creates_nothing(client):
    assert ds.create_microsoft_ad(client, True, "corp.example.com", "Passw0rd!x", VPC, SUBNETS) is None


def test_create_sends_only_what_was_given(client):
    client.stubber.add_response("create_microsoft_ad", {"DirectoryId": "d-1234567890"}, {
        "Name": "corp.example.com", "Password": "Passw0rd!x", "VpcSettings": {"VpcId": VPC, "SubnetIds": SUBNETS},
        "Edition": "Standard", "Tags": [{"Key": "team", "Value": "db"}]})
    assert ds.create_microsoft_ad(client, False, "corp.example.com", "Passw0rd!x", VPC, SUBNETS, edition="Standard",
                                  tags={"team": "db"}) == "d-1234567890"


@pytest.mark.parametrize("stages, outcome", [
    (["Requested", "Creating", "Active"], "success"),
    (["Creating", "Failed"], "failure"),
    (["Creating", "Impaired"], "failure"),
])
def test_directory_active_waiter(client, stages, outcome):
    for stage in stages:
        client.stubber.add_response("describe_directories", {"DirectoryDescriptions": [directory(stage=stage)]},
                                    {"DirectoryIds": ["d-1234567890"]})
    waiter = ds.DSWaiterFactory().get_waiter(client, "directory_active")
    config = {"Delay": 0, "MaxAttempts": 5}
    if outcome == "success":
        waiter.wait(DirectoryIds=["d-1234567890"], WaiterConfig=config)
    else:
        with pytest.raises(Exception, match="terminal failure"):
            waiter.wait(DirectoryIds=["d-1234567890"], WaiterConfig=config)


def test_directory_deleted_waiter_ends_on_not_found(client):
    client.stubber.add_response("describe_directories", {"DirectoryDescriptions": [directory(stage="Deleting")]},
                                {"DirectoryIds": ["d-1234567890"]})
    client.stubber.add_client_error("describe_directories", "EntityDoesNotExistException", "gone",
                                    expected_params={"DirectoryIds": ["d-1234567890"]})
    ds.DSWaiterFactory().get_waiter(client, "directory_deleted").wait(
        DirectoryIds=["d-1234567890"], WaiterConfig={"Delay": 0, "MaxAttempts": 5})


def test_normalize_puts_what_users_need_first():
    result = ds.normalize(directory(), {"team": "db"})
    assert result["id"] == "d-1234567890"
    assert result["realm"] == "CORP.EXAMPLE.COM"
    assert result["dns_ip_addrs"] == ["10.0.1.10", "10.0.2.10"]
    assert result["security_group_id"] == "sg-0123456789abcdef0"
    assert result["short_name"] == "CORP" and result["tags"] == {"team": "db"}
