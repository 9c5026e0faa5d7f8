"""RDS for PostgreSQL DB instances outside a cluster (engine postgres) as AWS answers them: the catalogue's postgres
rows (DescribeOrderableDBInstanceOptions), and a standalone instance's own database, endpoint and Kerberos
membership (ModifyDBInstance Domain / DisableDomain), probed with boto3, kinit and psycopg2 against the lab."""

import pytest

from labtools import address_of, unique
from test_rds import (JOIN_SECONDS, NOT_IN_KDC, clean_faults, ec2, gss_login, gss_user, iam, knobs, made, net, password,
                      pg_login, rds, roles, service_accounts, sgs, statuses_until, wait_for)

# test_rds.py's fixtures, used here by name; this keeps linters from calling them unused.
FIXTURES = (clean_faults, ec2, gss_user, iam, knobs, made, net, rds, roles, sgs)


# --- the catalogue: postgres rows -----------------------------------------------------------------

@pytest.mark.parametrize("version", ["15.10", "16.4", "16.8", "17.4", "17.5"])
def test_postgres_rows_answer_kerberos_support_per_version_and_class(lab, rds, version):
    rows = rds.describe_orderable_db_instance_options(Engine="postgres", EngineVersion=version, MaxRecords=1000)[
        "OrderableDBInstanceOptions"]
    classes = {r["DBInstanceClass"]: r for r in rows}
    for instance_class in ("db.m6g.large", "db.m7g.xlarge", "db.r6g.2xlarge", "db.t3.micro", "db.t4g.medium"):
        row = classes[instance_class]
        assert row["Engine"] == "postgres" and row["SupportsKerberosAuthentication"] is True, (version, instance_class)
        assert row["SupportsClusters"] is False and row["MultiAZCapable"] is True
    assert {r["EngineVersion"] for r in rows} == {version}
    # Aurora's own classes are not RDS for PostgreSQL's: no db.serverless, no Aurora rows.
    assert "db.serverless" not in classes and {r["Engine"] for r in rows} == {"postgres"}


def test_postgres_rows_filter_by_class_and_refuse_what_is_not_offered(lab, rds):
    one = rds.describe_orderable_db_instance_options(Engine="postgres", EngineVersion="16.4",
                                                     DBInstanceClass="db.t4g.micro")["OrderableDBInstanceOptions"]
    assert [(r["DBInstanceClass"], r["StorageType"]) for r in one] == [("db.t4g.micro", "gp3")]
    assert rds.describe_orderable_db_instance_options(Engine="postgres", EngineVersion="16.4",
                                                      DBInstanceClass="db.x2g.large")["OrderableDBInstanceOptions"] == []
    assert rds.describe_orderable_db_instance_options(Engine="postgres",
                                                      EngineVersion="9.6.1")["OrderableDBInstanceOptions"] == []
    paginator = rds.get_paginator("describe_orderable_db_instance_options")
    versions = {r["EngineVersion"] for page in paginator.paginate(Engine="postgres")
                for r in page["OrderableDBInstanceOptions"]}
    assert {"15.10", "16.4", "17.5"} <= versions
    # The aurora-postgresql catalogue is unchanged by the postgres rows.
    aurora = rds.describe_orderable_db_instance_options(Engine="aurora-postgresql", EngineVersion="16.4",
                                                        DBInstanceClass="db.r6g.large")["OrderableDBInstanceOptions"]
    assert [r["Engine"] for r in aurora] == ["aurora-postgresql"]


# --- a standalone instance: its own database, endpoint and membership ----------------------------------

@pytest.fixture
def standalone(rds, net, sgs):
    """A DB instance outside any cluster (engine postgres), on a port of its own; deleted after the test."""
    made = []

    def create(**kwargs):
        args = dict(DBInstanceIdentifier=unique("lab-pg-"), Engine="postgres", EngineVersion="16.4",
                    DBInstanceClass="db.t4g.micro", MasterUsername=unique("boss_"), MasterUserPassword=password(),
                    AllocatedStorage=20, Port=5433, DBSubnetGroupName=net["subnet_group"],
                    VpcSecurityGroupIds=[sgs["good"]])
        args.update(kwargs)
        answer = rds.create_db_instance(**args)["DBInstance"]
        made.append(args["DBInstanceIdentifier"])
        return answer, args

    yield create
    for instance_id in made:
        rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)


def describe_instance(rds, instance_id):
    return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]


def wait_available(rds, instance_id):
    """The instance's description once it is available with an endpoint."""
    def available():
        shown = describe_instance(rds, instance_id)
        return shown if shown["DBInstanceStatus"] == "available" and shown.get("Endpoint") else None
    return wait_for(available, timeout=10)


def instance_status(rds, instance_id):
    shown = describe_instance(rds, instance_id)["DomainMemberships"]
    return shown[0]["Status"] if shown else None


def test_a_standalone_instance_has_its_own_endpoint_port_and_master_user(lab, rds, standalone):
    answer, args = standalone()
    instance_id = args["DBInstanceIdentifier"]
    shown = wait_available(rds, instance_id)
    endpoint = shown["Endpoint"]
    # AWS's form for an instance endpoint: <id>.<hash>.<region>.rds.amazonaws.com, on the Port asked.
    assert endpoint["Address"].startswith(f"{instance_id}.") and endpoint["Address"].endswith(".rds.amazonaws.com")
    assert endpoint["Port"] == 5433 and "DBClusterIdentifier" not in shown
    address = address_of(lab, endpoint["Address"])
    assert address and address != lab["LAB_PG_HOSTADDR"]  # not the demo cluster's server
    conn = pg_login(lab, {"Endpoint": endpoint["Address"], "Port": endpoint["Port"]}, args["MasterUsername"],
                    args["MasterUserPassword"])
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_user, current_setting('port')")
            assert cursor.fetchone() == (args["MasterUsername"], "5433")
    finally:
        conn.close()


