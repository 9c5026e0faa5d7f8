# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.ad_group: backend ds_data against botocore's Stubber (every request checked
against the model), backend ldap against FakeAD (tests/unit/conftest.py)."""

import pytest
from botocore.stub import ANY
from ldap3 import MOCK_SYNC
from ldap3 import Connection as Ldap3Connection

from aws_stubs import assert_all_used, capture_warnings, raise_on_exit, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.module_utils import ad_ldap
from ansible_collections.aurora.kerberos.plugins.module_utils import ds_data
from ansible_collections.aurora.kerberos.plugins.modules import ad_group

ID = "d-1234567890"
SID = "S-1-5-21-2127521184-1604012920-1887927527-1110"
OU = "OU=Users,OU=CORP,DC=corp,DC=example,DC=com"
DN = f"CN=readers,{OU}"
DESCRIBE = {"DirectoryId": ID, "SAMAccountName": "readers", "OtherAttributes": ["description"]}
LIST = {"DirectoryId": ID, "SAMAccountName": "readers", "MaxResults": 250}


@pytest.fixture
def module_calls(monkeypatch):
    raise_on_exit(monkeypatch)
    return capture_warnings(monkeypatch)


@pytest.fixture
def aws(monkeypatch, module_calls):
    stubbers = stubbed(monkeypatch, "ds", "ds-data")
    monkeypatch.setattr(ds_data.time, "sleep", lambda seconds: None)
    stubbers["ds"].add_response("describe_directories", {"DirectoryDescriptions": [
        {"DirectoryId": ID, "Name": "corp.example.com", "Edition": "Enterprise", "Stage": "Active"}]},
        {"DirectoryIds": [ID]})
    stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Enabled"}, {"DirectoryId": ID})
    yield stubbers["ds-data"]
    assert_all_used(stubbers)


def run(check_mode=False, **args):
    return run_module(ad_group.main, check_mode, **dict(
        {"backend": "ds_data", "directory_id": ID, "domain": "corp.example.com", "name": "readers"}, **args))


def described(aws, scope="Global", group_type="Security", description=None, members=()):
    answer = {"DirectoryId": ID, "SAMAccountName": "readers", "SID": SID, "DistinguishedName": DN,
              "GroupScope": scope, "GroupType": group_type, "Realm": "corp.example.com"}
    if description:
        answer["OtherAttributes"] = {"description": {"S": description}}
    aws.add_response("describe_group", answer, DESCRIBE)
    aws.add_response("list_group_members", {"DirectoryId": ID, "Members": [
        {"SAMAccountName": name, "SID": f"S-1-5-21-1-2-3-{1200 + i}", "MemberType": "USER"}
        for i, name in enumerate(members)]}, LIST)


def missing(aws):
    aws.add_client_error("describe_group", "ResourceNotFoundException", "no such group", 404, expected_params=DESCRIBE)


def test_check_mode_predicts_a_group_and_writes_nothing(aws):
    missing(aws)
    result = run(check_mode=True, members=["bob", "alice"], description="Readers")
    assert result["changed"] is True
    assert result["group"] == {"name": "readers", "dn": DN, "sid": None, "group_type": "Security",
                               "group_scope": "Global", "description": "Readers", "members": ["alice", "bob"]}


def test_create_with_members_returns_the_real_sid(aws):
    missing(aws)
    aws.add_response("create_group", {"DirectoryId": ID, "SAMAccountName": "readers", "SID": SID}, {
        "DirectoryId": ID, "SAMAccountName": "readers", "GroupType": "Security", "GroupScope": "Universal",
        "OtherAttributes": {"description": {"S": "Readers"}}, "ClientToken": ANY})
    described(aws, scope="Universal", description="Readers")
    for member in ("alice", "bob"):
        aws.add_response("add_group_member", {}, {"DirectoryId": ID, "GroupName": "readers", "MemberName": member,
                                                  "ClientToken": ANY})
    described(aws, scope="Universal", description="Readers", members=["alice", "bob"])
    result = run(group_scope="Universal", description="Readers", members=["alice", "bob"])
    assert result["changed"] is True
    assert result["group"]["sid"] == SID and result["group"]["members"] == ["alice", "bob"]


def test_rerun_is_unchanged(aws):
    described(aws, description="Readers", members=["alice", "bob"])
    result = run(description="Readers", members=["Alice", "bob"], group_type="Security", group_scope="Global")
    assert result["changed"] is False


def test_members_are_added_but_not_purged_by_default(aws):
    described(aws, members=["carol"])
    aws.add_response("add_group_member", {}, {"DirectoryId": ID, "GroupName": "readers", "MemberName": "alice",
                                              "ClientToken": ANY})
    described(aws, members=["alice", "carol"])
    result = run(members=["alice"])
    assert result["changed"] is True and result["group"]["members"] == ["alice", "carol"]


def test_purge_members_removes_the_others(aws):
    described(aws, members=["alice", "carol"])
    aws.add_response("remove_group_member", {}, {"DirectoryId": ID, "GroupName": "readers", "MemberName": "carol",
                                                 "ClientToken": ANY})
    described(aws, members=["alice"])
    result = run(members=["alice"], purge_members=True)
    assert result["changed"] is True and result["diff"]["before"]["members"] == ["alice", "carol"]


def test_update_in_check_mode_writes_nothing(aws):
    described(aws, description="Old", members=["alice", "carol"])
    result = run(check_mode=True, group_scope="Universal", description="", members=["bob"], purge_members=True)
    assert result["changed"] is True
    assert result["group"]["group_scope"] == "Universal" and result["group"]["description"] is None
    assert result["group"]["members"] == ["bob"]


def test_update_scope_and_clear_description(aws):
    described(aws, description="Old")
    aws.add_response("update_group", {}, {"DirectoryId": ID, "SAMAccountName": "readers", "UpdateType": "REPLACE",
                                          "GroupScope": "Universal", "ClientToken": ANY})
    aws.add_response("update_group", {}, {"DirectoryId": ID, "SAMAccountName": "readers", "UpdateType": "REMOVE",
                                          "OtherAttributes": {"description": {"S": "Old"}}, "ClientToken": ANY})
    described(aws, scope="Universal")
    result = run(group_scope="Universal", description="")
    assert result["changed"] is True and result["group"]["group_scope"] == "Universal"


@pytest.mark.parametrize("before, update_type", [(None, "ADD"), ("Old", "REPLACE")])
def test_a_description_is_added_when_there_is_none_and_replaced_otherwise(aws, before, update_type):
    """The model's UpdateType: ADD when the attribute has no value yet, REPLACE when it has one."""
    described(aws, description=before)
    aws.add_response("update_group", {}, {"DirectoryId": ID, "SAMAccountName": "readers", "UpdateType": update_type,
                                          "OtherAttributes": {"description": {"S": "New"}}, "ClientToken": ANY})
    described(aws, description="New")
    assert run(description="New")["changed"] is True


