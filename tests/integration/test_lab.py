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
    # and, while the on-premises forest's DC runs (started by a trust), a route to it alone
    assert [line.split()[0] for line in routes if line.split()[0] != lab["LAB_ONPREM_DC_IP"]] == [subnet]


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


def test_group_logins_follow_the_ad_group_and_never_touch_a_hand_made_login(lab, db, tmp_path):
    """db_users_group_logins (read over LDAPS from the DC): a group with a direct member, a nested group's member
    and a disabled member gives exactly the two enabled users a login that works over GSSAPI; a second run
    changes nothing; after one leaves, the next run drops exactly that login (what it owns reassigned), and a
    login made by hand survives every run."""
    import contextlib
    import json
    import sys

    from ansible_run import playbook, recap

    env = dict(current_env(lab), **{k: v for k, v in db.items() if k.startswith("LAB_PG_")})
    realm, ou, password = lab["LAB_AD_REALM"], lab["LAB_AD_USERS_OU"], lab["LAB_USER_PASSWORD"]
    direct, nested, disabled, hand = unique("gd"), unique("gn"), unique("gx"), unique("gh")
    group, inner, owner, database = unique("gg"), unique("gi"), unique("go"), unique("gdb")
    marker = f"aurora_kerberos_group_{group}"
    dns = {name: create_ad_user(lab, name, password) for name in (direct, nested, disabled)}
    groups = {inner: f"CN={inner},{ou}", group: f"CN={group},{ou}"}

    def login(name):
        return f"{name}@{realm}"

    def sync(*options):
        extra = {"ansible_python_interpreter": sys.executable, "gl_host": db["LAB_PG_HOST"], "gl_hostaddr": db["LAB_PG_HOSTADDR"], "gl_port": db["LAB_PG_PORT"],
                 "db_users_group_logins": [{"ad_group": group, "databases": [database]}],
                 "db_users_reassign_owned_to": owner}
        run = playbook("-i", "localhost,", "-c", "local", *options, "tests/integration/playbooks/group_logins.yml",
                       "-e", json.dumps(extra), extra_env=dict({k: v for k, v in env.items() if k.startswith("LAB_")},
                                                               ANSIBLE_CALLBACK_RESULT_FORMAT="json"))
        assert recap(run.stdout).get("failed") == 0, run.stdout[-3000:] + run.stderr[-2000:]
        output = run.stdout.split('"db_users__output": ', 1)[1]
        return recap(run.stdout), json.JSONDecoder().raw_decode(output)[0]

    def members_of(conn, role):
        return sorted(r[0] for r in sql(conn, "SELECT m.rolname FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member"
                                              " JOIN pg_roles g ON g.oid = a.roleid WHERE g.rolname = %s", role))

    def outside_a_transaction(statement):
        conn = master(db)  # autocommit; `with conn` would open a transaction
        try:
            sql(conn, statement)
        finally:
            conn.close()

    try:
        outside_a_transaction(f'CREATE DATABASE "{database}"')  # the master owns it, so it can grant CONNECT
        with ldap_admin(lab) as conn:
            conn.modify(dns[disabled], {"userAccountControl": [(ldap3.MODIFY_REPLACE, [514])]})  # ACCOUNTDISABLE
            conn.add(groups[inner], ["top", "group"], {"sAMAccountName": inner, "member": [dns[nested]]})
            conn.add(groups[group], ["top", "group"],
                     {"sAMAccountName": group, "member": [dns[direct], dns[disabled], groups[inner]]})
        with master(db) as conn:
            sql(conn, f'CREATE ROLE "{login(hand)}" LOGIN')
            sql(conn, f'GRANT rds_ad TO "{login(hand)}"')
            sql(conn, f'CREATE ROLE "{owner}" NOLOGIN')

        first, output = sync()
        assert first["changed"] >= 1 and sorted(output["created"]) == [login(direct), login(nested)]
        with master(db) as conn:
            assert members_of(conn, marker) == [login(direct), login(nested)]
            assert login(hand) in members_of(conn, "rds_ad") and login(disabled) not in members_of(conn, "rds_ad")
            assert sql(conn, "SELECT has_database_privilege(%s, %s, 'CONNECT')", login(nested), database)[0][0]
            # Something the leaving user owns in the database the role connects to (REASSIGN OWNED acts there).
            sql(conn, f'GRANT "{login(direct)}" TO CURRENT_USER')
            sql(conn, f'CREATE SCHEMA {direct}_s AUTHORIZATION "{login(direct)}"')
            sql(conn, f'REVOKE "{login(direct)}" FROM CURRENT_USER')
        for name in (direct, nested):
            ccache = tmp_path / name
            assert kinit(lab, login(name), password, ccache).returncode == 0
            with pg_connect(db, login(name), ccache=ccache) as conn:
                assert sql(conn, "SELECT current_user")[0][0] == login(name)

        again, output = sync()
        assert again["changed"] == 0 and output["created"] == [] and output["removed"] == []

        with ldap_admin(lab) as conn:
            conn.modify(groups[group], {"member": [(ldap3.MODIFY_DELETE, [dns[direct]])]})
        predicted, output = sync("--check", "--diff")
        assert predicted["changed"] >= 1 and output["removed"] == [login(direct)] and output["created"] == []
        with master(db) as conn:
            assert login(direct) in members_of(conn, marker)  # check mode wrote nothing
        third, output = sync()
        assert output["removed"] == [login(direct)] and output["created"] == []
        with master(db) as conn:
            roles = [r[0] for r in sql(conn, "SELECT rolname FROM pg_roles")]
            assert login(direct) not in roles and login(nested) in roles and login(hand) in roles
            assert sql(conn, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s", f"{direct}_s")[0][0] == owner
        with pytest.raises(psycopg2.OperationalError):
            pg_connect(db, login(direct), ccache=tmp_path / direct)
    finally:
        with ldap_admin(lab) as conn:
            for dn in (groups[group], groups[inner]):
                with contextlib.suppress(ldap3.core.exceptions.LDAPNoSuchObjectResult):  # not made: setup failed
                    conn.delete(dn)
        for name in (direct, nested, disabled):
            delete_ad_user(lab, name)
        with master(db) as conn:
            for role in (owner, login(direct)):  # whoever owns the schema now
                sql(conn, f"DO $$ BEGIN IF to_regrole('\"{role}\"') IS NOT NULL THEN GRANT \"{role}\" TO CURRENT_USER; END IF; END $$")
            sql(conn, f"DROP SCHEMA IF EXISTS {direct}_s")
        outside_a_transaction(f'DROP DATABASE IF EXISTS "{database}"')
        with master(db) as conn:
            for role in (login(direct), login(nested), login(hand), marker, owner):
                sql(conn, f'DROP ROLE IF EXISTS "{role}"')
