"""The endpoint's own layer: the call log counts what a run did, and throttling can be injected."""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labtools import lab_api

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # max_attempts=1 still retries once


@pytest.fixture
def clean_faults(lab):
    lab_api(lab, "DELETE", "faults")
    yield
    lab_api(lab, "DELETE", "faults")


def test_call_log_records_service_operation_and_mutation(lab, clean_faults):
    lab_api(lab, "DELETE", "calls")
    boto3.client("sts").get_caller_identity()
    boto3.client("ec2").create_vpc(CidrBlock="10.99.0.0/16")
    boto3.client("ds").describe_directories()
    calls = [(c["service"], c["operation"], c["mutating"], c["status"]) for c in lab_api(lab, "GET", "calls")["calls"]]
    assert calls == [("sts", "GetCallerIdentity", False, 200), ("ec2", "CreateVpc", True, 200),
                     ("ds", "DescribeDirectories", False, 200)]
    assert lab_api(lab, "DELETE", "calls")["calls"] == []


@pytest.mark.parametrize("service, call, code", [
    ("ec2", lambda c: c.describe_vpcs(), "RequestLimitExceeded"),
    ("iam", lambda c: c.list_roles(), "Throttling"),
    ("rds", lambda c: c.describe_db_clusters(), "Throttling"),
    ("ds", lambda c: c.describe_directories(), "ThrottlingException"),
])
def test_full_throttling_answers_with_each_protocols_throttle_error(lab, clean_faults, service, call, code):
    lab_api(lab, "POST", "faults", {"throttle": {service: 100}})
    with pytest.raises(ClientError) as caught:
        call(boto3.client(service, config=NO_RETRY))
    assert caught.value.response["Error"]["Code"] == code


def test_partial_throttling_is_survived_by_the_sdk_retries(lab, clean_faults):
    lab_api(lab, "POST", "faults", {"throttle": {"iam": 30}})
    lab_api(lab, "DELETE", "calls")
    client = boto3.client("iam", config=Config(retries={"max_attempts": 10, "mode": "standard"}))
    for dummy in range(50):
        client.list_roles()
    statuses = [c["status"] for c in lab_api(lab, "GET", "calls")["calls"]]
    assert statuses.count(200) == 50
    assert 0 < len(statuses) - 50 < 100  # some were throttled (about 21 expected), then retried


def test_knobs_can_be_read_and_set(lab):
    knobs = lab_api(lab, "GET", "knobs")
    assert set(knobs) >= {"directory_seconds", "trust_seconds", "join_seconds", "cluster_seconds"}
    try:
        assert lab_api(lab, "POST", "knobs", {"join_seconds": 7})["join_seconds"] == 7
    finally:
        lab_api(lab, "POST", "knobs", {"join_seconds": knobs["join_seconds"]})
