"""DB cluster parameter groups, reboots and the pg_ad_mapping extension as AWS requires them
(lab/fidelity/rds_params.py, lab/postgres; AWS_FACTS.md sections 5 and 6), probed with plain boto3 against
the lab endpoint and with psycopg2 against each cluster's own PostgreSQL, at the endpoint name and port the API gives."""


import boto3
import psycopg2
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labtools import (address_of, cluster_env, create_ad_user, current_env, delete_ad_user, kinit, lab_api, member_cluster, pg_connect,
                      poll, unique)

ENGINE = "aurora-postgresql"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def rds(lab):
    saved = lab_api(lab, "GET", "knobs")
    lab_api(lab, "POST", "knobs", {"cluster_seconds": 0.3, "reboot_seconds": 0.5})
    yield boto3.client("rds", config=NO_RETRY)
    lab_api(lab, "POST", "knobs", {k: saved[k] for k in ("cluster_seconds", "reboot_seconds")})


@pytest.fixture
def made(rds):
    """A cluster with its writer, and parameter groups, deleted after the test."""
    made = {"clusters": [], "groups": []}

    def cluster(**kwargs):
        cluster_id, user, secret = unique("lab-pg-"), unique("m_"), f"Lab-{unique('')}-Pw9"
        rds.create_db_cluster(DBClusterIdentifier=cluster_id, Engine=ENGINE, EngineVersion="16.6", MasterUsername=user,
                              MasterUserPassword=secret, **kwargs)
        made["clusters"].append(cluster_id)
        rds.create_db_instance(DBInstanceIdentifier=f"{cluster_id}-1", DBClusterIdentifier=cluster_id, Engine=ENGINE,
                               DBInstanceClass="db.r6g.large")
        return cluster_id, user, secret

    def group(family="aurora-postgresql16", **parameters):
        name = unique("lab-pg-group-")
        rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=name, DBParameterGroupFamily=family,
                                              Description="lab test")
        made["groups"].append(name)
        if parameters:
            rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=name, Parameters=[
                {"ParameterName": k, "ParameterValue": v, "ApplyMethod": m} for k, (v, m) in parameters.items()])
        return name

    yield type("Made", (), {"cluster": staticmethod(cluster), "group": staticmethod(group)})
    for cluster_id in made["clusters"]:
        rds.delete_db_instance(DBInstanceIdentifier=f"{cluster_id}-1", SkipFinalSnapshot=True)
        rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
    for name in made["groups"]:
        rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName=name)


def login(lab, cluster_id, user, secret):
    """To the cluster's own database: its endpoint name and port, dialling the lab's address."""
    cluster = boto3.client("rds").describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    conn = psycopg2.connect(host=cluster["Endpoint"], hostaddr=address_of(lab, cluster["Endpoint"]), port=cluster["Port"],
                            dbname="postgres", user=user, password=secret, connect_timeout=5, sslmode="disable")
    conn.autocommit = True
    return conn


def one(conn, query):
    with conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchone()[0]


def members(rds, cluster_id):
    cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    return cluster["DBClusterParameterGroup"], [m["DBClusterParameterGroupStatus"] for m in cluster["DBClusterMembers"]]


def available(rds, instance_id):
    return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["DBInstanceStatus"] == "available"


def test_each_family_has_a_default_group_that_cannot_be_modified_or_deleted(rds):
    names = [g["DBClusterParameterGroupName"] for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]]
    assert {"default.aurora-postgresql15", "default.aurora-postgresql16", "default.aurora-postgresql17"} <= set(names)
    assert error_of(rds.modify_db_cluster_parameter_group, DBClusterParameterGroupName="default.aurora-postgresql16",
                    Parameters=[{"ParameterName": "krb_caseins_users", "ParameterValue": "1", "ApplyMethod": "immediate"}]) \
        == ("InvalidParameterValue", "Cannot modify a default parameter group.")
    code, dummy = error_of(rds.delete_db_cluster_parameter_group, DBClusterParameterGroupName="default.aurora-postgresql16")
    assert code == "InvalidDBParameterGroupState"


def test_parameters_carry_their_apply_type_and_static_ones_need_pending_reboot(rds, made):
    name = made.group()
    rows = {p["ParameterName"]: p for p in rds.describe_db_cluster_parameters(DBClusterParameterGroupName=name)["Parameters"]}
    assert rows["shared_preload_libraries"]["ApplyType"] == "static"
    assert rows["krb_caseins_users"]["ApplyType"] == "dynamic" and rows["krb_caseins_users"]["ParameterValue"] == "0"
    assert rds.describe_db_cluster_parameters(DBClusterParameterGroupName=name, Source="user")["Parameters"] == []
    refused = {
        "static immediate": ("shared_preload_libraries", "pg_ad_mapping", "immediate"),
        "unknown name": ("no_such_parameter", "1", "immediate"),
        "outside the allowed values": ("shared_preload_libraries", "not_a_library", "pending-reboot"),
    }
    codes = {what: error_of(rds.modify_db_cluster_parameter_group, DBClusterParameterGroupName=name, Parameters=[
        {"ParameterName": n, "ParameterValue": v, "ApplyMethod": m}])[0] for what, (n, v, m) in refused.items()}
    assert codes == {"static immediate": "InvalidParameterCombination", "unknown name": "InvalidParameterValue",
                     "outside the allowed values": "InvalidParameterValue"}


