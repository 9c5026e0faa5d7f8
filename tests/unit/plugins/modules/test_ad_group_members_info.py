# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.ad_group_members_info: over ds-data (botocore's Stubber, the model's shapes) nested groups
are walked once each, cycles included, pages followed and disabled users left out; over LDAPS one in-chain
search per group that leaves disabled accounts out; bad input refused before any call."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.module_utils import ad_members
from ansible_collections.aurora.kerberos.plugins.modules import ad_group_members_info as module_under_test

DIRECTORY = "d-1234567890"
SID = "S-1-5-21-129594175-2541362085-1328300702-"


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "ds-data")
    yield stubbers["ds-data"]
    assert_all_used(stubbers)


def run(**args):
    return run_module(module_under_test.main, False, **dict(
        {"backend": "ds_data", "directory_id": DIRECTORY, "domain": "corp.example.com"}, **args))


def member(name, kind, rid):
    return {"SAMAccountName": name, "MemberType": kind, "SID": SID + str(rid)}


def members(ds_data, group, listed, token=None, next_token=None):
    asked = {"DirectoryId": DIRECTORY, "SAMAccountName": group, "MaxResults": 250}
    if token:
        asked["NextToken"] = token
    answer = {"DirectoryId": DIRECTORY, "Members": listed}
    if next_token:
        answer["NextToken"] = next_token
    ds_data.add_response("list_group_members", answer, asked)


def test_nested_groups_are_expanded_once_and_disabled_users_left_out(aws):
    members(aws, "dba", [member("alice", "USER", 1200), member("dba-oncall", "GROUP", 1300)], next_token="p2")
    members(aws, "dba", [member("dave", "USER", 1203), member("WS01$", "COMPUTER", 1400)], token="p2")
    members(aws, "dba-oncall", [member("bob", "USER", 1201), member("dba", "GROUP", 1301), member("ALICE", "USER", 1200)])
    aws.add_response("list_users", {"DirectoryId": DIRECTORY, "Users": [
        {"SAMAccountName": "alice", "SID": SID + "1200", "Enabled": True},
        {"SAMAccountName": "bob", "SID": SID + "1201", "Enabled": True},
        {"SAMAccountName": "dave", "SID": SID + "1203", "Enabled": False}]},
        {"DirectoryId": DIRECTORY, "MaxResults": 250})
    result = run(groups=["dba"])
    assert not result["failed"] and not result["changed"]
    assert result["members"] == ["alice", "bob"] and result["members_by_group"] == {"dba": ["alice", "bob"]}
    assert result["groups"] == [{"name": "dba", "nested_groups": ["dba-oncall"], "members": [
        {"name": "alice", "user_principal_name": None}, {"name": "bob", "user_principal_name": None}]}]


def test_a_missing_group_is_named(aws):
    aws.add_client_error("list_group_members", "ResourceNotFoundException", "Group not found",
                         expected_params={"DirectoryId": DIRECTORY, "SAMAccountName": "nope", "MaxResults": 250})
    result = run(groups=["nope"])
    assert result["failed"] and "Group nope does not exist" in result["msg"] and "check groups" in result["msg"]


@pytest.mark.parametrize("args, fragment", [
    ({"groups": ["a/b"]}, "groups entry 'a/b'"),
    ({"groups": []}, "groups is empty"),
    ({"groups": ["dba"], "directory_id": "d-1"}, "directory_id 'd-1' is not a directory id"),
])
def test_bad_input_is_refused_before_any_call(aws, args, fragment):
    result = run(**args)
    assert result["failed"] and fragment in result["msg"]


class FakeLdap:
    """Answers the group lookup and records the in-chain searches."""

    def __init__(self, entries):
        self.entries = entries
        self.filters = []
        self.response = []
        outer = self

        class Standard:
            def paged_search(self, base, flt, attributes, paged_size, generator):
                outer.filters.append(flt)
                return outer.entries if "objectCategory=person" in flt else []

        self.extend = type("Extend", (), {"standard": Standard()})()

    def search(self, base, flt, scope, attributes):
        self.response = [{"type": "searchResEntry", "dn": "CN=dba,OU=Users,DC=corp,DC=example,DC=com"}] \
            if "sAMAccountName=dba" in flt else []


def test_ldap_asks_the_domain_controller_for_the_chain_without_disabled_accounts():
    entry = {"type": "searchResEntry", "raw_attributes": {"sAMAccountName": [b"bob"],
                                                          "userPrincipalName": [b"bob@corp.example.com"]}}
    fake = FakeLdap([entry])
    found = ad_members.ldap_members(fake, "DC=corp,DC=example,DC=com", ["dba"])
    assert found["dba"]["members"] == [{"name": "bob", "user_principal_name": "bob@corp.example.com"}]
    assert "(memberOf:1.2.840.113556.1.4.1941:=CN=dba,OU=Users,DC=corp,DC=example,DC=com)" in fake.filters[0]
    assert "(!(userAccountControl:1.2.840.113556.1.4.803:=2))" in fake.filters[0]
    with pytest.raises(ad_members.GroupNotFound):
        ad_members.ldap_members(fake, "DC=corp,DC=example,DC=com", ["other"])
