"""IAM's eventual consistency as RDS sees it (lab/fidelity/rds.py; AWS_FACTS.md section 3): a role RDS is
given within the knob iam_propagation_seconds of CreateRole is refused as "IAM role provided is not valid",
and the same call succeeds once the role has propagated."""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labtools import current_env, lab_api, unique

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
INVALID = "IAM role provided is not valid, please check that the role exists and has the correct policies"


@pytest.fixture
def propagation(lab):
    """Roles take an hour to propagate here: a role made in the test is certainly new, one made before it old."""
    lab_api(lab, "POST", "knobs", {"iam_propagation_seconds": 3600})
    yield
    lab_api(lab, "POST", "knobs", {"iam_propagation_seconds": 0})


def test_a_new_role_is_not_valid_for_rds_until_it_has_propagated(lab, fresh_directory, new_role, propagation):
    rds = boto3.client("rds", config=NO_RETRY)
    name = new_role()
    cluster_id = unique("lab-prop-")
    master = current_env(lab)  # the contract's master user, with the password it has now: nothing changes
    args = dict(DBClusterIdentifier=cluster_id, Engine="aurora-postgresql", EngineVersion="16.6",
                MasterUsername=master["LAB_PG_MASTER_USER"], MasterUserPassword=master["LAB_PG_MASTER_PASSWORD"],
                DBSubnetGroupName=lab["LAB_DB_SUBNET_GROUP"], Domain=fresh_directory, DomainIAMRoleName=name)
    with pytest.raises(ClientError) as caught:
        rds.create_db_cluster(**args)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert caught.value.response["Error"]["Message"] == INVALID
    assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == cluster_id]
    # The same role, once IAM has propagated it (the knob back to 0), is accepted.
    lab_api(lab, "POST", "knobs", {"iam_propagation_seconds": 0})
    created = rds.create_db_cluster(**args)["DBCluster"]
    try:
        assert created["DomainMemberships"][0]["IAMRoleName"] == name
    finally:
        rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
