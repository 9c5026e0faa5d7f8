#!/usr/bin/env python3
"""The aurora.kerberos lab: the local stand-in for AWS, AWS Managed Microsoft AD and Aurora.

    lab.py up       start (and on first use, build) every component; a running lab is left as is
    lab.py status   print each component's health; exit 0 only when all are healthy
    lab.py down     stop every lab process by pid, remove the namespace and the veth pair
    lab.py resolve NAME   print the address and port the lab gives a cluster's endpoint name
    lab.py onprem up|stop|down   start (provision on first use) / stop / remove the on-premises forest's DC

Components:
  aws       moto's server with the managed IAM policies, on 127.0.0.1 (lab/aws_endpoint.py)
  network   a network namespace joined to the host by a veth pair, with no route elsewhere
  samba     a Samba AD DC for CORP.EXAMPLE.COM inside that namespace, laid out like Managed AD
  onprem    a second Samba AD DC, for ONPREM.EXAMPLE.ORG (the on-premises forest a trust names), in a
            namespace of its own that reaches the first DC and the host only; started on demand
            (lab.py onprem up, or the AWS endpoint at CreateTrust), never by up
  postgres  a template PostgreSQL data directory whose pg_hba.conf answers like Aurora's Kerberos
            front door; the AWS endpoint starts a server from it for each cluster it creates

All state lives in .lab/ (or LAB_STATE_DIR). .lab/env is the contract (lab/CONTRACT.md).
The lab never imports the collection, and nothing here touches /etc or a foreign address.
"""

import argparse
import glob
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("LAB_STATE_DIR") or ROOT / ".lab").resolve()
RUN = STATE / "run"
LOGS = STATE / "log"
SAMBA_DIR = STATE / "samba"
PG_DIR = STATE / "pg"
ENV_FILE = STATE / "env"
SECRETS_FILE = STATE / "secrets.json"
KRB5_CONF = STATE / "krb5.conf"

AWS_HOST = "127.0.0.1"
AWS_PORT = int(os.environ.get("LAB_AWS_PORT", "15030"))
REGION = os.environ.get("LAB_REGION", "us-east-1")
# The demo cluster (inventories/lab): .lab/env holds its endpoint, and the port it asks for.
PG_CLUSTER = "aurkrb-lab"
PG_PORT = int(os.environ.get("LAB_PG_PORT", "15432"))
ACCOUNT_ID = "123456789012"  # moto's account for the lab's keys
# The partition's DNS suffix (AWS_FACTS.md section 3): amazonaws.com.cn in China.
DNS_SUFFIX = "amazonaws.com.cn" if REGION.startswith("cn-") else "amazonaws.com"
sys.path.insert(0, str(ROOT / "lab"))
from fidelity import servers  # noqa: E402  (the endpoint names, shared with the AWS endpoint)

PG_HOST = servers.cluster_endpoint(PG_CLUSTER, ACCOUNT_ID, REGION, DNS_SUFFIX)
PG_MASTER = os.environ.get("LAB_PG_MASTER_USER", "postgres")
PG_SUPERUSER = "rdsadmin"  # Aurora's own superuser; the master user is not one.

NETNS = os.environ.get("LAB_NETNS", "aurkrb-lab")
VETH_HOST = f"{NETNS[:12]}-h"  # interface names stop at 15 characters
VETH_DC = f"{NETNS[:12]}-d"
# TEST-NET-2: documentation addresses, so they clash with no real network.
HOST_IP = os.environ.get("LAB_HOST_IP", "198.51.100.1")
DC_IP = os.environ.get("LAB_DC_IP", "198.51.100.2")
PREFIX = 24
# Each cluster's server listens on an address of its own in the namespace (lab/fidelity/servers.py): the
# demo cluster's is .10 of the DC's network.
PG_HOSTADDR = f"{DC_IP.rsplit('.', 1)[0]}.{servers.DEMO_HOST}"

DOMAIN = "corp.example.com"
REALM = DOMAIN.upper()
NETBIOS = "CORP"
BASE_DN = ",".join(f"DC={p}" for p in DOMAIN.split("."))
USERS_OU = f"OU=Users,OU={NETBIOS},{BASE_DN}"
DC_HOSTNAME = f"dc1.{DOMAIN}"
AD_ADMIN = "Admin"
DELEGATED_GROUP = "AWS Delegated Administrators"
AES_ONLY = 24  # msDS-SupportedEncryptionTypes: AES128 + AES256

# The on-premises forest a trust names (lab/README.md, "A trusted on-premises forest"): its own namespace,
# joined to the host by one veth pair and to the first DC's namespace by another; its address is .251 of
# the DC's /24 (the clusters' servers take .10-.250), so labs with different LAB_DC_IP never collide.
ONPREM_DOMAIN = "onprem.example.org"
ONPREM_REALM = ONPREM_DOMAIN.upper()
ONPREM_NETBIOS = "ONPREM"
ONPREM_BASE_DN = ",".join(f"DC={p}" for p in ONPREM_DOMAIN.split("."))
ONPREM_DC_HOSTNAME = f"dc1.{ONPREM_DOMAIN}"
ONPREM_IP = f"{DC_IP.rsplit('.', 1)[0]}.251"
ONPREM_NETNS = f"{NETNS}-op"
ONPREM_VETH_HOST = f"{NETNS[:11]}-oh"  # host <-> on-premises DC
ONPREM_VETH_DC = f"{NETNS[:11]}-od"
ONPREM_VETH_CORP = f"{NETNS[:11]}-dx"  # first DC's namespace <-> on-premises DC
ONPREM_VETH_PEER = f"{NETNS[:11]}-ox"
ONPREM_DIR = STATE / "onprem"
ONPREM_SMB_CONF = ONPREM_DIR / "etc" / "smb.conf"
ONPREM_PIDFILE = ONPREM_DIR / "run" / "samba.pid"
ONPREM_USER = "joe"  # the on-premises user of the demo and the tests


class LabError(Exception):
    pass


def say(component, message):
    print(f"lab: {component:8} {message}", flush=True)


def run(cmd, check=True, quiet=True, **kwargs):
    """Run a command; on failure raise LabError with its output (commands never carry secrets)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        shown = " ".join(shlex.quote(str(c)) for c in cmd)
        raise LabError(f"command failed ({proc.returncode}): {shown}\n{proc.stdout}{proc.stderr}".rstrip())
    return proc


def port_open(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise LabError(f"timed out after {timeout}s waiting for {what}")


# --- processes, always by pid ---------------------------------------------------------------

def pid_alive(pid, expect):
    """True when pid runs and its command line contains `expect` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return expect in cmdline


