"""Trusts to the lab's on-premises forest, made for real (AWS_FACTS.md section 8; lab/README.md, "A trusted
on-premises forest").

A trust of the lab's directory (the Samba DC of LAB_AD_DOMAIN) with LAB_ONPREM_DOMAIN is a real AD trust
between the lab's two Samba DCs; a trust with any other domain keeps ds.py's timed states [lab limitation]:

- CreateTrust: the directory's conditional forwarder for the remote domain (CreateTrust's
  ConditionalForwarderIpAddrs, or Create/UpdateConditionalForwarder, ds.py) must name the on-premises DC
  (LAB_ONPREM_DC_IP), as the directory finds the other forest through it, at creation and at each
  verification; otherwise the trust ends Failed (VerifyFailed at a verification) with AWS's reason
  "The specified domain either does not exist or could not be contacted. Name: <domain>" (aws_recorded
  ds.DescribeTrusts.success.Failed.c7n.json). The on-premises DC is started on demand (lab.py onprem up:
  about 7 s the first time, when it is provisioned, then about 0.5 s). Its side of the trust is what its
  administrator makes: the mirror direction, with the password they chose (LAB_ONPREM_TRUST_PASSWORD). The
  directory's side is made with the TrustPassword, TrustDirection and TrustType given (lab/samba_trust.py).
- Verification (at creation and on VerifyTrust) asks the two KDCs for what the trust is for: for an outgoing
  trust (the directory trusts the on-premises forest) an on-premises account gets a service ticket of the
  directory's DC through a cross-realm ticket; for an incoming one, the other way round; both for Two-Way.
  An unreachable on-premises KDC: VerifyFailed with the reason above; a ticket refused (the two sides'
  passwords differ): VerifyFailed "The trust relationship between the primary domain and the trusted
  domain failed. Name: <domain>" (Windows' ERROR_TRUSTED_DOMAIN_FAILURE text; AWS's wording [inferred]).
  Fault trust_verify_fail still fails any verification.
- DeleteTrust removes the directory's side; the on-premises side stays, as its administrator's.
- At the endpoint's start (moto knows no trust) the directory's side of an earlier endpoint's trust is removed.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from moto.core.utils import utcnow

LAB = None
SAMBA_TRUST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samba_trust.py")
NOT_CONTACTED = "The specified domain either does not exist or could not be contacted. Name: {}"
TRUST_FAILED = "The trust relationship between the primary domain and the trusted domain failed. Name: {}"
# The directory's side and the on-premises administrator's side of each AWS direction (samba_trust.py's words).
DIRECTORY_SIDE = {"One-Way: Outgoing": "outgoing", "One-Way: Incoming": "incoming", "Two-Way": "both"}
ONPREM_SIDE = {"One-Way: Outgoing": "incoming", "One-Way: Incoming": "outgoing", "Two-Way": "both"}
_LOCK = threading.Lock()  # one trust operation on the DCs at a time


def env(name):
    return LAB.env.get(name, "")


def install(lab):
    global LAB
    LAB = lab
    if env("LAB_ONPREM_DOMAIN") and env("LAB_SAMBA_CONF"):
        _samba_trust("corp", "delete", "--remote-dns", env("LAB_ONPREM_DOMAIN"), check=False)


def is_lab_forest(directory, remote_domain_name):
    onprem = env("LAB_ONPREM_DOMAIN")
    return bool(onprem) and remote_domain_name.rstrip(".").lower() == onprem and \
        directory.name.rstrip(".").lower() == LAB.ad_domain.lower()


def _samba_trust(side, *args, password=None, check=True):
    """lab/samba_trust.py on one DC ("corp" or "onprem"), in its namespace, with Debian's python3."""
    netns, conf = ((env("LAB_NETNS"), env("LAB_SAMBA_CONF")) if side == "corp"
                   else (env("LAB_ONPREM_NETNS"), env("LAB_ONPREM_SAMBA_CONF")))
    proc = subprocess.run(["ip", "netns", "exec", netns, "/usr/bin/python3", SAMBA_TRUST, args[0], "--conf", conf,
                           *args[1:]], input=(password or "") + "\n", capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise RuntimeError(f"samba_trust.py {args[0]} on the {side} DC failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None


def _port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _found_by_dns(trust):
    """The directory finds the other forest through its conditional forwarder for that domain (CreateTrust's
    ConditionalForwarderIpAddrs, or CreateConditionalForwarder / UpdateConditionalForwarder)."""
    forwarder = trust.__dict__.get("_lab_directory").__dict__.get("lab_forwarders", {}).get(
        trust.remote_domain_name.rstrip(".").lower(), {})
    return env("LAB_ONPREM_DC_IP") in forwarder.get("DnsIpAddrs", [])


def _create(trust):
    remote = trust.remote_domain_name
    if not _found_by_dns(trust):
        return "Failed", NOT_CONTACTED.format(remote)
    up = subprocess.run([sys.executable, env("LAB_PY"), "onprem", "up"], capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, **{k: v for k, v in LAB.env.items() if k.startswith("LAB_")}))
    if up.returncode != 0:
        print(f"lab: trusts: lab.py onprem up failed: {up.stdout}{up.stderr}", flush=True)
        return "Failed", NOT_CONTACTED.format(remote)
    onprem, corp = _samba_trust("onprem", "info"), _samba_trust("corp", "info")
    kind = "forest" if (trust.trust_type or "Forest") == "Forest" else "external"
    # The on-premises administrator's side, with the password they chose.
    _samba_trust("onprem", "delete", "--remote-dns", corp["dns"])
    _samba_trust("onprem", "create", "--remote-dns", corp["dns"], "--remote-netbios", corp["netbios"],
                 "--remote-sid", corp["sid"], "--type", kind, "--direction", ONPREM_SIDE[trust.trust_direction],
                 password=env("LAB_ONPREM_TRUST_PASSWORD"))
    # The directory's side, with the TrustPassword given to CreateTrust.
    _samba_trust("corp", "delete", "--remote-dns", onprem["dns"])
    _samba_trust("corp", "create", "--remote-dns", onprem["dns"], "--remote-netbios", onprem["netbios"],
                 "--remote-sid", onprem["sid"], "--type", kind, "--direction", DIRECTORY_SIDE[trust.trust_direction],
                 password=trust.trust_password)
    return "Created", ""


def _ticket(principal, password, service):
    """A ticket for `principal`, then a service ticket for `service` (through a cross-realm ticket): None when
    both came, else 'kdc' (the principal's KDC did not answer) or 'trust' (a ticket was refused)."""
    with tempfile.TemporaryDirectory() as folder:
        child = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KRB5CCNAME": f"FILE:{folder}/cc",
                 "KRB5_CONFIG": os.path.join(env("LAB_STATE_DIR"), "krb5.conf")}
        got = subprocess.run(["kinit", principal], input=password + "\n", capture_output=True, text=True, env=child,
                             timeout=30)
        if got.returncode != 0:
            return "kdc" if "contact" in got.stderr.lower() or "resolve" in got.stderr.lower() else "trust"
        got = subprocess.run(["kvno", service], capture_output=True, text=True, env=child, timeout=30)
        return None if got.returncode == 0 else ("kdc" if "contact" in got.stderr.lower() else "trust")


