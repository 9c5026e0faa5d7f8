"""The chain, end to end in the lab, from nothing and back:

check mode on a fresh lab (no write, predicts the run) -> site.yml -> a rerun changes nothing and
prints no secret -> check mode predicts no change -> verify.yml proves the logins -> a user's own
playbook include_role's cluster and db_users -> teardown.yml leaves no directory, membership, role
or rule -> a second teardown changes nothing. Kerberos follows the membership (AWS_FACTS section 10):
the endpoint has no service principal before site.yml, verify.yml logs in after it, and after
teardown's Domain none there is none again.
"""

import json
import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from ansible_run import playbook, recap
from labtools import (address_of, cluster_env, create_ad_user, current_env, delete_ad_user, kinit, lab_api, ldap_admin, master,
                      pg_connect, poll, secret_names, sql, unique)

INVENTORY = ["-i", "inventories/lab"]
CLUSTER_ID = "aurkrb-lab"  # inventories/lab
ROLE_TASK = re.compile(r"^TASK \[(?:aurora\.kerberos\.(\w+) : )?(.*?)\] \*+$")


def fresh(lab):
    """Nothing of the chain left: no directory, cluster, role or rule (the lab's own network stays)."""
    done = playbook(*INVENTORY, "playbooks/teardown.yml", "-e", "cluster_delete=true", "-e", confirm_all(lab))
    assert done.returncode == 0, done.stdout[-6000:]


def confirm_all(lab):
    """teardown_confirm naming what the lab inventory's teardown may delete: the directory and the cluster."""
    return f"teardown_confirm={lab['LAB_AD_DOMAIN']},{CLUSTER_ID}"


def changed_roles(output):
    """The roles with a changed task, and the roles site.yml's check-mode prediction names."""
    roles, role = set(), None
    for line in output.splitlines():
        task = ROLE_TASK.match(line)
        if task:
            role = task.group(1) or "site"
        elif line.startswith("changed:") and role:
            roles.add(role)
        for name in ("directory", "iam_role", "network", "cluster", "db_users"):
            if re.match(rf"^\s+- '?{name}: ", line):
                roles.add(name)
    return roles - {"site"}


def aws(lab, service):
    return boto3.client(service, endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def chain_state(lab):
    """What the chain made, read straight from the lab's AWS endpoint."""
    directories = [d for d in aws(lab, "ds").describe_directories()["DirectoryDescriptions"]
                   if d["Name"] == lab["LAB_AD_DOMAIN"] and d.get("VpcSettings", {}).get("VpcId") == lab["LAB_VPC_ID"]]
    clusters = [c for c in aws(lab, "rds").describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "aurkrb-lab"]
    roles = [r["RoleName"] for r in aws(lab, "iam").list_roles()["Roles"] if r["RoleName"] == "aurkrb-lab-rds-directory"]
    group = aws(lab, "ec2").describe_security_groups(GroupIds=[lab["LAB_DB_SECURITY_GROUP_ID"]])["SecurityGroups"][0]
    return dict(
        directories=directories,
        memberships=[m for c in clusters for m in c.get("DomainMemberships", [])],
        clusters=clusters,
        roles=roles,
        db_group_rules=[p for p in group["IpPermissions"] if p.get("UserIdGroupPairs")],
    )


@pytest.fixture(scope="module")
def predicted(lab):
    """site.yml --check on a fresh lab: its output and the calls it made."""
    fresh(lab)
    lab_api(lab, "DELETE", "calls")
    check = playbook(*INVENTORY, "site.yml", "--check", "--diff")
    calls = lab_api(lab, "GET", "calls")["calls"]
    return check, calls


@pytest.fixture(scope="module")
def converged(lab, predicted):
    first = playbook(*INVENTORY, "site.yml", "-vvvv")
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    yield first
    fresh(lab)


def secrets_of(lab):
    return [lab[name] for name in secret_names(lab)]


NOT_IN_KDC = "Server not found in Kerberos database"


def service_ticket(lab, cache):
    """What a Kerberos client gets when it asks for the service ticket of the cluster endpoint (kvno),
    holding a ticket of Admin's: '' when it gets one, else the client's error."""
    admin = current_env(lab)  # the API may have changed Admin's password
    got = kinit(lab, f"{admin['LAB_AD_ADMIN_USER']}@{lab['LAB_AD_REALM']}", admin["LAB_AD_ADMIN_PASSWORD"], cache)
    assert got.returncode == 0, got.stderr
    asked = subprocess.run(["kvno", f"postgres/{lab['LAB_PG_HOST']}"], capture_output=True, text=True, check=False,
                           env=dict(os.environ, KRB5_CONFIG=lab["KRB5_CONFIG"], KRB5CCNAME=f"FILE:{cache}"))
    return "" if asked.returncode == 0 else asked.stderr


@pytest.fixture(scope="module")
def before_site(lab, predicted, tmp_path_factory):
    """The endpoint's service ticket on the fresh lab, after check mode and before site.yml."""
    return service_ticket(lab, tmp_path_factory.mktemp("before") / "cc")


def test_no_kerberos_service_principal_before_site_yml(lab, before_site):
    assert NOT_IN_KDC in before_site, before_site


def test_check_mode_on_a_fresh_lab_writes_nothing_and_predicts_the_run(lab, predicted, converged):
    check, calls = predicted
    assert check.returncode == 0, check.stdout[-6000:]
    assert calls, "check mode read nothing"
    assert [c["operation"] for c in calls if c["mutating"]] == []
    real = changed_roles(converged.stdout)
    assert real == {"directory", "iam_role", "network", "cluster", "db_users"}, real
    assert real <= changed_roles(check.stdout), check.stdout[-6000:]


def test_the_first_run_builds_the_chain_and_prints_no_secret(lab, converged):
    state = chain_state(lab)
    assert len(state["directories"]) == 1 and state["directories"][0]["Stage"] == "Active"
    assert [m["Status"] for m in state["memberships"]] == ["kerberos-enabled"]
    assert state["memberships"][0]["Domain"] == state["directories"][0]["DirectoryId"]
    assert state["roles"] == ["aurkrb-lab-rds-directory"]
    assert state["db_group_rules"][0]["UserIdGroupPairs"][0]["GroupId"] == \
        state["directories"][0]["VpcSettings"]["SecurityGroupId"]
    # What the chain made carries its ownership tag: the directory, the cluster (copied to its snapshots) and
    # its parameter group.
    owned = {"Key": "aurora.kerberos:chain", "Value": "aurora-kerberos"}
    directory_id = state["directories"][0]["DirectoryId"]
    assert owned in aws(lab, "ds").list_tags_for_resource(ResourceId=directory_id)["Tags"]
    cluster = state["clusters"][0]
    assert owned in cluster["TagList"] and cluster["CopyTagsToSnapshot"] is True
    group = aws(lab, "rds").describe_db_cluster_parameter_groups(
        DBClusterParameterGroupName=cluster["DBClusterParameterGroup"])["DBClusterParameterGroups"][0]
    assert owned in aws(lab, "rds").list_tags_for_resource(ResourceName=group["DBClusterParameterGroupArn"])["TagList"]
    for secret in secrets_of(lab):
        assert secret not in converged.stdout and secret not in converged.stderr


def test_second_run_changes_nothing_and_prints_no_secret(lab, converged):
    # -vvvv, the most ansible-playbook prints (module arguments, results, connection debug).
    again = playbook(*INVENTORY, "site.yml", "-vvvv")
    assert again.returncode == 0, again.stdout[-6000:]
    assert recap(again.stdout)["changed"] == 0, again.stdout[-6000:]
    for output in (again.stdout, again.stderr):
        for secret in secrets_of(lab):
            assert secret not in output


def test_the_group_mapping_came_with_the_parameter_group_the_library_and_the_extension(lab, converged):
    """The lab inventory maps an AD group (db_users_group_mappings): from nothing, the cluster role made the
    cluster's custom parameter group with pg_ad_mapping after the engine's default library, the cluster was
    created with it (its writer in-sync, so no reboot was needed), the lab PostgreSQL runs with the library,
    db_users created the extension and set the mapping. The rerun above changed nothing."""
    rds = aws(lab, "rds")
    cluster = rds.describe_db_clusters(DBClusterIdentifier="aurkrb-lab")["DBClusters"][0]
    assert cluster["DBClusterParameterGroup"] == "aurkrb-lab-params"
    assert [m["DBClusterParameterGroupStatus"] for m in cluster["DBClusterMembers"]] == ["in-sync"]
    group = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName="aurkrb-lab-params")
    assert group["DBClusterParameterGroups"][0]["DBParameterGroupFamily"] == "aurora-postgresql16"
    user_set = rds.describe_db_cluster_parameters(DBClusterParameterGroupName="aurkrb-lab-params", Source="user")
    assert [(p["ParameterName"], p["ParameterValue"]) for p in user_set["Parameters"]] == \
        [("shared_preload_libraries", "pg_stat_statements,pg_ad_mapping")]
    with ldap_admin(lab) as ad:
        ad.search(lab["LAB_AD_BASE_DN"], "(sAMAccountName=db-readers)", attributes=["objectSid"])
        sid = ad.entries[0].objectSid.value
    conn = master(lab)
    try:
        assert "pg_ad_mapping" in sql(conn, "SHOW shared_preload_libraries")[0][0].split(",")
        assert sql(conn, "SELECT extname FROM pg_extension WHERE extname = 'pg_ad_mapping'") == [("pg_ad_mapping",)]
        mappings = sql(conn, "SELECT ad_sid, pg_role, weight, ad_grp FROM pgadmap_read_mapping()")
    finally:
        conn.close()
    assert mappings == [(sid, "db_readers", 10, "db-readers")]