def test_a_member_created_moments_ago_is_waited_for(aws):
    """ds-data may not see a user an earlier task has just created: AddGroupMember's ResourceNotFoundException
    is retried, bounded (AWS_FACTS.md section 7)."""
    described(aws)
    add = {"DirectoryId": ID, "GroupName": "readers", "MemberName": "alice", "ClientToken": ANY}
    aws.add_client_error("add_group_member", "ResourceNotFoundException", "no such member", 404, expected_params=add)
    aws.add_response("add_group_member", {}, add)
    described(aws, members=["alice"])
    assert run(members=["alice"])["changed"] is True


@pytest.mark.parametrize("exists", [True, False])
def test_delete(aws, exists):
    if exists:
        described(aws)
        aws.add_response("delete_group", {}, {"DirectoryId": ID, "SAMAccountName": "readers", "ClientToken": ANY})
    else:
        missing(aws)
    result = run(state="absent")
    assert result["changed"] is exists and result["group"] == {}


def test_delete_in_check_mode_writes_nothing(aws):
    described(aws)
    result = run(check_mode=True, state="absent")
    assert result["changed"] is True


def test_members_are_paginated(aws):
    aws.add_response("describe_group", {"DirectoryId": ID, "SAMAccountName": "readers", "SID": SID,
                                        "GroupScope": "Global", "GroupType": "Security"}, DESCRIBE)
    aws.add_response("list_group_members", {"Members": [{"SAMAccountName": "bob", "SID": "S-1-5-21-1-2-3-4",
                                                         "MemberType": "USER"}], "NextToken": "t1"}, LIST)
    aws.add_response("list_group_members", {"Members": [{"SAMAccountName": "alice", "SID": "S-1-5-21-1-2-3-5",
                                                         "MemberType": "USER"}]}, dict(LIST, NextToken="t1"))
    result = run()
    assert result["changed"] is False and result["group"]["members"] == ["alice", "bob"]


def test_api_error_is_a_clear_failure(aws):
    described(aws)
    aws.add_client_error("add_group_member", "ResourceNotFoundException", "member nobody not found", 404)
    result = run(members=["nobody"])
    assert result["failed"] and "Failed to change the group's members" in result["msg"]


@pytest.mark.parametrize("args, words", [
    (dict(name="bad,name"), "name 'bad,name' is not a valid group sAMAccountName"),
    (dict(members=["a@b"]), "members entry 'a@b'"),
    (dict(ou=OU), "ou is not supported with backend=ds_data"),
    (dict(domain="corp"), "domain 'corp' must be the directory's DNS name"),
])
def test_bad_input_is_named(module_calls, args, words):
    result = run(**args)
    assert result["failed"] and words in result["msg"]


