"""Small clients for the lab's three components, for tests only (the collection has its own)."""

import contextlib
import json
import os
import ssl
import subprocess
import uuid

import ldap3
import psycopg2


def secret_names(env):
    """The lab's passwords (lab/CONTRACT.md): every LAB_*PASSWORD, so one the lab adds is covered too."""
    return sorted(name for name in env if name.startswith("LAB_") and "PASSWORD" in name)


def ldap_admin(env):
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=env["LAB_LDAPS_CA"], valid_names=[env["LAB_DC_HOSTNAME"]])
    server = ldap3.Server(env["LAB_DC_IP"], port=636, use_ssl=True, tls=tls, connect_timeout=5)
    return ldap3.Connection(server, user=f"{env['LAB_AD_ADMIN_USER']}@{env['LAB_AD_REALM']}",
                            password=env["LAB_AD_ADMIN_PASSWORD"], auto_bind=True, raise_exceptions=True)


def create_ad_user(env, name, password, ou=None):
    dn = f"CN={name},{ou or env['LAB_AD_USERS_OU']}"
    with ldap_admin(env) as conn:
        conn.add(dn, ["top", "person", "organizationalPerson", "user"],
                 {"sAMAccountName": name, "userPrincipalName": f"{name}@{env['LAB_AD_REALM']}"})
        conn.extend.microsoft.modify_password(dn, password)
        conn.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [512])],
                         "msDS-SupportedEncryptionTypes": [(ldap3.MODIFY_REPLACE, [24])]})
    return dn


def delete_ad_user(env, name):
    with ldap_admin(env) as conn:
        conn.search(env["LAB_AD_BASE_DN"], f"(sAMAccountName={name})")
        for entry in conn.entries:
            conn.delete(entry.entry_dn)


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def kinit(env, principal, password, ccache):
    """Get a ticket into a private cache; returns the CompletedProcess (never raises)."""
    child = dict(os.environ, KRB5_CONFIG=env["KRB5_CONFIG"], KRB5CCNAME=f"FILE:{ccache}")
    return subprocess.run(["kinit", principal], input=password + "\n", capture_output=True, text=True, env=child, check=False)


def pg_connect(env, user, password=None, ccache=None):
    """Connect where the contract says; with ccache, GSSAPI uses that ticket cache."""
    if ccache:
        os.environ["KRB5CCNAME"] = f"FILE:{ccache}"
    os.environ["KRB5_CONFIG"] = env["KRB5_CONFIG"]
    return psycopg2.connect(host=env["LAB_PG_HOST"], hostaddr=env["LAB_PG_HOSTADDR"], port=env["LAB_PG_PORT"],
                            dbname=env["LAB_PG_DATABASE"], user=user, password=password, connect_timeout=5)


@contextlib.contextmanager
def own_cluster(env, cluster_id):
    """A cluster made for a test (the env file's master user, asking LAB_PG_PORT, no membership), deleted
    afterwards. Yields the env of its own database (cluster_env): the lab starts its server before
    CreateDBCluster answers."""
    import boto3

    rds = boto3.client("rds", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"])
    current = current_env(env)
    rds.create_db_cluster(DBClusterIdentifier=cluster_id, Engine="aurora-postgresql", EngineVersion="16.6",
                          MasterUsername=current["LAB_PG_MASTER_USER"], MasterUserPassword=current["LAB_PG_MASTER_PASSWORD"],
                          Port=int(env["LAB_PG_PORT"]), DBSubnetGroupName=env["LAB_DB_SUBNET_GROUP"])
    try:
        yield cluster_env(current, rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0])
    finally:
        rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)


def address_of(env, endpoint):
    """The address the lab gives an endpoint name (lab-api/endpoints, as `lab.py resolve` prints it)."""
    return lab_api(env, "GET", "endpoints")["endpoints"][endpoint]["address"]


def cluster_env(env, cluster):
    """The env with LAB_PG_HOST, LAB_PG_HOSTADDR and LAB_PG_PORT of this cluster (as DescribeDBClusters shows
    it): each lab cluster has its own database, at its endpoint's name, its own address and its port
    (lab/README.md)."""
    return dict(env, LAB_PG_HOST=cluster["Endpoint"], LAB_PG_HOSTADDR=address_of(env, cluster["Endpoint"]),
                LAB_PG_PORT=str(cluster["Port"]))


def master(env):
    conn = pg_connect(env, env["LAB_PG_MASTER_USER"], env["LAB_PG_MASTER_PASSWORD"])
    conn.autocommit = True
    return conn


def sql(conn, query, *args):
    with conn.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall() if cur.description else None


def lab_api(env, method, path, payload=None):
    """The lab endpoint's admin API (lab/fidelity/middleware.py): calls, faults, knobs."""
    import json
    import urllib.request

    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{env['AWS_ENDPOINT_URL']}/lab-api/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@contextlib.contextmanager
def knobs(env, **values):
    """The lab's knobs (lab/README.md, "Knobs") set to values for a block, restored afterwards."""
    saved = lab_api(env, "GET", "knobs")
    lab_api(env, "POST", "knobs", values)
    try:
        yield
    finally:
        lab_api(env, "POST", "knobs", {key: saved[key] for key in values})