def _verify(trust):
    remote = trust.remote_domain_name
    fault = LAB.faults.get("trust_verify_fail")
    if fault:
        return "VerifyFailed", fault if isinstance(fault, str) else (
            f"The specified domain either does not exist or could not be contacted: the trust with {remote} could "
            "not be verified. Check the conditional forwarder, the network path and the trust password.")
    if not _found_by_dns(trust) or not _port_open(env("LAB_ONPREM_DC_IP"), 88):
        return "VerifyFailed", NOT_CONTACTED.format(remote)
    probes = []
    if trust.trust_direction in ("One-Way: Outgoing", "Two-Way"):  # on-premises users reach the directory's side
        probes.append((f"Administrator@{env('LAB_ONPREM_REALM')}", env("LAB_ONPREM_ADMINISTRATOR_PASSWORD"),
                       f"host/{LAB.dc_hostname}@{LAB.ad_realm}"))
    if trust.trust_direction in ("One-Way: Incoming", "Two-Way"):  # the directory's users reach on-premises
        probes.append((f"Administrator@{LAB.ad_realm}", LAB.administrator_password,
                       f"host/{env('LAB_ONPREM_DC_HOSTNAME')}@{env('LAB_ONPREM_REALM')}"))
    for principal, password, service in probes:
        failed = _ticket(principal, password, service)
        if failed:
            return "VerifyFailed", (NOT_CONTACTED if failed == "kdc" else TRUST_FAILED).format(remote)
    return "Verified", ""


def _set(trust, state, reason=""):
    trust.trust_state = state  # ds.py's setter: a state of its own, no timer
    trust.trust_state_reason = reason
    trust.last_updated_date_time = utcnow()


def _run(trust, create):
    step = LAB.knobs["trust_seconds"] / (4 if create else 2)  # each state lasts at least this long, as the timer's
    try:
        with _LOCK:
            if create:
                started = time.monotonic()
                state, reason = _create(trust)
                time.sleep(max(0.0, started + step - time.monotonic()))
                _set(trust, state, reason)
                if state == "Failed":
                    return
                time.sleep(step)
            _set(trust, "Verifying")
            started = time.monotonic()
            state, reason = _verify(trust)
            time.sleep(max(0.0, started + step - time.monotonic()))
            _set(trust, state, reason)
    except Exception as exc:  # the lab's own failure: the trust says so rather than staying Creating forever
        print(f"lab: trusts: {type(exc).__name__}: {exc}", flush=True)
        _set(trust, "Failed", NOT_CONTACTED.format(trust.remote_domain_name))


def start(trust, create):
    """Make (create=True) and verify, or only verify, a trust with the on-premises forest, in the background."""
    _set(trust, "Creating" if create else "Verifying")
    threading.Thread(target=_run, args=(trust, create), daemon=True, name=f"trust-{trust.trust_id}").start()


def delete(trust):
    with _LOCK:
        _samba_trust("corp", "delete", "--remote-dns", trust.remote_domain_name, check=False)
