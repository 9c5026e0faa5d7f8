"""Kerberos follows the membership (AWS_FACTS.md section 10, inferred from the mechanism).

Before a cluster is a member of the domain there is no service principal for its endpoints, so no
Kerberos login to it can succeed; when the join reaches kerberos-enabled, the directory holds an
account with the principals postgres/<endpoint> for the cluster's writer and reader endpoints and
for each instance endpoint, and the database holds their keys; when `Domain none` completes, or
the cluster is deleted, both are gone again.

The lab does the same in its Samba AD and its PostgreSQL (lab/README.md, "Kerberos follows the
membership"):
  - one computer account per member (a cluster, or a DB instance outside a cluster), in
    CN=Computers, named RDS + 12 hex digits of its ARN, its description naming the ARN, with a random
    password, AES keys only (msDS-SupportedEncryptionTypes 24) and the SPNs of its endpoints;
  - a service principal name is unique in AD: should two members' endpoints share a name (a
    cluster made again under the same id in another lab account of the same Region), the SPN goes
    to the member that reached kerberos-enabled first, and moves to the next when that one leaves;
  - the keys of the member's SPNs are exported (samba-tool domain exportkeytab) into a new file
    that replaces, in one rename, the keytab the member's own PostgreSQL server (servers.py) names
    in krb_server_keyfile; PostgreSQL reads it for each new connection, so no restart is needed.
    No SPN: no keytab;
  - when the endpoint starts, moto knows no membership (and servers.py has stopped every server):
    every account made by an earlier endpoint is deleted, and a postgres/<LAB_PG_HOST> SPN held by
    any other account is removed.

Only the rds extension calls in: sync() when a membership reaches kerberos-enabled, when a leave
completes, when a join is replaced, and when a cluster or instance is created or deleted. sync()
reads the memberships as rds.py stored them (never through its properties, which would move them
along and call back here), so it takes no lock of rds.py's.
"""

import hashlib
import os
import pwd
import secrets
import string
import subprocess
import threading
from pathlib import Path

LAB = None  # the LabContext (context.py), set by install()
_LOCK = threading.Lock()
_APPLIED = None  # {account: (arn, (spn, ...))} as made in AD; None: unknown, read AD again
_KEYTAB = None  # {member ARN: ((spn, account), ...)} whose keys its server's keytab holds; None: unknown
MARKER = "RDS Kerberos membership of "
AES_ONLY = 24  # msDS-SupportedEncryptionTypes: AES128 + AES256
WORKSTATION_TRUST_ACCOUNT = 0x1000
POSTGRES_ENGINES = ("aurora-postgresql", "postgres")


def install(lab):
    """At the endpoint's start, no account of the lab's may hold keys: moto has no membership yet."""
    import ldap3

    global LAB, _APPLIED, _KEYTAB
    LAB = lab
    with _LOCK:
        _APPLIED = _KEYTAB = None
        with LAB.ldap_administrator() as conn:
            for dn, dummy in _made(conn).values():
                conn.delete(dn)
            conn.search(LAB.ad_base_dn, f"(servicePrincipalName=postgres/{_escape(LAB.pg_host)})",
                        attributes=["servicePrincipalName"])
            for entry in list(conn.entries):  # an account made before the SPN followed the join
                conn.modify(entry.entry_dn, {"servicePrincipalName": [
                    (ldap3.MODIFY_DELETE, [f"postgres/{LAB.pg_host}"])]})
        _APPLIED, _KEYTAB = {}, {}


def account_name(arn):
    """A computer name (15 characters at most, as NetBIOS wants) that stays the same for this ARN."""
    return "RDS" + hashlib.sha256(arn.encode()).hexdigest()[:12].upper()


def _escape(value):
    """An LDAP filter value (RFC 4515)."""
    return "".join(f"\\{ord(c):02x}" if c in "*()\\\0" else c for c in value)


def _endpoints(resource, backend):
    """The names clients use for this member: writer, reader and each instance; or the instance's own."""
    if hasattr(resource, "reader_endpoint"):  # a cluster
        # moto's DBCluster keeps its id behind a plain property (no lab side effect): its __dict__ has no
        # db_cluster_identifier, and None would match every DB instance outside a cluster.
        cluster_id = resource.db_cluster_identifier
        names = [resource.endpoint, resource.reader_endpoint]
        names += [db.address for db in list(backend.databases.values())
                  if db.__dict__.get("db_cluster_identifier") == cluster_id]
    else:
        names = [resource.address]
    return [n for n in dict.fromkeys(names) if n]


def _wanted():
    """{account: (arn, (spn, ...))} for every member whose join reached kerberos-enabled, first come
    first served for an SPN that several members' endpoints share."""
    from moto.rds.models import rds_backends

    members = []
    for account in list(rds_backends.values()):
        for backend in list(account.values()):
            resources = list(backend.clusters.values()) + [
                db for db in list(backend.databases.values()) if not db.__dict__.get("db_cluster_identifier")]
            for resource in resources:
                membership = resource.__dict__.get("_lab_membership")
                if (membership and membership.get("kerberos_since") is not None
                        and resource.__dict__.get("engine") in POSTGRES_ENGINES):
                    members.append((membership["kerberos_since"], resource.arn, _endpoints(resource, backend)))
    wanted, claimed = {}, set()
    for dummy, arn, names in sorted(members):
        spns = tuple(f"postgres/{name}" for name in names if f"postgres/{name}" not in claimed)
        claimed.update(spns)
        wanted[account_name(arn)] = (arn, spns)
    return wanted