WRONG_REGION = "eu-west-3"


def region_only_in_variables(lab):
    """-e arguments that give every role the lab's Region through the chain's one AWS connection."""
    return ["-e", json.dumps({"aurora_kerberos_aws": {"region": lab["AWS_REGION"]}})]


def nothing_in(lab, region):
    """What the chain would have made in another Region: directories, clusters, rules on the lab's VPC groups."""
    def client(service):
        return boto3.client(service, endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=region,
                            aws_access_key_id="lab", aws_secret_access_key="lab")
    return dict(directories=client("ds").describe_directories()["DirectoryDescriptions"],
                clusters=client("rds").describe_db_clusters()["DBClusters"],
                groups=[g["GroupId"] for g in client("ec2").describe_security_groups()["SecurityGroups"]
                        if g["GroupName"] != "default"])


def test_the_region_reaches_every_module_from_the_connection_variable_alone(lab, converged):
    """Issue: the roles' <role>_aws_* reached amazon.aws's modules only, not the collection's own
    (meta/runtime.yml listed none of them); now one variable, aurora_kerberos_aws, reaches them all. With no Region in the environment, a module left out fails
    ("requires a region"); with a wrong one, it looks in that Region, finds nothing and builds there."""
    unset = playbook(*INVENTORY, "site.yml", *region_only_in_variables(lab), drop_env=("AWS_REGION", "AWS_DEFAULT_REGION"))
    assert unset.returncode == 0, unset.stdout[-6000:]
    assert recap(unset.stdout)["changed"] == 0, unset.stdout[-6000:]
    wrong = playbook(*INVENTORY, "site.yml", *region_only_in_variables(lab),
                     extra_env={"AWS_REGION": WRONG_REGION, "AWS_DEFAULT_REGION": WRONG_REGION})
    assert wrong.returncode == 0, wrong.stdout[-6000:]
    assert recap(wrong.stdout)["changed"] == 0, wrong.stdout[-6000:]
    assert nothing_in(lab, WRONG_REGION) == dict(directories=[], clusters=[], groups=[])


