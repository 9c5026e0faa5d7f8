# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.directory_share with botocore's Stubber: one stubbed ds client per account (owner, consumer);
every request is checked against the API model, and a call the test did not expect fails it."""

import pytest

from aws_stubs import assert_all_used, fake_client, install
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import directory_share

OWNER_ID, SHARED_ID, ACCOUNT = "d-1234567890", "d-9876543210", "222233334444"
SECRET, NOTES = "consumer-secret-not-real", "Kerberos for the orders team"
LIST = {"OwnerDirectoryId": OWNER_ID}
ONE = {"OwnerDirectoryId": OWNER_ID, "SharedDirectoryIds": [SHARED_ID]}


def share(status="Shared", method="HANDSHAKE", **changes):
    found = dict(OwnerAccountId="111122223333", OwnerDirectoryId=OWNER_ID, ShareMethod=method,
                 SharedAccountId=ACCOUNT, SharedDirectoryId=SHARED_ID, ShareStatus=status)
    found.update(changes)
    return found


def consumer_view(status="Shared"):
    return dict(DirectoryId=SHARED_ID, Name="corp.example.com", Type="SharedMicrosoftAD", Stage="Active",
                ShareStatus=status, ShareMethod="HANDSHAKE", ShareNotes=NOTES,
                OwnerDirectoryDescription={"DirectoryId": OWNER_ID, "AccountId": "111122223333",
                                           "DnsIpAddrs": ["10.0.1.10"]})


@pytest.fixture
def aws(monkeypatch):
    """{"owner": Stubber, "consumer": Stubber}; the consumer client is the one asked for with other credentials."""
    asked = []

    def pick(name, kwargs):
        asked.append(kwargs)
        return "consumer" if kwargs.get("aws_access_key_id") or kwargs.get("profile_name") else "owner"

    stubbers = install(monkeypatch, {side: fake_client("ds") for side in ("owner", "consumer")}, pick)
    yield dict(stubbers, asked=asked)
    assert_all_used(stubbers)


def run(check_mode=False, **args):
    return run_module(directory_share.main, check_mode, **args)


OWNER = dict(directory_id=OWNER_ID, target_account_id=ACCOUNT, share_method="HANDSHAKE")
BOTH = dict(OWNER, consumer_access_key="AKIACONSUMER", consumer_secret_key=SECRET)


def shares(stubber, *found, params=None):
    stubber.add_response("describe_shared_directories", {"SharedDirectories": list(found)}, params or LIST)


SHARE_CALL = {"DirectoryId": OWNER_ID, "ShareTarget": {"Id": ACCOUNT, "Type": "ACCOUNT"}, "ShareMethod": "HANDSHAKE"}


# --- owner side -------------------------------------------------------------------------------

def test_check_mode_on_nothing_predicts_a_share_and_shares_nothing(aws):
    shares(aws["owner"])
    result = run(check_mode=True, **dict(BOTH, share_notes=NOTES))
    assert result["changed"] is True and result["share"] == {} and result["shared_directory_id"] is None
    assert result["diff"]["before"] == {} and result["diff"]["after"]["share_method"] == "HANDSHAKE"


def test_one_task_shares_accepts_and_waits_until_shared(aws):
    shares(aws["owner"], share("Rejected", SharedDirectoryId="d-0000000001"))
    aws["owner"].add_response("share_directory", {"SharedDirectoryId": SHARED_ID}, dict(SHARE_CALL, ShareNotes=NOTES))
    shares(aws["owner"], share("Sharing"), params=ONE)
    shares(aws["owner"], share("PendingAcceptance"), params=ONE)
    shares(aws["owner"], share("PendingAcceptance"), params=ONE)
    aws["consumer"].add_response("accept_shared_directory", {"SharedDirectory": share("Sharing")},
                                 {"SharedDirectoryId": SHARED_ID})
    shares(aws["owner"], share("PendingAcceptance"), params=ONE)
    shares(aws["owner"], share("Shared"), params=ONE)
    shares(aws["owner"], share("Shared", ShareNotes=NOTES), params=ONE)
    result = run(**dict(BOTH, share_notes=NOTES, consumer_session_token="token-not-real"))
    assert result["changed"] is True
    assert result["shared_directory_id"] == SHARED_ID and result["share_status"] == "Shared"
    assert result["share"]["shared_account_id"] == ACCOUNT and result["share"]["share_method"] == "HANDSHAKE"
    assert NOTES not in repr(result) and SECRET not in repr(result)
    consumer_credentials = [kw for kw in aws["asked"] if kw.get("aws_access_key_id")]
    assert consumer_credentials == [{"retry_decorator": consumer_credentials[0]["retry_decorator"], "profile_name": None,
                                     "aws_access_key_id": "AKIACONSUMER", "aws_secret_access_key": SECRET,
                                     "aws_session_token": "token-not-real"}]


def test_a_consumer_profile_is_used_for_the_consumer(aws):
    shares(aws["owner"], share("PendingAcceptance"))
    aws["consumer"].add_response("accept_shared_directory", {"SharedDirectory": share("Shared")},
                                 {"SharedDirectoryId": SHARED_ID})
    shares(aws["owner"], share("Shared"), params=ONE)
    shares(aws["owner"], share("Shared"), params=ONE)
    result = run(**dict(OWNER, consumer_profile="app-account"))
    assert result["changed"] is True and result["share_status"] == "Shared"
    assert any(kw.get("profile_name") == "app-account" and kw.get("aws_access_key_id") is None for kw in aws["asked"])


def test_without_consumer_credentials_a_handshake_stops_at_pending_acceptance(aws):
    shares(aws["owner"])
    aws["owner"].add_response("share_directory", {"SharedDirectoryId": SHARED_ID}, SHARE_CALL)
    shares(aws["owner"], share("PendingAcceptance"), params=ONE)
    shares(aws["owner"], share("PendingAcceptance"), params=ONE)
    result = run(**OWNER)
    assert result["changed"] is True and result["share_status"] == "PendingAcceptance"
    assert result["shared_directory_id"] == SHARED_ID


def test_an_organizations_share_needs_no_acceptance(aws):
    shares(aws["owner"])
    aws["owner"].add_response("share_directory", {"SharedDirectoryId": SHARED_ID}, dict(SHARE_CALL, ShareMethod="ORGANIZATIONS"))
    shares(aws["owner"], share("Sharing", "ORGANIZATIONS"), params=ONE)
    shares(aws["owner"], share("Shared", "ORGANIZATIONS"), params=ONE)
    shares(aws["owner"], share("Shared", "ORGANIZATIONS"), params=ONE)
    result = run(**{**BOTH, "share_method": "ORGANIZATIONS"})
    assert result["changed"] is True and result["share_status"] == "Shared"


def test_an_existing_share_is_found_and_left_alone(aws):
    shares(aws["owner"], share("Shared"))
    result = run(**BOTH)
    assert result["changed"] is False and result["shared_directory_id"] == SHARED_ID
    assert result["diff"]["before"] == result["diff"]["after"]


def test_check_mode_on_a_pending_share_predicts_acceptance_and_accepts_nothing(aws):
    shares(aws["owner"], share("PendingAcceptance"))
    result = run(check_mode=True, **BOTH)
    assert result["changed"] is True and result["diff"]["after"]["share_status"] == "Shared"
    assert result["share_status"] == "PendingAcceptance"


def test_consumer_credentials_of_the_wrong_account_are_named(aws):
    shares(aws["owner"], share("PendingAcceptance"))
    aws["consumer"].add_client_error("accept_shared_directory", "EntityDoesNotExistException", "not found",
                                     expected_params={"SharedDirectoryId": SHARED_ID})
    result = run(**BOTH)
    assert result["failed"] and "are the consumer credentials" in result["msg"] and ACCOUNT in result["msg"]
    assert SECRET not in repr(result)


def test_another_share_method_is_refused(aws):
    shares(aws["owner"], share("Shared", "ORGANIZATIONS"))
    result = run(**BOTH)
    assert result["failed"] and "shared with 222233334444 by ORGANIZATIONS, not HANDSHAKE" in result["msg"]


def test_sharing_needs_a_method(aws):
    shares(aws["owner"])
    result = run(directory_id=OWNER_ID, target_account_id=ACCOUNT)
    assert result["failed"] and "give share_method" in result["msg"]


def test_a_rejected_share_while_waiting_is_explained(aws):
    shares(aws["owner"], share("PendingAcceptance"))
    aws["consumer"].add_response("accept_shared_directory", {"SharedDirectory": share("Sharing")},
                                 {"SharedDirectoryId": SHARED_ID})
    shares(aws["owner"], share("Rejected"), params=ONE)
    shares(aws["owner"], share("Rejected"), params=ONE)
    result = run(**BOTH)
    assert result["failed"] and "is Rejected" in result["msg"]


@pytest.mark.parametrize("args, expect", [
    (dict(OWNER, target_account_id="22223333444"), "target_account_id '22223333444' must be a 12-digit AWS account id"),
    (dict(OWNER, directory_id="d-XYZ"), "directory_id 'd-XYZ' is not a directory id"),
    (dict(OWNER, share_notes="n" * 1025), "share_notes must be at most 1024 characters"),
    (dict(share_method="HANDSHAKE"), "directory_id is required with side=owner; target_account_id is required"),
    (dict(OWNER, consumer_access_key="AKIACONSUMER"), "consumer_access_key and consumer_secret_key go together"),
    (dict(BOTH, consumer_profile="app"), "consumer_profile and consumer_access_key/consumer_session_token exclude"),
    (dict(OWNER, consumer_session_token="t"), "consumer_session_token needs consumer_access_key"),
    (dict(OWNER, shared_directory_id=SHARED_ID), "shared_directory_id is for side=consumer"),
    (dict(OWNER, wait_timeout=-1), "wait_timeout must be a positive number"),
    (dict(OWNER, share_method="ACCOUNT"), "share_method must be one of"),
    (dict(side="consumer"), "side=consumer needs directory_id (the owner's directory) or shared_directory_id"),
    (dict(side="consumer", shared_directory_id=SHARED_ID, consumer_profile="x", target_account_id=ACCOUNT),
     "target_account_id, consumer_profile are for side=owner"),
    (dict(side="consumer", shared_directory_id="d-1"), "shared_directory_id 'd-1' is not a directory id"),
])
def test_bad_input_fails_before_any_call(aws, args, expect):
    result = run(**args)
    assert result["failed"] and expect in result["msg"]
    assert SECRET not in result["msg"]


def test_absent_unshares_and_waits_until_gone(aws):
    shares(aws["owner"], share("Shared"))
    aws["owner"].add_response("unshare_directory", {"SharedDirectoryId": SHARED_ID},
                              {"DirectoryId": OWNER_ID, "UnshareTarget": {"Id": ACCOUNT, "Type": "ACCOUNT"}})
    shares(aws["owner"], share("Deleting"), params=ONE)
    shares(aws["owner"], share("Deleted"), params=ONE)
    result = run(directory_id=OWNER_ID, target_account_id=ACCOUNT, state="absent")
    assert result["changed"] is True and result["share"] == {} and result["diff"]["before"]["share_status"] == "Shared"


def test_absent_in_check_mode_unshares_nothing(aws):
    shares(aws["owner"], share("Shared"))
    assert run(check_mode=True, directory_id=OWNER_ID, target_account_id=ACCOUNT, state="absent")["changed"] is True


@pytest.mark.parametrize("found", [(), (share("Deleted"),), (share("Shared", SharedAccountId="999988887777"),)])
def test_absent_on_nothing_changes_nothing(aws, found):
    shares(aws["owner"], *found)
    result = run(directory_id=OWNER_ID, target_account_id=ACCOUNT, state="absent")
    assert result["changed"] is False and result["share"] == {}


# --- consumer side ----------------------------------------------------------------------------

CONSUMER = dict(side="consumer", shared_directory_id=SHARED_ID)
BY_ID = {"DirectoryIds": [SHARED_ID]}


def described(stubber, *found, params=None):
    stubber.add_response("describe_directories", {"DirectoryDescriptions": list(found)}, BY_ID if params is None else params)


def test_the_consumer_accepts_and_waits_until_shared(aws):
    described(aws["owner"], consumer_view("PendingAcceptance"))
    aws["owner"].add_response("accept_shared_directory", {"SharedDirectory": share("Sharing")},
                              {"SharedDirectoryId": SHARED_ID})
    described(aws["owner"], consumer_view("Sharing"))
    described(aws["owner"], consumer_view("Shared"))
    described(aws["owner"], consumer_view("Shared"))
    result = run(**CONSUMER)
    assert result["changed"] is True and result["share_status"] == "Shared" and result["shared_directory_id"] == SHARED_ID
    assert result["share"]["owner_directory_id"] == OWNER_ID and NOTES not in repr(result)


def test_the_consumer_finds_the_share_by_the_owners_directory(aws):
    described(aws["owner"], consumer_view("Shared"), params={})
    result = run(side="consumer", directory_id=OWNER_ID)
    assert result["changed"] is False and result["shared_directory_id"] == SHARED_ID


def test_the_consumer_in_check_mode_accepts_nothing(aws):
    described(aws["owner"], consumer_view("PendingAcceptance"))
    result = run(check_mode=True, **CONSUMER)
    assert result["changed"] is True and result["diff"]["after"]["share_status"] == "Shared"


def test_the_consumer_with_nothing_offered_fails_and_says_what_to_do(aws):
    aws["owner"].add_client_error("describe_directories", "EntityDoesNotExistException", "no", expected_params=BY_ID)
    result = run(**CONSUMER)
    assert result["failed"] and "share it first with the owner account's credentials" in result["msg"]


def test_the_consumer_with_nothing_offered_in_check_mode_predicts_a_share(aws):
    described(aws["owner"], params={})
    result = run(check_mode=True, side="consumer", directory_id=OWNER_ID)
    assert result["changed"] is True


def test_the_consumer_cannot_accept_an_ended_share(aws):
    described(aws["owner"], consumer_view("Deleted"))
    result = run(**CONSUMER)
    assert result["failed"] and "is Deleted: the owner must share the directory again" in result["msg"]


def test_the_consumer_rejects_a_pending_share(aws):
    described(aws["owner"], consumer_view("PendingAcceptance"))
    aws["owner"].add_response("reject_shared_directory", {"SharedDirectoryId": SHARED_ID}, {"SharedDirectoryId": SHARED_ID})
    described(aws["owner"], consumer_view("Rejecting"))
    described(aws["owner"], consumer_view("Rejected"))
    result = run(state="absent", **CONSUMER)
    assert result["changed"] is True and result["share"] == {}


def test_the_consumer_cannot_end_an_accepted_share(aws):
    described(aws["owner"], consumer_view("Shared"))
    result = run(state="absent", **CONSUMER)
    assert result["failed"] and "only the owner can end an accepted share" in result["msg"]


def test_the_consumer_absent_on_nothing_changes_nothing(aws):
    described(aws["owner"], consumer_view("Rejected"))
    assert run(state="absent", **CONSUMER)["changed"] is False


def test_the_consumer_sees_a_share_end_while_waiting(aws):
    described(aws["owner"], consumer_view("PendingAcceptance"))
    aws["owner"].add_response("accept_shared_directory", {"SharedDirectory": share("Sharing")},
                              {"SharedDirectoryId": SHARED_ID})
    described(aws["owner"], consumer_view("ShareFailed"))
    described(aws["owner"], consumer_view("ShareFailed"))
    result = run(**CONSUMER)
    assert result["failed"] and "is ShareFailed" in result["msg"] and result["share"]["share_status"] == "ShareFailed"


def test_a_timeout_says_where_the_share_is(aws, monkeypatch):
    from ansible_collections.aurora.kerberos.plugins.module_utils import ds

    monkeypatch.setattr(ds, "_config", lambda timeout, pause=15: {"Delay": 0, "MaxAttempts": 2})
    shares(aws["owner"])
    aws["owner"].add_response("share_directory", {"SharedDirectoryId": SHARED_ID}, SHARE_CALL)
    for _attempt in range(3):
        shares(aws["owner"], share("Sharing"), params=ONE)
    result = run(**dict(OWNER, wait_timeout=20))
    assert result["failed"] and f"Timed out after 20s waiting for share {SHARED_ID} (share offered); it is Sharing" in result["msg"]


@pytest.mark.parametrize("args, status", [
    (OWNER, "PendingAcceptance"),
    ({**OWNER, "share_method": "ORGANIZATIONS"}, "Shared"),
    (BOTH, "Shared"),
])
def test_check_mode_predicts_where_the_share_will_stop(aws, args, status):
    shares(aws["owner"])
    assert run(check_mode=True, **args)["diff"]["after"]["share_status"] == status
