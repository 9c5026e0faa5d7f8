"""The lab's IAM authorization (lab/fidelity/iam_auth.py, lab/README.md "IAM authorization"): a call signed with an
IAM user's access key is allowed only by that user's policies, and refused as AWS refuses it, in the service's
protocol; the lab's default keys stay all-powerful."""

import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from labtools import lab_api, unique

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
from fidelity import iam_auth  # noqa: E402  (the evaluator alone, for what the API cannot show)

ACCOUNT = "123456789012"  # moto's default account, the lab's


def document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return dict({"Effect": "Allow", "Action": action, "Resource": resource}, **extra)


def deny(action, resource="*"):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


@pytest.fixture
def user(lab):
    """make(*statements, managed=False, group=False) -> (arn, a boto3 Session with the user's keys)."""
    iam = boto3.client("iam")
    made = []

    def make(*statements, managed=False, group=False):
        name = unique("iam-auth-")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        made.append(name)
        if group:
            iam.create_group(GroupName=name)
            iam.add_user_to_group(GroupName=name, UserName=name)
            iam.put_group_policy(GroupName=name, PolicyName="p", PolicyDocument=document(*statements))
        elif managed:
            policy = iam.create_policy(PolicyName=name, PolicyDocument=document(*statements))["Policy"]["Arn"]
            iam.attach_user_policy(UserName=name, PolicyArn=policy)
        else:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document(*statements))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return arn, boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                  region_name=lab["AWS_REGION"])

    yield make
    for name in made:
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        for policy in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
            iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
            iam.delete_policy(PolicyArn=policy["PolicyArn"])
        for policy in iam.list_user_policies(UserName=name)["PolicyNames"]:
            iam.delete_user_policy(UserName=name, PolicyName=policy)
        for group in iam.list_groups_for_user(UserName=name)["Groups"]:
            iam.remove_user_from_group(GroupName=group["GroupName"], UserName=name)
            iam.delete_group_policy(GroupName=group["GroupName"], PolicyName="p")
            iam.delete_group(GroupName=group["GroupName"])
        iam.delete_user(UserName=name)


def refused(call):
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"], error.value.response["ResponseMetadata"]["HTTPStatusCode"]


def implicit(arn, action, resource=None):
    on = f" on resource: {resource}" if resource else ""
    return f"User: {arn} is not authorized to perform: {action}{on} because no identity-based policy allows the {action} action"


def test_a_policy_allows_its_actions_and_nothing_else(lab, user):
    arn, session = user(allow("rds:DescribeDBClusters"))
    assert session.client("rds").describe_db_clusters()["DBClusters"] is not None
    error, status = refused(lambda: session.client("rds").describe_db_instances())
    assert (error["Code"], error["Type"], status) == ("AccessDenied", "Sender", 403)
    assert error["Message"] == implicit(arn, "rds:DescribeDBInstances")


