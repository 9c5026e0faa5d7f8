"""A PostgreSQL server per lab cluster (and per RDS for PostgreSQL instance), as AWS gives each its own
database (lab/README.md, "A database per cluster").

  - Names: a cluster's writer endpoint is <id>.cluster-<hash>.<region>.rds.<suffix>, its reader endpoint
    <id>.cluster-ro-<hash>..., an instance's <id>.<hash>...; the hash is 12 characters fixed per account
    and Region, as AWS's are (AWS_FACTS.md section 4; the form of the names is AWS's, the hash [inferred]).
  - CreateDBCluster (or CreateDBInstance of engine postgres outside a cluster) copies the template data
    directory lab.py made (Aurora's own roles: rdsadmin, rds_superuser, rds_ad, rds_iam; nothing else) and
    starts a server from it: about a second. The master user given to the call is made in it.
  - Every server runs in the lab's network namespace, on an address of its own in the namespace's
    network (the DC's /24: .10 for the demo cluster, LAB_PG_CLUSTER, else the first free of .11-.250),
    on the Port the call asked for, as on AWS. Clients dial the endpoint name with hostaddr= that
    address (no change to /etc): libpq takes host= for the Kerberos service name and hostaddr= for the
    TCP connection. `lab.py resolve <endpoint>` prints the address and port.
  - Deleting the cluster (or instance) stops its server by pid and removes its data. When the endpoint
    starts, moto holds no cluster: every server an earlier endpoint left is stopped and removed.

Its layout under the state folder's pg/servers/<id>-<8 hex of the ARN>/: data/, run/ (the socket),
postgres.keytab (kerberos.py writes it at kerberos-enabled) and postgres.log.
"""

import hashlib
import os
import pwd
import shutil
import signal
import string
import subprocess
import threading
import time
from pathlib import Path

DEMO_HOST = 10  # the demo cluster's address in the namespace's /24; others from FIRST_HOST on
FIRST_HOST, LAST_HOST = 11, 250
_LAB = None
_LOCK = threading.RLock()
_SERVERS = {}  # ARN -> Server
_ALPHABET = string.ascii_lowercase + string.digits


def endpoint_hash(account_id, region):
    """The 12 characters AWS puts in every endpoint name of an account in a Region [inferred: fixed per
    account and Region, as AWS's are]."""
    digest = hashlib.sha256(f"{account_id}:{region}".encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:12])


def cluster_endpoint(cluster_id, account_id, region, suffix, reader=False):
    kind = "cluster-ro" if reader else "cluster"
    return f"{cluster_id.lower()}.{kind}-{endpoint_hash(account_id, region)}.{region}.rds.{suffix}"


def instance_endpoint(instance_id, account_id, region, suffix):
    return f"{instance_id.lower()}.{endpoint_hash(account_id, region)}.{region}.rds.{suffix}"


class ServerError(RuntimeError):
    pass


def _clean_env():
    # A caller's PG* would steer libpq and pg_ctl; KRB5* is for clients, not the server.
    return {k: v for k, v in os.environ.items() if not k.startswith(("PG", "KRB5"))}