def test_a_cluster_gets_its_familys_default_group_and_refuses_a_missing_or_foreign_one(rds, made):
    cluster_id, dummy, dummy = made.cluster()
    assert members(rds, cluster_id) == ("default.aurora-postgresql16", ["in-sync"])
    code, dummy = error_of(rds.create_db_cluster, DBClusterIdentifier=unique("lab-pg-"), Engine=ENGINE,
                           EngineVersion="16.6", MasterUsername="m_x", MasterUserPassword="Lab-Pw9-xxxxxx",
                           DBClusterParameterGroupName="no-such-group")
    assert code == "DBClusterParameterGroupNotFound"
    code, dummy = error_of(rds.modify_db_cluster, DBClusterIdentifier=cluster_id,
                           DBClusterParameterGroupName=made.group(family="aurora-postgresql15"))
    assert code == "InvalidParameterCombination"


def test_pg_ad_mapping_needs_the_group_the_writers_reboot_and_create_extension(lab, rds, made):
    """Nothing is pre-installed: the extension cannot be created on a writer that started without the library,
    nor while the new group waits for the reboot; after the reboot its functions exist only once CREATE
    EXTENSION ran."""
    cluster_id, user, secret = made.cluster()
    conn = login(lab, cluster_id, user, secret)
    try:
        assert "pg_ad_mapping" not in one(conn, "SHOW shared_preload_libraries")
        assert one(conn, "SELECT to_regprocedure('pgadmap_read_mapping()')") is None
        with pytest.raises(psycopg2.Error, match="must be loaded via shared_preload_libraries"):
            one(conn, "CREATE EXTENSION pg_ad_mapping")
    finally:
        conn.close()
    group = made.group(shared_preload_libraries=("pg_stat_statements,pg_ad_mapping", "pending-reboot"))
    rds.modify_db_cluster(DBClusterIdentifier=cluster_id, DBClusterParameterGroupName=group, ApplyImmediately=True)
    assert members(rds, cluster_id) == (group, ["pending-reboot"])
    conn = login(lab, cluster_id, user, secret)
    try:
        assert "pg_ad_mapping" not in one(conn, "SHOW shared_preload_libraries")  # not before the reboot
    finally:
        conn.close()
    poll(lambda: available(rds, f"{cluster_id}-1"), 20, "available")
    rebooted = rds.reboot_db_instance(DBInstanceIdentifier=f"{cluster_id}-1")["DBInstance"]
    assert rebooted["DBInstanceStatus"] == "rebooting"
    code, dummy = error_of(rds.reboot_db_instance, DBInstanceIdentifier=f"{cluster_id}-1")
    assert code == "InvalidDBInstanceState"
    poll(lambda: available(rds, f"{cluster_id}-1"), 20, "available")
    assert members(rds, cluster_id) == (group, ["in-sync"])
    conn = login(lab, cluster_id, user, secret)
    try:
        assert "pg_ad_mapping" in one(conn, "SHOW shared_preload_libraries").split(",")
        assert one(conn, "SELECT to_regprocedure('pgadmap_read_mapping()')") is None
        one(conn, "CREATE EXTENSION pg_ad_mapping; SELECT 1")
        assert one(conn, "SELECT count(*) FROM pgadmap_read_mapping()") == 0
        one(conn, "DROP EXTENSION pg_ad_mapping; SELECT 1")
    finally:
        conn.close()


def test_krb_caseins_users_is_dynamic_and_reaches_the_postgresql_of_the_cluster_at_once(lab, rds, made):
    group = made.group()
    cluster_id, user, secret = made.cluster(DBClusterParameterGroupName=group)
    conn = login(lab, cluster_id, user, secret)
    try:
        assert one(conn, "SHOW krb_caseins_users") == "off"
        rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group, Parameters=[
            {"ParameterName": "krb_caseins_users", "ParameterValue": "1", "ApplyMethod": "immediate"}])
        assert members(rds, cluster_id) == (group, ["in-sync"])
        poll(lambda: one(conn, "SHOW krb_caseins_users") == "on", 20, "krb_caseins_users on")
    finally:
        conn.close()


def test_krb_caseins_users_in_the_group_lets_a_principal_in_another_case_log_in(lab, rds, made, tmp_path):
    """AD keeps the case a user typed at kinit (lab/README.md), so the ticket's principal is upper case while the
    login is lower case: PostgreSQL refuses it until the cluster's group sets krb_caseins_users (AWS_FACTS
    section 5), and again once the group turns it off."""
    name, password = unique("kci"), f"Lab-{unique('')}-Pw9"
    login_name = f"{name}@{lab['LAB_AD_REALM']}"
    create_ad_user(lab, name, password)
    group = made.group()
    try:
        # The endpoint's service principal exists only for a member (section 10): a joined cluster on the group.
        with member_cluster(lab, DBClusterParameterGroupName=group) as cluster:
            with pg_connect(cluster_env(lab, cluster), lab["LAB_PG_MASTER_USER"], current_env(lab)["LAB_PG_MASTER_PASSWORD"]) as conn:
                conn.autocommit = True
                one(conn, f'CREATE ROLE "{login_name}" LOGIN IN ROLE rds_ad; SELECT 1')
            cache = tmp_path / "cc"
            assert kinit(lab, f"{name.upper()}@{lab['LAB_AD_REALM']}", password, cache).returncode == 0

            def gss_login():
                try:
                    with pg_connect(cluster_env(lab, cluster), login_name, ccache=cache) as gss:
                        return one(gss, "SELECT current_user")
                except psycopg2.OperationalError as e:
                    return str(e)

            assert "GSSAPI authentication failed" in gss_login()
            for value, expected in (("1", login_name), ("0", "GSSAPI authentication failed")):
                rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group, Parameters=[
                    {"ParameterName": "krb_caseins_users", "ParameterValue": value, "ApplyMethod": "immediate"}])
                poll(lambda: expected in gss_login(), 10, f"a login answering {expected}")
    finally:
        delete_ad_user(lab, name)