def test_check_mode_on_a_converged_lab_predicts_no_change(lab, converged):
    lab_api(lab, "DELETE", "calls")
    check = playbook(*INVENTORY, "site.yml", "--check")
    assert check.returncode == 0, check.stdout[-6000:]
    assert recap(check.stdout)["changed"] == 0, check.stdout[-6000:]
    assert [c["operation"] for c in lab_api(lab, "GET", "calls")["calls"] if c["mutating"]] == []


def test_verify_proves_the_login_and_the_refusals(lab, converged):
    verify = playbook(*INVENTORY, "playbooks/verify.yml")
    assert verify.returncode == 0, verify.stdout[-6000:] + verify.stderr[-3000:]
    assert f"alice@{lab['LAB_AD_REALM']}: logged in over GSSAPI" in verify.stdout
    # a user of the trusted on-premises forest, through a cross-realm ticket, and a realm no trust leads to
    assert f"joe@{lab['LAB_ONPREM_REALM']}: logged in over GSSAPI" in verify.stdout
    assert "eve@UNTRUSTED.EXAMPLE.NET: no ticket" in verify.stdout
    assert verify.stdout.count("refused") >= 2
    for secret in secrets_of(lab):
        assert secret not in verify.stdout


def test_the_cluster_role_writes_the_client_krb5_conf_and_prints_its_path(lab, converged):
    path = Path(lab["LAB_STATE_DIR"]) / "krb5.conf.aurkrb-lab"
    text = path.read_text()
    assert f"default_realm = {lab['LAB_AD_REALM']}" in text and f"kdc = {lab['LAB_DC_IP']}" in text
    assert f"krb5.conf for {lab['LAB_AD_REALM']}: {path}" in converged.stdout


def test_verify_checks_the_kdc_path_first_proves_tls_apart_and_attempts_nothing_in_check_mode(lab, converged, tmp_path):
    check = playbook(*INVENTORY, "playbooks/verify.yml", "--check")
    assert check.returncode == 0, check.stdout[-6000:]
    assert "Check mode: verify.yml gets no ticket and attempts no login" in check.stdout
    assert "Get a ticket" not in check.stdout
    # No KDC reachable: stop before kinit, saying what to open.
    unreachable = tmp_path / "krb5.conf"
    unreachable.write_text(re.sub(r"(?m)^(\s*kdc\s*=\s*)\S+", r"\g<1>127.0.0.1:1", Path(lab["KRB5_CONFIG"]).read_text()))
    no_kdc = playbook(*INVENTORY, "playbooks/verify.yml", "-e", f"verify_krb5_config={unreachable}", "-e", "verify_kdc_timeout=1")
    assert no_kdc.returncode != 0
    assert "No KDC of" in no_kdc.stdout and "TCP/UDP 88 and 464" in no_kdc.stdout, no_kdc.stdout[-4000:]
    assert "Get a ticket" not in no_kdc.stdout
    # With a CA bundle, TLS is proven on a connection without GSS encryption: the lab's PostgreSQL has no TLS.
    tls = playbook(*INVENTORY, "playbooks/verify.yml", "-e", f"verify_ca_cert={lab['LAB_LDAPS_CA']}")
    assert tls.returncode != 0
    assert "TLS with sslmode=verify-full" in tls.stdout, tls.stdout[-4000:]
    assert f"alice@{lab['LAB_AD_REALM']}: logged in over GSSAPI" not in tls.stdout


def test_a_users_own_playbook_includes_the_cluster_and_db_users_roles(lab, converged, tmp_path):
    password = "Own-" + secrets.token_hex(12)
    extra = tmp_path / "own.json"
    extra.write_text(json.dumps({"own_master_password": password}))
    try:
        own = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}")
        assert own.returncode == 0, own.stdout[-6000:] + own.stderr[-3000:]
        assert password not in own.stdout
        cluster = aws(lab, "rds").describe_db_clusters(DBClusterIdentifier="reports-db")["DBClusters"][0]
        directory_id = chain_state(lab)["directories"][0]["DirectoryId"]
        assert [(m["Domain"], m["Status"]) for m in cluster["DomainMemberships"]] == [(directory_id, "kerberos-enabled")]
        assert f"user=alice@{lab['LAB_AD_REALM']}" in own.stdout
        again = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}")
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-6000:]
    finally:
        gone = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "own_state=absent")
        assert gone.returncode == 0, gone.stdout[-6000:]
    assert not [c for c in aws(lab, "rds").describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "reports-db"]


def group_exists(rds, name):
    try:
        rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=name)
        return True
    except rds.exceptions.DBParameterGroupNotFoundFault:
        return False


