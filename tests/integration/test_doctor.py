"""playbooks/doctor.yml on a converged chain (issue 14): a working login passes ("all links hold"), in check
mode too, writing nothing and printing no secret; then each fault, injected one at a time with a direct
API, LDAP or SQL call, fails the doctor at its link with the evidence and a fix, and the fix applied makes
it pass again. On the same chain, psql, psycopg and pgjdbc log in with the client kit's files alone
(playbooks/client_kit.yml), and the kit the cluster role publishes is the same kit. The chain is converged
once (site.yml, with client_kit.yml after it in the same run) and torn down at the end.

The KDC's ports are blocked in the lab's namespace with policy routing (ip rule ... sport <port> blackhole:
the DC's answers are dropped, as a firewall that drops would; these machines have no iptables or nft). The
client's clock is set 10 minutes ahead with libfaketime (make setup installs it) for the whole doctor run
(ahead, not behind: the lab's LDAPS certificate may be younger than 10 minutes).
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import pytest
from ldap3 import MODIFY_ADD
from ldap3 import MODIFY_DELETE
from ldap3 import MODIFY_REPLACE

from ansible_run import playbook
from labtools import create_ad_user, current_env, delete_ad_user, lab_api, ldap_admin, master, poll, secret_names, sql

INVENTORY = ["-i", "inventories/lab"]
CLUSTER_ID = "aurkrb-lab"  # inventories/lab
IAM_ROLE = "aurkrb-lab-rds-directory"  # inventories/lab
ALL_HOLD = "all links hold"
# SQL the doctor proposes in a fix, to be run as the master user exactly as written.
FIX_SQL = re.compile(r'((?:CREATE ROLE|GRANT|REVOKE|ALTER ROLE) [^;(]*?)(?=\s*(?:;|\(|$))')
MAPPING_SQL = re.compile(r"SELECT pgadmap_set_mapping\([^)]*\)")


def teardown():
    done = playbook(*INVENTORY, "playbooks/teardown.yml", "-e", "cluster_delete=true",
                    "-e", f"teardown_confirm={os.environ['LAB_AD_DOMAIN']},{CLUSTER_ID}")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def published_kit(tmp_path_factory):
    return tmp_path_factory.mktemp("published") / "kit"


@pytest.fixture(scope="module")
def chain(lab, published_kit):
    # client_kit.yml after site.yml in the same run writes the kit the cluster role published (cluster__output).
    done = playbook(*INVENTORY, "site.yml", "playbooks/client_kit.yml", "-e", f"client_kit_dir={published_kit}")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    # The kit came from cluster__output (site.yml's last step, joined, kept it), not from a read of its own.
    written = done.stdout.split("TASK [Write the kit the cluster role published", 1)[1].split("TASK [", 1)[0]
    assert "changed: [" in written, written
    yield lab
    lab_api(lab, "DELETE", "faults")
    teardown()


def aws(service):
    return boto3.client(service)


def directory():
    return next(d for d in aws("ds").describe_directories()["DirectoryDescriptions"]
                if d["Name"] == os.environ["LAB_AD_DOMAIN"] and d["Stage"] not in ("Deleting", "Deleted"))


def principal():
    return f"alice@{os.environ['LAB_AD_REALM']}"


def doctor(*args, env=None, **variables):
    """doctor.yml for alice (her password comes from the inventory's verify_logins), with extra variables."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as extra:
        json.dump(dict({"doctor_principal": principal()}, **variables), extra)
    started = time.monotonic()
    try:
        # One JSON line per result, so the failed task's result can be read back.
        run = playbook(*INVENTORY, "playbooks/doctor.yml", "-e", f"@{extra.name}", *args,
                       extra_env=dict(env or {}, ANSIBLE_CALLBACK_RESULT_FORMAT="json"))
    finally:
        os.unlink(extra.name)
    # Reported, not asserted (pytest -rP shows it): the doctor's wall time for this run.
    print(f"doctor.yml {' '.join(args)} {sorted(variables)}: rc {run.returncode} in {time.monotonic() - started:.1f} s")
    return run


def failed_result(run):
    """The failed task's JSON result."""
    assert run.returncode != 0, run.stdout[-4000:]
    for line in run.stdout.splitlines():
        if line.startswith("fatal:") and "=> " in line:
            result = json.loads(line.split("=> ", 1)[1])
            assert "broken" in result, line
            return result
    raise AssertionError("no failed task in:\n" + run.stdout[-4000:])


def broken(run):
    """The broken finding the failed task reports (its JSON result)."""
    return failed_result(run)["broken"]


def holds(run):
    assert run.returncode == 0 and ALL_HOLD in run.stdout, run.stdout[-5000:] + run.stderr[-2000:]
    return run


def fix_sql(item):
    """Run the SQL of the doctor's fix as the master user, as a reader would paste it."""
    statements = FIX_SQL.findall(item["fix"])
    assert statements, item["fix"]
    run_sql(*statements)


def run_sql(*statements):
    conn = master(current_env(os.environ))
    try:
        for statement in statements:
            sql(conn, statement)
    finally:
        conn.close()


def ldap_modify(changes, name="alice"):
    with ldap_admin(current_env(os.environ)) as conn:
        conn.search(os.environ["LAB_AD_BASE_DN"], f"(sAMAccountName={name})")
        dn = conn.entries[0].entry_dn
        if changes == "password":
            conn.extend.microsoft.modify_password(dn, os.environ["LAB_USER_PASSWORD"])
        else:
            conn.modify(dn, {k: [(MODIFY_REPLACE, [v])] for k, v in changes.items()})


def membership_statuses():
    cluster = aws("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER_ID)["DBClusters"][0]
    instances = aws("rds").describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER_ID]}])["DBInstances"]
    return [m["Status"] for r in [cluster] + instances for m in r.get("DomainMemberships") or []
            if m["Status"] != "removed"]


