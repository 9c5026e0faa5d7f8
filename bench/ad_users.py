#!/usr/bin/env python3
"""make bench-ad-users: P5, aurora.kerberos.ad_users (one task for a list of AD users) on the lab.

P5 ds-data  BENCH_AD_DS_N (500) users with passwords through the Directory Service Data API, with the
            lab's fault ds_data_tps on (a per-directory token bucket at the documented rates,
            ThrottlingException beyond them). The floor is the writes divided by the write rate: each
            user costs 2 writes (CreateUser, then ResetUserPassword, which sets the password and enables
            the user), at BENCH_AD_EDITION's rate (Enterprise 8 a second; Standard 4). The measure is the
            whole ansible-playbook run. Goal: at most 1.2x the floor, and no ThrottlingException answered
            (the lab's call log is read for HTTP 429s).
P5 ldap     BENCH_AD_LDAP_N (1000) users with passwords over LDAPS (one connection), against a loop of
            aurora.kerberos.ad_user tasks doing the same. Shown beside it: the domain controller's own time
            for the same adds (100 sent over one connection with ldap3 and nothing else, scaled), the
            floor no client goes below; the same over 4 connections at once (the DC adds one user at a time,
            so it is no lower); and loop(N) / the DC's own adds, the highest ratio any client could reach
            on this DC. The loop costs about half a second a user, so it
            runs on BENCH_AD_SAMPLE (10) users and is scaled per user:
                loop(N) = start-up + (loop(sample) - start-up) * N / sample
            (start-up: an empty play). Goal: loop(N) / ad_users(N) at least 50.

The directory: the lab directory named LAB_AD_DOMAIN when one exists (then left as found: data access
the bench enabled is disabled again), else one made with CreateMicrosoftAD (edition BENCH_AD_EDITION,
default Enterprise) and deleted at the end. Faults are put back as found. The bench's users are removed over LDAP
at the end (untimed). Prints every figure with its goal; exits 1 on a miss, 2 when a run fails.
"""

import concurrent.futures
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from labtools import lab_api, ldap_admin  # noqa: E402  (the tests' clients of the lab)
from logins import lab_env, say  # noqa: E402  (bench-logins' reading of the lab's env)

BIN = Path(sys.executable).parent
DS_N = int(os.environ.get("BENCH_AD_DS_N", "500"))
LDAP_N = int(os.environ.get("BENCH_AD_LDAP_N", "1000"))
SAMPLE = int(os.environ.get("BENCH_AD_SAMPLE", "10"))
FLOOR_SAMPLE = 100
PARALLEL = 4  # connections at once for the DC's own adds, beside one
EDITION = os.environ.get("BENCH_AD_EDITION", "Enterprise")
WRITE_TPS = {"Standard": 4, "Enterprise": 8}
GOAL_DS = 1.2
GOAL_LDAP = 50
PREFIX = "bnch"