def read_pid(path):
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def stop_pid(pid, expect, sig=signal.SIGTERM, timeout=15):
    """Stop pid if it still runs `expect`. A process that exits on its own meanwhile is stopped too:
    ProcessLookupError from kill means the work is done, not that it failed."""
    if not pid or not pid_alive(pid, expect):
        return False
    try:
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(pid, expect):
            time.sleep(0.1)
        if pid_alive(pid, expect):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def until_gone(cmd, gone):
    """Run a command that removes something; it succeeded when the thing is gone afterwards, whatever
    the command said. The kernel may remove it first (a namespace takes its veth along), so 'Cannot
    find device' or 'No such file' after a check that saw it is success, and a real failure still raises."""
    proc = run(cmd, check=False)
    if proc.returncode != 0 and not gone():
        shown = " ".join(shlex.quote(str(c)) for c in cmd)
        raise LabError(f"command failed ({proc.returncode}): {shown}\n{proc.stdout}{proc.stderr}".rstrip())
    return proc.returncode == 0


def link_exists(name):
    return run(["ip", "link", "show", name], check=False).returncode == 0


def remove_tree(path):
    """rmtree that is done when the folder is gone, even if something else removed it first."""
    shutil.rmtree(path, ignore_errors=True)
    if Path(path).exists():
        shutil.rmtree(path)  # still there: this time with the reason


# --- secrets --------------------------------------------------------------------------------

def make_password():
    """A password that passes AD complexity and AWS's rules (3 of 4 classes, no 'admin')."""
    alphabet = string.ascii_letters + string.digits
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(20))
        if any(c.isupper() for c in body) and any(c.islower() for c in body) and any(c.isdigit() for c in body):
            if "admin" not in body.lower():
                return f"Lab-{body}!"


SECRET_NAMES = ("ad_admin_password", "administrator_password", "user_password", "master_password",
                "onprem_administrator_password", "onprem_trust_password")


def load_secrets():
    """The lab's passwords, made once. The AWS endpoint rewrites ad_admin_password when the API
    changes Admin's password (CreateMicrosoftAD, ResetUserPassword), as AWS would."""
    values = json.loads(SECRETS_FILE.read_text()) if SECRETS_FILE.exists() else {}
    if values and "administrator_password" not in values:
        values["administrator_password"] = values["ad_admin_password"]  # labs made before it was separate
    missing = [name for name in SECRET_NAMES if name not in values]
    if missing:
        values.update({name: make_password() for name in missing})
        SECRETS_FILE.touch(mode=0o600)
        SECRETS_FILE.write_text(json.dumps(values, indent=2))
    return values


# --- network namespace ----------------------------------------------------------------------

def netns_exists():
    return NETNS in run(["ip", "netns", "list"]).stdout.split()


