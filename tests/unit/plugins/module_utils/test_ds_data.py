# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""module_utils/ds_data.py: the rate limiter, data access and DirectoryData, with botocore's Stubber."""

import boto3
import botocore.waiter
import pytest
from botocore.stub import ANY
from botocore.stub import Stubber

from ansible_collections.aurora.kerberos.plugins.module_utils import ds_data

ID = "d-1234567890"


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.mark.parametrize("edition, write_gap, read_gap", [
    ("Standard", 0.25, 0.125), ("Enterprise", 0.125, 0.0625), ("Hybrid", 0.125, 0.0625), (None, 0.25, 0.125),
])
def test_rate_limiter_keeps_to_the_documented_tps(edition, write_gap, read_gap):
    limiter = ds_data.RateLimiter.for_edition(edition)
    clock = Clock()
    limiter.clock, limiter.sleep = clock.time, clock.sleep
    for call in range(3):
        limiter.wait(True)
    limiter.wait(False)
    limiter.wait(False)
    assert clock.slept == [write_gap, write_gap, read_gap]


def test_rate_limiter_does_not_wait_when_calls_are_far_apart():
    clock = Clock()
    limiter = ds_data.RateLimiter(4, 8, clock=clock.time, sleep=clock.sleep)
    limiter.wait(True)
    clock.now += 1
    limiter.wait(True)
    assert clock.slept == []


@pytest.fixture
def clients(monkeypatch):
    made = {name: boto3.client(name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
            for name in ("ds", "ds-data")}
    stubbers = {name: Stubber(client) for name, client in made.items()}
    for stubber in stubbers.values():
        stubber.activate()
    monkeypatch.setattr(botocore.waiter.time, "sleep", lambda seconds: None)
    yield made, stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()


def test_describe_edition_of_a_missing_directory_says_so(clients):
    made, stubbers = clients
    stubbers["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {"DirectoryIds": [ID]})
    with pytest.raises(ds_data.AnsibleDSDataError, match="does not exist in this account"):
        ds_data.describe_edition(made["ds"], ID)


@pytest.mark.parametrize("status, enable, check_mode, expected", [
    ("Enabled", False, False, (False, True)),
    ("Disabled", True, True, (True, False)),
])
def test_ensure_data_access_without_writes(clients, status, enable, check_mode, expected):
    made, stubbers = clients
    stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": status}, {"DirectoryId": ID})
    assert ds_data.ensure_data_access(made["ds"], ID, enable, check_mode) == expected


def test_ensure_data_access_waits_for_one_already_enabling(clients):
    made, stubbers = clients
    for status in ("Enabling", "Enabling", "Enabled"):
        stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": status}, {"DirectoryId": ID})
    assert ds_data.ensure_data_access(made["ds"], ID, True, False) == (True, True)


def test_ensure_data_access_waits_out_disabling_before_it_enables(clients):
    """DataAccessStatus Disabling (ds model: Disabled | Disabling | Enabled | Enabling | Failed) cannot be
    enabled yet: wait until Disabled, then enable and wait until Enabled."""
    made, stubbers = clients
    for status in ("Disabling", "Disabling", "Disabled"):
        stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": status}, {"DirectoryId": ID})
    stubbers["ds"].add_response("enable_directory_data_access", {}, {"DirectoryId": ID})
    for status in ("Enabling", "Enabled"):
        stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": status}, {"DirectoryId": ID})
    assert ds_data.ensure_data_access(made["ds"], ID, True, False, timeout=60, poll_interval=15) == (True, True)


def test_a_data_access_that_stays_disabling_times_out_with_the_reason(clients):
    made, stubbers = clients
    for dummy in range(1 + 5):  # the first read, then 5 polls 15 s apart (60 s)
        stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Disabling"},
                                    {"DirectoryId": ID})
    with pytest.raises(ds_data.AnsibleDSDataError, match="did not become Disabled within 60s"):
        ds_data.ensure_data_access(made["ds"], ID, True, False, timeout=60, poll_interval=15)


def test_ensure_data_access_failing_is_reported(clients):
    made, stubbers = clients
    stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Disabled"}, {"DirectoryId": ID})
    stubbers["ds"].add_response("enable_directory_data_access", {}, {"DirectoryId": ID})
    stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Failed"}, {"DirectoryId": ID})
    with pytest.raises(ds_data.AnsibleDSDataError, match="did not become Enabled"):
        ds_data.ensure_data_access(made["ds"], ID, True, False)


def test_ensure_data_access_off_and_not_asked_names_the_option(clients):
    made, stubbers = clients
    stubbers["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Disabling"}, {"DirectoryId": ID})
    with pytest.raises(ds_data.AnsibleDSDataError, match="enable_data_access=true"):
        ds_data.ensure_data_access(made["ds"], ID, False, False)


def test_every_call_goes_through_the_limiter_and_writes_carry_a_client_token(clients, monkeypatch):
    made, stubbers = clients
    calls = []

    class Limiter:
        def wait(self, writes):
            calls.append(writes)

    data = ds_data.DirectoryData(made["ds-data"], made["ds"], ID, Limiter())
    stubbers["ds-data"].add_response("delete_user", {}, {"DirectoryId": ID, "SAMAccountName": "a", "ClientToken": ANY})
    stubbers["ds"].add_response("reset_user_password", {}, {"DirectoryId": ID, "UserName": "a", "NewPassword": "P4ss-word!"})
    stubbers["ds-data"].add_response("list_group_members", {"Members": []},
                                     {"DirectoryId": ID, "SAMAccountName": "g", "MaxResults": 250})
    data.delete_user("a", False)
    data.set_password("a", "P4ss-word!", False)
    assert data.list_members("g") == []
    assert calls == [True, True, False]


def test_check_mode_makes_no_call(clients):
    made, _stubbers = clients
    data = ds_data.DirectoryData(made["ds-data"], made["ds"], ID, ds_data.RateLimiter(4, 8))
    group = {"name": "g", "group_type": "Security", "group_scope": "Global", "description": None}
    assert data.create_user("a", {}, True) is None
    assert data.disable_user("a", True) and data.delete_user("a", True) and data.set_password("a", "x", True)
    assert data.create_group("g", "Security", "Global", None, True) is None
    assert data.update_group(group, "Distribution", "Universal", "d", True) == ["group_type", "group_scope", "description"]
    assert data.change_members(group, ["a"], [], True) and not data.change_members(group, [], [], True)
    assert data.delete_group(group, True)


def test_throttling_is_retried_then_reported(clients, monkeypatch):
    made, stubbers = clients
    monkeypatch.setattr(ds_data, "retry", ds_data.jittered_backoff(retries=2, delay=0, max_delay=0))
    data = ds_data.DirectoryData(made["ds-data"], made["ds"], ID, ds_data.RateLimiter(1000, 1000))
    params = {"DirectoryId": ID, "SAMAccountName": "a", "ClientToken": ANY}
    for attempt in range(2):  # retries=2: the call and one retry
        stubbers["ds-data"].add_client_error("disable_user", "ThrottlingException", "Rate exceeded", 429,
                                             expected_params=params)
    with pytest.raises(ds_data.AnsibleDSDataError, match="Failed to disable the user"):
        data.disable_user("a", False)


def test_encryption_types_round_trip():
    assert ds_data.encryption_types_to_int(["aes128", "aes256"]) == 24
    assert ds_data.encryption_types_from_int(28) == ["aes128", "aes256", "rc4"]
    assert ds_data.encryption_types_from_int(0) == []