def test_each_protocol_refuses_in_its_own_shape(lab, user):
    arn, session = user(allow("sts:GetSessionToken"))
    region = lab["AWS_REGION"]
    # query (iam, rds, sts): AccessDenied, HTTP 403, Type Sender, naming the resource's ARN
    error, status = refused(lambda: session.client("iam").get_role(RoleName="any-role"))
    assert (error["Code"], error["Type"], status) == ("AccessDenied", "Sender", 403)
    assert error["Message"] == implicit(arn, "iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/any-role")
    # ec2: UnauthorizedOperation, HTTP 403, no Type
    error, status = refused(lambda: session.client("ec2").describe_subnets())
    assert (error["Code"], status, "Type" in error) == ("UnauthorizedOperation", 403, False)
    assert error["Message"] == "You are not authorized to perform this operation. " + implicit(arn, "ec2:DescribeSubnets")
    # JSON (ds, secretsmanager): AccessDeniedException, HTTP 400
    error, status = refused(lambda: session.client("ds").delete_directory(DirectoryId="d-1234567890"))
    assert (error["Code"], status) == ("AccessDeniedException", 400)
    assert error["Message"] == implicit(arn, "ds:DeleteDirectory", f"arn:aws:ds:{region}:{ACCOUNT}:directory/d-1234567890")
    error, status = refused(lambda: session.client("secretsmanager").get_secret_value(SecretId="rds!cluster-x"))
    assert (error["Code"], status) == ("AccessDeniedException", 400)
    assert error["Message"] == implicit(arn, "secretsmanager:GetSecretValue",
                                        f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:rds!cluster-x")
    # ds-data (rest-json): its model's AccessDeniedException, HTTP 403, Reason IAM_AUTH; the prefix is ds-data
    with pytest.raises(ClientError) as error:
        session.client("ds-data").list_users(DirectoryId="d-1234567890")
    body = error.value.response
    assert (body["Error"]["Code"], body["ResponseMetadata"]["HTTPStatusCode"], body["Reason"]) == \
        ("AccessDeniedException", 403, "IAM_AUTH")
    assert body["Error"]["Message"] == implicit(arn, "ds-data:ListUsers",
                                                f"arn:aws:ds:{region}:{ACCOUNT}:directory/d-1234567890")
    # the allowed one goes through
    assert session.client("sts").get_session_token()["Credentials"]["AccessKeyId"]


def test_an_explicit_deny_wins_over_any_allow(lab, user):
    arn, session = user(allow("*"), deny("ec2:Describe*"), managed=True)
    assert session.client("rds").describe_db_clusters()["DBClusters"] is not None
    error, status = refused(lambda: session.client("ec2").describe_vpcs())
    assert error["Message"] == ("You are not authorized to perform this operation. User: " + arn
                                + " is not authorized to perform: ec2:DescribeVpcs with an explicit deny in an "
                                "identity-based policy")


def test_wildcards_and_case_in_actions(lab, user):
    arn, session = user(allow(["RDS:describe*", "ec2:Describe?pcs"]))
    assert session.client("rds").describe_db_subnet_groups()["DBSubnetGroups"] is not None
    assert session.client("ec2").describe_vpcs()["Vpcs"]
    error, dummy = refused(lambda: session.client("ec2").describe_subnets())
    assert "ec2:DescribeSubnets" in error["Message"]


def test_resources_are_scoped_by_arn_and_every_resource_of_the_call_counts(lab, user):
    arn, session = user(allow("rds:CreateDBCluster", ["arn:aws:rds:*:*:cluster:scoped-*",
                                                      f"arn:aws:rds:*:{ACCOUNT}:subgrp:{lab['LAB_DB_SUBNET_GROUP']}"]),
                        group=True)
    rds = session.client("rds")
    args = dict(Engine="aurora-postgresql", EngineVersion="16.6", MasterUsername="scoped",
                MasterUserPassword="Scoped-password-1")
    name = unique("scoped-")
    try:
        rds.create_db_cluster(DBClusterIdentifier=name, DBSubnetGroupName=lab["LAB_DB_SUBNET_GROUP"], **args)
    finally:
        boto3.client("rds").delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    region = lab["AWS_REGION"]
    error, status = refused(lambda: rds.create_db_cluster(DBClusterIdentifier="Other-1", **args))
    # rds ARNs carry the identifier in lower case, as rds stores it
    assert error["Message"] == implicit(arn, "rds:CreateDBCluster", f"arn:aws:rds:{region}:{ACCOUNT}:cluster:other-1")
    error, status = refused(lambda: rds.create_db_cluster(DBClusterIdentifier=unique("scoped-"),
                                                          DBSubnetGroupName="another-group", **args))
    assert error["Message"] == implicit(arn, "rds:CreateDBCluster", f"arn:aws:rds:{region}:{ACCOUNT}:subgrp:another-group")


def test_the_default_keys_stay_all_powerful_and_get_caller_identity_needs_no_permission(lab, user):
    arn, session = user(deny("*"))
    assert session.client("sts").get_caller_identity()["Arn"] == arn
    error, dummy = refused(lambda: session.client("rds").describe_db_clusters())
    assert "with an explicit deny" in error["Message"]
    lab_api(lab, "DELETE", "calls")
    assert boto3.client("ec2").describe_vpcs()["Vpcs"]
    assert boto3.client("iam").list_users()["Users"]
    calls = lab_api(lab, "GET", "calls")["calls"]
    assert [(c["operation"], c["denied"]) for c in calls] == [("DescribeVpcs", False), ("ListUsers", False)]


def test_the_call_log_marks_denied_calls(lab, user):
    arn, session = user(allow("ds:DescribeDirectories"))
    lab_api(lab, "DELETE", "calls")
    session.client("ds").describe_directories()
    refused(lambda: session.client("ds").describe_trusts())
    calls = lab_api(lab, "GET", "calls")["calls"]
    assert [(c["operation"], c["status"], c["denied"]) for c in calls] == \
        [("DescribeDirectories", 200, False), ("DescribeTrusts", 400, True)]


def test_statements_the_lab_cannot_evaluate_never_allow_and_their_denies_deny():
    """Condition, NotAction and NotResource: the lab never allows what AWS might refuse."""
    conditional = {"Statement": [allow("rds:*", Condition={"Bool": {"aws:SecureTransport": "true"}})]}
    assert iam_auth.decide([conditional], "rds:DescribeDBClusters", "*") == "implicit"
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert iam_auth.decide([not_action], "rds:DescribeDBClusters", "*") == "implicit"
    deny_not_action = {"Statement": [allow("*"), {"Effect": "Deny", "NotAction": "rds:*", "Resource": "*"}]}
    assert iam_auth.decide([deny_not_action], "rds:DescribeDBClusters", "*") == "deny"
    assert iam_auth.decide([{"Statement": allow("rds:*")}], "rds:DescribeDBClusters", "*") == "allow"