def network_up():
    if netns_exists() and HOST_IP in run(["ip", "-4", "-o", "addr", "show", "dev", VETH_HOST], check=False).stdout:
        say("network", f"already up: namespace {NETNS}, host {HOST_IP} <-> DC {DC_IP}")
        return
    prefix = HOST_IP.rsplit(".", 1)[0] + "."
    for line in run(["ip", "-4", "-o", "addr"]).stdout.splitlines():
        fields = line.split()
        if fields[1] != VETH_HOST and fields[3].startswith(prefix):
            raise LabError(
                f"{fields[3]} on {fields[1]} overlaps the lab network {prefix}0/{PREFIX}: "
                "set LAB_HOST_IP and LAB_DC_IP to a free /24 (for example 203.0.113.1 and 203.0.113.2)"
            )
    until_gone(["ip", "link", "del", VETH_HOST], lambda: not link_exists(VETH_HOST))
    if netns_exists():
        until_gone(["ip", "netns", "del", NETNS], lambda: not netns_exists())
    run(["ip", "netns", "add", NETNS])
    run(["ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_DC])
    run(["ip", "link", "set", VETH_DC, "netns", NETNS])
    run(["ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", VETH_HOST])
    run(["ip", "link", "set", VETH_HOST, "up"])
    run(["ip", "netns", "exec", NETNS, "ip", "addr", "add", f"{DC_IP}/{PREFIX}", "dev", VETH_DC])
    run(["ip", "netns", "exec", NETNS, "ip", "link", "set", VETH_DC, "up"])
    run(["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"])
    say("network", f"created namespace {NETNS}: host {HOST_IP} <-> DC {DC_IP} (no other route)")


def network_down():
    """Idempotent, whatever the kernel does meanwhile: removing the namespace takes the DC's end of the
    veth pair with it and the host's end goes too, at a moment of the kernel's choosing."""
    if netns_exists():
        for pid in run(["ip", "netns", "pids", NETNS], check=False).stdout.split():
            stop_pid(int(pid), "", timeout=5)
        if until_gone(["ip", "netns", "del", NETNS], lambda: not netns_exists()):
            say("network", f"removed namespace {NETNS}")
    if link_exists(VETH_HOST) and until_gone(["ip", "link", "del", VETH_HOST], lambda: not link_exists(VETH_HOST)):
        say("network", f"removed {VETH_HOST}")


# --- Samba AD DC ----------------------------------------------------------------------------

SMB_CONF = SAMBA_DIR / "etc" / "smb.conf"
SAMBA_PIDFILE = RUN / "samba.pid"
LDAPS_CA = SAMBA_DIR / "private" / "tls" / "ca.pem"


def samba_tool(*args):
    return run(["samba-tool", *args, "-s", str(SMB_CONF)])


def provision_dc(folder, netns, realm, netbios, password, ip, pid_dir, log_file, conf):
    """samba-tool domain provision of one AD DC in its namespace (the directory's, or the on-premises forest's)."""
    if (folder / ".provisioned").exists():
        return
    remove_tree(folder)  # a provision that did not finish
    pid_dir.mkdir(parents=True, exist_ok=True)
    say("samba", f"provisioning {realm} (NetBIOS {netbios}) ...")
    run([
        "ip", "netns", "exec", netns, "samba-tool", "domain", "provision",
        f"--targetdir={folder}", "--use-rfc2307", f"--realm={realm}", f"--domain={netbios}",
        "--server-role=dc", "--dns-backend=SAMBA_INTERNAL", f"--adminpass={password}",
        "--host-name=dc1", f"--host-ip={ip}",
        f"--option=interfaces=127.0.0.1 {ip}", "--option=bind interfaces only=yes",
        f"--option=pid directory={pid_dir}", f"--option=log file={log_file}",
        "--option=disable netbios=yes",
    ])
    dc_conf(conf, folder)
    (folder / ".provisioned").touch()


def samba_provision(sec):
    provision_dc(SAMBA_DIR, NETNS, REALM, NETBIOS, sec["administrator_password"], DC_IP, RUN, LOGS / "samba.log",
                 SMB_CONF)


def dc_conf(conf_file, folder):
    """What a lab DC's smb.conf needs beyond what provision writes; True when it changed the file."""
    conf = conf_file.read_text().splitlines()
    before = list(conf)
    # No forwarder: the DC must reach nothing beyond this host. No winbindd (not packaged, not needed)
    # and no file server: the lab needs the KDC, LDAP(S), kpasswd and DNS.
    conf = [line for line in conf if "dns forwarder" not in line]
    wanted = [
        "\tserver services = -winbindd -s3fs",
        # The directory's databases are not fsync'd: a lab DC is made again rather than recovered, and an LDAP
        # add takes half the time (Samba's own test environments set the same).
        "\tldb:nosync = true",
        # The DC's local RPC sockets in its own folder: Samba's default (/run/samba/ncalrpc) is one for every
        # DC of the machine, so a second DC (another lab's, or the on-premises forest's) took the first one's.
        f"\tncalrpc dir = {folder / 'ncalrpc'}",
    ]
    for line in wanted:
        key = line.split("=")[0].strip()
        conf = [c for c in conf if c.split("=")[0].strip() != key or c == line]
        if line not in conf:
            conf.insert(conf.index("[global]") + 1, line)
    if conf != before:
        conf_file.write_text("\n".join(conf) + "\n")
    return conf != before


def samba_running():
    return pid_alive(read_pid(SAMBA_PIDFILE), "samba")


def samba_start():
    if dc_conf(SMB_CONF, SAMBA_DIR) and samba_running():
        pid = read_pid(SAMBA_PIDFILE)
        stop_pid(pid, "samba")
        say("samba", f"stopped (pid {pid}) to start it with its own RPC sockets")
    if samba_running():
        say("samba", f"already running (pid {read_pid(SAMBA_PIDFILE)})")
        return
    if port_open(DC_IP, 88):
        raise LabError(f"a DC that is not this lab's already answers at {DC_IP} in namespace {NETNS}: stop the "
                       "other lab (make lab-down in its checkout) or set LAB_NETNS, LAB_HOST_IP and LAB_DC_IP")
    run(["ip", "netns", "exec", NETNS, "samba", "-s", str(SMB_CONF), "-D", "-M", "single"])
    try:
        wait_for(lambda: port_open(DC_IP, 88) and port_open(DC_IP, 636), 60, "the DC's Kerberos (88) and LDAPS (636)")
    except LabError as exc:
        stop_pid(read_pid(SAMBA_PIDFILE), "samba")
        raise LabError(f"{exc}; see {LOGS / 'samba.log'}") from None
    say("samba", f"DC {DC_HOSTNAME} up at {DC_IP} (pid {read_pid(SAMBA_PIDFILE)})")


def ldap_admin(user, password):
    import ldap3  # from the venv

    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(LDAPS_CA), valid_names=[DC_HOSTNAME])
    server = ldap3.Server(DC_IP, port=636, use_ssl=True, tls=tls, connect_timeout=5)
    return ldap3.Connection(server, user=f"{user}@{REALM}", password=password, auto_bind=True, raise_exceptions=True)


def samba_configure(sec):
    """Lay the domain out like AWS Managed Microsoft AD, once."""
    marker = SAMBA_DIR / ".configured"
    if marker.exists():
        return
    say("samba", "laying out OU=CORP and the Admin account ...")
    # Lab passwords must not expire under a long-lived lab; complexity stays on, as in AWS.
    samba_tool("domain", "passwordsettings", "set", "--max-pwd-age=0")
    for ou in (f"OU={NETBIOS}", f"OU=Users,OU={NETBIOS}", "OU=AWS Delegated Groups"):
        samba_tool("ou", "create", ou)
    samba_tool("group", "add", DELEGATED_GROUP, "--groupou=OU=AWS Delegated Groups")
    samba_tool("user", "create", AD_ADMIN, sec["ad_admin_password"], f"--userou=OU=Users,OU={NETBIOS}")
    samba_tool("group", "addmembers", DELEGATED_GROUP, AD_ADMIN)
    # Admin manages OU=CORP and everything under it, and nothing else, as in AWS Managed AD.
    with ldap_admin("Administrator", sec["administrator_password"]) as conn:
        conn.search(BASE_DN, f"(cn={DELEGATED_GROUP})", attributes=["objectSid"])
        sid = conn.entries[0].objectSid.value
    samba_tool("dsacl", "set", f"--objectdn=OU={NETBIOS},{BASE_DN}", f"--sddl=(A;CI;GA;;;{sid})")
    # No service principal for PostgreSQL here: a cluster's principals and keys come with its join
    # (lab/fidelity/kerberos.py, AWS_FACTS.md section 10).
    import ldap3

    with ldap_admin("Administrator", sec["administrator_password"]) as conn:
        conn.search(BASE_DN, f"(sAMAccountName={AD_ADMIN})")
        conn.modify(conn.entries[0].entry_dn, {"msDS-SupportedEncryptionTypes": [(ldap3.MODIFY_REPLACE, [AES_ONLY])]})
    marker.touch()


# --- the on-premises forest (a trust's other side) -------------------------------------------

def onprem_netns_exists():
    return ONPREM_NETNS in run(["ip", "netns", "list"]).stdout.split()


def in_lab_netns(*cmd):
    return ["ip", "netns", "exec", NETNS, *cmd]


def onprem_link_in_lab():
    return run(in_lab_netns("ip", "link", "show", ONPREM_VETH_CORP), check=False).returncode == 0


def onprem_network_up():
    """The on-premises DC's namespace: one veth pair to the host, one to the first DC's namespace, a /32 route
    each way and nothing else, so it reaches the host and the first forest's DC only."""
    if not netns_exists():
        raise LabError(f"the lab's namespace {NETNS} is missing: run lab.py up first")
    if onprem_netns_exists() and link_exists(ONPREM_VETH_HOST) and onprem_link_in_lab():
        return
    onprem_network_down()
    run(["ip", "netns", "add", ONPREM_NETNS])
    run(["ip", "link", "add", ONPREM_VETH_HOST, "type", "veth", "peer", "name", ONPREM_VETH_DC])
    run(["ip", "link", "set", ONPREM_VETH_DC, "netns", ONPREM_NETNS])
    run(["ip", "link", "add", ONPREM_VETH_CORP, "type", "veth", "peer", "name", ONPREM_VETH_PEER])
    run(["ip", "link", "set", ONPREM_VETH_CORP, "netns", NETNS])
    run(["ip", "link", "set", ONPREM_VETH_PEER, "netns", ONPREM_NETNS])
    run(["ip", "link", "set", ONPREM_VETH_HOST, "up"])
    run(["ip", "route", "add", f"{ONPREM_IP}/32", "dev", ONPREM_VETH_HOST, "src", HOST_IP])
    inside = ["ip", "netns", "exec", ONPREM_NETNS]
    for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{ONPREM_IP}/32", "dev", ONPREM_VETH_DC],
                ["ip", "link", "set", ONPREM_VETH_DC, "up"], ["ip", "link", "set", ONPREM_VETH_PEER, "up"],
                ["ip", "route", "add", f"{HOST_IP}/32", "dev", ONPREM_VETH_DC],
                ["ip", "route", "add", f"{DC_IP}/32", "dev", ONPREM_VETH_PEER]):
        run(inside + cmd)
    run(in_lab_netns("ip", "link", "set", ONPREM_VETH_CORP, "up"))
    run(in_lab_netns("ip", "route", "add", f"{ONPREM_IP}/32", "dev", ONPREM_VETH_CORP, "src", DC_IP))
    say("onprem", f"created namespace {ONPREM_NETNS}: DC {ONPREM_IP} <-> host {HOST_IP} and DC {DC_IP} only")