def client(env, service):
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def wait(what, predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            say(f"bench: {what} not reached after {timeout} s")
            sys.exit(2)
        time.sleep(0.5)


class Directory:
    """The lab directory for LAB_AD_DOMAIN, found or made, with data access Enabled."""

    def __init__(self, env):
        self.ds = client(env, "ds")
        found = [d for d in self.ds.describe_directories()["DirectoryDescriptions"]
                 if d["Name"].lower() == env["LAB_AD_DOMAIN"].lower() and d["Stage"] not in ("Deleting", "Deleted")]
        self.created = not found
        if found:
            self.id, self.edition = found[0]["DirectoryId"], found[0].get("Edition", "Enterprise")
        else:
            self.id = self.ds.create_microsoft_ad(
                Name=env["LAB_AD_DOMAIN"], ShortName=env["LAB_AD_NETBIOS"], Password=env["LAB_AD_ADMIN_PASSWORD"],
                Edition=EDITION, VpcSettings={"VpcId": env["LAB_VPC_ID"], "SubnetIds": env["LAB_SUBNET_IDS"].split(",")},
            )["DirectoryId"]
            self.edition = EDITION
        wait("directory Active", lambda: self._describe()["Stage"] == "Active")
        self.enabled_access = self.ds.describe_directory_data_access(DirectoryId=self.id)["DataAccessStatus"] != "Enabled"
        if self.enabled_access:
            self.ds.enable_directory_data_access(DirectoryId=self.id)
            wait("data access Enabled",
                 lambda: self.ds.describe_directory_data_access(DirectoryId=self.id)["DataAccessStatus"] == "Enabled")

    def _describe(self):
        return self.ds.describe_directories(DirectoryIds=[self.id])["DirectoryDescriptions"][0]

    def close(self):
        if self.created:
            self.ds.delete_directory(DirectoryId=self.id)
        elif self.enabled_access:  # a directory found with data access off is left so
            self.ds.disable_directory_data_access(DirectoryId=self.id)


def playbook(tasks, env, workdir, extra=None):
    """Wall seconds of one ansible-playbook run of these tasks on localhost; exits 2 on failure."""
    path = Path(workdir) / "bench.yml"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    args = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", "ansible_python_interpreter=" + sys.executable, str(path)]
    if extra:
        args += ["-e", "@" + str(extra)]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, env=dict(os.environ, **env, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")),
                          capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        say(f"bench: playbook failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        sys.exit(2)
    return elapsed


def ldap_options(env):
    return {"domain": env["LAB_AD_DOMAIN"], "ldap_server": env["LAB_DC_IP"], "ldap_server_name": env["LAB_DC_HOSTNAME"],
            "ldap_ca_file": env["LAB_LDAPS_CA"], "bind_user": env["LAB_AD_ADMIN_USER"],
            "bind_password": "{{ bench_admin_password }}"}


def users_file(workdir, names, password_var="bench_password"):
    path = Path(workdir) / f"users-{names[0]}-{len(names)}.json"
    path.write_text(json.dumps([{"name": n} for n in names]))
    # The passwords stay in the extra vars: the list gets them by template, so the file holds none.
    return ("{{ lookup('ansible.builtin.file', %s) | from_json | map('combine', {'password': %s}) }}"
            % (json.dumps(str(path)), password_var))


def remove_bench_objects(env):
    with ldap_admin(env) as conn:
        conn.search(env["LAB_AD_BASE_DN"], f"(sAMAccountName={PREFIX}*)", attributes=["sAMAccountName"])
        for entry in list(conn.entries):
            conn.delete(entry.entry_dn)


def calls(env):
    return lab_api(env, "GET", "calls")["calls"]


def p5_ds_data(env, directory, workdir, extra):
    names = [f"{PREFIX}d{i:04d}" for i in range(DS_N)]
    options = {"backend": "ds_data", "directory_id": directory.id, "domain": env["LAB_AD_DOMAIN"],
               "users": users_file(workdir, names)}
    task = {"aurora.kerberos.ad_users": options, "no_log": True}
    found = lab_api(env, "GET", "faults")
    lab_api(env, "POST", "faults", {"ds_data_tps": True})
    lab_api(env, "DELETE", "calls")
    try:
        wall = playbook([task], env, workdir, extra)
        answered = calls(env)
        throttles = [c for c in answered if c["status"] == 429]
    finally:
        lab_api(env, "DELETE", "faults")
        if found:
            lab_api(env, "POST", "faults", found)
    writes = sum(1 for c in answered if c["status"] == 200 and c["mutating"]
                 and (c["service"] == "ds-data" or c["operation"] == "ResetUserPassword"))
    tps = WRITE_TPS.get(directory.edition, 8)
    floor = 2 * DS_N / tps
    say(f"  ds-data: {DS_N} users, {writes} writes seen (2 per user expected), edition {directory.edition} "
        f"({tps} writes/s): {wall:.1f} s, floor {floor:.1f} s, {len(throttles)} ThrottlingException answers")
    return {"wall": wall, "floor": floor, "throttles": len(throttles), "writes": writes}


def p5_ldap(env, workdir, extra, startup):
    names = [f"{PREFIX}l{i:04d}" for i in range(LDAP_N)]
    bulk = playbook([{"aurora.kerberos.ad_users": dict(ldap_options(env), users=users_file(workdir, names)),
                      "no_log": True}], env, workdir, extra)
    sample = [f"{PREFIX}s{i:04d}" for i in range(SAMPLE)]
    loop = playbook([{"aurora.kerberos.ad_user": dict(ldap_options(env), name="{{ item }}",
                                                      password="{{ bench_password }}"),
                      "loop": sample, "no_log": True}], env, workdir, extra)
    scaled = startup + (loop - startup) * LDAP_N / SAMPLE
    server = dc_add_seconds(env, FLOOR_SAMPLE) * LDAP_N / FLOOR_SAMPLE
    parallel = dc_add_seconds(env, FLOOR_SAMPLE, PARALLEL) * LDAP_N / FLOOR_SAMPLE
    say(f"  ldap: ad_users {LDAP_N} users {bulk:.1f} s; ad_user loop {SAMPLE} users {loop:.1f} s, "
        f"scaled to {LDAP_N}: {scaled:.0f} s; the domain controller's own adds ({FLOOR_SAMPLE} scaled to {LDAP_N}): "
        f"{server:.1f} s over one connection, {parallel:.1f} s over {PARALLEL} at once")
    return {"bulk": bulk, "loop": loop, "scaled": scaled, "server": server, "parallel": parallel}


def dc_add_seconds(env, count, connections=1):
    """Seconds the domain controller takes for count adds of a user with a password, as ad_users sends them, with
    nothing else around them: what no client can go below. Over several connections at once (each its own
    thread), to show whether the DC adds users side by side or one at a time."""
    password = ('"%s"' % ("Bench-" + secrets.token_hex(6) + "9a!")).encode("utf-16-le")

    def add(names):
        with ldap_admin(env) as conn:
            for name in names:
                conn.add(f"CN={name},{env['LAB_AD_USERS_OU']}", ["top", "person", "organizationalPerson", "user"],
                         {"sAMAccountName": name, "userPrincipalName": f"{name}@{env['LAB_AD_REALM']}",
                          "userAccountControl": 512, "msDS-SupportedEncryptionTypes": 24, "unicodePwd": password})

    names = [f"{PREFIX}f{connections}x{i:04d}" for i in range(count)]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        list(pool.map(add, [names[c::connections] for c in range(connections)]))
    return time.monotonic() - started


def main():
    env = lab_env()
    directory = Directory(env)
    env = lab_env()  # CreateMicrosoftAD may have rewritten Admin's password
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ad-users-") as workdir:
            extra = Path(workdir) / "secrets.json"
            extra.write_text(json.dumps({"bench_password": "Bench-" + secrets.token_hex(6) + "9a!",
                                         "bench_admin_password": env["LAB_AD_ADMIN_PASSWORD"]}))
            extra.chmod(0o600)
            remove_bench_objects(env)
            say(f"bench ad_users: directory {directory.id} ({'made for the bench' if directory.created else 'found'})")
            startup = min(playbook([{"ansible.builtin.meta": "noop"}], env, workdir) for _ in range(2))
            ds = p5_ds_data(env, directory, workdir, extra)
            remove_bench_objects(env)
            ldap = p5_ldap(env, workdir, extra, startup)
    finally:
        remove_bench_objects(env)
        directory.close()

    ds_ratio = ds["wall"] / ds["floor"]
    ldap_ratio = ldap["scaled"] / ldap["bulk"]
    rows = [
        ("figure", "value", "goal", "result"),
        (f"P5 ds-data {DS_N} users / floor (2 writes a user at the write rate)",
         f"{ds['wall']:.1f} / {ds['floor']:.1f} = {ds_ratio:.2f}", f"<= {GOAL_DS}",
         "PASS" if ds_ratio <= GOAL_DS else "FAIL"),
        ("P5 ds-data ThrottlingException answers", f"{ds['throttles']}", "0", "PASS" if ds["throttles"] == 0 else "FAIL"),
        (f"P5 ldap ad_user loop (scaled) / ad_users, {LDAP_N} users",
         f"{ldap['scaled']:.0f} / {ldap['bulk']:.1f} = {ldap_ratio:.0f}", f">= {GOAL_LDAP}",
         "PASS" if ldap_ratio >= GOAL_LDAP else "FAIL"),
        (f"P5 ldap ad_users / the domain controller's own adds, {LDAP_N} users",
         f"{ldap['bulk']:.1f} / {ldap['server']:.1f} = {ldap['bulk'] / ldap['server']:.2f}", "(shown)", ""),
        (f"P5 ldap the DC's own adds over {PARALLEL} connections / over one",
         f"{ldap['parallel']:.1f} / {ldap['server']:.1f} = {ldap['parallel'] / ldap['server']:.2f}",
         "(shown: near 1, the DC adds one at a time)", ""),
        (f"P5 ldap loop / the DC's own adds: the most any client reaches, {LDAP_N} users",
         f"{ldap['scaled']:.0f} / {ldap['server']:.1f} = {ldap['scaled'] / ldap['server']:.0f}",
         f"(shown: the goal's ceiling on this DC, goal {GOAL_LDAP})", ""),
    ]
    say()
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    sys.exit(0 if all(row[3] != "FAIL" for row in rows[1:]) else 1)


if __name__ == "__main__":
    main()