def _as_postgres(*args, check=True, netns=None):
    prefix = ["ip", "netns", "exec", netns] if netns else []
    proc = subprocess.run([*prefix, "runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                          env=_clean_env(), check=False)
    if check and proc.returncode != 0:
        raise ServerError(f"{' '.join(args[:1])} {' '.join(args[-2:])} failed: {proc.stdout}{proc.stderr}")
    return proc


def _ip(*args, check=True):
    """`ip` in the lab's namespace."""
    proc = subprocess.run(["ip", "-n", _LAB.env["LAB_NETNS"], *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise ServerError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def _address(resource_id):
    """The server's address: .10 for the demo cluster, else the first free one of .11-.250."""
    prefix = _LAB.env["LAB_DC_IP"].rsplit(".", 1)[0]
    taken = {server.address for server in _SERVERS.values()}
    wanted = [DEMO_HOST] if resource_id == _LAB.env.get("LAB_PG_CLUSTER") else []
    for host in wanted + list(range(FIRST_HOST, LAST_HOST + 1)):
        if f"{prefix}.{host}" not in taken:
            return f"{prefix}.{host}"
    raise ServerError(f"no free address in {prefix}.0/24 for another server")


def _alive(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"postgres" in cmdline.read()
    except OSError:
        return False


def _stop_pid(pid, timeout=30):
    """Fast shutdown (SIGINT), then SIGKILL if it has not gone; only a process that is PostgreSQL."""
    if not pid or not _alive(pid):
        return
    try:
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
    except ProcessLookupError:
        pass  # it exited meanwhile: stopped


def _pid_of(data):
    try:
        return int((Path(data) / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


class Server:
    """One cluster's (or instance's) PostgreSQL."""

    def __init__(self, arn, folder, address, port):
        self.arn, self.folder, self.address, self.port = arn, Path(folder), address, int(port)
        self.data, self.run, self.log = self.folder / "data", self.folder / "run", self.folder / "postgres.log"
        self.keytab = self.folder / "postgres.keytab"

    @property
    def pid(self):
        return _pid_of(self.data)

    def running(self):
        pid = self.pid
        return bool(pid) and _alive(pid)

    def pg_ctl(self, *args):
        # Started in the lab's namespace: the server inherits it, and listens on its address there.
        _as_postgres(_LAB.env["LAB_PG_CTL"], "-D", str(self.data), *args, netns=_LAB.env["LAB_NETNS"])

    def start(self):
        self.pg_ctl("-p", _LAB.env["LAB_PG_POSTGRES"], "-l", str(self.log), "-w", "-t", "60", "start")

    def restart(self):
        """A reboot: PostgreSQL stops (fast) and starts again on the same port with the same data."""
        self.pg_ctl("-m", "fast", "-w", "-t", "60", "stop")
        self.start()

    def stop(self):
        _stop_pid(self.pid)

    def admin(self):
        """A connection as the server's real superuser (rdsadmin), over its private socket."""
        import psycopg2

        conn = psycopg2.connect(host=str(self.run), port=self.port, user=_LAB.pg_superuser, dbname="postgres")
        conn.autocommit = True
        return conn


def enabled():
    """lab.py started this endpoint with a template to copy (unit runs of the app have none)."""
    return bool(_LAB and _LAB.env.get("LAB_PG_SERVERS") and _LAB.env.get("LAB_PG_TEMPLATE")
                and _LAB.env.get("LAB_PG_DEVICE"))


def _servers_root():
    return Path(_LAB.env["LAB_PG_SERVERS"])


def start(arn, resource_id, asked_port):
    """Copy the template and start this resource's server; returns it. Listens on asked_port when free."""
    with _LOCK:
        if arn in _SERVERS:
            return _SERVERS[arn]
        root = _servers_root()
        folder = root / f"{resource_id}-{hashlib.sha256(arn.encode()).hexdigest()[:8]}"
        if folder.exists():
            _stop_pid(_pid_of(folder / "data"))
            shutil.rmtree(folder)
        address = _address(resource_id)
        server = Server(arn, folder, address, int(asked_port or 5432))
        postgres = pwd.getpwnam("postgres")
        try:
            folder.mkdir(parents=True, mode=0o700)
            server.run.mkdir(mode=0o700)
            # cp keeps the modes PostgreSQL insists on (0700 data directory); a copy, not a link: each
            # server writes its own files.
            subprocess.run(["cp", "-a", _LAB.env["LAB_PG_TEMPLATE"], str(server.data)], check=True,
                           capture_output=True)
            (server.data / "lab.conf").write_text(
                f"listen_addresses = '{address}'\nport = {server.port}\nunix_socket_directories = '{server.run}'\n"
                f"krb_server_keyfile = '{server.keytab}'\n")
            (folder / "address").write_text(address)
            _ip("addr", "replace", f"{address}/32", "dev", _LAB.env["LAB_PG_DEVICE"])
            for path in (folder, server.run, server.data / "lab.conf"):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
            (server.data / "postmaster.pid").unlink(missing_ok=True)
            server.start()
        except Exception as exc:
            _stop_pid(server.pid)
            _release(folder)
            shutil.rmtree(folder, ignore_errors=True)
            raise ServerError(f"the lab could not start a PostgreSQL server for {resource_id}: {exc}") from exc
        _SERVERS[arn] = server
        return server


def _release(folder):
    """Take the server's address off the namespace's interface (nothing when there is none)."""
    try:
        address = (Path(folder) / "address").read_text().strip()
    except OSError:
        return
    _ip("addr", "del", f"{address}/32", "dev", _LAB.env["LAB_PG_DEVICE"], check=False)


def get(arn):
    return _SERVERS.get(arn)


def stop(arn):
    """Stop the resource's server by pid and remove its data."""
    with _LOCK:
        server = _SERVERS.pop(arn, None)
        if server is None:
            return
        server.stop()
        _release(server.folder)
        shutil.rmtree(server.folder, ignore_errors=True)


def stop_all():
    """Every server under the servers folder (also those an earlier endpoint left), stopped and removed."""
    with _LOCK:
        _SERVERS.clear()
        root = _servers_root()
        if not root.exists():
            return
        for folder in root.iterdir():
            _stop_pid(_pid_of(folder / "data"))
            _release(folder)
            shutil.rmtree(folder, ignore_errors=True)


def install(lab):
    global _LAB
    _LAB = lab
    if enabled():
        stop_all()