def onprem_network_down():
    """Idempotent whatever the kernel does meanwhile, as network_down: the namespace takes its ends of both veth
    pairs along, and the other ends go with them at a moment the kernel chooses."""
    if onprem_netns_exists():
        for pid in run(["ip", "netns", "pids", ONPREM_NETNS], check=False).stdout.split():
            stop_pid(int(pid), "", timeout=5)
        if until_gone(["ip", "netns", "del", ONPREM_NETNS], lambda: not onprem_netns_exists()):
            say("onprem", f"removed namespace {ONPREM_NETNS}")
    if link_exists(ONPREM_VETH_HOST):
        until_gone(["ip", "link", "del", ONPREM_VETH_HOST], lambda: not link_exists(ONPREM_VETH_HOST))
    if netns_exists() and onprem_link_in_lab():
        until_gone(in_lab_netns("ip", "link", "del", ONPREM_VETH_CORP),
                   lambda: not (netns_exists() and onprem_link_in_lab()))


def onprem_samba_tool(*args):
    return run(["samba-tool", *args, "-s", str(ONPREM_SMB_CONF)])


def onprem_provision(sec):
    provision_dc(ONPREM_DIR, ONPREM_NETNS, ONPREM_REALM, ONPREM_NETBIOS, sec["onprem_administrator_password"],
                 ONPREM_IP, ONPREM_PIDFILE.parent, LOGS / "onprem-samba.log", ONPREM_SMB_CONF)


def onprem_running():
    return pid_alive(read_pid(ONPREM_PIDFILE), "samba")


def onprem_start():
    if onprem_running():
        return
    if port_open(ONPREM_IP, 88):
        raise LabError(f"a DC that is not this lab's already answers at {ONPREM_IP}: stop the other lab")
    dc_conf(ONPREM_SMB_CONF, ONPREM_DIR)
    run(["ip", "netns", "exec", ONPREM_NETNS, "samba", "-s", str(ONPREM_SMB_CONF), "-D", "-M", "single"])
    try:
        wait_for(lambda: port_open(ONPREM_IP, 88) and port_open(ONPREM_IP, 389), 60,
                 "the on-premises DC's Kerberos (88) and LDAP (389)")
    except LabError as exc:
        stop_pid(read_pid(ONPREM_PIDFILE), "samba")
        raise LabError(f"{exc}; see {LOGS / 'onprem-samba.log'}") from None
    say("onprem", f"DC {ONPREM_DC_HOSTNAME} up at {ONPREM_IP} (pid {read_pid(ONPREM_PIDFILE)})")


def onprem_configure(sec):
    """The on-premises users, once: joe (the demo's and the tests' user of the trusted forest)."""
    marker = ONPREM_DIR / ".configured"
    if marker.exists():
        return
    onprem_samba_tool("domain", "passwordsettings", "set", "--max-pwd-age=0")
    onprem_samba_tool("user", "create", ONPREM_USER, sec["user_password"])
    marker.touch()


def onprem_stop():
    pid = read_pid(ONPREM_PIDFILE)
    if stop_pid(pid, "samba"):
        say("onprem", f"stopped (pid {pid})")


def onprem(action):
    """lab.py onprem up|stop|down. up provisions on first use (about 8 s), then starts the DC (about 1 s)."""
    require_root()
    if action == "up":
        started = time.monotonic()
        sec = load_secrets()
        onprem_network_up()
        onprem_provision(sec)
        onprem_start()
        onprem_configure(sec)
        say("onprem", f"up in {time.monotonic() - started:.1f}s")
    elif action == "stop":
        onprem_stop()
    else:
        onprem_stop()
        onprem_network_down()


# --- PostgreSQL -----------------------------------------------------------------------------