# --- backend ldap, against FakeAD --------------------------------------------------------------

@pytest.fixture
def ad(fake_ad, module_calls, monkeypatch):
    """FakeAD, which applies user rules to every object: leave groups out of them."""
    rules = fake_ad._apply_ad_rules

    def apply_ad_rules(dn):
        classes = [value.lower() for value in fake_ad.dit[dn].get("objectClass", [])]
        return None if b"group" in classes else rules(dn)

    monkeypatch.setattr(fake_ad, "_apply_ad_rules", apply_ad_rules)
    fake_ad.add_user("alice", password="Corr3ct-Horse!")
    fake_ad.add_user("bob", password="Corr3ct-Horse!")
    return fake_ad


def run_ldap(ca_file, check_mode=False, **args):
    return run_module(ad_group.main, check_mode, **dict(
        {"domain": "corp.example.com", "ldap_server": "198.51.100.2", "ldap_server_name": "dc1.corp.example.com",
         "ldap_ca_file": ca_file, "bind_password": "Adm1n-Secret!", "name": "readers"}, **args))


def add_group(ad, name="readers", group_type=-2147483646, members=(), description=None):
    entry = {"objectClass": ["top", "group"], "sAMAccountName": name, "groupType": str(group_type),
             "objectSid": ad._new_sid()}
    if members:
        entry["member"] = [f"CN={member},{OU}" for member in members]
    if description:
        entry["description"] = description
    Ldap3Connection(ad.server, client_strategy=MOCK_SYNC).strategy.add_entry(f"CN={name},{OU}", entry)


def test_ldap_check_mode_creates_nothing(ad, ca_file):
    before = ad.snapshot()
    result = run_ldap(ca_file, check_mode=True, members=["alice"])
    assert result["changed"] is True and result["group"]["members"] == ["alice"] and result["group"]["sid"] is None
    assert ad.snapshot() == before


def test_ldap_create_with_members(ad, ca_file):
    result = run_ldap(ca_file, members=["bob", "alice"], group_scope="Universal", description="Readers")
    assert result["changed"] is True
    group = result["group"]
    assert group["sid"].startswith(FakeSid.PREFIX) and group["dn"] == DN
    assert group["group_type"] == "Security" and group["group_scope"] == "Universal"
    assert group["members"] == ["alice", "bob"] and group["description"] == "Readers"
    assert ad.value(DN, "groupType") == str(-2147483640)
    again = run_ldap(ca_file, members=["alice", "bob"], group_scope="Universal", description="Readers")
    assert again["changed"] is False


def test_ldap_members_purge_and_type_change(ad, ca_file):
    add_group(ad, members=["alice", "bob"], description="Old")
    result = run_ldap(ca_file, members=["alice"], purge_members=True, group_type="Distribution", description="")
    assert result["changed"] is True
    assert result["group"]["members"] == ["alice"] and result["group"]["group_type"] == "Distribution"
    assert result["group"]["description"] is None
    assert ad.entry(DN)["member"] == [f"CN=alice,{OU}"]


def test_ldap_update_in_check_mode_writes_nothing(ad, ca_file):
    add_group(ad, members=["alice"])
    before = ad.snapshot()
    result = run_ldap(ca_file, check_mode=True, members=["bob"], purge_members=True, group_scope="Universal")
    assert result["changed"] is True and result["group"]["members"] == ["bob"]
    assert ad.snapshot() == before


def test_ldap_delete(ad, ca_file):
    add_group(ad)
    assert run_ldap(ca_file, state="absent")["changed"] is True
    assert DN not in ad.dit
    assert run_ldap(ca_file, state="absent")["changed"] is False


def test_ldap_unknown_member_is_named(ad, ca_file):
    add_group(ad)
    result = run_ldap(ca_file, members=["nobody"])
    assert result["failed"] and "Member nobody does not exist" in result["msg"]


def test_ldap_name_of_a_user_is_refused(ad, ca_file):
    result = run_ldap(ca_file, name="alice")
    assert result["failed"] and "not a group" in result["msg"]


@pytest.mark.parametrize("value, expected", [
    (-2147483646, ("Security", "Global")),
    (-2147483644, ("Security", "DomainLocal")),
    (8, ("Distribution", "Universal")),
])
def test_group_type_round_trip(value, expected):
    assert ad_ldap.group_type_from_int(value) == expected
    assert ad_ldap.group_type_to_int(*expected) == value


class FakeSid:
    PREFIX = "S-1-5-21-2127521184-1604012920-1887927527-"
