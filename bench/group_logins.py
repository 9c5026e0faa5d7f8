#!/usr/bin/env python3
"""make bench-group-logins: P6, logins synced from a 1,000-member AD group (db_users_group_logins), as
aurora.kerberos.kerberos_logins runs the sync: one task, one connection, one transaction.

The members are given as ad_group_members_info returns them (group_members: {group: [names]}), so the figure is
the sync itself, not the directory's read. Three runs, each the best of BENCH_REPEAT rounds:
  create  the group's 1,000 members get their logins (CREATE ROLE ... LOGIN, rds_ad, the group's marker role
          aurora_kerberos_group_<group> and the entry's role) on a catalog without them;
  no-op   the same sync again, on the converged catalog;
  churn   100 members left the group and 100 joined: 100 logins dropped (REASSIGN OWNED / DROP OWNED to
          reassign_owned_to) and 100 created.
Module time is the wall time of an ansible-playbook run of that one task minus the wall time of the same playbook
with an empty play (Ansible's own start-up): what the task costs, module start and transfer included.

Goal (P6): each of the three at most 3 s of module time (BENCH_GROUP_GOAL). Prints every figure with its goal and
exits 1 on a miss, 2 when a run fails. The server is bench/logins.py's (the lab cluster BENCH_CLUSTER, found or
created and deleted again); leaves no bench login or role behind.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import psycopg2
from psycopg2 import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from logins import REPEAT, Server, drop_bench_logins, lab_env, playbook, say, table  # noqa: E402

MEMBERS = int(os.environ.get("BENCH_GROUP_MEMBERS", "1000"))
CHURN = MEMBERS // 10
GOAL = float(os.environ.get("BENCH_GROUP_GOAL", "3.0"))  # seconds of module time, each run
GROUP = "bench-dba"
ROLE = "bench_group_role"
PREFIX = "bench_g"
MARKER = "aurora_kerberos_group_" + GROUP


def names(start, count):
    return [f"{PREFIX}{i:05d}" for i in range(start, start + count)]


def create_role(server):
    """The role the group's entry grants (kerberos_logins grants roles, it does not make them)."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(ROLE)))
        conn.commit()
    finally:
        conn.close()


def clean(server):
    """Every bench login, the entry's role and the group's marker role gone (untimed)."""
    drop_bench_logins(server, PREFIX, (ROLE, MARKER))


def sync_task(server, realm, members_file):
    """The task db_users runs for db_users_group_logins: [{ad_group, roles}], the members as read from AD."""
    return {"aurora.kerberos.kerberos_logins": dict(
        server.connection(), realm=realm, logins=[], reassign_owned_to=server.user,
        group_logins=[{"ad_group": GROUP, "roles": [ROLE]}],
        group_members="{{ {'%s': lookup('ansible.builtin.file', %s) | from_json} }}" % (GROUP, json.dumps(str(members_file))))}


def logins_now(server, realm):
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT r.rolname FROM pg_catalog.pg_roles r JOIN pg_catalog.pg_auth_members m ON m.member = r.oid "
                        "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid WHERE g.rolname = %s", (MARKER,))
            return sorted(row[0] for row in cur.fetchall())
    except psycopg2.Error:
        return []
    finally:
        conn.close()


def measure(server, env, realm, startup, workdir):
    everyone = Path(workdir) / "members.json"
    everyone.write_text(json.dumps(names(0, MEMBERS)))
    churned = Path(workdir) / "members-churned.json"
    churned.write_text(json.dumps(names(CHURN, MEMBERS)))  # the first CHURN left, CHURN new ones joined
    task, after = sync_task(server, realm, everyone), sync_task(server, realm, churned)
    rounds = []
    for dummy in range(REPEAT):
        clean(server)
        create_role(server)
        create = playbook([task], env, workdir) - startup
        noop = playbook([task], env, workdir) - startup
        churn = playbook([after], env, workdir) - startup
        rounds.append((create, noop, churn))
    expected = sorted(f"{n}@{realm}" for n in names(CHURN, MEMBERS))
    synced = logins_now(server, realm)
    if synced != expected:
        say(f"bench: after the churn the group's logins are {len(synced)}, not the {len(expected)} members")
        sys.exit(2)
    best = [min(column) for column in zip(*rounds)]
    say(f"  {MEMBERS} members, churn {CHURN} out / {CHURN} in; best of {REPEAT} (net of the empty play's {startup:.2f} s): "
        f"create {best[0]:.2f} s, no-op {best[1]:.2f} s, churn {best[2]:.2f} s; all rounds (create, no-op, churn): "
        + ", ".join("(%.2f, %.2f, %.2f)" % r for r in rounds))
    return best


def main():
    env = lab_env()
    realm = env["LAB_AD_REALM"]
    server = Server(env)
    try:
        say(f"bench group logins: {MEMBERS}-member group {GROUP} on {server.host} at {server.hostaddr}:{server.port}")
        with tempfile.TemporaryDirectory(prefix="bench-group-logins-") as workdir:
            startup = min(playbook([{"ansible.builtin.meta": "noop"}], env, workdir) for dummy in range(REPEAT))
            create, noop, churn = measure(server, env, realm, startup, workdir)
    finally:
        clean(server)
        server.close()
    rows = [("figure", "value", "goal", "result")]
    for label, seconds in ((f"create {MEMBERS} logins", create), ("no-op", noop),
                           (f"churn, {CHURN} dropped and {CHURN} created", churn)):
        rows.append((f"P6 group sync of a {MEMBERS:,}-member group, {label}", f"{seconds:.2f} s of module time",
                     f"<= {GOAL:g} s", "PASS" if seconds <= GOAL else "FAIL"))
    say()
    table(rows)
    sys.exit(0 if all(row[3] == "PASS" for row in rows[1:]) else 1)


if __name__ == "__main__":
    main()