# The template every cluster's server is copied from (lab/fidelity/servers.py), and the servers' folder.
PG_TEMPLATE = PG_DIR / "template"
PG_SOCKET = PG_DIR / "template-run"
PG_SERVERS = PG_DIR / "servers"
PG_TEMPLATE_VERSION = "5"  # a template made by an older lab.py is made again
# PostgreSQL's reserved key words, which RDS refuses as a master user name (lab/fidelity/rds.py reads them).
PG_RESERVED_WORDS = PG_DIR / "reserved_words"
PG_TEMPLATE_PORT = 5432  # only names the template's private socket: it never listens on TCP
# Aurora's default max_connections is LEAST(DBInstanceClassMemory/9531392, 5000), about 400 on a 4 GiB class, and
# max_locks_per_transaction 64: some 26,000 locks [inferred: the product of AWS's defaults]. 50 connections and
# 512 a transaction hold as many, so one transaction can drop as many roles as there.
PG_LOCKS_PER_TRANSACTION = 512
# A lab made before servers per cluster ran one server from here: up and down stop it.
PG_LEGACY_PIDFILE = PG_DIR / "data" / "postmaster.pid"
# A private install tree: PostgreSQL finds its share and library folders relative to its executable, so a
# copy of the server under .lab/pg/tree sees lab/postgres's extension and library next to Debian's own,
# and nothing under /usr changes.
PG_TREE = PG_DIR / "tree"


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/15/bin/{name}")) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise LabError(f"PostgreSQL's {name} not found under /usr/lib/postgresql: run make setup")
    return found[-1]


def as_postgres(cmd, **kwargs):
    # A sourced .lab/env must not leak in: libpq 15 crashes on PGHOSTADDR with a socket host.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "KRB5"))}
    return run(["runuser", "-u", "postgres", "--", *cmd], env=env, **kwargs)


def pg_init():
    """The template data directory: initdb, Aurora's front door in pg_hba.conf; no server runs from it."""
    marker = PG_DIR / ".template"
    if marker.exists() and marker.read_text() == PG_TEMPLATE_VERSION:
        say("postgres", f"already made the template {PG_TEMPLATE.relative_to(STATE)}: each cluster's server starts from it")
        return
    for stale in (PG_TEMPLATE, PG_SOCKET, PG_DIR / "data", PG_DIR / "run"):
        remove_tree(stale)
    PG_DIR.mkdir(mode=0o700, exist_ok=True)
    PG_SOCKET.mkdir(mode=0o700)
    PG_SERVERS.mkdir(mode=0o700, exist_ok=True)
    for path in (PG_DIR, PG_SOCKET, PG_SERVERS):
        shutil.chown(path, "postgres", "postgres")
    if as_postgres(["test", "-w", str(PG_DIR)], check=False).returncode != 0:
        raise LabError(f"the postgres OS user cannot reach {PG_DIR}: make its parent folders traversable (chmod o+x)")
    say("postgres", "initdb (the template of every cluster's server) ...")
    # 1 MB WAL segments: a copy per cluster stays small and quick.
    as_postgres([pg_bin("initdb"), "-D", str(PG_TEMPLATE), "-U", PG_SUPERUSER, "--auth=trust",
                 "--encoding=UTF8", "--locale=C.UTF-8", "--wal-segsize=1"])
    with open(PG_TEMPLATE / "postgresql.conf", "a") as conf:
        # Each server's lab.conf (servers.py) sets its address, port, socket and keytab.
        # The lock table of the smallest Aurora instance (lab/README.md): max_locks_per_transaction 64
        # times the max_connections AWS gives a 4 GiB class (about 400), here with 50 connections.
        conf.write("\npassword_encryption = scram-sha-256\nlog_connections = on\nshared_buffers = 16MB\n"
                   f"max_connections = 50\nmax_locks_per_transaction = {PG_LOCKS_PER_TRANSACTION}\n"
                   "min_wal_size = 4MB\nmax_wal_size = 32MB\ninclude = 'lab.conf'\n")
    (PG_TEMPLATE / "lab.conf").write_text(f"listen_addresses = ''\nport = {PG_TEMPLATE_PORT}\n"
                                          f"unix_socket_directories = '{PG_SOCKET}'\n")
    # The order matters: the first line that matches decides, as on Aurora.
    (PG_TEMPLATE / "pg_hba.conf").write_text(f"""\
# Aurora-like front door (lab/README.md). Local socket: the lab's own bootstrap only.
local all {PG_SUPERUSER}                      trust
host  all +rds_ad  0.0.0.0/0  gss include_realm=1
host  all +rds_iam 0.0.0.0/0  reject
host  all all      0.0.0.0/0  scram-sha-256
""")
    for path in (PG_TEMPLATE / "lab.conf", PG_TEMPLATE / "pg_hba.conf"):
        shutil.chown(path, "postgres", "postgres")
    pg_bootstrap()
    marker.write_text(PG_TEMPLATE_VERSION)


def pg_major():
    return Path(pg_bin("postgres")).parent.parent.name  # /usr/lib/postgresql/<major>/bin/postgres


def pg_tree_postgres():
    return PG_TREE / "lib" / "postgresql" / pg_major() / "bin" / "postgres"


def pg_tree():
    """The private tree: a copy of the server, links to Debian's share and library files, and the lab's
    pg_ad_mapping (control + SQL files, and a library built here that shared_preload_libraries can load).
    Rebuilt when the server or lab/postgres changed; a running server keeps its old copy until restarted."""
    major = pg_major()
    system_bin = Path(pg_bin("postgres"))
    system_share, system_lib = Path(f"/usr/share/postgresql/{major}"), system_bin.parent.parent / "lib"
    sources = sorted((ROOT / "lab" / "postgres").rglob("*"))
    stamp = json.dumps([str(system_bin.stat().st_mtime)] + [f"{s.name}:{s.stat().st_mtime}" for s in sources if s.is_file()])
    marker = PG_TREE / ".built"
    if marker.exists() and marker.read_text() == stamp:
        return
    compiler = shutil.which("gcc") or shutil.which("cc")
    if not compiler:
        raise LabError("no C compiler for the lab's pg_ad_mapping library: run make setup (it installs gcc)")
    if PG_TREE.exists():
        shutil.rmtree(PG_TREE)
    share, lib, bindir = (PG_TREE / "share" / "postgresql" / major, PG_TREE / "lib" / "postgresql" / major / "lib",
                          pg_tree_postgres().parent)
    for folder in (share / "extension", lib, bindir):
        folder.mkdir(parents=True)
    shutil.copy2(system_bin, bindir / "postgres")  # a copy, not a link: PostgreSQL resolves links to /usr
    for entry in system_share.iterdir():
        if entry.name != "extension":
            (share / entry.name).symlink_to(entry)
    for entry in (system_share / "extension").iterdir():
        (share / "extension" / entry.name).symlink_to(entry)
    for entry in (ROOT / "lab" / "postgres" / "extension").iterdir():
        shutil.copy2(entry, share / "extension" / entry.name)
    for entry in system_lib.iterdir():
        (lib / entry.name).symlink_to(entry)
    # No libc needed (-nostdlib): the library is only the module magic block PostgreSQL checks.
    run([compiler, "-shared", "-fPIC", "-O2", "-nostdlib", f"-DPG_MAJOR={int(major)}",
         "-o", str(lib / "pg_ad_mapping.so"), str(ROOT / "lab" / "postgres" / "pg_ad_mapping.c")])
    for path in [PG_TREE, *PG_TREE.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() or path.suffix == ".so" or path.name == "postgres" else 0o644)
    marker.write_text(stamp)
    say("postgres", f"built the private tree {PG_TREE.relative_to(STATE)} (pg_ad_mapping library and extension)")


