#!/usr/bin/env python3
"""make bench-chain: the figures of the whole chain (site.yml) on the lab, each against its goal.

P2  converged rerun: the lab's call log of a second site.yml run over inventories/lab, by operation.
    Goal: 0 mutating calls and at most 1.5 reads per AWS resource the chain manages (counted in the
    lab after the run: the directory, its trust, the IAM role, the 2 security group rules, the cluster,
    its parameter group, each of its instances and the cluster's domain membership).
P3  critical path: lab delays directory 60 s, cluster 40 s, join 20 s; site.yml from nothing (no
    directory, no cluster), BENCH_P3_RUNS times (3). Goal: the median wall / (max(directory, cluster) + join)
    <= 1.08.
P4  fan-out: FANOUT clusters, each an inventory host sharing one directory, IAM role and DB security
    group rules (steps directory, iam_role, network, cluster), against the same chain with one cluster, at
    -f 10 and at -f 20. Goals: at -f 10 wall(FANOUT) / wall(1) <= 2.70 (issue 13: no worse than before the
    straight chain); at -f 20 wall(FANOUT) / wall(1) <= 2 and wall(FANOUT) / AWS critical path (P4 knobs:
    directory 30 s + join 10 s) <= 1.5 (issue 17). Shown beside them, the floor of the chain's design on this
    machine, everything but four AWS module tasks counted as free: T, one task on every host of an AWS module
    doing the least any of the chain's do (one client, one read), measured; the input checks' read before
    CreateMicrosoftAD (T), the create with its preflight (one module process) before RDS's creation time
    (T + cluster), which the directory's time overlaps, then the join and the wait (T):
    T + max(dir, T + cluster) + join + T.
R7  sliced runs: SLICED clusters cut into 4 slices as AWX job slicing does (host i to slice i mod 4), four
    ansible-runner processes at once from nothing, each running the shared steps itself. Goal, counted in the
    lab after the runs: exactly 1 directory, 1 IAM role, 1 rule each way, and SLICED clusters kerberos-enabled.

BENCH_ONLY (default "p3 p2 p4 r7") runs only the figures it lists, in the usual order: R7 alone counts what four
slices make (its goals are counts, not times), so it can run on a machine that is busy with something else.

Uses the lab whose env LAB_STATE_DIR names (default .lab) and starts it if it is down (stopping it
again at the end). Sets the lab's knobs through /lab-api/knobs and puts back the values it found.
The runs need a fresh lab state, so the bench tears the chain down (teardown.yml with
cluster_delete=true and teardown_confirm naming the directory and the clusters) before P3 and
after P4: it ends with no directory and no cluster; `make demo` makes them again. Prints every
command and knob it used; exits 1 when a figure misses its goal, 2 when a playbook fails.
"""

import collections
import datetime
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from labtools import lab_api  # noqa: E402  (the tests' client of the lab's admin API)

BIN = Path(sys.executable).parent
LAB = [sys.executable, str(ROOT / "lab" / "lab.py")]
LAB_INVENTORY = "inventories/lab"

P3_KNOBS = {"directory_seconds": 60, "cluster_seconds": 40, "join_seconds": 20}
P4_KNOBS = {"directory_seconds": 30, "cluster_seconds": 20, "join_seconds": 10}
FANOUT = int(os.environ.get("BENCH_FANOUT", "20"))
FORKS = [int(forks) for forks in os.environ.get("BENCH_FORKS", "10 20").split()]
SLICED = int(os.environ.get("BENCH_SLICED", "20"))
# P3's runs: the median is held against the goal (one run's noise on a 2-core machine is about a second).
P3_RUNS = int(os.environ.get("BENCH_P3_RUNS", "3"))
FIGURES = ("p3", "p2", "p4", "r7")
ONLY = os.environ.get("BENCH_ONLY", " ".join(FIGURES)).split()
# db_users is left out of P4: every lab cluster answers from the one lab PostgreSQL.
P4_STEPS = ["directory", "iam_role", "network", "cluster"]
P4_SHARED = ["directory", "iam_role", "network"]
# Issue 13's goals: P2 at most 1.5 reads per resource, P3 at most 1.08, P4 no worse than 2.70.
GOALS = {"p2_mutating": 0, "p2_reads_per_resource": 1.5, "p3_ratio": 1.08,
         # P4 by forks: the most wall(FANOUT) / wall(1) (issues 13 and 17) and wall(FANOUT) / critical path (issue 17).
         "p4_ratio": {10: 2.70, 20: 2.0}, "p4_critical": {20: 1.5}}


