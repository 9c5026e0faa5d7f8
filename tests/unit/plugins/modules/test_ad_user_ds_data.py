# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.ad_user with backend ds_data, against botocore's Stubber: every request is
checked against the ds and ds-data models, and a call the test did not expect fails it."""

import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import ANY

from aws_stubs import assert_all_used, capture_warnings, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.module_utils import ds_data
from ansible_collections.aurora.kerberos.plugins.modules import ad_user

ID = "d-1234567890"
PASSWORD = "Corr3ct-Horse!"
SID = "S-1-5-21-2127521184-1604012920-1887927527-1105"
DN = "CN=alice,OU=Users,OU=CORP,DC=corp,DC=example,DC=com"
DESCRIBE = {"DirectoryId": ID, "SAMAccountName": "alice", "OtherAttributes": ["msDS-SupportedEncryptionTypes", "pwdLastSet"]}


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "ds", "ds-data")
    monkeypatch.setattr(ds_data.time, "sleep", lambda seconds: None)
    warnings = capture_warnings(monkeypatch)
    yield dict(stubbers, warnings=warnings)
    assert_all_used(stubbers)


def run(check_mode=False, **args):
    return run_module(ad_user.main, check_mode,
                      **dict({"backend": "ds_data", "directory_id": ID, "domain": "corp.example.com"}, **args))


def directory(aws, access="Enabled", edition="Standard"):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [
        {"DirectoryId": ID, "Name": "corp.example.com", "Edition": edition, "Stage": "Active"}]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": access}, {"DirectoryId": ID})


def user(enabled=True, given_name="Alice", encryption=24, pwd_last_set="133100000000000000"):
    answer = {"DirectoryId": ID, "SAMAccountName": "alice", "SID": SID, "DistinguishedName": DN, "Enabled": enabled,
              "UserPrincipalName": "alice@CORP.EXAMPLE.COM", "Realm": "corp.example.com",
              "OtherAttributes": {"pwdLastSet": {"S": pwd_last_set}}}
    if given_name:
        answer["GivenName"] = given_name
    if encryption:
        answer["OtherAttributes"]["msDS-SupportedEncryptionTypes"] = {"N": encryption}
    return answer


def missing(aws):
    aws["ds-data"].add_client_error("describe_user", "ResourceNotFoundException", "no such user", 404,
                                    expected_params=DESCRIBE)


def test_check_mode_predicts_a_user_and_writes_nothing(aws):
    directory(aws)
    missing(aws)
    result = run(check_mode=True, name="alice", password=PASSWORD, given_name="Alice")
    assert result["changed"] is True
    assert result["user"]["dn"] == DN and result["user"]["sid"] is None and result["user"]["enabled"] is True
    assert result["user"]["user_principal_name"] == "alice@CORP.EXAMPLE.COM"
    assert PASSWORD not in repr(result)


def test_create_then_reset_password_enables_the_user(aws):
    directory(aws)
    missing(aws)
    aws["ds-data"].add_response("create_user", {"DirectoryId": ID, "SAMAccountName": "alice", "SID": SID}, {
        "DirectoryId": ID, "SAMAccountName": "alice", "GivenName": "Alice", "ClientToken": ANY,
        "OtherAttributes": {"msDS-SupportedEncryptionTypes": {"N": 24}}})
    aws["ds"].add_response("reset_user_password", {}, {"DirectoryId": ID, "UserName": "alice", "NewPassword": PASSWORD})
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    result = run(name="alice", password=PASSWORD, given_name="Alice")
    assert result["changed"] is True
    assert result["user"]["sid"] == SID and result["user"]["enabled"] is True
    assert result["user"]["supported_encryption_types"] == ["aes128", "aes256"]
    assert result["diff"]["before"] == {}


def test_create_disabled_resets_then_disables(aws):
    directory(aws)
    missing(aws)
    aws["ds-data"].add_response("create_user", {"SID": SID}, {
        "DirectoryId": ID, "SAMAccountName": "alice", "ClientToken": ANY,
        "OtherAttributes": {"msDS-SupportedEncryptionTypes": {"N": 24}}})
    aws["ds"].add_response("reset_user_password", {}, {"DirectoryId": ID, "UserName": "alice", "NewPassword": PASSWORD})
    aws["ds-data"].add_response("disable_user", {}, {"DirectoryId": ID, "SAMAccountName": "alice", "ClientToken": ANY})
    aws["ds-data"].add_response("describe_user", user(enabled=False, given_name=None), DESCRIBE)
    result = run(name="alice", password=PASSWORD, enabled=False)
    assert result["changed"] is True and result["user"]["enabled"] is False


def test_create_without_password_stays_disabled_and_warns(aws):
    directory(aws)
    missing(aws)
    aws["ds-data"].add_response("create_user", {"SID": SID}, {
        "DirectoryId": ID, "SAMAccountName": "alice", "ClientToken": ANY,
        "OtherAttributes": {"msDS-SupportedEncryptionTypes": {"N": 24}}})
    aws["ds-data"].add_response("describe_user", user(enabled=False, pwd_last_set="0"), DESCRIBE)
    result = run(name="alice")
    assert result["changed"] is True and result["user"]["enabled"] is False
    assert "no password" in aws["warnings"][0]


def test_rerun_is_unchanged_and_never_resets_the_password(aws):
    directory(aws)
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    result = run(name="alice", password=PASSWORD, given_name="Alice")
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]


def test_update_password_always_sets_it_every_run(aws):
    directory(aws)
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    aws["ds"].add_response("reset_user_password", {}, {"DirectoryId": ID, "UserName": "alice", "NewPassword": PASSWORD})
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    result = run(name="alice", password=PASSWORD, update_password="always")
    assert result["changed"] is True


def test_update_adds_replaces_and_clears_attributes(aws):
    """The model's UpdateType per attribute (AWS_FACTS.md section 7): ADD for Surname, which has no value yet;
    REPLACE for the encryption types, which have one; REMOVE to clear GivenName."""
    directory(aws)
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    aws["ds-data"].add_response("update_user", {}, {
        "DirectoryId": ID, "SAMAccountName": "alice", "UpdateType": "ADD", "Surname": "Example", "ClientToken": ANY})
    aws["ds-data"].add_response("update_user", {}, {
        "DirectoryId": ID, "SAMAccountName": "alice", "UpdateType": "REPLACE", "ClientToken": ANY,
        "OtherAttributes": {"msDS-SupportedEncryptionTypes": {"N": 16}}})
    aws["ds-data"].add_response("update_user", {}, {
        "DirectoryId": ID, "SAMAccountName": "alice", "UpdateType": "REMOVE", "GivenName": "Alice",
        "ClientToken": ANY})
    aws["ds-data"].add_response("describe_user", user(given_name=None, encryption=16), DESCRIBE)
    result = run(name="alice", given_name="", surname="Example", supported_encryption_types=["aes256"])
    assert result["changed"] is True
    assert result["diff"]["before"]["given_name"] == "Alice" and result["diff"]["after"]["given_name"] is None


def test_encryption_types_set_for_the_first_time_are_added(aws):
    directory(aws)
    aws["ds-data"].add_response("describe_user", user(encryption=0), DESCRIBE)
    aws["ds-data"].add_response("update_user", {}, {
        "DirectoryId": ID, "SAMAccountName": "alice", "UpdateType": "ADD", "ClientToken": ANY,
        "OtherAttributes": {"msDS-SupportedEncryptionTypes": {"N": 24}}})
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    assert run(name="alice")["changed"] is True


def test_a_new_user_is_waited_for_until_ds_and_ds_data_see_it(aws):
    """Right after CreateUser, ds ResetUserPassword may answer UserDoesNotExistException and ds-data
    ResourceNotFoundException (AWS_FACTS.md section 7): both are retried, bounded."""
    directory(aws)
    missing(aws)
    aws["ds-data"].add_response("create_user", {"DirectoryId": ID, "SAMAccountName": "alice", "SID": SID}, {
        "DirectoryId": ID, "SAMAccountName": "alice", "ClientToken": ANY,
        "OtherAttributes": {"msDS-SupportedEncryptionTypes": {"N": 24}}})
    reset = {"DirectoryId": ID, "UserName": "alice", "NewPassword": PASSWORD}
    for dummy in range(2):
        aws["ds"].add_client_error("reset_user_password", "UserDoesNotExistException", "no such user", 400,
                                   expected_params=reset)
    aws["ds"].add_response("reset_user_password", {}, reset)
    aws["ds-data"].add_client_error("describe_user", "ResourceNotFoundException", "not yet", 404,
                                    expected_params=DESCRIBE)
    aws["ds-data"].add_response("describe_user", user(given_name=None), DESCRIBE)
    result = run(name="alice", password=PASSWORD)
    assert result["changed"] is True and result["user"]["sid"] == SID


def test_data_access_just_enabled_is_waited_for(aws):
    """Right after EnableDirectoryDataAccess, ds-data may still answer AccessDeniedException DATA_DISABLED."""
    directory(aws)
    aws["ds-data"].add_client_error("describe_user", "AccessDeniedException", "data access is disabled", 403,
                                    expected_params=DESCRIBE, modeled_fields={"Reason": "DATA_DISABLED"})
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    assert run(name="alice")["changed"] is False


def test_the_wait_for_consistency_is_bounded(aws, monkeypatch):
    """With a clock that moves 5 s per read, a DATA_DISABLED that never ends fails after consistency_timeout."""
    ticks = iter(range(0, 1000, 5))
    real_init = ds_data.DirectoryData.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **dict(kwargs, clock=lambda: next(ticks)))

    monkeypatch.setattr(ds_data.DirectoryData, "__init__", init)
    directory(aws)
    for dummy in range(3):
        aws["ds-data"].add_client_error("describe_user", "AccessDeniedException", "data access is disabled", 403,
                                        expected_params=DESCRIBE, modeled_fields={"Reason": "DATA_DISABLED"})
    result = run(name="alice", consistency_timeout=12)
    assert result["failed"] and "AccessDeniedException" in result["msg"]


def test_update_in_check_mode_writes_nothing(aws):
    directory(aws)
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    result = run(check_mode=True, name="alice", given_name="Alicia", enabled=False, password=PASSWORD,
                 update_password="always")
    assert result["changed"] is True
    assert result["user"]["given_name"] == "Alicia" and result["user"]["enabled"] is False


def test_enable_needs_the_password(aws):
    directory(aws)
    aws["ds-data"].add_response("describe_user", user(enabled=False), DESCRIBE)
    result = run(name="alice")
    assert result["changed"] is False and result["user"]["enabled"] is False
    assert "give password" in aws["warnings"][0]


def test_enable_with_password_resets_it(aws):
    directory(aws)
    aws["ds-data"].add_response("describe_user", user(enabled=False), DESCRIBE)
    aws["ds"].add_response("reset_user_password", {}, {"DirectoryId": ID, "UserName": "alice", "NewPassword": PASSWORD})
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    result = run(name="alice", password=PASSWORD)
    assert result["changed"] is True and result["user"]["enabled"] is True


def test_disable(aws):
    directory(aws)
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    aws["ds-data"].add_response("disable_user", {}, {"DirectoryId": ID, "SAMAccountName": "alice", "ClientToken": ANY})
    aws["ds-data"].add_response("describe_user", user(enabled=False), DESCRIBE)
    result = run(name="alice", enabled=False)
    assert result["changed"] is True and result["user"]["enabled"] is False


@pytest.mark.parametrize("exists", [True, False])
def test_delete(aws, exists):
    directory(aws)
    if exists:
        aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
        aws["ds-data"].add_response("delete_user", {}, {"DirectoryId": ID, "SAMAccountName": "alice", "ClientToken": ANY})
    else:
        missing(aws)
    result = run(name="alice", state="absent")
    assert result["changed"] is exists and result["user"] == {}


def test_enable_data_access_turns_it_on_and_waits(aws):
    directory(aws, access="Disabled")
    aws["ds"].add_response("enable_directory_data_access", {}, {"DirectoryId": ID})
    aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Enabling"}, {"DirectoryId": ID})
    aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Enabled"}, {"DirectoryId": ID})
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    result = run(name="alice", enable_data_access=True)
    assert result["changed"] is True


def test_enable_data_access_in_check_mode_writes_nothing(aws):
    directory(aws, access="Disabled")
    result = run(check_mode=True, name="alice", enable_data_access=True)
    assert result["changed"] is True and result["user"]["sid"] is None


def test_data_access_off_fails_with_the_fix(aws):
    directory(aws, access="Disabled")
    result = run(name="alice")
    assert result["failed"] and "enable_data_access=true" in result["msg"]


def test_throttling_is_retried(aws):
    directory(aws)
    aws["ds-data"].add_client_error("describe_user", "ThrottlingException", "Rate exceeded", 429, expected_params=DESCRIBE)
    aws["ds-data"].add_response("describe_user", user(), DESCRIBE)
    result = run(name="alice", given_name="Alice")
    assert result["changed"] is False


def test_api_error_is_a_clear_failure(aws):
    directory(aws)
    aws["ds-data"].add_client_error("describe_user", "AccessDeniedException", "DIRECTORY_AUTH", 403,
                                    expected_params=DESCRIBE)
    result = run(name="alice")
    assert result["failed"] and "Failed to describe the user" in result["msg"]


@pytest.mark.parametrize("args, words", [
    (dict(ou="OU=Other,DC=corp,DC=example,DC=com"), "ou is not supported with backend=ds_data"),
    (dict(user_principal_name="alice@example.net"), "cannot be set with backend=ds_data"),
    (dict(directory_id="d-123"), "directory_id 'd-123' is not a directory id"),
])
def test_bad_input_is_named(aws, args, words):
    result = run(**dict(dict(name="alice"), **args))
    assert result["failed"] and words in result["msg"]


def test_directory_id_is_required():
    with patch_module_args({"name": "alice", "backend": "ds_data", "domain": "corp.example.com"}):
        with pytest.raises(SystemExit):
            ad_user.main()
