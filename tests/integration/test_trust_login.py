"""Users of a trusted on-premises forest log in, for real: a trust between the lab's directory and its second
forest (lab/README.md, "A trusted on-premises forest"; AWS_FACTS.md section 8), and a GSSAPI login to a joined
cluster with a cross-realm ticket while, and only while, the trust lets it."""

import os
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg2
import pytest

from labtools import cluster_env, current_env, kinit, knobs, master, member_cluster, pg_connect, poll, sql

LAB_PY = [sys.executable, str(Path(__file__).resolve().parents[2] / "lab" / "lab.py")]
NOT_CONTACTED = "The specified domain either does not exist or could not be contacted. Name: onprem.example.org"


def settled(ds, trust_id):
    """The trust once it has left Creating, Created and Verifying."""
    return poll(lambda: next((t for t in ds.describe_trusts(TrustIds=[trust_id])["Trusts"]
                              if t["TrustState"] not in ("Creating", "Created", "Verifying")), None), 60, "settled")


def tickets(lab, ccache):
    child = dict(os.environ, KRB5_CONFIG=lab["KRB5_CONFIG"], KRB5CCNAME=f"FILE:{ccache}")
    return subprocess.run(["klist"], capture_output=True, text=True, env=child, check=False).stdout


def whoami(db, login, ccache):
    conn = pg_connect(db, login, ccache=ccache)
    try:
        return sql(conn, "SELECT current_user, gss_authenticated, principal FROM pg_stat_gssapi "
                         "WHERE pid = pg_backend_pid()")[0]
    finally:
        conn.close()


@pytest.fixture
def quick_trusts(lab):
    with knobs(lab, trust_seconds=0.4):
        yield
    # The on-premises DC runs only while a test needs it: leave the lab as it was found.
    subprocess.run([*LAB_PY, "onprem", "down"], check=True, capture_output=True)


def test_an_on_premises_user_logs_in_through_the_trust_and_only_while_it_lets_them(lab, quick_trusts, tmp_path):
    ds = boto3.client("ds")
    joe = f"{lab['LAB_ONPREM_USER']}@{lab['LAB_ONPREM_REALM']}"
    base = {"RemoteDomainName": lab["LAB_ONPREM_DOMAIN"], "TrustType": "Forest",
            "ConditionalForwarderIpAddrs": [lab["LAB_ONPREM_DC_IP"]]}
    with member_cluster(lab) as cluster:
        db = cluster_env(current_env(lab), cluster)
        base["DirectoryId"] = cluster["DomainMemberships"][0]["Domain"]
        with master(db) as conn:
            sql(conn, f'CREATE ROLE "{joe}" LOGIN IN ROLE rds_ad')

        def joe_logs_in(name):
            ccache = tmp_path / name
            got = kinit(lab, joe, lab["LAB_USER_PASSWORD"], ccache)  # from the on-premises KDC
            assert got.returncode == 0, got.stderr
            assert f"krbtgt/{lab['LAB_ONPREM_REALM']}@{lab['LAB_ONPREM_REALM']}" in tickets(lab, ccache)
            try:
                return whoami(db, joe, ccache), tickets(lab, ccache)
            except psycopg2.OperationalError as exc:
                return None, str(exc)

        # A forest that trusts the directory, but that the directory does not trust: joe is refused.
        incoming = ds.create_trust(TrustPassword=lab["LAB_ONPREM_TRUST_PASSWORD"], TrustDirection="One-Way: Incoming",
                                   **base)["TrustId"]
        assert settled(ds, incoming)["TrustState"] == "Verified"
        assert joe_logs_in("incoming")[0] is None
        ds.delete_trust(TrustId=incoming)

        # Passwords that differ from the on-premises side's: verification fails, and so does joe.
        wrong = ds.create_trust(TrustPassword="Not-the-trust-password-1", TrustDirection="One-Way: Outgoing",
                                **base)["TrustId"]
        trust = settled(ds, wrong)
        assert (trust["TrustState"], trust["TrustStateReason"]) == (
            "VerifyFailed", "The trust relationship between the primary domain and the trusted domain failed. "
                            "Name: onprem.example.org")
        assert joe_logs_in("wrong")[0] is None
        ds.delete_trust(TrustId=wrong)

        # No conditional forwarder to the on-premises DNS: the forest cannot be found (AWS's recorded answer).
        lost = ds.create_trust(TrustPassword=lab["LAB_ONPREM_TRUST_PASSWORD"], TrustDirection="One-Way: Outgoing",
                               **dict(base, ConditionalForwarderIpAddrs=["10.0.0.53"]))["TrustId"]
        trust = settled(ds, lost)
        assert (trust["TrustState"], trust["TrustStateReason"]) == ("Failed", NOT_CONTACTED)
        ds.delete_trust(TrustId=lost)

        # The trust as the on-premises side made it: joe logs in, through a cross-realm ticket.
        trust_id = ds.create_trust(TrustPassword=lab["LAB_ONPREM_TRUST_PASSWORD"], TrustDirection="One-Way: Outgoing",
                                   **base)["TrustId"]
        assert settled(ds, trust_id)["TrustState"] == "Verified"
        # The on-premises DC reaches the host and the directory's DC, and nothing else.
        routes = subprocess.run(["ip", "netns", "exec", f"{lab['LAB_NETNS']}-op", "ip", "-4", "route"],
                                capture_output=True, text=True, check=True).stdout.splitlines()
        assert sorted(line.split()[0] for line in routes) == sorted([lab["LAB_HOST_IP"], lab["LAB_DC_IP"]])
        assert [t["TrustId"] for t in ds.describe_trusts(DirectoryId=base["DirectoryId"])["Trusts"]] == [trust_id]
        login, held = joe_logs_in("trusted")
        assert login == (joe, True, joe)
        assert f"krbtgt/{lab['LAB_AD_REALM']}@{lab['LAB_ONPREM_REALM']}" in held
        assert f"postgres/{db['LAB_PG_HOST']}@{lab['LAB_AD_REALM']}" in held

        # The on-premises DC stopped: VerifyTrust fails; started again: verified again.
        subprocess.run([*LAB_PY, "onprem", "stop"], check=True, capture_output=True)
        ds.verify_trust(TrustId=trust_id)
        trust = settled(ds, trust_id)
        assert (trust["TrustState"], trust["TrustStateReason"]) == ("VerifyFailed", NOT_CONTACTED)
        subprocess.run([*LAB_PY, "onprem", "up"], check=True, capture_output=True)
        ds.verify_trust(TrustId=trust_id)
        assert settled(ds, trust_id)["TrustState"] == "Verified"

        # The trust deleted: joe's own KDC still gives him a ticket, the cluster no longer lets him in.
        ds.delete_trust(TrustId=trust_id)
        login, why = joe_logs_in("deleted")
        assert login is None and "isn't for us" in why
