# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.directory_trust with botocore's Stubber: every request is checked against the API model,
and a call the test did not expect fails it."""

import pytest

from aws_stubs import stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import directory_trust

DIRECTORY, TRUST, REMOTE = "d-1234567890", "t-1234567890", "onprem.example.com"
PASSWORD = "Trust-Passw0rd-not-real"
LIST = {"DirectoryId": DIRECTORY}
ONE = {"DirectoryId": DIRECTORY, "TrustIds": [TRUST]}


def trust(state="Verified", **changes):
    found = dict(DirectoryId=DIRECTORY, TrustId=TRUST, RemoteDomainName=REMOTE, TrustType="Forest",
                 TrustDirection="One-Way: Outgoing", TrustState=state, SelectiveAuth="Disabled")
    found.update(changes)
    return found


@pytest.fixture
def aws(monkeypatch):
    stubber = stubbed(monkeypatch, "ds")["ds"]
    yield stubber
    stubber.assert_no_pending_responses()


def run(check_mode=False, **args):
    return run_module(directory_trust.main, check_mode, **args)


CREATE = dict(directory_id=DIRECTORY, remote_domain_name=REMOTE, trust_password=PASSWORD,
              trust_direction="One-Way: Outgoing", trust_type="Forest")


def trusts(stubber, *found, params=None):
    stubber.add_response("describe_trusts", {"Trusts": list(found)}, params or LIST)


def test_check_mode_on_nothing_predicts_a_trust_and_creates_nothing(aws):
    trusts(aws)
    result = run(check_mode=True, **CREATE)
    assert result["changed"] is True and result["trust"] == {}
    assert result["diff"]["after"]["direction"] == "One-Way: Outgoing" and result["diff"]["before"] == {}
    assert PASSWORD not in repr(result)


def test_create_waits_until_verified_and_returns_the_trust(aws):
    trusts(aws, trust("Deleted", TrustId="t-0000000001"))
    aws.add_response("create_trust", {"TrustId": TRUST}, {
        "DirectoryId": DIRECTORY, "RemoteDomainName": REMOTE, "TrustPassword": PASSWORD,
        "TrustDirection": "One-Way: Outgoing", "TrustType": "Forest", "ConditionalForwarderIpAddrs": ["10.10.0.10"],
        "SelectiveAuth": "Enabled"})
    for state in ("Creating", "Created", "Verifying", "Verified", "Verified"):
        trusts(aws, trust(state, SelectiveAuth="Enabled"), params=ONE)
    result = run(**dict(CREATE, conditional_forwarder_ip_addrs=["10.10.0.10"], selective_auth="Enabled"))
    assert result["changed"] is True
    got = result["trust"]
    assert (got["trust_id"], got["trust_state"], got["trust_direction"], got["trust_type"], got["remote_domain_name"], got["selective_auth"]) == \
        (TRUST, "Verified", "One-Way: Outgoing", "Forest", REMOTE, "Enabled")
    assert got["conditional_forwarder_ip_addrs"] == ["10.10.0.10"]
    assert PASSWORD not in repr(result)


def test_an_existing_trust_is_found_and_left_alone(aws):
    trusts(aws, trust(RemoteDomainName="OnPrem.Example.com"))
    result = run(**CREATE)
    assert result["changed"] is False and result["trust"]["trust_id"] == TRUST
    assert result["diff"]["before"] == result["diff"]["after"]


def test_verify_failed_says_what_to_check(aws):
    trusts(aws)
    aws.add_response("create_trust", {"TrustId": TRUST}, None)
    trusts(aws, trust("Verifying"), params=ONE)
    failed = trust("VerifyFailed", TrustStateReason="The specified domain either does not exist or could not be contacted")
    trusts(aws, failed, params=ONE)
    trusts(aws, failed, params=ONE)
    result = run(**CREATE)
    assert result["failed"]
    msg = result["msg"]
    assert "is VerifyFailed: The specified domain either does not exist or could not be contacted" in msg
    assert "same password and the opposite direction (One-Way: Incoming)" in msg
    assert "conditional forwarders on both sides" in msg and "security group allows outbound" in msg
    assert "verify=true" in msg and result["trust"]["trust_state"] == "VerifyFailed"
    assert PASSWORD not in repr(result)


def test_an_existing_verify_failed_trust_fails_without_verify(aws):
    trusts(aws, trust("VerifyFailed", TrustStateReason="RPC unavailable"))
    result = run(**CREATE)
    assert result["failed"] and "is VerifyFailed: RPC unavailable" in result["msg"]


def test_verify_reverifies_an_existing_trust(aws):
    trusts(aws, trust("VerifyFailed"))
    aws.add_response("verify_trust", {"TrustId": TRUST}, {"TrustId": TRUST})
    trusts(aws, trust("VerifyFailed"), params=ONE)  # the old state, still
    trusts(aws, trust("Verifying"), params=ONE)
    trusts(aws, trust("Verifying"), params=ONE)
    trusts(aws, trust("Verified"), params=ONE)
    trusts(aws, trust("Verified"), params=ONE)
    result = run(directory_id=DIRECTORY, remote_domain_name=REMOTE, verify=True)
    assert result["changed"] is True and result["trust"]["trust_state"] == "Verified"


def test_verify_in_check_mode_sends_nothing(aws):
    trusts(aws, trust())
    result = run(check_mode=True, directory_id=DIRECTORY, remote_domain_name=REMOTE, verify=True)
    assert result["changed"] is True


@pytest.mark.parametrize("args, expect", [
    (dict(trust_direction="Two-Way"), "trust_direction is 'One-Way: Outgoing', not 'Two-Way'"),
    (dict(trust_type="External"), "trust_type is 'Forest', not 'External'"),
])
def test_changing_direction_or_type_is_refused(aws, args, expect):
    trusts(aws, trust())
    result = run(**dict(CREATE, **args))
    assert result["failed"] and expect in result["msg"]
    assert "delete the trust (state=absent) and create it again" in result["msg"]


def test_selective_auth_changes_in_place(aws):
    trusts(aws, trust())
    aws.add_response("update_trust", {"TrustId": TRUST}, {"TrustId": TRUST, "SelectiveAuth": "Enabled"})
    trusts(aws, trust("Updating"), params=ONE)
    trusts(aws, trust("Updated", SelectiveAuth="Enabled"), params=ONE)
    trusts(aws, trust("Updated", SelectiveAuth="Enabled"), params=ONE)
    result = run(**dict(CREATE, selective_auth="Enabled"))
    assert result["changed"] is True and result["trust"]["selective_auth"] == "Enabled"
    assert result["diff"]["before"]["selective_auth"] == "Disabled"
    assert result["diff"]["after"]["selective_auth"] == "Enabled"


def test_selective_auth_in_check_mode_sends_nothing(aws):
    trusts(aws, trust())
    result = run(check_mode=True, **dict(CREATE, selective_auth="Enabled"))
    assert result["changed"] is True and result["diff"]["after"]["selective_auth"] == "Enabled"


FORWARDERS = {"DirectoryId": DIRECTORY, "RemoteDomainNames": [REMOTE]}


def test_forwarders_that_match_change_nothing(aws):
    trusts(aws, trust())
    aws.add_response("describe_conditional_forwarders", {"ConditionalForwarders": [
        {"RemoteDomainName": REMOTE, "DnsIpAddrs": ["10.10.0.11", "10.10.0.10"]}]}, FORWARDERS)
    result = run(**dict(CREATE, conditional_forwarder_ip_addrs=["10.10.0.10", "10.10.0.11"]))
    assert result["changed"] is False


def test_forwarders_that_differ_are_updated(aws):
    trusts(aws, trust())
    aws.add_response("describe_conditional_forwarders", {"ConditionalForwarders": [
        {"RemoteDomainName": REMOTE, "DnsIpAddrs": ["10.10.0.10"]}]}, FORWARDERS)
    aws.add_response("update_conditional_forwarder", {}, {"DirectoryId": DIRECTORY, "RemoteDomainName": REMOTE,
                                                          "DnsIpAddrs": ["10.10.0.12"]})
    trusts(aws, trust(), params=ONE)
    trusts(aws, trust(), params=ONE)
    result = run(**dict(CREATE, conditional_forwarder_ip_addrs=["10.10.0.12"]))
    assert result["changed"] is True
    assert result["diff"]["before"]["conditional_forwarder_ip_addrs"] == ["10.10.0.10"]
    assert result["trust"]["conditional_forwarder_ip_addrs"] == ["10.10.0.12"]


def test_a_missing_forwarder_is_created(aws):
    trusts(aws, trust())
    aws.add_client_error("describe_conditional_forwarders", "EntityDoesNotExistException", "none",
                         expected_params=FORWARDERS)
    aws.add_response("create_conditional_forwarder", {}, {"DirectoryId": DIRECTORY, "RemoteDomainName": REMOTE,
                                                          "DnsIpAddrs": ["10.10.0.10"]})
    trusts(aws, trust(), params=ONE)
    trusts(aws, trust(), params=ONE)
    assert run(**dict(CREATE, conditional_forwarder_ip_addrs=["10.10.0.10"]))["changed"] is True


def test_a_trust_being_deleted_is_waited_out_then_created_again(aws):
    trusts(aws, trust("Deleting"))
    trusts(aws, trust("Deleting"), params=ONE)
    aws.add_client_error("describe_trusts", "EntityDoesNotExistException", "gone", expected_params=ONE)
    aws.add_response("create_trust", {"TrustId": "t-0000000009"}, None)
    for _attempt in range(2):
        trusts(aws, trust(TrustId="t-0000000009"), params={"DirectoryId": DIRECTORY, "TrustIds": ["t-0000000009"]})
    result = run(**CREATE)
    assert result["changed"] is True and result["trust"]["trust_id"] == "t-0000000009"


@pytest.mark.parametrize("missing", ["trust_password", "trust_direction"])
def test_creating_needs_password_and_direction(aws, missing):
    trusts(aws)
    args = dict(CREATE)
    del args[missing]
    result = run(**args)
    assert result["failed"] and f"To create the trust to {REMOTE}, give {missing}" in result["msg"]


@pytest.mark.parametrize("args, expect", [
    (dict(CREATE, directory_id="d-xyz"), "directory_id 'd-xyz' is not a directory id"),
    (dict(CREATE, remote_domain_name="onprem"), "remote_domain_name 'onprem' must be the on-premises forest's"),
    (dict(CREATE, trust_password="x" * 129), "trust_password must be 1 to 128 characters"),
    (dict(CREATE, conditional_forwarder_ip_addrs=["10.10.0.300"]), "conditional_forwarder_ip_addrs ['10.10.0.300'] are not IPv4"),
    (dict(CREATE, wait_timeout=0), "wait_timeout must be a positive number"),
    (dict(CREATE, trust_direction="Outgoing"), "trust_direction must be one of"),
    (dict(CREATE, selective_auth="yes"), "selective_auth must be one of"),
])
def test_bad_input_fails_before_any_call(aws, args, expect):
    result = run(**args)
    assert result["failed"] and expect in result["msg"]
    assert PASSWORD not in result["msg"]


def test_absent_deletes_and_waits_until_gone(aws):
    trusts(aws, trust())
    aws.add_response("delete_trust", {"TrustId": TRUST}, {"TrustId": TRUST, "DeleteAssociatedConditionalForwarder": True})
    trusts(aws, trust("Deleting"), params=ONE)
    trusts(aws, params=ONE)
    result = run(directory_id=DIRECTORY, remote_domain_name=REMOTE, state="absent", delete_conditional_forwarder=True)
    assert result["changed"] is True and result["trust"] == {}
    assert result["diff"]["before"]["remote_domain_name"] == REMOTE and result["diff"]["after"] == {}


def test_absent_in_check_mode_deletes_nothing(aws):
    trusts(aws, trust())
    result = run(check_mode=True, directory_id=DIRECTORY, remote_domain_name=REMOTE, state="absent")
    assert result["changed"] is True


def test_absent_on_nothing_changes_nothing(aws):
    trusts(aws, trust(RemoteDomainName="other.example.com"))
    result = run(directory_id=DIRECTORY, remote_domain_name=REMOTE, state="absent")
    assert result["changed"] is False and result["trust"] == {}


def test_a_timeout_says_where_the_trust_is(aws, monkeypatch):
    from ansible_collections.aurora.kerberos.plugins.module_utils import ds

    monkeypatch.setattr(ds, "_config", lambda timeout, pause=15: {"Delay": 0, "MaxAttempts": 2})
    trusts(aws)
    aws.add_response("create_trust", {"TrustId": TRUST}, None)
    for _attempt in range(3):
        trusts(aws, trust("Verifying"), params=ONE)
    result = run(**dict(CREATE, wait_timeout=30))
    assert result["failed"] and "Timed out after 30s waiting for trust t-1234567890 (trust verified); it is Verifying" in result["msg"]


def test_an_aws_error_fails_with_the_action(aws):
    trusts(aws)
    aws.add_client_error("create_trust", "EntityAlreadyExistsException", "exists")
    result = run(**CREATE)
    assert result["failed"] and "Failed to create trust" in result["msg"]
    assert PASSWORD not in repr(result)