def test_teardown_deletes_the_parameter_group_it_made_and_leaves_the_others(lab, converged, tmp_path):
    """A deleted cluster's own DB cluster parameter group goes with it only when this chain made it (tag
    aurora.kerberos:chain) and no other cluster uses it: a same-named group someone else made is used and kept, and
    ours stays while a cluster this chain never saw uses it (AWS refuses: InvalidDBParameterGroupState)."""
    rds = aws(lab, "rds")
    password = "Own-" + secrets.token_hex(12)
    network = dict(DBSubnetGroupName=lab["LAB_DB_SUBNET_GROUP"], VpcSecurityGroupIds=[lab["LAB_DB_SECURITY_GROUP_ID"]])

    # Someone else's group, named by the user: the role sets its parameters, and never deletes it.
    theirs = unique("theirs-params-")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=theirs, DBParameterGroupFamily="aurora-postgresql16",
                                          Description="made outside this collection")
    extra = tmp_path / "theirs.json"
    extra.write_text(json.dumps({"own_cluster": "reports-theirs", "own_master_password": password,
                                 "cluster_parameter_group_name": theirs}))
    try:
        made = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}")
        assert made.returncode == 0, made.stdout[-6000:] + made.stderr[-3000:]
        assert rds.describe_db_clusters(DBClusterIdentifier="reports-theirs")["DBClusters"][0]["DBClusterParameterGroup"] == theirs
        gone = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "own_state=absent")
        assert gone.returncode == 0, gone.stdout[-6000:]
        assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "reports-theirs"]
        assert group_exists(rds, theirs)
        said = " ".join(gone.stdout.split())  # the YAML callback wraps long messages
        assert f"Kept DB cluster parameter group {theirs}: this chain (aurora-kerberos) did not create it" in said, said[-6000:]
    finally:
        rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName=theirs)

    # Ours (reports-ours-params, made and tagged by the role for pg_ad_mapping), while a cluster made outside the
    # chain uses it.
    extra = tmp_path / "ours.json"
    extra.write_text(json.dumps({"own_cluster": "reports-ours", "own_master_password": password,
                                 "cluster_pg_ad_mapping": True}))
    other = unique("theirs-db-")
    try:
        made = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}")
        assert made.returncode == 0, made.stdout[-6000:] + made.stderr[-3000:]
        group = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName="reports-ours-params")
        tags = rds.list_tags_for_resource(ResourceName=group["DBClusterParameterGroups"][0]["DBClusterParameterGroupArn"])
        assert {"Key": "aurora.kerberos:chain", "Value": "aurora-kerberos"} in tags["TagList"]
        rds.create_db_cluster(DBClusterIdentifier=other, Engine="aurora-postgresql", EngineVersion="16.6",
                              MasterUsername="theirs", MasterUserPassword=password,
                              DBClusterParameterGroupName="reports-ours-params", **network)
        kept = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "own_state=absent")
        assert kept.returncode == 0, kept.stdout[-6000:]
        assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "reports-ours"]
        assert group_exists(rds, "reports-ours-params")
        said = " ".join(kept.stdout.split())
        assert "Kept DB cluster parameter group reports-ours-params: another DB cluster still uses it" in said, said[-6000:]

        # The other cluster gone, the chain's next cluster of that name makes and deletes its group as usual.
        delete_cluster(rds, other)
        made = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}")
        assert made.returncode == 0, made.stdout[-6000:] + made.stderr[-3000:]
        gone = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "own_state=absent")
        assert gone.returncode == 0, gone.stdout[-6000:]
        assert not group_exists(rds, "reports-ours-params"), "the cluster's own parameter group goes with it"
    finally:
        if [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "reports-ours"]:
            playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "own_state=absent")
        delete_cluster(rds, other)
        if group_exists(rds, "reports-ours-params"):
            rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="reports-ours-params")


def delete_cluster(rds, cluster_id, timeout=120):
    """A cluster made outside the chain (no instances, no protection), deleted and waited for; none: nothing to do."""
    if not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == cluster_id]:
        return
    rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
    deadline = time.monotonic() + timeout
    while [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == cluster_id]:
        assert time.monotonic() < deadline, f"{cluster_id} was not deleted"
        time.sleep(1)


def test_teardown_keeps_what_clusters_share_while_one_host_failed(lab, converged, tmp_path):
    """Two more clusters on the converged chain's directory, IAM role and rules, as shared steps. One has deletion
    protection, so its host's teardown fails with the cluster still in the directory: every host then stops before
    the rules, the directory and the IAM role, which stay (that cluster still needs them), while the other host's
    cluster is deleted. Without the stop, the rules went first, under the joined cluster."""
    rds = aws(lab, "rds")
    clusters = {"tdf-01": "aurkrb-lab-tdf-01", "tdf-02": "aurkrb-lab-tdf-02"}
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(Path("inventories/lab/group_vars/all.yml").read_text())
    (inventory / "hosts.yml").write_text(json.dumps({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "hosts": {"tdf-01": {"cluster_id": clusters["tdf-01"]},
                  # The lab inventory turns deletion protection off before a delete; not for this host's cluster.
                  "tdf-02": {"cluster_id": clusters["tdf-02"], "cluster_disable_deletion_protection": False}}}}))
    steps = json.dumps({"aurora_kerberos_hosts": "all", "aurora_kerberos_steps": ["directory", "iam_role", "network", "cluster"],
                        "aurora_kerberos_shared_steps": ["directory", "iam_role", "network"]})
    confirm = ",".join([lab["LAB_AD_DOMAIN"], *clusters.values()])
    before = chain_state(lab)
    try:
        made = playbook("-i", str(inventory), "site.yml", "-e", steps)
        assert made.returncode == 0, made.stdout[-6000:] + made.stderr[-3000:]
        rds.modify_db_cluster(DBClusterIdentifier="aurkrb-lab-tdf-02", DeletionProtection=True, ApplyImmediately=True)

        torn = playbook("-i", str(inventory), "playbooks/teardown.yml", "-e", steps, "-e", "cluster_delete=true",
                        "-e", f"teardown_confirm={confirm}")
        said = " ".join(torn.stdout.split())  # the YAML callback wraps long messages
        assert torn.returncode != 0, said[-6000:]
        assert "Cluster aurkrb-lab-tdf-02 has deletion protection" in said, said[-6000:]
        assert ("tdf-02 failed, so every host stopped before the steps that delete what more than one cluster may use, "
                "and kept it (network, directory, iam_role)") in said, said[-6000:]
        left = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}
        assert "aurkrb-lab-tdf-01" not in left, "the other host's cluster is deleted"
        assert [m["Status"] for m in left["aurkrb-lab-tdf-02"]["DomainMemberships"]] == ["kerberos-enabled"]
        after = chain_state(lab)
        for kept in ("directories", "roles", "db_group_rules"):
            assert after[kept] == before[kept], kept
    finally:
        if [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "aurkrb-lab-tdf-02"]:
            rds.modify_db_cluster(DBClusterIdentifier="aurkrb-lab-tdf-02", DeletionProtection=False, ApplyImmediately=True)
        clusters_only = json.dumps({"aurora_kerberos_hosts": "all", "aurora_kerberos_steps": ["cluster"],
                                    "aurora_kerberos_shared_steps": []})
        gone = playbook("-i", str(inventory), "playbooks/teardown.yml", "-e", clusters_only, "-e", "cluster_delete=true",
                        "-e", f"teardown_confirm={confirm}")
        assert gone.returncode == 0, gone.stdout[-6000:]
        if chain_state(lab)["db_group_rules"] != before["db_group_rules"]:
            playbook(*INVENTORY, "site.yml")  # the converged chain back for the tests after this one


