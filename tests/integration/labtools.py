"""Small clients for the lab's three components, for tests only (the collection has its own)."""

import os
import ssl
import subprocess
import uuid

import ldap3
import psycopg2


def secret_names(env):
    """The lab's passwords (lab/CONTRACT.md): every LAB_*PASSWORD, so one the lab adds is covered too."""
    return sorted(name for name in env if name.startswith("LAB_") and "PASSWORD" in name)


def ldap_admin(env):
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=env["LAB_LDAPS_CA"], valid_names=[env["LAB_DC_HOSTNAME"]])
    server = ldap3.Server(env["LAB_DC_IP"], port=636, use_ssl=True, tls=tls, connect_timeout=5)
    return ldap3.Connection(server, user=f"{env['LAB_AD_ADMIN_USER']}@{env['LAB_AD_REALM']}",
                            password=env["LAB_AD_ADMIN_PASSWORD"], auto_bind=True, raise_exceptions=True)


def create_ad_user(env, name, password, ou=None):
    dn = f"CN={name},{ou or env['LAB_AD_USERS_OU']}"
    with ldap_admin(env) as conn:
        conn.add(dn, ["top", "person", "organizationalPerson", "user"],
                 {"sAMAccountName": name, "userPrincipalName": f"{name}@{env['LAB_AD_REALM']}"})
        conn.extend.microsoft.modify_password(dn, password)
        conn.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [512])],
                         "msDS-SupportedEncryptionTypes": [(ldap3.MODIFY_REPLACE, [24])]})
    return dn


def delete_ad_user(env, name):
    with ldap_admin(env) as conn:
        conn.search(env["LAB_AD_BASE_DN"], f"(sAMAccountName={name})")
        for entry in conn.entries:
            conn.delete(entry.entry_dn)


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def kinit(env, principal, password, ccache):
    """Get a ticket into a private cache; returns the CompletedProcess (never raises)."""
    child = dict(os.environ, KRB5_CONFIG=env["KRB5_CONFIG"], KRB5CCNAME=f"FILE:{ccache}")
    return subprocess.run(["kinit", principal], input=password + "\n", capture_output=True, text=True, env=child, check=False)


def pg_connect(env, user, password=None, ccache=None):
    """Connect where the contract says; with ccache, GSSAPI uses that ticket cache."""
    if ccache:
        os.environ["KRB5CCNAME"] = f"FILE:{ccache}"
    os.environ["KRB5_CONFIG"] = env["KRB5_CONFIG"]
    return psycopg2.connect(host=env["LAB_PG_HOST"], hostaddr=env["LAB_PG_HOSTADDR"], port=env["LAB_PG_PORT"],
                            dbname=env["LAB_PG_DATABASE"], user=user, password=password, connect_timeout=5)


def master(env):
    conn = pg_connect(env, env["LAB_PG_MASTER_USER"], env["LAB_PG_MASTER_PASSWORD"])
    conn.autocommit = True
    return conn


def sql(conn, query, *args):
    with conn.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall() if cur.description else None


def lab_api(env, method, path, payload=None):
    """The lab endpoint's admin API (lab/fidelity/middleware.py): calls, faults, knobs."""
    import json
    import urllib.request

    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{env['AWS_ENDPOINT_URL']}/lab-api/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
