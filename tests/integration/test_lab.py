"""The lab keeps its contract: AWS answers, AD issues tickets, PostgreSQL answers like Aurora."""

import subprocess

import boto3
import ldap3
import psycopg2
import pytest

from labtools import (cluster_env, create_ad_user, current_env, delete_ad_user, kinit, ldap_admin, master, member_cluster,
                      pg_connect, sql, unique)


@pytest.fixture(scope="module")
def db(lab):
    """A cluster joined to the directory, and the env of its own database: an endpoint has a Kerberos service
    principal only while its cluster is a member (AWS_FACTS section 10), and each cluster has its own database."""
    with member_cluster(lab) as cluster:
        yield cluster_env(current_env(lab), cluster)


@pytest.fixture
def ad_user(lab, db, tmp_path):
    """An AD user made over LDAPS as the delegated Admin, with a ticket; removed afterwards."""
    name = unique("it")
    password = lab["LAB_USER_PASSWORD"]
    create_ad_user(lab, name, password)
    principal = f"{name}@{lab['LAB_AD_REALM']}"
    ccache = tmp_path / "cc"
    got = kinit(lab, principal, password, ccache)
    assert got.returncode == 0, got.stderr
    yield {"name": name, "principal": principal, "ccache": ccache}
    delete_ad_user(lab, name)
    with master(db) as conn:
        sql(conn, f'DROP ROLE IF EXISTS "{principal}"')


def test_aws_endpoint_answers_with_managed_policies(lab):
    session = boto3.session.Session()
    assert session.client("sts").get_caller_identity()["Account"].isdigit()
    policy = session.client("iam").get_policy(
        PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess")
    assert policy["Policy"]["PolicyName"] == "AmazonRDSDirectoryServiceAccess"


def test_dc_namespace_has_no_route_out(lab):
    routes = subprocess.run(["ip", "netns", "exec", lab["LAB_NETNS"], "ip", "-4", "route"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    subnet = lab["LAB_DC_IP"].rsplit(".", 1)[0] + ".0/24"
    assert [line.split()[0] for line in routes] == [subnet]


def test_admin_is_delegated_to_ou_corp_only(lab):
    name = unique("out")
    with ldap_admin(lab) as conn, pytest.raises(ldap3.core.exceptions.LDAPInsufficientAccessRightsResult):
        conn.add(f"CN={name},CN=Users,{lab['LAB_AD_BASE_DN']}", ["top", "person", "organizationalPerson", "user"],
                 {"sAMAccountName": name})


def test_kinit_refuses_a_wrong_password(lab, ad_user, tmp_path):
    got = kinit(lab, ad_user["principal"], "Not-the-password-1", tmp_path / "other")
    assert got.returncode != 0


def test_master_user_logs_in_with_password_and_is_not_superuser(db):
    with master(db) as conn:
        (superuser, createrole, in_rds_superuser), = sql(
            conn, "SELECT rolsuper, rolcreaterole, pg_has_role(current_user, 'rds_superuser', 'member') "
                  "FROM pg_roles WHERE rolname = current_user")
    assert (superuser, createrole, in_rds_superuser) == (False, True, True)
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        pg_connect(db, db["LAB_PG_MASTER_USER"], "wrong-password")


def test_rds_ad_member_logs_in_over_gssapi_without_password(db, ad_user):
    with master(db) as conn:
        sql(conn, f'CREATE ROLE "{ad_user["principal"]}" LOGIN')
        sql(conn, f'GRANT rds_ad TO "{ad_user["principal"]}"')
    conn = pg_connect(db, ad_user["principal"], ccache=ad_user["ccache"])
    (user, gss, principal), = sql(
        conn, "SELECT current_user, gss_authenticated, principal FROM pg_stat_gssapi WHERE pid = pg_backend_pid()")
    conn.close()
    assert (user, gss, principal) == (ad_user["principal"], True, ad_user["principal"])


def test_login_without_rds_ad_is_refused(db, ad_user):
    with master(db) as conn:
        sql(conn, f'CREATE ROLE "{ad_user["principal"]}" LOGIN')
    with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
        pg_connect(db, ad_user["principal"], ccache=ad_user["ccache"])


def test_ticket_of_another_principal_is_refused(db, ad_user, tmp_path):
    other = f"{unique('victim')}@{db['LAB_AD_REALM']}"
    with master(db) as conn:
        sql(conn, f'CREATE ROLE "{other}" LOGIN IN ROLE rds_ad')
    try:
        with pytest.raises(psycopg2.OperationalError, match="GSSAPI authentication failed"):
            pg_connect(db, other, ccache=ad_user["ccache"])
        with pytest.raises(psycopg2.OperationalError):
            pg_connect(db, other, ccache=tmp_path / "no-ticket-here")
    finally:
        with master(db) as conn:
            sql(conn, f'DROP ROLE "{other}"')


def test_rds_iam_member_is_rejected_even_with_its_password(db):
    name = unique("iam")
    with master(db) as conn:
        sql(conn, f"CREATE ROLE {name} LOGIN PASSWORD 'Iam-pass-123' IN ROLE rds_iam")
    try:
        with pytest.raises(psycopg2.OperationalError, match="rejects connection"):
            pg_connect(db, name, "Iam-pass-123")
    finally:
        with master(db) as conn:
            sql(conn, f"DROP ROLE {name}")