@contextlib.contextmanager
def member_cluster(env, timeout=60, **create):
    """A cluster of the lab's AWS API joined to a directory until kerberos-enabled: only then does a
    Kerberos login to its endpoint work (AWS_FACTS section 10, lab/README.md). Made in the lab account's
    VPC and subnet group with a directory, an IAM role and a DB security group of its own, all removed
    afterwards; `create` adds CreateDBCluster arguments. Yields the cluster as DescribeDBClusters shows it:
    its own database is at its Endpoint and Port (cluster_env)."""
    import boto3

    ds, ec2, iam, rds = (boto3.client(s) for s in ("ds", "ec2", "iam", "rds"))
    name = unique("lab-member-")
    saved = lab_api(env, "GET", "knobs")  # quicker AWS steps for this set-up, restored afterwards
    lab_api(env, "POST", "knobs", {k: min(saved[k], QUICK_SECONDS) for k in QUICK_KNOBS if k in saved})
    current = current_env(env)  # CreateMicrosoftAD sets Admin's password: give the one AD has now
    directory = ds.create_microsoft_ad(Name=env["LAB_AD_DOMAIN"], Password=current["LAB_AD_ADMIN_PASSWORD"],
                                       Edition="Standard", VpcSettings={"VpcId": env["LAB_VPC_ID"],
                                                                        "SubnetIds": env["LAB_SUBNET_IDS"].split(",")})
    directory_id = directory["DirectoryId"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "Service": ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]}}]}
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=name, PolicyArn=DIRECTORY_ACCESS_POLICY)
    group = ec2.create_security_group(GroupName=name, Description="a member cluster for a test",
                                      VpcId=env["LAB_VPC_ID"])["GroupId"]
    cluster = None
    try:
        shown = poll(lambda: next((d for d in ds.describe_directories(DirectoryIds=[directory_id])
                                   ["DirectoryDescriptions"] if d["Stage"] == "Active"), None), timeout, "Active")
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": int(env["LAB_PG_PORT"]), "ToPort": int(env["LAB_PG_PORT"]),
            "UserIdGroupPairs": [{"GroupId": shown["VpcSettings"]["SecurityGroupId"]}]}])
        cluster = poll(lambda: role_propagated(rds.create_db_cluster, DBClusterIdentifier=name, Engine="aurora-postgresql",
                                               EngineVersion="16.6", MasterUsername=current["LAB_PG_MASTER_USER"],
                                               MasterUserPassword=current["LAB_PG_MASTER_PASSWORD"],
                                               DBSubnetGroupName=env["LAB_DB_SUBNET_GROUP"], VpcSecurityGroupIds=[group],
                                               Port=int(env["LAB_PG_PORT"]), Domain=directory_id,
                                               DomainIAMRoleName=name, **create),
                       timeout, "the new IAM role usable by RDS")["DBCluster"]["DBClusterIdentifier"]
        yield poll(lambda: next((c for c in rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"]
                                 if [m["Status"] for m in c["DomainMemberships"]] == ["kerberos-enabled"]), None),
                   timeout, "kerberos-enabled")
    finally:
        if cluster:
            rds.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
        ds.delete_directory(DirectoryId=directory_id)
        poll(lambda: directory_id not in [d["DirectoryId"] for d in ds.describe_directories()["DirectoryDescriptions"]],
             timeout, "deleted")
        ec2.delete_security_group(GroupId=group)
        iam.detach_role_policy(RoleName=name, PolicyArn=DIRECTORY_ACCESS_POLICY)
        iam.delete_role(RoleName=name)
        lab_api(env, "POST", "knobs", {k: saved[k] for k in QUICK_KNOBS if k in saved})


DIRECTORY_ACCESS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
QUICK_KNOBS = ("directory_seconds", "directory_delete_seconds", "join_seconds", "cluster_seconds")
QUICK_SECONDS = 0.5


def current_env(env):
    """The lab's env file as it is now: the API rewrites the passwords it changes."""
    import shlex
    from pathlib import Path

    values = {}
    for line in (Path(env["LAB_STATE_DIR"]) / "env").read_text().splitlines():
        if line.startswith("export "):
            key, dummy, value = line[len("export "):].partition("=")
            values[key] = shlex.split(value)[0] if value else ""
    return values


def role_propagated(call, **kwargs):
    """call(**kwargs), or None while RDS refuses the IAM role as not valid: a role made seconds ago has not
    propagated yet (AWS_FACTS.md section 3; the lab's knob iam_propagation_seconds), as on AWS."""
    from botocore.exceptions import ClientError

    try:
        return call(**kwargs)
    except ClientError as e:
        if "IAM role provided is not valid" in e.response["Error"].get("Message", ""):
            return None
        raise


def poll(probe, timeout, what):
    """probe()'s first truthy answer, asked again until timeout seconds have passed."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what} within {timeout}s")
        time.sleep(0.1)
