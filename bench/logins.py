#!/usr/bin/env python3
"""make bench-logins: P1, aurora.kerberos.kerberos_logins for 1,000 and 10,000 Kerberos logins against
the floor, one psql transaction that runs the same statements, measured side by side in the same run.

For each N (BENCH_NS, default "1000 10000"):
  floor   the statements the module would run on an empty catalog (CREATE ROLE ... LOGIN and
          GRANT rds_ad, planned by the module's own code, module_utils/logins.py, and quoted by the
          driver as the module quotes them) in a file, run by `psql --single-transaction -f`: one
          process, one connection, one transaction, one statement per round trip.
  create  an ansible-playbook run of one kerberos_logins task that creates the N logins, minus the
          wall time of the same playbook with an empty play (Ansible's own start-up, which no
          psql run pays). The list is the logins argument, from a JSON file (lookup + from_json), as
          a generated list of thousands would be.
  no-op   the same task again, on the converged catalog.
  create, no-op (logins_file)  the same with the module reading that file itself (logins_file),
          shown beside: what Ansible's templating, checking and handing over of the argument cost.

The floor is one statement per round trip, so it grows with the lab's round-trip time (the cluster's
server listens in the lab's network namespace); the module sends 500 statements a round trip.

Goals (P1): create(10k) and no-op(10k) at most 1.5x the create floor of 10k (a converged run must
cost no more than the writes would), and growth from 1k to 10k about linear: create(10k) at most
12x create(1k) (10x the logins, 20% slack). Prints every figure with its goal and exits 1 on a miss,
2 when a run fails.

The server: the lab cluster BENCH_CLUSTER (default aurkrb-lab, the lab inventory's) found with
DescribeDBClusters, or created with CreateDBCluster (the lab's master user and password, port
LAB_PG_PORT) and deleted again at the end. Its Endpoint and Port are asked for, and `lab.py resolve`
(where the lab has it) says where that endpoint listens; otherwise LAB_PG_HOSTADDR and the Port.
Needs a running lab (make lab-up); leaves no bench login behind. With BENCH_SAMPLE > 0 (default 0)
it also times a community.postgresql loop (postgresql_user + postgresql_membership) on that many
logins and scales it to 1k, as the figure this module was first measured against.
"""

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.aurora.kerberos.plugins.module_utils import logins as lg  # noqa: E402

BIN = Path(sys.executable).parent
NS = [int(n) for n in os.environ.get("BENCH_NS", "1000 10000").split()]
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "0"))
CLUSTER = os.environ.get("BENCH_CLUSTER", "aurkrb-lab")
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
GOAL_RATIO = 1.5     # module / floor at the largest N
GOAL_GROWTH = 12.0   # create(largest) / create(smallest), for 10x the logins
PREFIX = "bench_m"


def say(text=""):
    print(text, flush=True)


def lab_env():
    path = Path(os.environ.get("LAB_STATE_DIR") or ROOT / ".lab") / "env"
    if not path.exists():
        sys.exit(f"bench: no lab env at {path}: start the lab first (make lab-up)")
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