def join(status="kerberos-enabled"):
    aws("rds").modify_db_cluster(DBClusterIdentifier=CLUSTER_ID, Domain=directory()["DirectoryId"],
                                 DomainIAMRoleName=IAM_ROLE, ApplyImmediately=True)
    poll(lambda: membership_statuses() and set(membership_statuses()) == {status}, 60, status)


def leave():
    aws("rds").modify_db_cluster(DBClusterIdentifier=CLUSTER_ID, Domain="none", ApplyImmediately=True)
    poll(lambda: membership_statuses() == [], 60, "out of the domain")


def db_rules_from_the_directory():
    """The DB group's inbound rules that reference the directory's group, as EC2 describes them (tags included)."""
    ec2, group = aws("ec2"), os.environ["LAB_DB_SECURITY_GROUP_ID"]
    dc_group = directory()["VpcSettings"]["SecurityGroupId"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    return [r for r in rules if not r["IsEgress"] and (r.get("ReferencedGroupInfo") or {}).get("GroupId") == dc_group]


def restore_rule(rule):
    """The rule again, with its description and tags, so the network role still knows it as its own."""
    pair = {"GroupId": rule["ReferencedGroupInfo"]["GroupId"]}
    if rule.get("Description"):
        pair["Description"] = rule["Description"]
    tags = {"TagSpecifications": [{"ResourceType": "security-group-rule", "Tags": rule["Tags"]}]} if rule.get("Tags") else {}
    aws("ec2").authorize_security_group_ingress(GroupId=rule["GroupId"], IpPermissions=[dict(
        IpProtocol=rule["IpProtocol"], FromPort=rule["FromPort"], ToPort=rule["ToPort"], UserIdGroupPairs=[pair])], **tags)


KERBEROS_FROM_VPC = [dict(IpProtocol="tcp", FromPort=88, ToPort=88, IpRanges=[{"CidrIp": "10.0.0.0/16"}])]


def krb5_conf(tmp_path, text):
    path = tmp_path / "krb5.conf"
    path.write_text(text)
    return str(path)


def lab_krb5():
    return Path(os.environ["KRB5_CONFIG"]).read_text()


def without_section(text, name):
    return re.sub(rf"(?ms)^\[{name}\].*?(?=^\[|\Z)", "", text)


def without_realm(text):
    return re.sub(rf"(?ms)^\s*{re.escape(os.environ['LAB_AD_REALM'])}\s*=\s*{{.*?^\s*}}\s*$", "", text)


# --- a working login -------------------------------------------------------------------------------

def test_a_working_login_holds_in_check_mode_too_writes_nothing_and_prints_no_secret(chain):
    before = set(os.listdir(tempfile.gettempdir()))
    lab_api(chain, "DELETE", "calls")
    run = holds(doctor("--check", "-vvv"))
    assert [c["operation"] for c in lab_api(chain, "GET", "calls")["calls"] if c["mutating"]] == []
    for name in secret_names(chain):
        assert chain[name] not in run.stdout and chain[name] not in run.stderr, name
    left = [n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("aurora-kerberos-doctor.")]
    assert left == []
    # Every link was walked, in order, and said so.
    for words in ("kerberos-enabled in d-", "exists.", "-> rds_ad", "got a ticket", "over GSSAPI"):
        assert words in run.stdout, words
    assert run.stdout.index("kerberos-enabled in d-") < run.stdout.index("-> rds_ad") < run.stdout.index("over GSSAPI")


def test_a_principal_without_a_realm_is_refused_before_anything_is_read(chain):
    run = playbook(*INVENTORY, "playbooks/doctor.yml", "-e", "doctor_principal=alice")
    assert run.returncode != 0 and "doctor_principal" in run.stdout, run.stdout[-3000:]
    assert "AWS, AD and database links" not in run.stdout


# --- the faults, one at a time ---------------------------------------------------------------------

def test_directory_not_active(chain):
    lab_api(chain, "POST", "faults", {"directory_stage": {directory()["DirectoryId"]: ["Impaired", "The DCs are down"]}})
    try:
        item = broken(doctor())
        assert (item["link"], item["check"]) == ("aws", "directory") and "Impaired: The DCs are down" in item["evidence"]
    finally:
        lab_api(chain, "DELETE", "faults")
    holds(doctor())


def test_cluster_not_joined(chain):
    leave()
    try:
        item = broken(doctor())
        assert (item["link"], item["check"]) == ("aws", "cluster_membership"), item
        assert "not a member of any directory" in item["evidence"] and "modify-db-cluster" in item["fix"]
    finally:
        join()
    holds(doctor())


def test_join_failed(chain):
    leave()
    lab_api(chain, "POST", "faults", {"fail_next_join": "the domain controllers did not answer"})
    try:
        join("enable-kerberos-failed")
        item = broken(doctor())
        assert (item["link"], item["check"]) == ("aws", "cluster_membership"), item
        assert "enable-kerberos-failed" in item["evidence"] and "same directory id" in item["fix"]
    finally:
        lab_api(chain, "DELETE", "faults")
        join()
    holds(doctor())


def test_db_security_group_closed_to_the_directory(chain):
    rules = db_rules_from_the_directory()
    assert rules
    aws("ec2").revoke_security_group_ingress(GroupId=os.environ["LAB_DB_SECURITY_GROUP_ID"],
                                             SecurityGroupRuleIds=[r["SecurityGroupRuleId"] for r in rules])
    try:
        item = broken(doctor())
        assert (item["link"], item["check"]) == ("aws", "db_security_group_ingress"), item
        assert directory()["VpcSettings"]["SecurityGroupId"] in item["fix"]
    finally:
        for rule in rules:
            restore_rule(rule)
    holds(doctor())


def test_domain_controllers_group_closed_to_the_db(chain):
    group = directory()["VpcSettings"]["SecurityGroupId"]
    aws("ec2").revoke_security_group_ingress(GroupId=group, IpPermissions=KERBEROS_FROM_VPC)
    try:
        item = broken(doctor())
        assert (item["link"], item["check"]) == ("aws", "directory_controllers_ingress"), item
        assert "TCP 88" in item["evidence"] and group in item["fix"]
    finally:
        aws("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=KERBEROS_FROM_VPC)
    holds(doctor())


def test_no_such_ad_user(chain):
    delete_ad_user(current_env(os.environ), "alice")
    try:
        item = broken(doctor())
        assert (item["link"], item["check"]) == ("ad", "user_exists"), item
        assert "Create it" in item["fix"]
    finally:
        create_ad_user(current_env(os.environ), "alice", os.environ["LAB_USER_PASSWORD"])
    holds(doctor())


@pytest.mark.parametrize("check, change, fix", [
    ("user_enabled", {"userAccountControl": 514}, {"userAccountControl": 512}),
    ("password_not_expired", {"pwdLastSet": 0}, "password"),
    ("aes_keys", {"msDS-SupportedEncryptionTypes": 4}, {"msDS-SupportedEncryptionTypes": 24}),
], ids=["disabled", "password_expired", "no_aes"])
def test_ad_user_state(chain, check, change, fix):
    ldap_modify(change)
    try:
        item = broken(doctor())
        assert (item["link"], item["check"]) == ("ad", check), item
    finally:
        ldap_modify(fix)
    holds(doctor())


@pytest.mark.parametrize("check, inject", [
    ("login_role", ['DROP ROLE "alice@{realm}"']),
    ("login_role", ['ALTER ROLE "alice@{realm}" RENAME TO "Alice@{realm}"']),
    ("rds_ad", ['REVOKE rds_ad FROM "alice@{realm}"']),
    ("no_rds_iam", ['GRANT rds_iam TO "alice@{realm}"']),
], ids=["no_login_role", "wrong_case", "no_rds_ad", "also_rds_iam"])
def test_database_role(chain, check, inject):
    realm = os.environ["LAB_AD_REALM"]
    run_sql(*(s.format(realm=realm) for s in inject))
    try:
        item = broken(doctor())
        assert (item["link"], item["check"]) == ("database", check), item
        fix_sql(item)
        holds(doctor())
    finally:
        alice_as_db_users_made_her()


def alice_as_db_users_made_her():
    """alice's login as the db_users role makes it, whatever a failed test left (a no-op after a good fix)."""
    login = principal()
    run_sql(f"""DO $$ BEGIN
                  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'Alice@{os.environ['LAB_AD_REALM']}') THEN
                    ALTER ROLE "Alice@{os.environ['LAB_AD_REALM']}" RENAME TO "{login}";
                  END IF;
                  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN
                    CREATE ROLE "{login}" LOGIN;
                  END IF;
                END $$""", f'GRANT rds_ad TO "{login}"', f'REVOKE rds_iam FROM "{login}"')


def test_no_connect_on_the_database(chain):
    run_sql("CREATE DATABASE doctor_db", "REVOKE CONNECT ON DATABASE doctor_db FROM PUBLIC")
    try:
        item = broken(doctor(doctor_database="doctor_db"))
        assert (item["link"], item["check"]) == ("database", "connect"), item
        fix_sql(item)
        holds(doctor(doctor_database="doctor_db"))
    finally:
        run_sql("DROP DATABASE doctor_db")


def test_krb5_conf_without_the_realm(chain, tmp_path):
    item = broken(doctor(doctor_krb5_config=krb5_conf(tmp_path, without_realm(lab_krb5()))))
    assert (item["link"], item["check"]) == ("client", "krb5_conf_realm"), item
    assert "cluster_krb5_conf_path" in item["fix"]
    holds(doctor(doctor_krb5_config=str(Path(os.environ["LAB_STATE_DIR"]) / f"krb5.conf.{CLUSTER_ID}")))


def test_krb5_conf_without_a_domain_realm_entry(chain, tmp_path):
    # With the directory's realm as the default realm the KDC answers by referral: a warning, not a break.
    warned = holds(doctor(doctor_krb5_config=krb5_conf(tmp_path, without_section(lab_krb5(), "domain_realm")))).stdout
    assert "AWS documents the entry" in warned
    # A client whose own realm is another one asks that realm: broken.
    other = without_section(lab_krb5(), "domain_realm").replace(
        f"default_realm = {os.environ['LAB_AD_REALM']}", "default_realm = HOME.EXAMPLE.NET")
    path = krb5_conf(tmp_path, other)
    item = broken(doctor(doctor_krb5_config=path))
    assert (item["link"], item["check"]) == ("client", "krb5_conf_domain_realm"), item
    entry = re.search(r"\[domain_realm\] (\S+ = \S+?)\.?$", item["fix"]).group(1)
    Path(path).write_text(other + f"\n[domain_realm]\n    {entry}\n")
    holds(doctor(doctor_krb5_config=path))


def test_an_endpoint_name_with_no_service_principal(chain):
    item = broken(doctor(doctor_host="db.corp.example.com"))
    assert (item["link"], item["check"]) == ("client", "service_ticket"), item
    assert "Server not found in Kerberos database" in item["evidence"]
    assert f"Dial {os.environ['LAB_PG_HOST']} itself" in item["fix"]
    holds(doctor(doctor_host=os.environ["LAB_PG_HOST"]))


@contextlib.contextmanager
def blocked(port):
    """The DC's answers from port, TCP and UDP, dropped in the lab's namespace (policy routing: ip rule ...
    blackhole, which the reply's route lookup meets; no iptables or nft here). Removed on the way out."""
    netns = os.environ["LAB_NETNS"]
    prefs = {"tcp": "91", "udp": "92"}

    def ip_rule(*args):
        subprocess.run(["ip", "netns", "exec", netns, "ip", "rule", *args], check=True, capture_output=True)

    for proto, pref in prefs.items():
        ip_rule("add", "pref", pref, "ipproto", proto, "sport", str(port), "blackhole")
    try:
        yield
    finally:
        for pref in prefs.values():
            ip_rule("del", "pref", pref)


def test_the_kdc_port_blocked(chain):
    with blocked(88):
        item = broken(doctor(doctor_timeout=2))
    assert (item["link"], item["check"]) == ("client", "kdc_reachable"), item
    assert f"{os.environ['LAB_DC_IP']}:88" in item["evidence"] and "88 and 464" in item["fix"]
    holds(doctor())


def test_kpasswd_blocked_on_tcp_and_udp_is_named_and_the_login_still_holds(chain):
    dc = os.environ["LAB_DC_IP"]
    with blocked(464):
        warned = holds(doctor(doctor_timeout=2)).stdout
    for transport in ("TCP", "UDP"):
        assert f"{transport} {dc}:464" in warned, warned[-3000:]
    assert "changing a password from this client" in warned
    fixed = holds(doctor()).stdout
    assert "kpasswd answers on TCP and UDP 464" in fixed and f"{dc}:464" not in fixed


def ad_group(name, change, user="alice"):
    """Add the user to the AD group name (MODIFY_ADD) or take it out (MODIFY_DELETE); the group's SID."""
    with ldap_admin(current_env(os.environ)) as conn:
        conn.search(os.environ["LAB_AD_BASE_DN"], f"(sAMAccountName={user})")
        alice = conn.entries[0].entry_dn
        conn.search(os.environ["LAB_AD_BASE_DN"], f"(sAMAccountName={name})", attributes=["objectSid"])
        group = conn.entries[0]
        conn.modify(group.entry_dn, {"member": [(change, [alice])]})
        return str(group.objectSid)


def test_a_group_member_whose_group_has_no_mapping(chain):
    sid = ad_group("db-readers", MODIFY_ADD)
    # The mapping db_users made (inventories/lab: db-readers -> db_readers, weight 10), reset as a reader might.
    run_sql(f"SELECT pgadmap_reset_mapping('{sid}', 'db_readers', 10)")
    try:
        item = broken(doctor(doctor_group="db-readers"))
        assert (item["link"], item["check"]) == ("database", "ad_group_mapping"), item
        assert sid in item["evidence"] and "db_users_group_mappings" in item["fix"]
        # The fix as written, with the role the reader chooses for <role>.
        run_sql(MAPPING_SQL.search(item["fix"]).group(0).replace("<role>", "db_readers"))
        fixed = holds(doctor(doctor_group="db-readers")).stdout
        assert f"pg_ad_mapping maps db-readers ({sid}) to db_readers (weight 10)" in fixed
    finally:
        run_sql(f"""DO $$ BEGIN
                      IF NOT EXISTS (SELECT FROM pgadmap_read_mapping() WHERE ad_sid = '{sid}') THEN
                        PERFORM pgadmap_set_mapping('db-readers', 'db_readers', '{sid}', 10);
                      END IF;
                    END $$""")
        ad_group("db-readers", MODIFY_DELETE)


def test_a_user_without_a_login_role_is_checked_through_the_mappings_of_its_groups(chain):
    """bob has no login role (inventories/lab). Without a group he is broken at login_role; once in db-readers the
    Database link goes through the group's mapping (read from his tokenGroups) and holds. The lab PostgreSQL keeps
    mappings but cannot log a group member in (lab/README.md), so the walk ends at the client's login here."""
    bob = dict(doctor_principal=f"bob@{os.environ['LAB_AD_REALM']}", doctor_password=os.environ["LAB_USER_PASSWORD"])
    item = broken(doctor(**bob))
    assert (item["link"], item["check"]) == ("database", "login_role"), item
    sid = ad_group("db-readers", MODIFY_ADD, "bob")
    try:
        run = doctor("-v", **bob)  # -v: the server links' task result, which held, is printed too
    finally:
        ad_group("db-readers", MODIFY_DELETE, "bob")
    result = failed_result(run)
    held = next(json.loads(line.split("=> ", 1)[1]) for line in run.stdout.splitlines()
                if line.startswith("ok: [localhost] => ") and '"links"' in line)
    found = {(f["link"], f["check"]): f for f in held["links"] + result["links"]}
    assert found[("database", "ad_group_mapping")]["status"] == "ok", held["links"]
    assert f"db-readers ({sid}) to db_readers" in found[("database", "ad_group_mapping")]["evidence"]
    assert found[("database", "mapped_role")]["status"] == "ok" and ("database", "login_role") not in found
    assert (result["broken"]["link"], result["broken"]["check"]) == ("client", "gssapi_login"), result["broken"]


def test_a_client_clock_ten_minutes_off(chain):
    library = next(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"), None)
    assert library, "libfaketime is missing: make setup installs it (scripts/setup.sh)"
    item = broken(doctor(env={"LD_PRELOAD": str(library), "FAKETIME": "+10m"}))
    assert (item["link"], item["check"]) == ("client", "clock"), item
    ahead = re.search(r"clock is (\d+) s ahead of the KDC's", item["evidence"])
    assert ahead and 590 <= int(ahead.group(1)) <= 610, item["evidence"]
    assert "Time Sync" in item["fix"]
    # The fix: the client's clock in time again.
    holds(doctor())


# --- the client kit (issue 14 item 2) --------------------------------------------------------------

def kit(directory_path, *args):
    return playbook(*INVENTORY, "playbooks/client_kit.yml", "-e", f"client_kit_dir={directory_path}",
                    "-e", f"client_kit_hostaddr={os.environ['LAB_PG_HOSTADDR']}", "-e", f"client_kit_user={principal()}",
                    *args)


# A JDBC client of a dozen lines, run as a single source file (java Prog.java needs the JDK's jdk.compiler: Debian's
# default-jdk-headless). It connects with the URL and the user it is given and prints the query's first row.
KIT_LOGIN_JAVA = """
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;

public class KitLogin {
    public static void main(String[] args) throws Exception {
        try (Connection conn = DriverManager.getConnection(args[0]);
             ResultSet row = conn.createStatement().executeQuery(args[1])) {
            row.next();
            System.out.println(row.getString(1) + "|" + row.getString(2));
        }
    }
}
"""
PGJDBC = "/usr/share/java/postgresql.jar"  # Debian's libpostgresql-jdbc-java


def jdbc_login(kit_dir, url, query, env, work):
    """pgjdbc with the kit's krb5.conf and jaas.conf. pgjdbc has no hostaddr: a JVM-only hosts file
    (jdk.net.hosts.file, JDK 9+) sends the endpoint's name to the lab's address; nothing outside the JVM changes."""
    host = re.match(r"jdbc:postgresql://([^:/]+)", url).group(1)
    (work / "hosts").write_text(f"{os.environ['LAB_PG_HOSTADDR']} {host}\n")
    (work / "KitLogin.java").write_text(KIT_LOGIN_JAVA)
    return subprocess.run(["java", "-cp", PGJDBC, f"-Djava.security.krb5.conf={kit_dir / 'krb5.conf'}",
                           f"-Djava.security.auth.login.config={kit_dir / 'jaas.conf'}",
                           f"-Djdk.net.hosts.file={work / 'hosts'}", str(work / "KitLogin.java"), url, query],
                          env=env, capture_output=True, text=True, check=False, timeout=120)


def pgadmin_refuses(data):
    """What pgAdmin 9.18's load-servers refuses (validate_json_data in pgadmin/utils/__init__.py), for servers that
    are not shared: the first message, or None."""
    for key, server in data["Servers"].items():
        for attribute in ("Group", "Name", "Port", "MaintenanceDB"):
            if attribute not in server:
                return f"'{attribute}' attribute not found for server '{key}'"
        if not isinstance(server["Port"], int) or not server.get("Username"):
            return f"Port or Username of server '{key}'"
        if "Host" not in server and server.get("Service") is None:
            return f"'Host' or 'Service' attribute not found for server '{key}'"
    return None


def test_psql_psycopg_and_pgjdbc_log_in_with_the_kits_files_alone(chain, tmp_path, published_kit):
    check = kit(tmp_path / "kit", "--check")
    assert check.returncode == 0 and not (tmp_path / "kit").exists(), check.stdout[-3000:]
    first = kit(tmp_path / "kit")
    assert first.returncode == 0, first.stdout[-3000:]
    again = kit(tmp_path / "kit")
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
    files = sorted(p.name for p in (tmp_path / "kit").iterdir())
    assert files == ["README.txt", "jaas.conf", "jdbc.txt", "krb5.conf", "krb5.ini", "pg_service.conf", "servers.json"]
    # Only the kit: no lab variable that would point a client at the lab by itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "KRB5"))}
    env.update(KRB5_CONFIG=str(tmp_path / "kit" / "krb5.conf"), KRB5CCNAME=f"FILE:{tmp_path / 'cc'}",
               PGSERVICEFILE=str(tmp_path / "kit" / "pg_service.conf"))
    got = subprocess.run(["kinit", principal()], input=os.environ["LAB_USER_PASSWORD"] + "\n", env=env,
                         capture_output=True, text=True, check=False)
    assert got.returncode == 0, got.stderr
    query = "SELECT current_user, gss_authenticated FROM pg_stat_gssapi WHERE pid = pg_backend_pid()"
    service = f"service={CLUSTER_ID} user={principal()}"
    psql = subprocess.run(["psql", service, "-Atc", query], env=env, capture_output=True, text=True, check=False)
    assert psql.stdout.strip() == f"{principal()}|t", psql.stdout + psql.stderr
    psycopg = subprocess.run([sys.executable, "-c", "import sys, psycopg2; cursor = psycopg2.connect(sys.argv[1]).cursor(); "
                              "cursor.execute(sys.argv[2]); print(*cursor.fetchone())", service, query],
                             env=env, capture_output=True, text=True, check=False)
    assert psycopg.stdout.strip() == f"{principal()} True", psycopg.stdout + psycopg.stderr
    # pgjdbc: the kit's URL (gsslib, jaasApplicationName, jaasLogin) and jaas.conf, which reads kinit's cache.
    url = (tmp_path / "kit" / "jdbc.txt").read_text().strip() + f"&user={principal()}"
    jdbc = jdbc_login(tmp_path / "kit", url, query, env, tmp_path)
    assert jdbc.stdout.strip() == f"{principal()}|t", jdbc.stdout + jdbc.stderr[-3000:]
    # pgAdmin is not installed here: its file is checked against the rules of pgAdmin's load-servers.
    data = json.loads((tmp_path / "kit" / "servers.json").read_text())
    assert pgadmin_refuses(data) is None, data
    servers = data["Servers"]
    assert servers["1"]["KerberosAuthentication"] is True and servers["1"]["Host"] == os.environ["LAB_PG_HOST"]
    assert servers["1"]["Username"] == principal()
    assert (tmp_path / "kit" / "krb5.ini").read_bytes().count(b"\r\n") > 10
    # The kit the cluster role published (cluster__output.client_kit, written by client_kit.yml after site.yml)
    # is this kit, but for what this one was asked to add: the lab's hostaddr and alice as the user.
    for name in ("krb5.conf", "krb5.ini", "jaas.conf", "jdbc.txt"):
        assert (published_kit / name).read_text() == (tmp_path / "kit" / name).read_text(), name
    assert (published_kit / "pg_service.conf").read_text() == re.sub(
        r"(?m)^hostaddr=.*\n", "", (tmp_path / "kit" / "pg_service.conf").read_text())
    published = json.loads((published_kit / "servers.json").read_text())
    assert published["Servers"]["1"].pop("Username") == f"<you>@{os.environ['LAB_AD_REALM']}"
    assert pgadmin_refuses(dict(published, Servers={"1": dict(published["Servers"]["1"], Username="x")})) is None
    assert dict(published["Servers"]["1"], Username=principal()) == servers["1"]
