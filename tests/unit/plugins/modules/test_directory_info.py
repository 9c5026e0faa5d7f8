# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.directory_info with botocore's Stubber: every request is checked against the API model."""

import pytest

from aws_stubs import stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import directory_info

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]


def described(directory_id="d-1234567890", name="corp.example.com", stage="Active", **extra):
    return dict(DirectoryId=directory_id, Name=name, ShortName="CORP", Type="MicrosoftAD", Edition="Standard",
                Stage=stage, DnsIpAddrs=["10.0.1.10", "10.0.2.10"],
                VpcSettings={"VpcId": VPC, "SubnetIds": SUBNETS, "SecurityGroupId": "sg-0123456789abcdef0"}, **extra)


@pytest.fixture
def aws(monkeypatch):
    stubber = stubbed(monkeypatch, "ds")["ds"]
    yield stubber
    stubber.assert_no_pending_responses()


def run(check_mode=False, **args):
    return run_module(directory_info.main, check_mode, **args)


def tags(stubber, directory_id, tag_list=()):
    stubber.add_response("list_tags_for_resource", {"Tags": list(tag_list)}, {"ResourceId": directory_id})


@pytest.mark.parametrize("check_mode", [False, True])
def test_by_name_any_case_with_tags(aws, check_mode):
    aws.add_response("describe_directories", {"DirectoryDescriptions": [
        described(), described("d-0000000002", name="other.example.com"),
        described("d-0000000003", name="CORP.example.com", stage="Deleting")]}, {})
    tags(aws, "d-1234567890", [{"Key": "team", "Value": "db"}])
    tags(aws, "d-0000000003")
    result = run(check_mode=check_mode, name="corp.example.com")
    assert result["changed"] is False
    assert [d["directory_id"] for d in result["directories"]] == ["d-1234567890", "d-0000000003"]
    first = result["directories"][0]
    assert first["tags"] == {"team": "db"} and first["realm"] == "CORP.EXAMPLE.COM"
    assert first["dns_ip_addrs"] == ["10.0.1.10", "10.0.2.10"] and first["security_group_id"] == "sg-0123456789abcdef0"
    assert result["directories"][1]["stage"] == "Deleting"


def test_by_ids_in_one_call(aws):
    aws.add_response("describe_directories", {"DirectoryDescriptions": [described(), described("d-0000000002")]},
                     {"DirectoryIds": ["d-1234567890", "d-0000000002"]})
    tags(aws, "d-1234567890")
    tags(aws, "d-0000000002")
    result = run(directory_ids=["d-1234567890", "d-0000000002"])
    assert [d["directory_id"] for d in result["directories"]] == ["d-1234567890", "d-0000000002"]


def test_an_unknown_id_among_several_does_not_hide_the_others(aws):
    aws.add_client_error("describe_directories", "EntityDoesNotExistException", "d-0000000002 does not exist",
                         expected_params={"DirectoryIds": ["d-1234567890", "d-0000000002"]})
    aws.add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {"DirectoryIds": ["d-1234567890"]})
    aws.add_client_error("describe_directories", "EntityDoesNotExistException", "no",
                         expected_params={"DirectoryIds": ["d-0000000002"]})
    tags(aws, "d-1234567890")
    result = run(directory_ids=["d-1234567890", "d-0000000002"])
    assert [d["directory_id"] for d in result["directories"]] == ["d-1234567890"]


def test_one_unknown_id_is_an_empty_list(aws):
    aws.add_client_error("describe_directories", "EntityDoesNotExistException", "no",
                         expected_params={"DirectoryIds": ["d-0000000002"]})
    assert run(directory_id="d-0000000002")["directories"] == []


def test_everything_without_a_filter(aws):
    aws.add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    tags(aws, "d-1234567890")
    assert len(run()["directories"]) == 1


def test_a_shared_directory_comes_without_its_sensitive_notes(aws):
    shared = dict(DirectoryId="d-9876543210", Name="corp.example.com", Type="SharedMicrosoftAD", Stage="Active",
                  ShareStatus="Shared", ShareMethod="HANDSHAKE", ShareNotes="private note",
                  OwnerDirectoryDescription={"DirectoryId": "d-1234567890", "AccountId": "111122223333"})
    aws.add_response("describe_directories", {"DirectoryDescriptions": [shared]}, {"DirectoryIds": ["d-9876543210"]})
    tags(aws, "d-9876543210")
    result = run(directory_ids=["d-9876543210"])
    found = result["directories"][0]
    assert found["share_status"] == "Shared" and found["owner_directory_description"]["directory_id"] == "d-1234567890"
    assert "share_notes" not in found and "private note" not in repr(result)


@pytest.mark.parametrize("args, expect", [
    (dict(directory_ids=["d-1234567890", "d-12"]), "directory_id 'd-12' is not a directory id"),
    (dict(name="corp"), "name 'corp' must be the directory's fully qualified DNS name"),
    (dict(name="corp.example.com", directory_ids=["d-1234567890"]), "mutually exclusive"),
])
def test_bad_input_fails_before_any_call(aws, args, expect):
    result = run(**args)
    assert result["failed"] and expect in result["msg"]


def test_an_aws_error_fails_with_the_action(aws):
    aws.add_client_error("describe_directories", "ClientException", "denied", expected_params={})
    result = run()
    assert result["failed"] and "Failed to describe directories" in result["msg"]