class Server:
    """The PostgreSQL of the lab cluster CLUSTER: reused when it exists, else created (and deleted by close())."""

    def __init__(self, env):
        self.env = env
        self.rds = boto3.client("rds", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        self.created = False
        cluster = self._describe()
        if cluster is None:
            self.rds.create_db_cluster(
                DBClusterIdentifier=CLUSTER, Engine="aurora-postgresql", EngineVersion="16.6",
                MasterUsername=env["LAB_PG_MASTER_USER"], MasterUserPassword=env["LAB_PG_MASTER_PASSWORD"],
                Port=int(env["LAB_PG_PORT"]), DBSubnetGroupName=env["LAB_DB_SUBNET_GROUP"],
                VpcSecurityGroupIds=[env["LAB_DB_SECURITY_GROUP_ID"]])
            self.created = True
        deadline = time.monotonic() + 300
        while cluster is None or cluster["Status"] != "available":
            if time.monotonic() > deadline:
                sys.exit(f"bench: cluster {CLUSTER} not available after 300 s")
            time.sleep(0.5)
            cluster = self._describe()
        self.host, self.port = cluster["Endpoint"], int(cluster["Port"])
        self.hostaddr, self.port = self._resolve(self.host, self.port)
        # The master password may have been rewritten by the API (the lab's env follows it).
        fresh = lab_env()
        self.user, self.password = fresh["LAB_PG_MASTER_USER"], fresh["LAB_PG_MASTER_PASSWORD"]

    def _describe(self):
        try:
            return self.rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
        except self.rds.exceptions.DBClusterNotFoundFault:
            return None

    def _resolve(self, host, port):
        """Where the endpoint listens: `lab.py resolve` where the lab has it, else LAB_PG_HOSTADDR."""
        proc = subprocess.run([sys.executable, str(ROOT / "lab" / "lab.py"), "resolve", host],
                              capture_output=True, text=True, check=False, env=dict(os.environ, **self.env))
        words = proc.stdout.replace(":", " ").split()
        if proc.returncode == 0 and len(words) >= 2 and words[-1].isdigit():
            return words[-2], int(words[-1])
        return self.env["LAB_PG_HOSTADDR"], port

    def connection(self):
        return {"login_host": self.host, "login_port": self.port, "login_db": "postgres", "login_user": self.user,
                "login_password": self.password, "ssl_mode": "prefer", "connect_params": {"hostaddr": self.hostaddr}}

    def libpq_env(self):
        return dict(os.environ, PGHOST=self.host, PGHOSTADDR=self.hostaddr, PGPORT=str(self.port), PGUSER=self.user,
                    PGPASSWORD=self.password, PGDATABASE="postgres", PGSSLMODE="prefer")

    def connect(self):
        return psycopg2.connect(host=self.host, hostaddr=self.hostaddr, port=self.port, user=self.user,
                                password=self.password, dbname="postgres", sslmode="prefer")

    def close(self):
        if self.created:
            self.rds.delete_db_cluster(DBClusterIdentifier=CLUSTER, SkipFinalSnapshot=True)


def drop_bench_logins(server, prefix=PREFIX, also=()):
    """Drop every bench login (every role named prefix...) and the roles named in also, 500 a transaction
    (psycopg2, untimed): each DROP ROLE holds a lock until its commit, and a 4 GiB Aurora instance, whose lock
    table the lab's servers have (lab/README.md), holds some 26,000."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname LIKE %s OR rolname = ANY(%s::name[])",
                        (prefix.replace("_", r"\_") + "%", list(also)))
            names = [row[0] for row in cur.fetchall()]
            for start in range(0, len(names), 500):
                cur.execute(";".join(sql.SQL("DROP ROLE {}").format(sql.Identifier(n)).as_string(conn)
                                     for n in names[start:start + 500]))
                conn.commit()
    finally:
        conn.close()


def floor_statements(server, names, realm):
    """The statements kerberos_logins would run for names on the current catalog, planned by its own code."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            catalog = lg.read_catalog(cur)
        conn.rollback()
        wanted = lg.validate_logins([{"name": n, "state": None, "roles": None, "databases": None} for n in names],
                                    realm, "present")
        plan = lg.plan_logins(wanted, catalog, realm, [], {})
        return [template.format(*(sql.Identifier(i).as_string(conn) for i in identifiers))
                for template, identifiers, _ in plan.statements]
    finally:
        conn.close()


def psql_floor(server, statements, workdir):
    """Wall seconds of psql running the statements in one transaction."""
    path = Path(workdir) / "floor.sql"
    path.write_text("".join(s + ";\n" for s in statements))
    started = time.monotonic()
    proc = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", str(path)],
                          env=server.libpq_env(), capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        say(f"bench: psql failed: {proc.stderr[-2000:]}")
        sys.exit(2)
    return elapsed


def playbook(tasks, env, workdir):
    """Wall seconds of one ansible-playbook run of these tasks on localhost; exits 2 on failure."""
    path = Path(workdir) / "bench.yml"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    run_env = dict(os.environ, **env, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(path)],
                          cwd=ROOT, env=run_env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        say(f"bench: playbook failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        sys.exit(2)
    return elapsed


def module_task(server, realm, logins_file, as_argument=False):
    """One kerberos_logins task: the list in logins_file, or (as_argument) in the logins argument from that file."""
    given = ({"logins": "{{ lookup('ansible.builtin.file', %s) | from_json }}" % json.dumps(str(logins_file))}
             if as_argument else {"logins_file": str(logins_file)})
    return {"aurora.kerberos.kerberos_logins": dict(server.connection(), realm=realm, **given)}


def loop_tasks(server, realm, names):
    logins = [f"{n}@{realm}" for n in names]
    return [
        {"community.postgresql.postgresql_user": dict(server.connection(), name="{{ item }}", role_attr_flags="LOGIN"),
         "loop": logins},
        {"community.postgresql.postgresql_membership": dict(server.connection(), groups=["rds_ad"],
                                                            target_roles=["{{ item }}"]),
         "loop": logins},
    ]


def measure(server, env, realm, n, startup, workdir):
    """The best of REPEAT rounds (floor, create, no-op, interleaved) for each figure: the machine is shared,
    and the least disturbed run is the one that measures the code."""
    names = [f"{PREFIX}{i:05d}" for i in range(n)]
    logins_file = Path(workdir) / f"logins-{n}.json"
    logins_file.write_text(json.dumps([{"name": name} for name in names]))
    rounds = []
    for _ in range(REPEAT):
        drop_bench_logins(server)
        statements = floor_statements(server, names, realm)
        floor = psql_floor(server, statements, workdir)
        times = [floor]
        for as_argument in (True, False):
            drop_bench_logins(server)
            times.append(playbook([module_task(server, realm, logins_file, as_argument)], env, workdir) - startup)
            times.append(playbook([module_task(server, realm, logins_file, as_argument)], env, workdir) - startup)
        rounds.append(tuple(times))
    drop_bench_logins(server)
    floor, create, noop, create_file, noop_file = (min(column) for column in zip(*rounds))
    say(f"  N={n}: {len(statements)} statements; best of {REPEAT}: floor {floor:.2f} s, create {create:.2f} s, "
        f"no-op {noop:.2f} s, with logins_file {create_file:.2f} s and {noop_file:.2f} s (net of the empty play's "
        f"{startup:.2f} s); all rounds (floor, create, no-op, and the two with logins_file): "
        + ", ".join("(%.2f, %.2f, %.2f, %.2f, %.2f)" % r for r in rounds))
    return {"n": n, "statements": len(statements), "floor": floor, "create": create, "noop": noop,
            "create (logins_file)": create_file, "no-op (logins_file)": noop_file}


def loop_figure(server, env, realm, startup, workdir):
    sample = [f"{PREFIX}l{i:04d}" for i in range(SAMPLE)]
    drop_bench_logins(server)
    try:
        create = playbook(loop_tasks(server, realm, sample), env, workdir)
        noop = playbook(loop_tasks(server, realm, sample), env, workdir)
    finally:
        drop_bench_logins(server)
    return [(label, startup + (seconds - startup) * 1000 / SAMPLE) for label, seconds in (("create", create),
                                                                                          ("no-op", noop))]


def table(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def main():
    env = lab_env()
    realm = env["LAB_AD_REALM"]
    server = Server(env)
    try:
        say(f"bench logins: cluster {CLUSTER} ({'created for the bench' if server.created else 'found'}), "
            f"endpoint {server.host} at {server.hostaddr}:{server.port}")
        with tempfile.TemporaryDirectory(prefix="bench-logins-") as workdir:
            startup = min(playbook([{"ansible.builtin.meta": "noop"}], env, workdir) for _ in range(REPEAT))
            results = [measure(server, env, realm, n, startup, workdir) for n in NS]
            loop = loop_figure(server, env, realm, startup, workdir) if SAMPLE else []
    finally:
        drop_bench_logins(server)
        server.close()

    small, large = results[0], results[-1]
    rows = [("figure", "value", "goal", "result")]
    for r in results:
        rows.append((f"P1 floor, N={r['n']} (psql, one transaction)", f"{r['floor']:.2f} s", "(floor)", ""))
        for label, key in (("create", "create"), ("no-op", "noop"), ("create (logins_file)", None),
                           ("no-op (logins_file)", None)):
            seconds = r[key or label]
            ratio = seconds / r["floor"]
            checked = r is large and key is not None
            rows.append((f"P1 {label}, N={r['n']} / create floor", f"{seconds:.2f} / {r['floor']:.2f} = {ratio:.2f}",
                         f"<= {GOAL_RATIO}" if checked else "(shown)",
                         ("PASS" if ratio <= GOAL_RATIO else "FAIL") if checked else ""))
    growth_ok = True
    if large is not small:
        growth = large["create"] / small["create"]
        growth_ok = growth <= GOAL_GROWTH * large["n"] / small["n"] / 10
        rows.append((f"P1 growth create({large['n']}) / create({small['n']})",
                     f"{large['create']:.2f} / {small['create']:.2f} = {growth:.2f}",
                     f"<= {GOAL_GROWTH * large['n'] / small['n'] / 10:g}", "PASS" if growth_ok else "FAIL"))
    for label, seconds in loop:
        rows.append((f"community.postgresql loop, 1000 {label} (scaled from {SAMPLE})", f"{seconds:.1f} s", "(shown)", ""))
    say()
    table(rows)
    sys.exit(0 if all(row[3] != "FAIL" for row in rows[1:]) else 1)


if __name__ == "__main__":
    main()
