"""STS as AWS answers it in a Region where STS is deactivated (lab/fidelity/sts.py; AWS_FACTS.md section 3),
probed with plain boto3 against the lab endpoint."""

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labtools import lab_api, unique

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
OFF = "us-west-2"  # a Region where an account may deactivate STS (us-east-1 and opt-in Regions: no)
ON = "us-west-1"


def sts(region, **credentials):
    return boto3.client("sts", region_name=region, config=NO_RETRY, **credentials)


def refusal(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return (caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"],
            caught.value.response["ResponseMetadata"]["HTTPStatusCode"])


@pytest.fixture
def deactivated(lab):
    lab_api(lab, "POST", "faults", {"sts_region_disabled": [OFF]})
    yield
    lab_api(lab, "DELETE", "faults")


@pytest.fixture(scope="module")
def role_arn(lab):
    iam = boto3.client("iam")
    name = unique("lab-sts-")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    yield arn
    iam.delete_role(RoleName=name)


def test_a_deactivated_region_still_answers_get_caller_identity_but_issues_no_credentials(deactivated, role_arn):
    account = sts(OFF).get_caller_identity()["Account"]
    expected = (f"STS is not activated in this region for account:{account}. Your account administrator can "
                "activate STS in this region using the IAM Console.")
    assert refusal(sts(OFF).get_session_token, DurationSeconds=900) == ("RegionDisabledException", expected, 403)
    assert refusal(sts(OFF).assume_role, RoleArn=role_arn, RoleSessionName="lab-sts") == (
        "RegionDisabledException", expected, 403)
    assert refusal(sts(OFF).get_federation_token, Name="fed") == ("RegionDisabledException", expected, 403)
    # Another Region of the same account is untouched.
    assert sts(ON).get_session_token(DurationSeconds=900)["Credentials"]["AccessKeyId"]


def test_without_the_fault_the_region_issues_credentials(lab, role_arn):
    assert sts(OFF).get_session_token(DurationSeconds=900)["Credentials"]["AccessKeyId"]
    assert sts(OFF).assume_role(RoleArn=role_arn, RoleSessionName="lab-sts")["AssumedRoleUser"]["Arn"]


@pytest.mark.parametrize("value", [["us-east-1"], ["af-south-1", OFF], "us-east-1"])
def test_regions_where_sts_cannot_be_deactivated_are_refused(lab, value):
    with pytest.raises(Exception) as caught:
        lab_api(lab, "POST", "faults", {"sts_region_disabled": value})
    assert "400" in str(caught.value)
    assert "sts_region_disabled" not in lab_api(lab, "GET", "faults")


def test_a_roles_session_cannot_call_get_session_token(lab, role_arn):
    credentials = sts(ON).assume_role(RoleArn=role_arn, RoleSessionName="lab-sts")["Credentials"]
    session = sts(ON, aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                  aws_session_token=credentials["SessionToken"])
    assert ":assumed-role/" in session.get_caller_identity()["Arn"]
    assert refusal(session.get_session_token) == (
        "AccessDenied", "Cannot call GetSessionToken with session credentials", 403)