def test_instances_refused_by_a_busy_cluster_are_retried_and_the_cluster_goes_readers_first(lab, converged, tmp_path):
    """Two instances right after the cluster: AWS may answer InvalidDBClusterStateFault (the lab's fault
    cluster_busy_instances), which amazon.aws does not retry; the role retries and both come. Its deletion
    (cluster_delete) then takes the reader, the writer, and the cluster, and the cluster had deletion protection."""
    extra = tmp_path / "own.json"
    extra.write_text(json.dumps({"own_cluster": "reports-busy", "own_master_password": "Own-" + secrets.token_hex(12)}))
    rds = aws(lab, "rds")
    lab_api(lab, "POST", "faults", {"cluster_busy_instances": 2})
    lab_api(lab, "DELETE", "calls")
    try:
        own = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "cluster_instance_count=2")
        assert own.returncode == 0, own.stdout[-6000:] + own.stderr[-3000:]
        creates = [c["status"] for c in lab_api(lab, "GET", "calls")["calls"] if c["operation"] == "CreateDBInstance"]
        assert creates.count(400) == 2 and creates.count(200) == 2, creates
        cluster = rds.describe_db_clusters(DBClusterIdentifier="reports-busy")["DBClusters"][0]
        assert sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]) == ["reports-busy-1", "reports-busy-2"]
        assert cluster["DeletionProtection"] and cluster["BackupRetentionPeriod"] == 7
        assert {i["PubliclyAccessible"] for i in rds.describe_db_instances(
            Filters=[{"Name": "db-cluster-id", "Values": ["reports-busy"]}])["DBInstances"]} == {False}
    finally:
        lab_api(lab, "DELETE", "faults")
        lab_api(lab, "DELETE", "calls")
        # With the final snapshot the role defaults to: DeleteDBCluster takes it, and the role prints its name.
        gone = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "own_state=absent",
                        "-e", "cluster_skip_final_snapshot=false")
        assert gone.returncode == 0, gone.stdout[-6000:]
    assert "Took the final snapshot reports-busy-final of cluster reports-busy" in gone.stdout
    writes = [c["operation"] for c in lab_api(lab, "GET", "calls")["calls"] if c["mutating"] and c["service"] == "rds"]
    snapshot = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="reports-busy-final")["DBClusterSnapshots"][0]
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="reports-busy-final")
    assert (snapshot["DBClusterIdentifier"], snapshot["SnapshotType"]) == ("reports-busy", "manual")
    deletes = [w for w in writes if w.startswith("Delete") or w == "ModifyDBCluster"]
    # Domain none, protection off, then the instances, then the cluster.
    assert deletes == ["ModifyDBCluster", "ModifyDBCluster", "DeleteDBInstance", "DeleteDBInstance", "DeleteDBCluster"], writes
    assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "reports-busy"]


def test_group_mappings_on_a_cluster_without_the_preloaded_library_fail_naming_the_fix(lab, converged, tmp_path):
    """The same mappings on a cluster whose writer runs without pg_ad_mapping preloaded (one on its family's
    default parameter group, never given to the cluster role): db_users fails before writing anything, naming
    the variables that fix it; no mapped role appears."""
    rds = aws(lab, "rds")
    master_password = "Own-" + secrets.token_hex(12)
    made = rds.create_db_cluster(DBClusterIdentifier="reports-nopreload", Engine="aurora-postgresql",
                                 EngineVersion="16.6", MasterUsername="reports_admin",
                                 MasterUserPassword=master_password)["DBCluster"]
    rds.create_db_instance(DBInstanceIdentifier="reports-nopreload-1", DBClusterIdentifier="reports-nopreload",
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    play = tmp_path / "mappings.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "ansible.builtin.include_role": {"name": "aurora.kerberos.db_users"},
        "vars": {"db_users_host": made["Endpoint"], "db_users_hostaddr": address_of(lab, made["Endpoint"]),
                 "db_users_port": made["Port"], "db_users_master_user": "reports_admin",
                 "db_users_master_password": master_password, "db_users_realm": lab["LAB_AD_REALM"],
                 "db_users_sslmode": "prefer",
                 "db_users_group_mappings": [{"ad_group": "db-readers", "sid": "S-1-5-21-1-2-3-4242",
                                              "role": "ak_nopreload_readers"}]}}]}]))
    try:
        own = playbook(str(play))
        assert own.returncode != 0, own.stdout[-6000:]
        assert "pg_ad_mapping is not in shared_preload_libraries" in own.stdout, own.stdout[-6000:]
        for fix in ("db_users_group_mappings", "cluster_pg_ad_mapping", "reboots the writer"):
            assert fix in own.stdout
        assert master_password not in own.stdout
        conn = pg_connect(cluster_env(lab, made), "reports_admin", master_password)
        try:
            assert sql(conn, "SELECT count(*) FROM pg_roles WHERE rolname = 'ak_nopreload_readers'") == [(0,)]
        finally:
            conn.close()
    finally:
        rds.delete_db_instance(DBInstanceIdentifier="reports-nopreload-1", SkipFinalSnapshot=True)
        rds.delete_db_cluster(DBClusterIdentifier="reports-nopreload", SkipFinalSnapshot=True)