def say(text=""):
    print(text, flush=True)


class Lab:
    """The lab named by LAB_STATE_DIR: its env, its admin API and an AWS client factory."""

    def __init__(self):
        self.started = subprocess.run([*LAB, "status", "--quiet"], check=False).returncode != 0
        if self.started:
            say("bench: the lab is down, starting it: lab/lab.py up")
            subprocess.run([*LAB, "up"], check=True)
        self.env = {}
        for line in (Path(os.environ.get("LAB_STATE_DIR") or ROOT / ".lab") / "env").read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                self.env[key] = shlex.split(value)[0] if value else ""
        self.found_knobs = self.api("GET", "knobs")

    def api(self, method, path, payload=None):
        return lab_api(self.env, method, path, payload)

    def knobs(self, values):
        """The knobs as found, with these values over them."""
        return self.api("POST", "knobs", dict(self.found_knobs, **values))

    def client(self, service):
        return boto3.client(service, endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name=self.env["AWS_REGION"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def close(self):
        self.api("POST", "knobs", self.found_knobs)
        if self.started:
            subprocess.run([*LAB, "down"], check=True)


class Runner:
    """ansible-playbook (and ansible) from the venv, with the lab's env; prints each command."""

    def __init__(self, lab):
        self.env = dict(os.environ, **lab.env, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        self.aws_pid_file = Path(lab.env.get("LAB_STATE_DIR") or ROOT / ".lab") / "run" / "aws.pid"
        self.cpu = None  # the last playbook's (controller, lab AWS endpoint and its tools) CPU seconds

    def aws_cpu(self):
        """User + system CPU seconds of the lab's AWS endpoint so far, with the tools it ran and waited for (the keytab
        export, pg_ctl, cp); not the PostgreSQL servers and the DC, which run on their own (None when its pid cannot
        be read)."""
        try:
            fields = Path(f"/proc/{int(self.aws_pid_file.read_text().split()[0])}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return None
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime, stime, cutime, cstime (proc(5))

    def playbook(self, *args, timed=False):
        """(wall seconds, the ansible.posix.json result). Timed runs are printed as a user types them."""
        command = [str(BIN / "ansible-playbook"), *args]
        shown = shlex.join(["ansible-playbook", *args])
        say(f"  $ {shown}" if timed else f"  (untimed) $ {shown}")
        env = dict(self.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        started, children, aws = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN), self.aws_cpu()
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              check=False)
        wall = time.monotonic() - started
        # ansible-playbook and every process it waited for (its forks and their modules), and the lab's AWS.
        after, aws_after = resource.getrusage(resource.RUSAGE_CHILDREN), self.aws_cpu()
        self.cpu = (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime,
                    None if aws is None or aws_after is None else aws_after - aws)
        if proc.returncode != 0:
            say(f"bench: failed (rc {proc.returncode}): {shown}\n{failures(proc.stdout)}{proc.stderr[-3000:]}")
            raise SystemExit(2)
        return wall, json.loads(proc.stdout[proc.stdout.index("{"):])

    def inventory_values(self, inventory, expressions):
        """The values these Jinja expressions take on the inventory's first host (lookups resolved)."""
        template = "{{ {" + ", ".join(f"{json.dumps(k)}: ({v})" for k, v in expressions.items()) + "} | to_json }}"
        proc = subprocess.run([str(BIN / "ansible"), "all[0]", "-i", inventory, "-m", "ansible.builtin.debug",
                               "-a", f"msg={template}"], cwd=ROOT, capture_output=True, text=True, check=True,
                              env=dict(self.env, ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                                       ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"))
        result = json.loads(proc.stdout[proc.stdout.index("{"):])
        host = next(iter(result["plays"][0]["tasks"][0]["hosts"].values()))
        return json.loads(host["msg"])


def failures(result_text):
    """The messages of failed tasks in an ansible.posix.json output (or its tail if it is not JSON)."""
    try:
        result = json.loads(result_text[result_text.index("{"):])
    except ValueError:
        return result_text[-4000:]
    lines = []
    for task in tasks_of(result):
        for host, outcome in task["hosts"].items():
            if outcome.get("failed") and not outcome.get("ignore_errors"):
                lines.append(f"  {host}: {task['task']['name']}: {outcome.get('msg', '')}")
    return "\n".join(lines) + "\n"


def tasks_of(result):
    return [task for play in result["plays"] for task in play["tasks"]]


def task_windows(result):
    """(start, end, name) of every task, epoch seconds, in run order."""
    def epoch(stamp):
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return [(epoch(t["task"]["duration"]["start"]), epoch(t["task"]["duration"]["end"]), t["task"]["name"])
            for t in tasks_of(result) if t["task"].get("duration", {}).get("end")]


def changed(result):
    return sum(host["changed"] for host in result["stats"].values())


def teardown(runner, lab, inventory, *extra):
    """teardown.yml with cluster_delete=true at the lab's own knobs (teardowns are not timed), confirming the lab's
    directory and every cluster the lab has (teardown_confirm: nothing is deleted unless the run names it)."""
    lab.knobs({})
    named = [lab.env["LAB_AD_DOMAIN"]] + [c["DBClusterIdentifier"] for c in lab.client("rds").describe_db_clusters()["DBClusters"]]
    runner.playbook("-i", inventory, "playbooks/teardown.yml", "-e", "cluster_delete=true",
                    "-e", "teardown_confirm=" + ",".join(named), *extra)


def lab_names(runner):
    """What inventories/lab manages, by name, as the inventory resolves it."""
    return runner.inventory_values(LAB_INVENTORY, {"directory": "directory_name", "iam_role": "iam_role_name",
                                                   "cluster": "cluster_id"})


def managed_resources(lab, names):
    """{kind: count} of the AWS resources the chain manages for inventories/lab, as the lab has them now."""
    ds, rds, ec2 = lab.client("ds"), lab.client("rds"), lab.client("ec2")
    directories = [d for d in ds.describe_directories()["DirectoryDescriptions"] if d["Name"] == names["directory"]]
    roles = [r for r in lab.client("iam").list_roles()["Roles"] if r["RoleName"] == names["iam_role"]]
    clusters = [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == names["cluster"]]
    rules = 0
    if directories and clusters:
        dir_sg = directories[0]["VpcSettings"]["SecurityGroupId"]
        db_sgs = [g["VpcSecurityGroupId"] for g in clusters[0]["VpcSecurityGroups"]]
        port = clusters[0]["Port"]
        groups = {g["GroupId"]: g for g in ec2.describe_security_groups(GroupIds=[dir_sg, *db_sgs])["SecurityGroups"]}

        def count(perms, peer):
            return sum(1 for p in perms if p.get("IpProtocol") == "tcp" and p.get("FromPort") == port == p.get("ToPort")
                       for pair in p.get("UserIdGroupPairs", []) if pair.get("GroupId") == peer)
        rules = sum(count(groups[sg]["IpPermissions"], dir_sg) + count(groups[dir_sg]["IpPermissionsEgress"], sg)
                    for sg in db_sgs)
    cluster = clusters[0] if clusters else {}
    # The cluster's custom parameter group (pg_ad_mapping for the inventory's group mappings), not its family's default.
    parameter_groups = 0 if cluster.get("DBClusterParameterGroup", "default.").startswith("default.") else 1
    # The trust to the on-premises forest the inventory asks for (directory_trust), with its conditional forwarder.
    trusts = sum(1 for d in directories for t in ds.describe_trusts(DirectoryId=d["DirectoryId"])["Trusts"]
                 if t.get("TrustState") in ("Verified", "Updated"))
    return {"directory": len(directories), "trust (with its conditional forwarder)": trusts,
            "IAM role": len(roles), "security group rules (DB port, both ways)": rules,
            "cluster": len(clusters), "cluster parameter group": parameter_groups,
            "cluster instances": len(cluster.get("DBClusterMembers", [])),
            "domain membership (kerberos-enabled)": sum(1 for m in cluster.get("DomainMemberships", [])
                                                        if m["Status"] == "kerberos-enabled")}


def fresh(runner, lab, names, fanout):
    """No directory and no cluster: teardown.yml over the lab inventory, and over the fan-out inventory
    when clusters of an earlier (interrupted) fan-out are left."""
    ds, rds = lab.client("ds"), lab.client("rds")

    def empty():
        return (not any(d["Name"] == names["directory"] for d in ds.describe_directories()["DirectoryDescriptions"])
                and not rds.describe_db_clusters()["DBClusters"])
    # Clusters of an earlier fan-out first: the directory cannot go while they are in its domain.
    if any("-fan-" in c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]):
        teardown(runner, lab, fanout["inventory"], *fanout["extra"])
    teardown(runner, lab, LAB_INVENTORY)
    if not empty():
        say("bench: the lab still has a directory or a cluster after teardown.yml")
        raise SystemExit(2)


def p3_critical_path(runner, lab, names, fanout):
    say(f"P3 critical path: site.yml from nothing, {P3_RUNS} runs, their median against the goal")
    critical = max(P3_KNOBS["directory_seconds"], P3_KNOBS["cluster_seconds"]) + P3_KNOBS["join_seconds"]
    sequential = sum(P3_KNOBS.values())
    walls = []
    for run in range(1, P3_RUNS + 1):
        fresh(runner, lab, names, fanout)
        knobs = lab.knobs(P3_KNOBS)
        say(f"  run {run}, knobs: {json.dumps(knobs, sort_keys=True)}")
        wall, result = runner.playbook("-i", LAB_INVENTORY, "site.yml", timed=True)
        walls.append(wall)
        say(f"  wall {wall:.1f} s; critical path max(directory {P3_KNOBS['directory_seconds']}, cluster "
            f"{P3_KNOBS['cluster_seconds']}) + join {P3_KNOBS['join_seconds']} = {critical} s; "
            f"sequential sum {sequential} s")
        profile(result, wall)
    # The last run leaves the chain converged for P2. The median: this machine's noise is about a second.
    return {"wall": statistics.median(walls), "walls": walls, "critical": critical, "sequential": sequential}


def profile(result, wall, longer_than=1):
    """Where a run's time went: its tasks that took longer_than seconds or more, in run order."""
    windows = task_windows(result)
    say(f"  where the time goes (tasks of {longer_than} s or more, in run order; the rest is ansible-playbook start-up "
        f"and the other tasks' own cost):")
    first = windows[0][0] if windows else 0
    for start, end, name in windows:
        if end - start >= longer_than:
            say(f"    +{start - first:6.1f} s  {end - start:5.1f} s  {name}")
    say(f"    sum of all {len(windows)} tasks {sum(e - s for s, e, _ in windows):.1f} s, first task to last "
        f"{windows[-1][1] - first if windows else 0:.1f} s of the {wall:.1f} s wall")


def p2_converged_rerun(runner, lab, names):
    say("P2 converged rerun: site.yml again on the lab P3 left converged, call log cleared first")
    knobs = lab.knobs({})
    say(f"  knobs: {json.dumps(knobs, sort_keys=True)}")
    lab.api("DELETE", "calls")
    wall, result = runner.playbook("-i", LAB_INVENTORY, "site.yml", timed=True)
    calls = lab.api("GET", "calls")["calls"]
    resources = managed_resources(lab, names)
    mutating = [c for c in calls if c["mutating"]]
    reads = [c for c in calls if not c["mutating"]]
    by_operation = collections.Counter((c["service"], c["operation"], c["mutating"]) for c in calls)
    say(f"  wall {wall:.1f} s, {changed(result)} changed; {len(calls)} API calls: {len(mutating)} mutating, "
        f"{len(reads)} reads ({sum(c['throttled'] for c in calls)} throttled)")
    for (service, operation, is_mutating), count in sorted(by_operation.items()):
        say(f"    {count:3d}  {service} {operation}{'  (mutating)' if is_mutating else ''}")
    say(f"  resources the chain manages for {LAB_INVENTORY} (AWS only, counted in the lab after the run; not counted: "
        "the managed policy attachment, AD users (LDAPS), database logins (SQL)):")
    for kind, count in resources.items():
        say(f"    {count:3d}  {kind}")
    say("  reads by task (the call log's times inside each task's start and end):")
    windows = task_windows(result)
    per_task = collections.Counter()
    for call in calls:
        name = next((n for s, e, n in windows if s <= call["time"] <= e), "(between tasks)")
        per_task[(name, call["service"] + " " + call["operation"])] += 1
    for (name, operation), count in per_task.items():
        say(f"    {count:3d}  {operation:40s} {name}")
    return {"mutating": len(mutating), "reads": len(reads), "resources": sum(resources.values())}


def fanout_inventory(workdir, hosts, base_id):
    """An inventory of `hosts` cluster hosts, each with its own cluster_id, over the lab inventory's variables."""
    path = Path(workdir) / f"fanout-{hosts}"
    (path / "group_vars").mkdir(parents=True)
    (path / "group_vars" / "all.yml").write_text((ROOT / LAB_INVENTORY / "group_vars" / "all.yml").read_text())
    inventory = {"all": {"vars": {"ansible_connection": "local",
                                  "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                         "hosts": {f"fan-{i:02d}": {"cluster_id": f"{base_id}-fan-{i:02d}"}
                                   for i in range(1, hosts + 1)}}}
    (path / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    return str(path)


def p4_fanout(runner, lab, names, workdir, fanout):
    say(f"P4 fan-out: {FANOUT} clusters sharing one directory, IAM role and rules at -f {', '.join(map(str, FORKS))}, "
        "against 1 cluster")
    wall1, walls, cpus = None, {}, {}  # walls: wall(FANOUT) by forks; cpus: (controller, AWS) CPU by (hosts, forks)
    for hosts, forks in [(1, FORKS[0])] + [(FANOUT, forks) for forks in FORKS]:
        fresh(runner, lab, names, fanout)
        inventory = fanout_inventory(workdir, hosts, names["cluster"]) if hosts != FANOUT else fanout["inventory"]
        say(f"  inventory {inventory}: hosts fan-01..fan-{hosts:02d}, cluster_id {names['cluster']}-fan-NN, "
            f"group_vars/all.yml from {LAB_INVENTORY}")
        knobs = lab.knobs(P4_KNOBS)
        say(f"  knobs: {json.dumps(knobs, sort_keys=True)}")
        wall, result = runner.playbook("-i", inventory, "site.yml", "-f", str(forks), *fanout["extra"], timed=True)
        if hosts == 1:
            wall1 = wall
        else:
            walls[forks] = wall
        controller, aws = runner.cpu
        say(f"  wall({hosts}) at -f {forks}: {wall:.1f} s; {len(task_windows(result))} tasks (each on every host it runs for); "
            f"CPU: ansible-playbook and its modules {controller:.1f} s, the lab's AWS endpoint and its tools "
            f"{'unknown' if aws is None else f'{aws:.1f} s'}, on {os.cpu_count()} cores at least "
            f"{(controller + (aws or 0)) / os.cpu_count():.1f} s of wall")
        cpus[(hosts, forks)] = (controller, aws)
        profile(result, wall, longer_than=2)
        teardown(runner, lab, inventory, *fanout["extra"])
    # The floor of the chain's design on this machine: before CreateMicrosoftAD, the input checks read every cluster
    # (one module task); after it, the create with its preflight (one) before RDS's creation time, which the directory
    # also waits out; then the join and one more module task, the wait. Everything else counted as free.
    task = {forks: module_task_seconds(runner, workdir, fanout["inventory"], forks) for forks in FORKS}
    say("  one AWS module task on every host (the cluster read), less start-up: "
        + ", ".join(f"-f {forks} {seconds:.1f} s" for forks, seconds in task.items()))
    design = {forks: seconds + max(P4_KNOBS["directory_seconds"], seconds + P4_KNOBS["cluster_seconds"])
              + P4_KNOBS["join_seconds"] + seconds for forks, seconds in task.items()}
    return {"wall1": wall1, "wallN": walls, "cpus": cpus, "task": task, "design": design,
            "critical": P4_KNOBS["directory_seconds"] + P4_KNOBS["join_seconds"]}


def module_task_seconds(runner, workdir, inventory, forks, tasks=3):
    """Wall of one task of an AWS module doing the least any of the chain's does (one client, one
    DescribeDBClusters: cluster_info of a cluster that does not exist) on every host at -f forks, the mean of
    `tasks` tasks less an empty play's start-up. Each phase of the chain that runs an AWS module on every host
    costs at least this."""
    def play(count):
        path = Path(workdir) / f"module-task-{count}.yml"
        path.write_text(yaml.safe_dump([{
            "hosts": "all", "gather_facts": False,
            "module_defaults": {"group/aurora.kerberos.aws": "{{ aurora_kerberos_aws | default({}, true) }}"},
            "tasks": [{"name": f"read {i}", "aurora.kerberos.cluster_info": {"cluster_id": "{{ cluster_id }}-none"}}
                      for i in range(count)]}]))
        return runner.playbook("-i", inventory, str(path), "-f", str(forks), timed=count > 0)[0]
    startup = play(0)
    return (play(tasks) - startup) / tasks


def r7_sliced(runner, lab, names, workdir, fanout):
    """Four slices side by side, as AWX runs a sliced job: each an ansible-runner process over its own private
    data dir (the checkout as its project, its slice as its inventory, the lab's env as the credential's)."""
    from test_awx import SLICED_STEPS, SLICES, aws_counts, sliced_inventories

    say(f"R7 sliced runs: {SLICED} clusters in {SLICES} slices (host i to slice i mod {SLICES}), "
        f"{SLICES} ansible-runner processes at once, from nothing")
    fresh(runner, lab, names, fanout)
    knobs = lab.knobs({})
    say(f"  knobs: {json.dumps(knobs, sort_keys=True)}; extra vars {json.dumps(SLICED_STEPS)}")
    inventories = sliced_inventories(Path(workdir) / "sliced", clusters=SLICED, slices=SLICES)
    procs = []
    started = time.monotonic()
    for s in range(1, SLICES + 1):
        pdd = Path(workdir) / f"slice-{s}"
        (pdd / "env").mkdir(parents=True)
        (pdd / "project").symlink_to(ROOT)
        (pdd / "inventory").symlink_to(inventories[f"slice-{s}"])
        (pdd / "env" / "envvars").write_text(yaml.safe_dump(dict(lab.env, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))))
        (pdd / "env" / "extravars").write_text(yaml.safe_dump(SLICED_STEPS))
        command = [str(BIN / "ansible-runner"), "run", str(pdd), "-p", "site.yml", "--ident", "job"]
        say(f"  $ {shlex.join(['ansible-runner', *command[1:]])}")
        # The runner finds ansible-playbook on PATH: the venv's.
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}")
        procs.append((s, pdd, subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    failed = [(s, pdd) for s, pdd, proc in procs if proc.wait() != 0]
    wall = time.monotonic() - started
    for s, pdd in failed:
        say(f"  slice {s} failed:\n{(pdd / 'artifacts' / 'job' / 'stdout').read_text()[-3000:]}")
    os.environ.update(lab.env)  # aws_counts reads the lab with boto3's default credentials
    counts = aws_counts(lab.env)
    say(f"  wall {wall:.1f} s, {len(failed)} slice(s) failed; counted in the lab: {json.dumps(counts)}")
    teardown(runner, lab, str(inventories["all"]), "-e", json.dumps(SLICED_STEPS))
    return dict(counts, failed=len(failed))


def verdict(ok):
    return "PASS" if ok else "FAIL"


def table(p2, p3, p4, r7):
    """The figures that ran (None: not in BENCH_ONLY), each with its goal."""
    rows = []
    if p2 is not None:
        per_resource = p2["reads"] / p2["resources"] if p2["resources"] else float("inf")
        rows += [("P2 converged rerun: mutating calls", f"{p2['mutating']}", f"{GOALS['p2_mutating']}",
                  verdict(p2["mutating"] <= GOALS["p2_mutating"])),
                 ("P2 converged rerun: reads / resource", f"{p2['reads']} / {p2['resources']} = {per_resource:.2f}",
                  f"<= {GOALS['p2_reads_per_resource']}", verdict(per_resource <= GOALS["p2_reads_per_resource"]))]
    if p3 is not None:
        p3_ratio = p3["wall"] / p3["critical"]
        rows += [(f"P3 wall / (max(dir, cluster) + join), median of {len(p3['walls'])}",
                  f"{p3['wall']:.1f} / {p3['critical']} = {p3_ratio:.2f}",
                  f"<= {GOALS['p3_ratio']}", verdict(p3_ratio <= GOALS["p3_ratio"])),
                 ("P3 wall / sequential sum", f"{p3['wall']:.1f} / {p3['sequential']} = {p3['wall'] / p3['sequential']:.2f}",
                  "(shown)", "")]
    if p4 is not None:
        for forks, wall in p4["wallN"].items():
            if forks in GOALS["p4_ratio"]:
                ratio = wall / p4["wall1"]
                rows.append((f"P4 wall({FANOUT}) / wall(1), -f {forks}", f"{wall:.1f} / {p4['wall1']:.1f} = {ratio:.2f}",
                             f"<= {GOALS['p4_ratio'][forks]}", verdict(ratio <= GOALS["p4_ratio"][forks])))
            if forks in GOALS["p4_critical"]:
                ratio = wall / p4["critical"]
                rows.append((f"P4 wall({FANOUT}) / AWS critical path, -f {forks}", f"{wall:.1f} / {p4['critical']} = {ratio:.2f}",
                             f"<= {GOALS['p4_critical'][forks]}", verdict(ratio <= GOALS["p4_critical"][forks])))
            controller, aws = p4["cpus"][(FANOUT, forks)]
            rows.append((f"P4 CPU seconds of wall({FANOUT}) / cores, -f {forks}",
                         f"({controller:.0f} Ansible + {aws or 0:.0f} lab AWS and tools) / {os.cpu_count()} = "
                         f"{(controller + (aws or 0)) / os.cpu_count():.1f} s", "(shown: wall's floor)", ""))
            t, floor = p4["task"][forks], p4["design"][forks]
            # T + max(dir, T + cluster) + join + T, T one AWS module task on every host (module docstring, P4)
            rows.append((f"P4 design floor / AWS critical path, -f {forks}",
                         f"({t:.1f} + {floor - 2 * t - P4_KNOBS['join_seconds']:.1f} + {P4_KNOBS['join_seconds']} + "
                         f"{t:.1f}) / {p4['critical']} = {floor / p4['critical']:.2f}", "(shown: the ratio's floor)", ""))
    if r7 is not None:
        goals = {"directories": 1, "IAM roles": 1, "rules into the DB group": 1, "rules out of the directory group": 1,
                 "clusters joined": SLICED}
        for kind, goal in goals.items():
            rows.append((f"R7 {SLICED} clusters in 4 slices: {kind}", f"{r7[kind]}", f"{goal}", verdict(r7[kind] == goal)))
        rows.append(("R7 slices that failed", f"{r7['failed']}", "0", verdict(r7["failed"] == 0)))
    widths = [max(len(row[i]) for row in rows + [("figure", "value", "goal", "result")]) for i in range(4)]
    say()
    for row in [("figure", "value", "goal", "result"), *rows]:
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return all(row[3] != "FAIL" for row in rows)


def main():
    unknown = sorted(set(ONLY) - set(FIGURES))
    if unknown or not ONLY:
        say(f"BENCH_ONLY may list {', '.join(FIGURES)} (got {' '.join(ONLY) or 'nothing'})")
        sys.exit(2)
    lab = Lab()
    try:
        runner = Runner(lab)
        say(f"bench chain: lab at {lab.env['AWS_ENDPOINT_URL']} (LAB_STATE_DIR {lab.env['LAB_STATE_DIR']}); "
            f"knobs found: {json.dumps(lab.found_knobs, sort_keys=True)}")
        names = lab_names(runner)
        with tempfile.TemporaryDirectory(prefix="bench-chain-") as workdir:
            fanout = {"inventory": fanout_inventory(workdir, FANOUT, names["cluster"]),
                      "extra": ["-e", json.dumps({"aurora_kerberos_hosts": "all", "aurora_kerberos_steps": P4_STEPS,
                                                  "aurora_kerberos_shared_steps": P4_SHARED})]}
            p3 = p3_critical_path(runner, lab, names, fanout) if "p3" in ONLY else None
            p2 = p2_converged_rerun(runner, lab, names) if "p2" in ONLY else None
            p4 = p4_fanout(runner, lab, names, workdir, fanout) if "p4" in ONLY else None
            r7 = r7_sliced(runner, lab, names, workdir, fanout) if "r7" in ONLY else None
    finally:
        lab.close()
    sys.exit(0 if table(p2, p3, p4, r7) else 1)


if __name__ == "__main__":
    main()
