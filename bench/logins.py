#!/usr/bin/env python3
"""make bench-logins: N Kerberos logins on the lab PostgreSQL, aurora.kerberos.kerberos_logins (one task)
against a community.postgresql loop (postgresql_user + postgresql_membership per login) doing the same
work, for a create and for a converged no-op run. Prints both wall times and the ratio.

The loop costs about a second per login, so it runs on BENCH_SAMPLE logins and is scaled to N:
    scaled = playbook start-up + (sample run - start-up) * N / sample
(the start-up is measured with an empty playbook). Each side is timed as a whole ansible-playbook
run, as a user would see it. Needs a running lab (make lab-up); leaves no bench login behind.
Timings are reported, never asserted."""

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
N = int(os.environ.get("BENCH_N", "1000"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "20"))


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


def connection(env):
    return {"login_host": env["LAB_PG_HOST"], "login_port": int(env["LAB_PG_PORT"]), "login_db": env["LAB_PG_DATABASE"],
            "login_user": env["LAB_PG_MASTER_USER"], "login_password": env["LAB_PG_MASTER_PASSWORD"],
            "ssl_mode": "prefer", "connect_params": {"hostaddr": env["LAB_PG_HOSTADDR"]}}


def playbook(tasks, env, workdir):
    """Wall seconds of one ansible-playbook run of these tasks on localhost; exits on failure."""
    path = Path(workdir) / "bench.yml"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    run_env = dict(os.environ, **env, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(path)],
                          cwd=ROOT, env=run_env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"bench: playbook failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return elapsed


def module_task(env, names, state="present"):
    return {"aurora.kerberos.kerberos_logins": dict(connection(env), realm=env["LAB_AD_REALM"], state=state,
                                                    logins=[{"name": n} for n in names])}


def loop_tasks(env, names):
    logins = [f"{n}@{env['LAB_AD_REALM']}" for n in names]
    return [
        {"community.postgresql.postgresql_user": dict(connection(env), name="{{ item }}", role_attr_flags="LOGIN"),
         "loop": logins},
        {"community.postgresql.postgresql_membership": dict(connection(env), groups=["rds_ad"],
                                                            target_roles=["{{ item }}"]),
         "loop": logins},
    ]


def main():
    env = lab_env()
    many = [f"bench_m{i:05d}" for i in range(N)]
    sample = [f"bench_l{i:05d}" for i in range(SAMPLE)]
    with tempfile.TemporaryDirectory() as workdir:
        cleanup = [module_task(env, many + sample, state="absent")]
        playbook(cleanup, env, workdir)
        try:
            startup = playbook([{"ansible.builtin.meta": "noop"}], env, workdir)
            module_create = playbook([module_task(env, many)], env, workdir)
            module_noop = playbook([module_task(env, many)], env, workdir)
            loop_create = playbook(loop_tasks(env, sample), env, workdir)
            loop_noop = playbook(loop_tasks(env, sample), env, workdir)
        finally:
            playbook(cleanup, env, workdir)

    def scaled(seconds):
        return startup + (seconds - startup) * N / SAMPLE

    print(f"bench logins: N={N} Kerberos logins (CREATE ROLE ... LOGIN + GRANT rds_ad), lab PostgreSQL")
    print(f"  ansible-playbook start-up (empty play): {startup:.2f} s")
    print(f"  community.postgresql loop timed on a sample of {SAMPLE} logins, scaled to {N}")
    print(f"  {'run':10} {'kerberos_logins':>16} {'loop (scaled)':>15} {'loop sample':>12} {'ratio':>8}")
    for label, ours, loop in (("create", module_create, loop_create), ("no-op", module_noop, loop_noop)):
        print(f"  {label:10} {ours:14.2f} s {scaled(loop):13.1f} s {loop:10.2f} s {scaled(loop) / ours:7.0f}x")


if __name__ == "__main__":
    main()