def test_the_pre_april_2025_trap_disables_and_enables_kerberos_with_the_opt_in(lab, converged, tmp_path):
    """AWS's trap (AD.Security.Groups, "Important"): pg_ad_mapping added to a Kerberos-enabled cluster created
    before April 2025. With cluster_pg_ad_mapping_rejoin the cluster role attaches the group, reboots the writer,
    then leaves the domain and joins it again; a second run changes nothing. (The lab backdates the cluster's
    ClusterCreateTime with its fault cluster_created_at.)"""
    rds = aws(lab, "rds")
    directory_id = chain_state(lab)["directories"][0]["DirectoryId"]
    master_password = "Own-" + secrets.token_hex(12)
    lab_api(lab, "POST", "faults", {"cluster_created_at": {"reports-2024": "2024-06-01T00:00:00Z"}})
    play = tmp_path / "trap.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "ansible.builtin.include_role": {"name": "aurora.kerberos.cluster"},
        "vars": {"cluster_id": "reports-2024", "cluster_directory_id": directory_id,
                 "cluster_iam_role_name": "aurkrb-lab-rds-directory", "cluster_realm": lab["LAB_AD_REALM"],
                 "cluster_engine_version": "16.6", "cluster_port": lab["LAB_PG_PORT"],
                 "cluster_db_subnet_group_name": lab["LAB_DB_SUBNET_GROUP"],
                 "cluster_vpc_security_group_ids": [lab["LAB_DB_SECURITY_GROUP_ID"]],
                 "cluster_master_username": "reports_admin", "cluster_master_password": master_password,
                 "cluster_pg_ad_mapping": True, "cluster_pg_ad_mapping_rejoin": True, "cluster_poll_interval": 1,
                 "cluster_krb5_conf_path": str(tmp_path / "krb5.conf")}}]}]))
    try:
        rds.create_db_cluster(DBClusterIdentifier="reports-2024", Engine="aurora-postgresql", EngineVersion="16.6",
                              MasterUsername="reports_admin", MasterUserPassword=master_password,
                              Port=int(lab["LAB_PG_PORT"]), DBSubnetGroupName=lab["LAB_DB_SUBNET_GROUP"],
                              VpcSecurityGroupIds=[lab["LAB_DB_SECURITY_GROUP_ID"]], Domain=directory_id,
                              DomainIAMRoleName="aurkrb-lab-rds-directory")
        rds.create_db_instance(DBInstanceIdentifier="reports-2024-1", DBClusterIdentifier="reports-2024",
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
        deadline = time.monotonic() + 60
        while [m["Status"] for m in rds.describe_db_clusters(DBClusterIdentifier="reports-2024")["DBClusters"][0]
               ["DomainMemberships"]] != ["kerberos-enabled"]:
            assert time.monotonic() < deadline, "the cluster never joined"
            time.sleep(0.2)
        lab_api(lab, "DELETE", "calls")
        first = playbook(str(play))
        assert first.returncode == 0, first.stdout[-6000:]
        writes = [c["operation"] for c in lab_api(lab, "GET", "calls")["calls"] if c["mutating"] and c["service"] == "rds"]
        # the group, its library, attached, the writer rebooted, then Domain none and the join again
        assert writes == ["CreateDBClusterParameterGroup", "ModifyDBClusterParameterGroup", "ModifyDBCluster",
                          "RebootDBInstance", "ModifyDBCluster", "ModifyDBCluster"], writes
        cluster = rds.describe_db_clusters(DBClusterIdentifier="reports-2024")["DBClusters"][0]
        assert [(m["Domain"], m["Status"]) for m in cluster["DomainMemberships"]] == [(directory_id, "kerberos-enabled")]
        assert cluster["DBClusterParameterGroup"] == "reports-2024-params"
        again = playbook(str(play))
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-6000:]
        assert master_password not in first.stdout + again.stdout
    finally:
        lab_api(lab, "DELETE", "faults")
        for call in (lambda: rds.delete_db_instance(DBInstanceIdentifier="reports-2024-1", SkipFinalSnapshot=True),
                     lambda: rds.delete_db_cluster(DBClusterIdentifier="reports-2024", SkipFinalSnapshot=True),
                     lambda: rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="reports-2024-params")):
            try:
                call()
            except rds.exceptions.ClientError:
                pass


def test_an_adopted_cluster_with_a_managed_master_password_gets_its_logins_through_the_secret(lab, converged, tmp_path):
    """The cluster role adopts a cluster made with ManageMasterUserPassword; db_users reads the master
    password from the cluster's Secrets Manager secret (no password anywhere in the playbook's variables)."""
    rds = aws(lab, "rds")
    rds.create_db_cluster(DBClusterIdentifier="reports-managed", Engine="aurora-postgresql", EngineVersion="16.6",
                          MasterUsername="reports_admin", ManageMasterUserPassword=True, Port=int(lab["LAB_PG_PORT"]),
                          DBSubnetGroupName=lab["LAB_DB_SUBNET_GROUP"], VpcSecurityGroupIds=[lab["LAB_DB_SECURITY_GROUP_ID"]])
    rds.create_db_instance(DBInstanceIdentifier="reports-managed-1", DBClusterIdentifier="reports-managed",
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    extra = tmp_path / "own.json"
    extra.write_text(json.dumps({"own_cluster": "reports-managed", "own_managed": True, "own_master_password": None,
                                 "own_region": lab["AWS_REGION"]}))
    try:
        # The secret is read in the Region of the playbook's own module_defaults, not the environment's.
        own = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}",
                       extra_env={"AWS_REGION": WRONG_REGION, "AWS_DEFAULT_REGION": WRONG_REGION})
        assert own.returncode == 0, own.stdout[-6000:] + own.stderr[-3000:]
        secret_arn = rds.describe_db_clusters(DBClusterIdentifier="reports-managed")["DBClusters"][0]["MasterUserSecret"]["SecretArn"]
        secret = json.loads(aws(lab, "secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
        assert secret["password"] not in own.stdout and secret["password"] not in own.stderr
        cluster = rds.describe_db_clusters(DBClusterIdentifier="reports-managed")["DBClusters"][0]
        assert [m["Status"] for m in cluster["DomainMemberships"]] == ["kerberos-enabled"]
    finally:
        gone = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "own_state=absent")
        assert gone.returncode == 0, gone.stdout[-6000:]


def test_a_new_cluster_with_a_managed_master_password_is_created_and_gets_its_logins(lab, converged, tmp_path):
    """cluster_manage_master_user_password: true creates the cluster (aurora.kerberos.cluster_create sends
    ManageMasterUserPassword, which amazon.aws.rds_cluster cannot): no MasterUserPassword anywhere, the secret
    RDS made holds the password db_users logs in with, and a second run changes nothing."""
    rds = aws(lab, "rds")
    extra = tmp_path / "own.json"
    extra.write_text(json.dumps({"own_cluster": "reports-new-managed", "own_managed": True, "own_master_password": None}))
    try:
        own = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}")
        assert own.returncode == 0, own.stdout[-6000:] + own.stderr[-3000:]
        cluster = rds.describe_db_clusters(DBClusterIdentifier="reports-new-managed")["DBClusters"][0]
        assert cluster["MasterUserSecret"]["SecretArn"]
        assert {"Key": "aurora.kerberos:chain", "Value": "aurora-kerberos"} in cluster["TagList"]
        assert [m["Status"] for m in cluster["DomainMemberships"]] == ["kerberos-enabled"]
        assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == ["reports-new-managed-1"]
        secret = json.loads(aws(lab, "secretsmanager").get_secret_value(
            SecretId=cluster["MasterUserSecret"]["SecretArn"])["SecretString"])
        assert secret["password"] not in own.stdout and secret["password"] not in own.stderr
        assert f"user=alice@{lab['LAB_AD_REALM']}" in own.stdout
        again = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}")
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-6000:]
    finally:
        gone = playbook("tests/integration/playbooks/own_playbook.yml", "-e", f"@{extra}", "-e", "own_state=absent")
        assert gone.returncode == 0, gone.stdout[-6000:]
    assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "reports-new-managed"]


