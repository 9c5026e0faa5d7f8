"""lab-up twice changes nothing; lab-down leaves no port, namespace or process, a cluster's server included.

Runs a second, private lab (own state folder, ports, namespace and addresses) so the shared
lab the other tests use is never disturbed.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "build" / "lab-lifecycle"
ENV = {
    "LAB_STATE_DIR": str(STATE),
    "LAB_NETNS": "aurkrb-life",
    "LAB_AWS_PORT": "15041",
    "LAB_PG_PORT": "15442",
    "LAB_HOST_IP": "203.0.113.1",
    "LAB_DC_IP": "203.0.113.2",
}


def lab(command):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "KRB5", "AWS_"))}
    env.update(ENV)
    return subprocess.run([sys.executable, str(ROOT / "lab" / "lab.py"), command],
                          capture_output=True, text=True, env=env, check=False)


def listening_ports():
    """Ports with a listening TCP socket on this machine (ss, so nothing is dialled)."""
    out = subprocess.run(["ss", "-H", "-ltn"], capture_output=True, text=True, check=True).stdout
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()}


def pids():
    run = STATE / "run"
    found = {"aws": int((run / "aws.pid").read_text()), "samba": int((run / "samba.pid").read_text())}
    for pidfile in (STATE / "pg" / "servers").glob("*/data/postmaster.pid"):  # each cluster's server
        found[pidfile.parent.parent.name] = int(pidfile.read_text().split()[0])
    return found


def namespace_ports():
    """Ports listening inside the private lab's namespace: the DC's, and each cluster's server."""
    out = subprocess.run(["ip", "netns", "exec", "aurkrb-life", "ss", "-H", "-ltn"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[3] for line in out.splitlines()}


def make_cluster():
    """A cluster through the private lab's AWS endpoint: the endpoint starts its server."""
    import boto3

    values = dict(line.removeprefix("export ").split("=", 1) for line in (STATE / "env").read_text().splitlines()
                  if line.startswith("export "))
    values = {k: v.strip("'") for k, v in values.items()}
    rds = boto3.client("rds", endpoint_url=values["AWS_ENDPOINT_URL"], region_name=values["AWS_REGION"],
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    rds.create_db_cluster(DBClusterIdentifier=values["LAB_PG_CLUSTER"], Engine="aurora-postgresql",
                          MasterUsername="boss", MasterUserPassword="Life-cycle-9x", Port=int(ENV["LAB_PG_PORT"]))
    return f"{values['LAB_PG_HOSTADDR']}:{ENV['LAB_PG_PORT']}"


def samba_tool(*args):
    """samba-tool on the private lab's DC databases (local, as lab.py does)."""
    return subprocess.run(["samba-tool", *args, "-s", str(STATE / "samba" / "etc" / "smb.conf")], capture_output=True,
                          text=True, check=True).stdout.split()


def alive(pid):
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture
def private_lab():
    shutil.rmtree(STATE, ignore_errors=True)
    STATE.parent.mkdir(parents=True, exist_ok=True)
    yield
    lab("down")
    shutil.rmtree(STATE, ignore_errors=True)


def test_up_twice_then_down_leaves_nothing(private_lab):
    first = lab("up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert lab("status").returncode == 0
    assert 15041 in listening_ports()
    assert not (STATE / "pg" / "servers").exists() or not list((STATE / "pg" / "servers").iterdir())  # none yet
    server = make_cluster()
    assert server in namespace_ports()
    before = pids()
    assert len(before) == 3, before
    env_text = (STATE / "env").read_text()

    again = lab("up")
    assert again.returncode == 0, again.stdout + again.stderr
    for component in ("network", "samba", "postgres", "aws"):
        assert any(line.split()[1:3] == [component, "already"] for line in again.stdout.splitlines()), again.stdout
    assert pids() == before
    assert (STATE / "env").read_text() == env_text

    # What an earlier directory made in the delegated OU: the endpoint's state (its directories) goes with it.
    samba_tool("user", "create", "left-behind", "Left-behind-9x", "--userou=OU=Users,OU=CORP")
    samba_tool("group", "add", "left-group", "--groupou=OU=CORP")
    assert "left-behind" in samba_tool("user", "list") and "left-group" in samba_tool("group", "list")

    down = lab("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not any(alive(pid) for pid in before.values()), before
    assert "aurkrb-life" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert subprocess.run(["ip", "link", "show", "aurkrb-life-h"], capture_output=True, check=False).returncode != 0
    # The DC's and the servers' ports went with the namespace; the endpoint's must be closed too.
    assert 15041 not in listening_ports()
    assert not list((STATE / "pg" / "servers").iterdir())
    assert "203.0.113." not in subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    assert lab("status").returncode == 1
    assert lab("down").returncode == 0  # a second down is harmless

    # The namespace goes first (by hand, or a crash): its veth follows whenever the kernel frees the
    # namespace, so down takes the veth's 'Cannot find device' as done, and a second down too. The
    # state folder is kept, so this up starts the built lab again without provisioning.
    warm = lab("up")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    # A restarted endpoint has no directory: the DC keeps no user or group of one (Admin stays, as in AWS).
    users, groups = samba_tool("user", "list"), samba_tool("group", "list")
    assert "left-behind" not in users and "left-group" not in groups and "Admin" in users, (users, groups)
    make_cluster()
    before = pids()
    assert len(before) == 3, before
    subprocess.run(["ip", "netns", "del", "aurkrb-life"], check=True)
    for attempt in ("down", "down again"):
        down = lab("down")
        assert down.returncode == 0, f"{attempt}: {down.stdout}{down.stderr}"
    assert not any(alive(pid) for pid in before.values()), before
    assert subprocess.run(["ip", "link", "show", "aurkrb-life-h"], capture_output=True, check=False).returncode != 0
    assert 15041 not in listening_ports()