def _made(conn):
    """{account: (dn, (spn, ...))} of the accounts the lab made, as AD holds them now."""
    conn.search(LAB.ad_base_dn, f"(&(objectClass=computer)(description={_escape(MARKER)}*))",
                attributes=["cn", "servicePrincipalName"])
    return {str(e.cn.value): (e.entry_dn, tuple(e.servicePrincipalName.values)) for e in conn.entries}


def _password():
    alphabet = string.ascii_letters + string.digits
    return "Rds-" + "".join(secrets.choice(alphabet) for _ in range(60)) + "-9a"


def sync():
    """Make the AD accounts and PostgreSQL's keytab match the memberships (idempotent, cheap when nothing
    changed). On a failure the next call reads AD again."""
    global _APPLIED, _KEYTAB
    if LAB is None:
        return
    import ldap3

    with _LOCK:
        wanted = _wanted()
        if wanted == _APPLIED:
            return
        _APPLIED = None
        with LAB.ldap_administrator() as conn:
            made = _made(conn)
            # An SPN is unique in AD: take SPNs away (and accounts) before anyone is given them.
            for name, (dn, spns) in made.items():
                if name not in wanted:
                    conn.delete(dn)
                elif set(spns) - set(wanted[name][1]):
                    kept = [s for s in spns if s in wanted[name][1]]
                    conn.modify(dn, {"servicePrincipalName": [(ldap3.MODIFY_REPLACE, kept)]})
            computers = f"CN=Computers,{LAB.ad_base_dn}"
            for name, (arn, spns) in wanted.items():
                if name not in made:
                    attributes = {
                        "sAMAccountName": f"{name}$", "description": MARKER + arn,
                        "userAccountControl": WORKSTATION_TRUST_ACCOUNT,
                        "unicodePwd": f'"{_password()}"'.encode("utf-16-le"),
                        "msDS-SupportedEncryptionTypes": AES_ONLY,
                    }
                    if spns:
                        attributes["servicePrincipalName"] = list(spns)
                    conn.add(f"CN={name},{computers}", ["top", "person", "organizationalPerson", "user", "computer"],
                             attributes)
                elif set(spns) != set(made[name][1]):
                    conn.modify(made[name][0], {"servicePrincipalName": [(ldap3.MODIFY_REPLACE, list(spns))]})
        # Each member's server gets the keys of its (SPN, account) pairs: an SPN that moves to another
        # account changes its keys; a server whose member left gets none.
        keys = {arn: tuple(sorted((spn, name) for spn in held)) for name, (arn, held) in wanted.items()}
        known = _KEYTAB or {}
        changed = sorted(arn for arn in set(keys) | set(known) if keys.get(arn, ()) != known.get(arn))
        if changed:
            _KEYTAB = None
            _write_keytabs({arn: [spn for spn, dummy in keys.get(arn, ())] for arn in changed})
            known.update({arn: keys.get(arn, ()) for arn in changed})
        _KEYTAB = {arn: held for arn, held in known.items() if held}
        _APPLIED = wanted


# samba-tool domain exportkeytab's own call (samba.netcmd.domain), run once for every key a sync exports: a
# samba-tool process costs about 0.2 CPU seconds, and each member has an SPN for each of its endpoints (a 20-cluster
# fan-out made 60 of them while the playbook under test waited for the same 2 cores). argv: smb.conf, then
# "<keytab>=<principal>" pairs, each key added to its keytab as samba-tool would.
EXPORT_KEYTABS = """
import sys
from samba import enable_net_export_keytab
from samba.net import Net
from samba.param import LoadParm
enable_net_export_keytab()
lp = LoadParm()
lp.load(sys.argv[1])
net = Net(None, lp)
for pair in sys.argv[2:]:
    keytab, principal = pair.split("=", 1)
    net.export_keytab(keytab=keytab, principal=principal)
"""


def _write_keytabs(spns_by_arn):
    """Each member's server gets the keys of its SPNs, and nothing else, in the keytab it reads for each connection
    (a member without SPNs: none). One process exports the keys of every member that changed."""
    from . import servers

    written = {}  # the server's keytab: the file the keys go to first
    for arn, spns in spns_by_arn.items():
        server = servers.get(arn)
        if server is None:
            continue  # a member without a server of its own (the endpoint runs without a lab template)
        if not spns:
            server.keytab.unlink(missing_ok=True)
            continue
        fresh = server.keytab.with_name(f".{server.keytab.name}.new")
        fresh.unlink(missing_ok=True)
        written[server.keytab] = (fresh, spns)
    if not written:
        return
    pairs = [f"{fresh}={spn}" for fresh, spns in written.values() for spn in spns]
    # The system's Python, which has Samba's bindings (samba-tool's own interpreter), with nothing of the endpoint's.
    proc = subprocess.run(["/usr/bin/python3", "-I", "-c", EXPORT_KEYTABS, LAB.env["LAB_SAMBA_CONF"], *pairs],
                          capture_output=True, text=True, check=False, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    if proc.returncode != 0:
        for fresh, dummy in written.values():
            fresh.unlink(missing_ok=True)
        raise RuntimeError(f"exporting the keys of {', '.join(pairs)} failed: {proc.stdout}{proc.stderr}")
    postgres = pwd.getpwnam("postgres")
    for path, (fresh, dummy) in written.items():
        os.chown(fresh, postgres.pw_uid, postgres.pw_gid)
        os.chmod(fresh, 0o600)
        os.replace(fresh, path)