def test_a_later_play_publishes_the_cluster_as_it_is_not_as_an_earlier_play_read_it(lab, tmp_path):
    """One ansible-playbook command keeps registered values across plays: the cluster role's read entry point in a
    second play publishes the cluster as it is now (deletion protection turned on between the plays), not the
    first play's read after its change."""
    rds = aws(lab, "rds")
    extra = tmp_path / "two.json"
    extra.write_text(json.dumps({"two_master_password": "Two-" + secrets.token_hex(12)}))
    try:
        two = playbook("tests/integration/playbooks/two_plays.yml", "-e", f"@{extra}")
        assert two.returncode == 0, two.stdout[-6000:] + two.stderr[-3000:]
        assert rds.describe_db_clusters(DBClusterIdentifier="two-plays-db")["DBClusters"][0]["DeletionProtection"]
    finally:
        found = [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "two-plays-db"]
        if found:
            rds.modify_db_cluster(DBClusterIdentifier="two-plays-db", DeletionProtection=False, ApplyImmediately=True)
            for member in found[0]["DBClusterMembers"]:
                rds.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"], SkipFinalSnapshot=True)
            poll(lambda: not rds.describe_db_clusters(DBClusterIdentifier="two-plays-db")["DBClusters"][0]["DBClusterMembers"],
                 60, "the instances deleted")
            rds.delete_db_cluster(DBClusterIdentifier="two-plays-db", SkipFinalSnapshot=True)
            poll(lambda: not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "two-plays-db"],
                 60, "the cluster deleted")


INSTANCE_INVENTORY = ["-i", "inventories/lab_instance"]
INSTANCE_ID = "aurkrb-lab-pg"  # inventories/lab_instance


def instance_gss_login(lab, endpoint, cache):
    """alice's GSSAPI login to the DB instance's own database: None when it works, else the error."""
    got = kinit(lab, f"alice@{lab['LAB_AD_REALM']}", lab["LAB_USER_PASSWORD"], cache)
    assert got.returncode == 0, got.stderr
    instance = rds_endpoint(lab, endpoint)
    try:
        conn = pg_connect(instance, f"alice@{lab['LAB_AD_REALM']}", ccache=cache)
    except Exception as error:  # psycopg2.OperationalError: the refusal is the answer
        return str(error)
    try:
        assert sql(conn, "SELECT gss_authenticated FROM pg_stat_gssapi WHERE pid = pg_backend_pid()") == [(True,)]
    finally:
        conn.close()
    return None


def rds_endpoint(lab, endpoint):
    """The env pointed at a DB instance's endpoint: its name, the lab's address for it, its port."""
    return dict(lab, LAB_PG_HOST=endpoint["Address"], LAB_PG_HOSTADDR=address_of(lab, endpoint["Address"]),
                LAB_PG_PORT=str(endpoint["Port"]))