def pg_bootstrap():
    """What every Aurora PostgreSQL cluster has before its master user: Aurora's own roles, and the grants
    its master user's rds_superuser holds. Run once on the template, over its private socket."""
    as_postgres([pg_bin("pg_ctl"), "-D", str(PG_TEMPLATE), "-l", str(PG_DIR / "template.log"), "-w", "-t", "60", "start"])
    try:
        psql = [pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(PG_SOCKET),
                "-p", str(PG_TEMPLATE_PORT), "-U", PG_SUPERUSER, "-d", "postgres"]
        as_postgres(psql, input=PG_TEMPLATE_SQL)
        # The engine's own list (reserved, and reserved that can be a function or type name), not a copy of it.
        words = as_postgres(psql + ["-A", "-t", "-c", "SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')"])
        PG_RESERVED_WORDS.write_text(words.stdout)
    finally:
        as_postgres([pg_bin("pg_ctl"), "-D", str(PG_TEMPLATE), "-m", "fast", "-w", "-t", "60", "stop"])


PG_TEMPLATE_SQL = """
CREATE ROLE rds_superuser NOLOGIN;
CREATE ROLE rds_ad NOLOGIN;
CREATE ROLE rds_iam NOLOGIN;
-- What Aurora's master user can do that community PostgreSQL gives a non-superuser only by grant
-- [inferred from AWS's set-up steps, which run these as the master user]: read SHOW
-- shared_preload_libraries, and CREATE EXTENSION of a trusted extension in database postgres.
-- Nothing of pg_ad_mapping exists before CREATE EXTENSION (AWS_FACTS.md section 6).
GRANT pg_read_all_settings TO rds_superuser;
GRANT CREATE ON DATABASE postgres TO rds_superuser;
"""


def sql_ident(name):
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value):
    return "'" + value.replace("'", "''") + "'"


def pg_stop_legacy():
    """A lab made before servers per cluster ran one standing server: stop it (its data stays, unused)."""
    pid = read_pid(PG_LEGACY_PIDFILE)
    if stop_pid(pid, "postgres", sig=signal.SIGINT, timeout=30):
        say("postgres", f"stopped the standing server of an older lab (pid {pid}): each cluster now has its own")


def pg_stop():
    """Every cluster's server (the AWS endpoint's, when it could not stop them) and a legacy server, by pid."""
    folders = sorted(PG_SERVERS.iterdir()) if PG_SERVERS.exists() else []
    for pidfile in [PG_LEGACY_PIDFILE] + [folder / "data" / "postmaster.pid" for folder in folders]:
        pid = read_pid(pidfile)
        # SIGINT is PostgreSQL's fast shutdown.
        if stop_pid(pid, "postgres", sig=signal.SIGINT, timeout=30):
            say("postgres", f"stopped {pidfile.parent.parent.name} (pid {pid})")
    for folder in folders:
        remove_tree(folder)


# --- the AWS endpoint -----------------------------------------------------------------------

AWS_PIDFILE = RUN / "aws.pid"
AWS_URL = f"http://{AWS_HOST}:{AWS_PORT}"


def aws_running():
    return pid_alive(read_pid(AWS_PIDFILE), "aws_endpoint.py")


def aws_answers():
    try:
        with urllib.request.urlopen(f"{AWS_URL}/moto-api/", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def aws_start(sec):
    if aws_running():
        say("aws", f"already running at {AWS_URL} (pid {read_pid(AWS_PIDFILE)})")
        return
    if port_open(AWS_HOST, AWS_PORT):
        raise LabError(f"{AWS_HOST}:{AWS_PORT} is taken by another program: set LAB_AWS_PORT to a free port")
    log = open(LOGS / "aws.log", "ab")
    # The extensions reach the DC and PostgreSQL with the contract's values, not a caller's shell.
    # PG*, KRB5* and AWS_* are for clients: libpq would take PGHOSTADDR over the socket the extensions use.
    client_only = ("PG", "KRB5", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(client_only)}
    env.update({k: v for k, v in contract_values(sec).items() if not k.startswith(client_only)})
    env.update({"LAB_PG_SUPERUSER": PG_SUPERUSER, "LAB_REGION": REGION, "LAB_PG_TEMPLATE": str(PG_TEMPLATE),
                "LAB_PG_SERVERS": str(PG_SERVERS), "LAB_PG_CTL": pg_bin("pg_ctl"), "LAB_PG_POSTGRES": str(pg_tree_postgres()),
                "LAB_STATE_DIR": str(STATE), "LAB_AD_ADMINISTRATOR_PASSWORD": sec["administrator_password"]})
    # The join's keys (lab/fidelity/kerberos.py): exported from the DC into each server's keytab.
    env.update({"LAB_SAMBA_CONF": str(SMB_CONF), "LAB_PG_DEVICE": VETH_DC})
    # Trusts to the on-premises forest (lab/fidelity/trusts.py): its DC, started on demand by lab.py onprem up.
    env.update({"LAB_ONPREM_SAMBA_CONF": str(ONPREM_SMB_CONF), "LAB_ONPREM_NETNS": ONPREM_NETNS,
                "LAB_ONPREM_ADMINISTRATOR_PASSWORD": sec["onprem_administrator_password"],
                "LAB_PY": str(Path(__file__).resolve())})
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "lab" / "aws_endpoint.py"), "--host", AWS_HOST, "--port", str(AWS_PORT)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=STATE, env=env,
    )
    AWS_PIDFILE.write_text(f"{proc.pid}\n")
    wait_for(lambda: aws_answers() or proc.poll() is not None, 60, f"the AWS endpoint at {AWS_URL}")
    if proc.poll() is not None:
        raise LabError(f"the AWS endpoint exited ({proc.returncode}); see {LOGS / 'aws.log'}")
    say("aws", f"endpoint up at {AWS_URL} (pid {proc.pid})")


