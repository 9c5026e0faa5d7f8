# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.ad_objects_info over ds-data with botocore's Stubber: what Windows and AWS make in every AWS
Managed Microsoft AD (the recorded ListUsers example of AWS's documentation among them) is never foreign; what the
caller lists is not foreign either; everything else is."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import ad_objects_info as module_under_test

DIRECTORY = "d-1234567890"
DOMAIN_SID = "S-1-5-21-129594175-2541362085-1328300702"


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "ds-data")
    yield stubbers["ds-data"]
    assert_all_used(stubbers)


def run(**args):
    return run_module(module_under_test.main, False, **dict(
        {"backend": "ds_data", "directory_id": DIRECTORY, "domain": "corp.example.com"}, **args))


def user(name, rid):
    return {"SAMAccountName": name, "SID": f"{DOMAIN_SID}-{rid}", "Enabled": True}


def group(name, sid):
    return {"SAMAccountName": name, "SID": sid if sid.startswith("S-") else f"{DOMAIN_SID}-{sid}",
            "GroupType": "Security", "GroupScope": "Global"}


def expect(ds_data, users, groups):
    # Two pages of users: the module follows NextToken.
    ds_data.add_response("list_users", {"DirectoryId": DIRECTORY, "Users": users[:3], "NextToken": "next"},
                         {"DirectoryId": DIRECTORY})
    ds_data.add_response("list_users", {"DirectoryId": DIRECTORY, "Users": users[3:]},
                         {"DirectoryId": DIRECTORY, "NextToken": "next"})
    ds_data.add_response("list_groups", {"DirectoryId": DIRECTORY, "Groups": groups}, {"DirectoryId": DIRECTORY})


def test_windows_and_aws_objects_and_the_known_ones_are_not_foreign(aws):
    expect(aws,
           [user("Administrator", 500), user("Guest", 501), user("krbtgt", 502), user("Admin", 1104),
            user("AWS_WGnzYlN6YyY", 1105), user("alice", 1200), user("carol", 1201), user("SQLSVC$", 1202)],
           [group("Domain Admins", "512"), group("Administrators", "S-1-5-32-544"), group("DnsAdmins", "1101"),
            group("AWS Delegated Administrators", "1103"), group("db-readers", "1300"), group("finance", "1301")])
    result = run(known_users=["alice"], known_groups=["DB-Readers"])
    assert not result["failed"] and not result["changed"]
    assert result["foreign_users"] == ["carol"]
    assert result["foreign_groups"] == ["finance"]
    assert "Administrator" in result["users"] and "Domain Admins" in result["groups"]


def test_a_directory_with_only_its_own_objects_has_nothing_foreign(aws):
    expect(aws, [user("Administrator", 500), user("Guest", 501), user("krbtgt", 502), user("Admin", 1104)],
           [group("Domain Users", "513")])
    result = run()
    assert result["foreign_users"] == [] and result["foreign_groups"] == []