@pytest.mark.parametrize("change, text", [
    ({"MasterUsername": "a" * 17}, "1 to 16 characters"),
    ({"MasterUsername": "user"}, "reserved word"),
    ({"MasterUsername": "rds_superuser"}, "reserved word"),
    ({"MasterUserPassword": "Pw-1" * 32 + "x"}, "longer than 128 characters"),
    ({"MasterUserPassword": "Pw-1234"}, "shorter than 8 characters"),
    ({"MasterUserPassword": "has@at-sign1"}, "printable ASCII"),
])
def test_a_standalone_instance_master_user_is_validated_like_aws(lab, rds, standalone, change, text):
    """RDS for PostgreSQL's own rules (rds model, CreateDBInstance): 1-16 characters for the name, not a reserved
    word; 8-128 characters for the password (Aurora's is 8-41). Nothing is made."""
    instance_id = unique("lab-pg-bad-")
    with pytest.raises(rds.exceptions.ClientError) as refused:
        standalone(DBInstanceIdentifier=instance_id, **change)
    error = refused.value.response["Error"]
    assert (error["Code"], text in error["Message"]) == ("InvalidParameterValue", True), error
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        describe_instance(rds, instance_id)


def test_a_standalone_instance_takes_a_128_character_password(lab, rds, standalone):
    """What Aurora refuses (over 41 characters) RDS for PostgreSQL takes, and the master logs in with it."""
    secret = "Pw-1" * 32
    answer, args = standalone(MasterUserPassword=secret)
    shown = wait_available(rds, args["DBInstanceIdentifier"])
    pg_login(lab, {"Endpoint": shown["Endpoint"]["Address"], "Port": shown["Endpoint"]["Port"]}, args["MasterUsername"],
             secret).close()


def test_a_standalone_instance_logs_in_over_gssapi_only_while_a_member(lab, rds, net, roles, standalone, gss_user):
    # sgs["good"] admits 5432 from the directory's security group: the join's network check passes on that port.
    answer, args = standalone(Port=5432)
    instance_id = args["DBInstanceIdentifier"]
    shown = wait_available(rds, instance_id)
    endpoint, port = shown["Endpoint"]["Address"], shown["Endpoint"]["Port"]
    gss_user.login_on({"Endpoint": endpoint, "Port": port}, args)

    error, dummy = gss_login(lab, gss_user.principal, gss_user.ticket(), endpoint, port)
    assert NOT_IN_KDC in error, error  # before the join: no principal for the instance's endpoint

    rds.modify_db_instance(DBInstanceIdentifier=instance_id, Domain=net["directory"], DomainIAMRoleName=roles["good"],
                           ApplyImmediately=True)
    assert instance_status(rds, instance_id) == "pending-enable-kerberos"
    wait_for(lambda: instance_status(rds, instance_id) == "kerberos-enabled", timeout=JOIN_SECONDS + 10)
    error, session = gss_login(lab, gss_user.principal, gss_user.ticket(), endpoint, port)
    assert error is None, error
    assert session[0] == gss_user.principal and session[1] is True

    rds.modify_db_instance(DBInstanceIdentifier=instance_id, DisableDomain=True, ApplyImmediately=True)
    assert instance_status(rds, instance_id) == "pending-disable-kerberos"
    wait_for(lambda: instance_status(rds, instance_id) is None, timeout=JOIN_SECONDS + 10)
    error, dummy = gss_login(lab, gss_user.principal, gss_user.ticket(), endpoint, port)
    assert error is not None, "a GSSAPI login still works after DisableDomain"


def test_a_standalone_instance_keeps_its_principal_beside_a_joined_aurora_cluster(lab, rds, net, roles, sgs, made,
                                                                                  standalone, gss_user):
    """An Aurora cluster joined first does not take the standalone instance's endpoint (the instance is no instance
    of that cluster): each holds its own principal in its own account, and alice-like users log in to both."""
    cluster, cluster_args = made.cluster(net, sgs["good"], Domain=net["directory"], DomainIAMRoleName=roles["good"])
    gss_user.login_on(cluster, cluster_args)
    statuses_until(rds, cluster_args["DBClusterIdentifier"], "kerberos-enabled")
    answer, args = standalone(Port=5432)
    instance_id = args["DBInstanceIdentifier"]
    endpoint = wait_available(rds, instance_id)["Endpoint"]
    gss_user.login_on({"Endpoint": endpoint["Address"], "Port": endpoint["Port"]}, args)
    rds.modify_db_instance(DBInstanceIdentifier=instance_id, Domain=net["directory"], DomainIAMRoleName=roles["good"],
                           ApplyImmediately=True)
    wait_for(lambda: instance_status(rds, instance_id) == "kerberos-enabled", timeout=JOIN_SECONDS + 10)
    [(cluster_account, dummy)] = service_accounts(lab, cluster["Endpoint"])
    [(instance_account, dummy)] = service_accounts(lab, endpoint["Address"])
    assert cluster_account != instance_account
    error, session = gss_login(lab, gss_user.principal, gss_user.ticket(), endpoint["Address"], endpoint["Port"])
    assert error is None, error
    error, session = gss_login(lab, gss_user.principal, gss_user.ticket(), cluster["Endpoint"], cluster["Port"])
    assert error is None, error