# The account's network, as an AWS account has one before anyone runs the collection: a VPC with two
# subnets in two Availability Zones, a DB subnet group and the cluster's security group (no rules: the
# network role opens the path to the directory). Found by name first, so `up` on a running lab keeps it.
NETWORK_NAME = "aurkrb-lab"
NETWORK_CIDR = "10.0.0.0/16"


def aws_network():
    """{LAB_VPC_ID, LAB_SUBNET_IDS, LAB_DB_SECURITY_GROUP_ID, LAB_DB_SUBNET_GROUP} of the lab account."""
    import boto3

    kw = dict(endpoint_url=AWS_URL, region_name=REGION, aws_access_key_id="lab", aws_secret_access_key="lab")
    ec2, rds = boto3.client("ec2", **kw), boto3.client("rds", **kw)
    named = [{"Name": "tag:Name", "Values": [NETWORK_NAME]}]
    vpcs = ec2.describe_vpcs(Filters=named)["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(CidrBlock=NETWORK_CIDR, TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": NETWORK_NAME}]}])["Vpc"]["VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = sorted(ec2.describe_subnets(Filters=in_vpc)["Subnets"], key=lambda s: s["CidrBlock"])
    if len(subnets) < 2:
        zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
        subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{n + 1}.0/24", AvailabilityZone=zone)["Subnet"]
                   for n, zone in enumerate(zones)]
    subnet_ids = [s["SubnetId"] for s in subnets[:2]]
    groups = ec2.describe_security_groups(Filters=in_vpc + [{"Name": "group-name", "Values": [f"{NETWORK_NAME}-db"]}])
    if groups["SecurityGroups"]:
        group_id = groups["SecurityGroups"][0]["GroupId"]
    else:
        group_id = ec2.create_security_group(GroupName=f"{NETWORK_NAME}-db", VpcId=vpc_id,
                                             Description="the lab cluster's security group")["GroupId"]
    try:
        rds.describe_db_subnet_groups(DBSubnetGroupName=NETWORK_NAME)
    except rds.exceptions.DBSubnetGroupNotFoundFault:
        rds.create_db_subnet_group(DBSubnetGroupName=NETWORK_NAME, SubnetIds=subnet_ids,
                                   DBSubnetGroupDescription="the lab cluster's subnets")
    return {"LAB_VPC_ID": vpc_id, "LAB_SUBNET_IDS": ",".join(subnet_ids),
            "LAB_DB_SECURITY_GROUP_ID": group_id, "LAB_DB_SUBNET_GROUP": NETWORK_NAME}


def aws_stop():
    pid = read_pid(AWS_PIDFILE)
    if stop_pid(pid, "aws_endpoint.py"):
        say("aws", f"stopped (pid {pid})")
    AWS_PIDFILE.unlink(missing_ok=True)


# --- the contract ---------------------------------------------------------------------------

def write_client_files(sec, network):
    KRB5_CONF.write_text(f"""\
# Client configuration for the lab realm. Point tools at it with KRB5_CONFIG; /etc is never touched.
[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1

[realms]
    {REALM} = {{
        kdc = {DC_IP}
        admin_server = {DC_IP}
        kpasswd_server = {DC_IP}
    }}
    {ONPREM_REALM} = {{
        kdc = {ONPREM_IP}
    }}

[domain_realm]
    .{DOMAIN} = {REALM}
    {DOMAIN} = {REALM}
    .rds.{DNS_SUFFIX} = {REALM}
    .{ONPREM_DOMAIN} = {ONPREM_REALM}
    {ONPREM_DOMAIN} = {ONPREM_REALM}

# A trust between the two forests is a direct path: each realm's KDC refers to the other's.
[capaths]
    {ONPREM_REALM} = {{
        {REALM} = .
    }}
    {REALM} = {{
        {ONPREM_REALM} = .
    }}
""")
    text = "# aurora.kerberos lab: source me (. .lab/env). Written by lab/lab.py up; see lab/CONTRACT.md.\n"
    text += "".join(f"export {key}={shlex.quote(value)}\n" for key, value in {**contract_values(sec), **network}.items())
    if not ENV_FILE.exists() or ENV_FILE.read_text() != text:
        ENV_FILE.touch(mode=0o600)
        ENV_FILE.write_text(text)


def contract_values(sec):
    """The values of .lab/env (lab/CONTRACT.md)."""
    return {
        "AWS_ENDPOINT_URL": AWS_URL,
        "AWS_URL": AWS_URL,
        "AWS_ACCESS_KEY_ID": "lab-fake-access-key",
        "AWS_SECRET_ACCESS_KEY": "lab-fake-secret-key",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "KRB5_CONFIG": str(KRB5_CONF),
        "KRB5CCNAME": f"FILE:{STATE / 'krb5cc'}",
        "LAB_AD_DOMAIN": DOMAIN,
        "LAB_AD_REALM": REALM,
        "LAB_AD_NETBIOS": NETBIOS,
        "LAB_AD_BASE_DN": BASE_DN,
        "LAB_AD_USERS_OU": USERS_OU,
        "LAB_STATE_DIR": str(STATE),
        "LAB_AWS_PORT": str(AWS_PORT),
        "LAB_HOST_IP": HOST_IP,
        "LAB_NETNS": NETNS,
        "LAB_DC_IP": DC_IP,
        "LAB_DC_HOSTNAME": DC_HOSTNAME,
        "LAB_LDAPS_CA": str(LDAPS_CA),
        "LAB_AD_ADMIN_USER": AD_ADMIN,
        "LAB_AD_ADMIN_PASSWORD": sec["ad_admin_password"],
        "LAB_USER_PASSWORD": sec["user_password"],
        "LAB_ONPREM_DOMAIN": ONPREM_DOMAIN,
        "LAB_ONPREM_REALM": ONPREM_REALM,
        "LAB_ONPREM_NETBIOS": ONPREM_NETBIOS,
        "LAB_ONPREM_DC_IP": ONPREM_IP,
        "LAB_ONPREM_DC_HOSTNAME": ONPREM_DC_HOSTNAME,
        "LAB_ONPREM_USER": ONPREM_USER,
        "LAB_ONPREM_TRUST_PASSWORD": sec["onprem_trust_password"],
        "LAB_PG_CLUSTER": PG_CLUSTER,
        "LAB_PG_HOST": PG_HOST,
        "LAB_PG_HOSTADDR": PG_HOSTADDR,
        "LAB_PG_PORT": str(PG_PORT),
        "LAB_PG_DATABASE": "postgres",
        "LAB_PG_MASTER_USER": PG_MASTER,
        "LAB_PG_MASTER_PASSWORD": sec["master_password"],
        "PGHOST": PG_HOST,
        "PGHOSTADDR": PG_HOSTADDR,
        "PGPORT": str(PG_PORT),
    }


