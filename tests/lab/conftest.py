"""tests/lab probe each AWS behaviour on its own. A new IAM role is not usable by RDS for the lab's knob
iam_propagation_seconds (IAM's eventual consistency, AWS_FACTS.md section 3): tests that are not about that
create a role and join at once, so they run with the knob at 0. test_iam_propagation.py sets it itself.

Also an Active directory and IAM roles for RDS, made for one test and removed after it."""

import json

import boto3
import pytest

from labtools import current_env, lab_api, poll, unique

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
    "Service": ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]}}]}
POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"


@pytest.fixture(autouse=True)
def iam_roles_propagate_at_once(request):
    if "lab" not in request.fixturenames:
        yield
        return
    lab = request.getfixturevalue("lab")
    saved = lab_api(lab, "GET", "knobs").get("iam_propagation_seconds")
    if saved is None:  # an endpoint started before the knob existed: nothing to turn off
        yield
        return
    lab_api(lab, "POST", "knobs", {"iam_propagation_seconds": 0})
    yield
    lab_api(lab, "POST", "knobs", {"iam_propagation_seconds": saved})


@pytest.fixture
def fresh_directory(lab):
    ds = boto3.client("ds")
    subnets = lab["LAB_SUBNET_IDS"].split(",")
    directory_id = ds.create_microsoft_ad(Name=lab["LAB_AD_DOMAIN"], Password=current_env(lab)["LAB_AD_ADMIN_PASSWORD"],
                                          Edition="Standard",
                                          VpcSettings={"VpcId": lab["LAB_VPC_ID"], "SubnetIds": subnets})["DirectoryId"]
    poll(lambda: ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]["Stage"] == "Active",
         60, "Active")
    yield directory_id
    ds.delete_directory(DirectoryId=directory_id)


@pytest.fixture
def new_role(lab):
    iam = boto3.client("iam")
    made = []

    def make():
        name = unique("lab-prop-")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.attach_role_policy(RoleName=name, PolicyArn=POLICY)
        made.append(name)
        return name

    yield make
    for name in made:
        iam.detach_role_policy(RoleName=name, PolicyArn=POLICY)
        iam.delete_role(RoleName=name)