def test_an_rds_for_postgresql_instance_joins_logs_alice_in_and_leaves(lab, converged, tmp_path):
    """Issue 15: inventories/lab_instance (the cluster role with cluster_kind instance) makes an RDS for PostgreSQL DB
    instance beside the demo cluster, in the same directory: kerberos-enabled in DescribeDBInstances, alice logs in to
    its endpoint over GSSAPI (verify.yml), a second run changes nothing; teardown takes it out of the directory
    (DisableDomain) and her GSSAPI login fails, then deletes it (named in teardown_confirm) and nothing else."""
    rds = aws(lab, "rds")
    try:
        first = playbook(*INSTANCE_INVENTORY, "site.yml")
        assert first.returncode == 0, first.stdout[-6000:]
        instance = rds.describe_db_instances(DBInstanceIdentifier=INSTANCE_ID)["DBInstances"][0]
        directory_id = chain_state(lab)["directories"][0]["DirectoryId"]
        assert instance["Engine"] == "postgres" and "DBClusterIdentifier" not in instance
        assert [(m["Domain"], m["Status"]) for m in instance["DomainMemberships"]] == [(directory_id, "kerberos-enabled")]
        assert {"Key": "aurora.kerberos:chain", "Value": "aurora-kerberos"} in instance["TagList"]

        verified = playbook(*INSTANCE_INVENTORY, "playbooks/verify.yml")
        assert verified.returncode == 0, verified.stdout[-6000:]
        assert f"alice@{lab['LAB_AD_REALM']}: logged in over GSSAPI" in verified.stdout

        again = playbook(*INSTANCE_INVENTORY, "site.yml")
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-6000:]

        # Only the membership goes (alice's login stays): the GSSAPI login fails because the instance left.
        assert instance_gss_login(lab, instance["Endpoint"], tmp_path / "joined") is None
        left = playbook(*INSTANCE_INVENTORY, "playbooks/teardown.yml", "-e", '{"aurora_kerberos_steps": ["cluster"]}')
        assert left.returncode == 0, left.stdout[-6000:]
        assert rds.describe_db_instances(DBInstanceIdentifier=INSTANCE_ID)["DBInstances"][0]["DomainMemberships"] == []
        refused = instance_gss_login(lab, instance["Endpoint"], tmp_path / "left")
        assert refused is not None, "alice still logs in over GSSAPI after the instance left the directory"
        assert "GSSAPI" in refused or NOT_IN_KDC in refused, refused

        gone = playbook(*INSTANCE_INVENTORY, "playbooks/teardown.yml", "-e", '{"aurora_kerberos_steps": ["db_users", "cluster"]}',
                        "-e", "cluster_delete=true", "-e", f"teardown_confirm={INSTANCE_ID}")
        assert gone.returncode == 0, gone.stdout[-6000:]
        assert INSTANCE_ID not in [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
        # The demo chain is untouched: its directory, its cluster's membership, its IAM role.
        state = chain_state(lab)
        assert [m["Status"] for m in state["memberships"]] == ["kerberos-enabled"] and state["roles"]
    finally:
        if INSTANCE_ID in [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]:
            rds.delete_db_instance(DBInstanceIdentifier=INSTANCE_ID, SkipFinalSnapshot=True)


def mutating_calls(lab):
    return [c["operation"] for c in lab_api(lab, "GET", "calls")["calls"] if c["mutating"]]


def test_teardown_deletes_only_what_the_run_names_and_a_second_teardown_changes_nothing(lab, converged, tmp_path):
    """Issues 20 and 21: --check lists every deletion in order and writes nothing; without teardown_confirm the
    directory and the cluster stay (the rest goes) and the run says what it kept and what to set; a protected
    cluster stops cluster_delete before anything of it changes; a directory holding an AD user made outside the
    collection is refused, naming it; with the confirmation both go, and a second run changes nothing."""
    domain = lab["LAB_AD_DOMAIN"]
    state = chain_state(lab)
    assert len(state["directories"]) == 1 and state["clusters"][0]["DeletionProtection"], "new clusters are protected"

    lab_api(lab, "DELETE", "calls")
    check = playbook(*INVENTORY, "playbooks/teardown.yml", "--check", "-e", "cluster_delete=true", "-e", confirm_all(lab))
    assert check.returncode == 0, check.stdout[-6000:]
    assert lab_api(lab, "GET", "calls")["calls"] and mutating_calls(lab) == []
    plan = check.stdout.split("A real run deletes, in order:", 1)[1].split("TASK [", 1)[0]
    steps = ["Kerberos logins of db_users_logins", "membership in its directory", f"the instances {CLUSTER_ID}-1",
             "security group rules", f"directory {domain}", "IAM role aurkrb-lab-rds-directory"]
    positions = [plan.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), plan
    assert len(chain_state(lab)["memberships"]) == 1

    # No confirmation. Its reads and deletes go where the role variables say, whatever Region the environment names.
    down = playbook(*INVENTORY, "playbooks/teardown.yml", "-e", "cluster_delete=true", *region_only_in_variables(lab),
                    extra_env={"AWS_REGION": WRONG_REGION, "AWS_DEFAULT_REGION": WRONG_REGION})
    assert down.returncode == 0, down.stdout[-6000:]
    assert recap(down.stdout)["changed"] > 0
    state = chain_state(lab)
    assert state["memberships"] == [] and state["roles"] == [] and state["db_group_rules"] == []
    assert len(state["directories"]) == 1 and len(state["clusters"]) == 1, "nothing named, nothing deleted"
    # Domain none completed: the endpoint's service principal went with the membership.
    assert NOT_IN_KDC in service_ticket(lab, tmp_path / "cc")
    kept = down.stdout.split("Teardown kept, on purpose:", 1)[1]
    assert f"add {CLUSTER_ID} to teardown_confirm" in kept and f"add {domain}" in kept, kept[:2000]

    # Named, but the cluster has deletion protection: nothing of it changes, no instance goes.
    lab_api(lab, "DELETE", "calls")
    protected = playbook(*INVENTORY, "playbooks/teardown.yml", "-e", "cluster_delete=true", "-e", confirm_all(lab),
                         "-e", "cluster_disable_deletion_protection=false")
    assert protected.returncode != 0 and "has deletion protection" in protected.stdout, protected.stdout[-6000:]
    assert "cluster_disable_deletion_protection: true" in protected.stdout
    assert mutating_calls(lab) == []
    assert [m["DBInstanceIdentifier"] for m in chain_state(lab)["clusters"][0]["DBClusterMembers"]] == [f"{CLUSTER_ID}-1"]

    # The directory is named, but holds a user this collection did not make.
    carol = unique("carol")
    create_ad_user(lab, carol, "Carol-" + secrets.token_hex(8) + "!")
    try:
        refused = playbook(*INVENTORY, "playbooks/teardown.yml", "-e", f"teardown_confirm={domain}")
        assert refused.returncode != 0 and carol in refused.stdout, refused.stdout[-6000:]
        assert "directory_delete_with_foreign_objects" in refused.stdout
        assert len(chain_state(lab)["directories"]) == 1
    finally:
        delete_ad_user(lab, carol)

    both = playbook(*INVENTORY, "playbooks/teardown.yml", "-e", "cluster_delete=true", "-e", confirm_all(lab))
    assert both.returncode == 0, both.stdout[-6000:]
    state = chain_state(lab)
    assert state["directories"] == [] and state["clusters"] == []
    assert not group_exists(aws(lab, "rds"), f"{CLUSTER_ID}-params"), "the cluster's own parameter group goes with it"
    assert "Teardown kept" not in both.stdout
    again = playbook(*INVENTORY, "playbooks/teardown.yml", "-e", "cluster_delete=true", "-e", confirm_all(lab))
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-6000:]