# --- commands -------------------------------------------------------------------------------

def require_root():
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, runuser postgres): run it as root")


def up():
    require_root()
    started = time.monotonic()
    for path in (STATE, RUN, LOGS):
        path.mkdir(exist_ok=True)
    os.chmod(STATE, 0o711)  # postgres must traverse to .lab/pg; nothing else is readable
    sec = load_secrets()
    network_up()
    samba_provision(sec)
    samba_start()
    samba_configure(sec)
    pg_init()
    pg_tree()
    pg_stop_legacy()
    aws_start(sec)
    write_client_files(sec, aws_network())
    say("lab", f"up in {time.monotonic() - started:.1f}s; use it with: . {os.path.relpath(ENV_FILE)}")


def down():
    require_root()
    aws_stop()
    pg_stop()
    onprem_stop()
    onprem_network_down()
    pid = read_pid(SAMBA_PIDFILE)
    if stop_pid(pid, "samba"):
        say("samba", f"stopped (pid {pid})")
    network_down()  # also stops anything left in the namespace
    leftovers = [p for p in (AWS_PORT,) if port_open("127.0.0.1", p)]
    if leftovers:
        raise LabError(f"ports still listening after down: {leftovers}")
    say("lab", "down")


def check_aws():
    if not aws_running():
        return False, "not running"
    if not aws_answers():
        return False, f"pid {read_pid(AWS_PIDFILE)} does not answer at {AWS_URL}"
    import boto3

    sts = boto3.client("sts", endpoint_url=AWS_URL, region_name=REGION,
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    account = sts.get_caller_identity()["Account"]
    return True, f"{AWS_URL} (account {account})"


def check_samba():
    if not netns_exists():
        return False, f"namespace {NETNS} missing"
    if not samba_running():
        return False, "not running"
    if not port_open(DC_IP, 88):
        return False, f"KDC {DC_IP}:88 does not answer"
    sec = load_secrets()
    with ldap_admin(AD_ADMIN, sec["ad_admin_password"]):
        pass
    return True, f"{DC_HOSTNAME} at {DC_IP}: KDC 88 answers, LDAPS bind as {AD_ADMIN} verified against the CA"


def check_onprem():
    """The on-premises forest's DC runs only once a trust (or lab.py onprem up) started it: not running is healthy."""
    if not onprem_running():
        return True, f"not running (a trust with {ONPREM_DOMAIN}, or lab.py onprem up, starts it)"
    if not port_open(ONPREM_IP, 88):
        return False, f"pid {read_pid(ONPREM_PIDFILE)} runs but its KDC {ONPREM_IP}:88 does not answer"
    return True, f"{ONPREM_DC_HOSTNAME} at {ONPREM_IP}: KDC 88 answers (pid {read_pid(ONPREM_PIDFILE)})"


def lab_endpoints():
    """{endpoint: {address, port, resource}} of every server the AWS endpoint runs (lab-api/endpoints)."""
    with urllib.request.urlopen(f"{AWS_URL}/lab-api/endpoints", timeout=5) as resp:
        return json.load(resp)["endpoints"]


def check_postgres():
    if not (PG_DIR / ".template").exists():
        return False, "no template (make lab-up makes it)"
    version = subprocess.run([pg_bin("postgres"), "--version"], capture_output=True, text=True).stdout.split()[2]
    if not aws_running():
        return True, f"template ready (PostgreSQL {version}); no server runs without the AWS endpoint"
    found = lab_endpoints()
    clusters = {e["resource"] for e in found.values()}
    demo = found.get(PG_HOST)
    detail = (f"template ready (PostgreSQL {version}); {len(clusters)} cluster or instance server(s) running; "
              f"demo cluster {PG_CLUSTER}: ")
    return True, detail + (f"{demo['address']}:{demo['port']}" if demo else "not created (site.yml creates it)")


def resolve(name):
    """The address and port a client dials for this endpoint name; exit 1 when no server answers for it."""
    if not aws_running():
        raise LabError("the AWS endpoint is not running: make lab-up")
    found = lab_endpoints().get(name.lower().rstrip("."))
    if found is None:
        print(f"lab: no cluster or instance of the lab has the endpoint {name}", file=sys.stderr)
        return 1
    print(f"{found['address']} {found['port']}")
    return 0


def status(quiet=False):
    healthy = True
    for name, check in (("aws", check_aws), ("samba", check_samba), ("postgres", check_postgres), ("onprem", check_onprem)):
        try:
            ok, detail = check()
        except Exception as exc:  # any failure of a probe is "unhealthy", with its reason
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        healthy &= ok
        if not quiet:
            say(name, ("healthy  " if ok else "DOWN     ") + detail)
    if not quiet:
        say("lab", "healthy" if healthy else "not healthy (make lab-up starts what is down)")
    return healthy


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "resolve", "onprem"])
    parser.add_argument("name", nargs="?", help="resolve: an endpoint name; onprem: up, stop or down")
    parser.add_argument("--quiet", action="store_true", help="status: print nothing, only set the exit code")
    args = parser.parse_args()
    try:
        if args.command == "up":
            up()
        elif args.command == "down":
            down()
        elif args.command == "onprem":
            if args.name not in ("up", "stop", "down"):
                raise LabError("onprem needs up, stop or down: lab.py onprem up")
            onprem(args.name)
        elif args.command == "resolve":
            if not args.name:
                raise LabError("resolve needs an endpoint name: lab.py resolve <endpoint>")
            return resolve(args.name)
        else:
            return 0 if status(args.quiet) else 1
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
