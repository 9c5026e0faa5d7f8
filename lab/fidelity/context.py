"""What every fidelity extension shares: knobs, faults, the call log, and the way to AD and PostgreSQL."""

import contextlib
import os
import ssl
import threading
import time


class Faults:
    """Injected faults, set through the environment (LAB_FAULTS, JSON) or POST /lab-api/faults.

    Known keys (each extension documents its own in lab/README.md):
      throttle: {service: percent}   answer that share of calls with the service's throttling error
      fail_next_join: cause          the next domain join ends in enable-kerberos-failed with this cause
      directory_stage: {id: [stage, reason]}  put a directory into Failed / Impaired
      trust_verify_fail: true        new trusts end in VerifyFailed
    """

    def __init__(self, initial=None):
        self._lock = threading.Lock()
        self._values = dict(initial or {})

    def get(self, key, default=None):
        with self._lock:
            return self._values.get(key, default)

    def pop(self, key, default=None):
        with self._lock:
            return self._values.pop(key, default)

    def update(self, values):
        with self._lock:
            self._values.update(values)

    def reset(self):
        with self._lock:
            self._values.clear()

    def snapshot(self):
        with self._lock:
            return dict(self._values)


class CallLog:
    """Every AWS call the endpoint answered: service, operation, mutating or not, HTTP status."""

    READ_PREFIXES = ("Describe", "List", "Get", "Search", "Lookup")

    def __init__(self):
        self._lock = threading.Lock()
        self._calls = []

    @classmethod
    def is_mutating(cls, operation):
        return not operation.startswith(cls.READ_PREFIXES)

    def record(self, service, operation, status, throttled=False, denied=False):
        entry = {"time": time.time(), "service": service, "operation": operation,
                 "mutating": self.is_mutating(operation), "status": status, "throttled": throttled,
                 "denied": denied}
        with self._lock:
            self._calls.append(entry)

    def snapshot(self):
        with self._lock:
            return list(self._calls)

    def reset(self):
        with self._lock:
            self._calls.clear()


class LabContext:
    """Built once from the environment aws_endpoint.py is started with (lab.py sets it)."""

    def __init__(self, env):
        self.env = env
        self.knobs = {
            # How long the slow AWS steps take in the lab. AWS takes 20-45 min for a directory.
            "directory_seconds": float(env.get("LAB_DIRECTORY_SECONDS", "3")),
            "trust_seconds": float(env.get("LAB_TRUST_SECONDS", "2")),
            "join_seconds": float(env.get("LAB_JOIN_SECONDS", "3")),
            "cluster_seconds": float(env.get("LAB_CLUSTER_SECONDS", "2")),
            # IAM is eventually consistent: a role RDS is given this soon after CreateRole is "not valid" yet.
            "iam_propagation_seconds": float(env.get("LAB_IAM_PROPAGATION_SECONDS", "3")),
            # ModifyDBCluster Domain with ApplyImmediately=false waits this long for "the maintenance window".
            "maintenance_window_seconds": float(env.get("LAB_MAINTENANCE_WINDOW_SECONDS", "3600")),
        }
        self.faults = Faults(_json(env.get("LAB_FAULTS")))
        self.calls = CallLog()
        self.region = env.get("LAB_REGION", "us-east-1")
        # The real directory and database behind the API (lab/CONTRACT.md).
        self.dc_ip = env.get("LAB_DC_IP")
        self.dc_hostname = env.get("LAB_DC_HOSTNAME")
        self.ldaps_ca = env.get("LAB_LDAPS_CA")
        self.ad_domain = env.get("LAB_AD_DOMAIN", "corp.example.com")
        self.ad_realm = env.get("LAB_AD_REALM", "CORP.EXAMPLE.COM")
        self.ad_netbios = env.get("LAB_AD_NETBIOS", "CORP")
        self.ad_base_dn = env.get("LAB_AD_BASE_DN", "DC=corp,DC=example,DC=com")
        self.ad_users_ou = env.get("LAB_AD_USERS_OU", f"OU=Users,OU=CORP,{self.ad_base_dn}")
        self.ad_admin_user = env.get("LAB_AD_ADMIN_USER", "Admin")
        self.ad_admin_password = env.get("LAB_AD_ADMIN_PASSWORD")
        self.administrator_password = env.get("LAB_AD_ADMINISTRATOR_PASSWORD")  # the lab's own, for outside OU=CORP
        self._administrator_pool = []  # idle LDAPS connections as Administrator (ldap_administrator)
        self._administrator_lock = threading.Lock()
        self.state_dir = env.get("LAB_STATE_DIR")
        self.pg_host = env.get("LAB_PG_HOST")  # the demo cluster's endpoint (servers.py serves every cluster)
        self.pg_superuser = env.get("LAB_PG_SUPERUSER", "rdsadmin")

    @classmethod
    def from_environ(cls):
        return cls(dict(os.environ))

    @staticmethod
    def now():
        return time.time()

    def progress(self, started, seconds, stages):
        """The stage reached `seconds` after `started`, moving evenly through `stages`."""
        if seconds <= 0:
            return stages[-1]
        step = seconds / max(len(stages) - 1, 1)
        index = min(int((self.now() - started) / step), len(stages) - 1)
        return stages[index]

    def ldap(self, user=None, password=None):
        """An LDAPS connection to the Samba DC, CA-validated; as the delegated Admin by default."""
        import ldap3

        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.ldaps_ca, valid_names=[self.dc_hostname])
        server = ldap3.Server(self.dc_ip, port=636, use_ssl=True, tls=tls, connect_timeout=5)
        return ldap3.Connection(server, user=f"{user or self.ad_admin_user}@{self.ad_realm}",
                                password=password or self.ad_admin_password, auto_bind=True, raise_exceptions=True)

    @contextlib.contextmanager
    def ldap_administrator(self):
        """As the domain's Administrator: only for what AWS itself does outside OU=CORP. A connection serves one
        caller at a time and is kept for the next: a new one costs a TLS handshake and a bind, which made up most
        of a ResetUserPassword (lab mechanism). One that failed is dropped."""
        with self._administrator_lock:
            conn = self._administrator_pool.pop() if self._administrator_pool else None
        if conn is not None:
            try:  # the DC may have been restarted since (tests stop it): a kept connection is checked first
                conn.search("", "(objectClass=*)", search_scope="BASE")
            except Exception:
                with contextlib.suppress(Exception):
                    conn.unbind()
                conn = None
        if conn is None:
            conn = self.ldap("Administrator", self.administrator_password)
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(Exception):
                conn.unbind()
            raise
        with self._administrator_lock:
            self._administrator_pool.append(conn)

    def save_admin_password(self, password):
        """Admin's password changed in AD through the API: keep secrets.json and .lab/env in step."""
        import json
        import shlex
        from pathlib import Path

        self.ad_admin_password = password
        if not self.state_dir:
            return
        secrets_file = Path(self.state_dir) / "secrets.json"
        values = json.loads(secrets_file.read_text())
        values["ad_admin_password"] = password
        secrets_file.write_text(json.dumps(values, indent=2))
        env_file = Path(self.state_dir) / "env"
        if env_file.exists():
            lines = [f"export LAB_AD_ADMIN_PASSWORD={shlex.quote(password)}"
                     if line.startswith("export LAB_AD_ADMIN_PASSWORD=") else line
                     for line in env_file.read_text().splitlines()]
            env_file.write_text("\n".join(lines) + "\n")


def _json(text):
    if not text:
        return {}
    import json

    return json.loads(text)
