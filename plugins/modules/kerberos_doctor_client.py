#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kerberos_doctor_client
short_description: Why can't a user log in to Aurora PostgreSQL with Kerberos? The client's links
version_added: 0.2.0
description:
  - Walks the client side of a Kerberos login where it runs (run it on a client host with C(delegate_to)), and
    stops at the first broken link. It writes nothing but a private credential cache, which it removes.
  - C(krb5_conf_realm) - the krb5.conf has the realm and its KDCs (the directory's DNS addresses).
  - C(krb5_conf_domain_realm) - a C([domain_realm]) entry maps the endpoint to the realm; C(rdns) and
    C(dns_canonicalize_hostname) are false (a warning otherwise).
  - C(endpoint_resolves) - the endpoint resolves (skipped with O(hostaddr), which libpq dials instead).
  - C(kdc_reachable), C(kdc_udp), C(kpasswd) - each KDC answers a Kerberos request (an AS-REQ without
    pre-authentication) on TCP 88 and on UDP 88, and kpasswd answers a password-change request that changes nothing
    (RFC 3244, with an AP-REQ that cannot be verified, which a kpasswd server answers with a KRB-ERROR) on TCP and
    UDP 464. On UDP only an answer counts as open; silence and an ICMP port unreachable count as closed. A closed
    464 is a warning (a login does not need it).
  - C(clock) - the client's clock is within the krb5.conf's C(clockskew) (default 300 s) of the KDC's own time, read
    from the KDC's answer.
  - C(kinit) - a ticket for the principal, with O(password) (on stdin), O(keytab), or, with neither, the existing
    ticket in C(KRB5CCNAME) (a FILE cache is copied, so nothing is added to it).
  - C(service_ticket) - C(kvno -S postgres <endpoint>), as GSSAPI asks for it.
  - C(gssapi_login) - a login to the database with the ticket and no password, checked in C(pg_stat_gssapi); when
    refused, the server's own words.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  principal:
    description: The user, as they kinit, for example V(alice@CORP.EXAMPLE.COM).
    type: str
    required: true
  realm:
    description: The directory's realm. Default the principal's.
    type: str
  kdcs:
    description: The directory's DNS addresses, to compare with the krb5.conf's KDCs.
    type: list
    elements: str
    default: []
  endpoint:
    description: The host name the client dials; the service principal is C(postgres/<endpoint>).
    type: str
    required: true
  cluster_endpoint:
    description: The cluster endpoint RDS gives, named in the fix when O(endpoint) differs.
    type: str
  hostaddr:
    description: An IP address to connect to instead of resolving O(endpoint) (libpq's C(hostaddr)).
    type: str
  port:
    description: The cluster's port.
    type: int
    default: 5432
  database:
    description: The database to log in to.
    type: str
    default: postgres
  krb5_config:
    description:
      - The krb5.conf to use; several files separated by C(:) as in C(KRB5_CONFIG). Default C($KRB5_CONFIG), else
        C(/etc/krb5.conf).
    type: str
  password:
    description: The user's password, for kinit. Counts as a logon attempt (a wrong one towards lockout).
    type: str
  keytab:
    description: A keytab with the user's keys, for kinit.
    type: path
  ssl_mode:
    description: The login's sslmode; the session is GSS-encrypted when the server offers it.
    type: str
    default: prefer
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description: The RDS CA bundle, for O(ssl_mode=verify-full).
    type: path
  timeout:
    description: Seconds to wait for each KDC port and for the login; the probes after TCP 88 run side by side.
    type: int
    default: 5
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    description: The module only reads; it runs the same in check mode.
    support: full
  diff_mode:
    description: The module changes nothing.
    support: none
  platform:
    platforms: posix
notes:
  - Needs MIT Kerberos's kinit and kvno (Debian krb5-user, RHEL krb5-workstation) and psycopg2 with GSSAPI.
seealso:
  - module: aurora.kerberos.kerberos_doctor
"""

EXAMPLES = r"""
- name: The client's links, on the host the user logs in from
  aurora.kerberos.kerberos_doctor_client:
    principal: alice@CORP.EXAMPLE.COM
    endpoint: orders.cluster-abc123.us-east-1.rds.amazonaws.com
    kdcs: [10.0.1.10, 10.0.2.10]
    krb5_config: /etc/krb5.conf
    password: "{{ alice_password }}"
  delegate_to: workstation1
  no_log: true
"""

RETURN = r"""
links:
  description: Every finding, in the order checked, up to and including the first broken one (as kerberos_doctor).
  returned: always
  type: list
  elements: dict
broken:
  description: The first broken finding (on failure only).
  returned: failure
  type: dict
"""

import os
import shutil
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.aurora.kerberos.plugins.module_utils import doctor

try:
    import psycopg2
except ImportError:
    psycopg2 = None

GSS_QUERY = "SELECT current_user, gss_authenticated, principal FROM pg_stat_gssapi WHERE pid = pg_backend_pid()"


def run(module, argv, env, stdin=None):
    """(rc, stdout + stderr) of a Kerberos tool; a missing tool fails the module naming the package."""
    tool = module.get_bin_path(argv[0])
    if tool is None:
        module.fail_json(msg=f"{argv[0]} is not installed here: install MIT Kerberos's client tools (Debian "
                             "krb5-user, RHEL krb5-workstation).")
    done = subprocess.run([tool] + argv[1:], input=stdin, env=env, capture_output=True, text=True,
                          timeout=module.params["timeout"] * 4, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


def krb5_files(module):
    value = module.params["krb5_config"] or os.environ.get("KRB5_CONFIG") or "/etc/krb5.conf"
    return value, [f for f in value.split(":") if f]


def kinit(module, walk, principal, env, ccache):
    p = module.params
    if p["password"] is not None:
        rc, out = run(module, ["kinit", "-c", ccache, principal], env, stdin=p["password"] + "\n")
        how = "password"
    elif p["keytab"]:
        rc, out = run(module, ["kinit", "-c", ccache, "-k", "-t", p["keytab"], principal], env)
        how = f"keytab {p['keytab']}"
    else:
        current = os.environ.get("KRB5CCNAME") or ""
        rc, out = run(module, ["klist", "-s"] + (["-c", current] if current else []), env)
        if rc != 0:
            walk.add(doctor.finding("client", "kinit", doctor.FAIL,
                                    f"No password or keytab was given and there is no valid ticket in "
                                    f"{current or 'the default cache'}.",
                                    "Give doctor_password (no_log) or doctor_keytab, or kinit before the doctor runs."))
        rc, listing = run(module, ["klist"] + (["-c", current] if current else []), env)
        holder = next((line.split(":", 1)[1].strip() for line in listing.splitlines()
                       if line.lower().startswith("default principal")), "")
        if holder != principal:
            walk.add(doctor.finding("client", "kinit", doctor.FAIL,
                                    f"The ticket in {current or 'the default cache'} is {holder or 'nobody'}'s, not "
                                    f"{principal}'s: PostgreSQL compares the principal with the login exactly.",
                                    f"kinit {principal}, or give doctor_password or doctor_keytab."))
        path = current[len("FILE:"):] if current.startswith("FILE:") else current
        if path and ":" not in path and os.path.isfile(path):
            # A copy: kvno and the login add a service ticket, which must not land in the user's cache.
            shutil.copyfile(path, ccache[len("FILE:"):])
        else:
            ccache = current  # KCM/KEYRING caches cannot be copied: the service ticket goes there, as any login's
        how, rc, out = f"the existing ticket in {current or 'the default cache'}", 0, ""
    walk.add(doctor.kinit_finding(principal, rc, out, how))
    return ccache


def login(module, principal, env):
    p = module.params
    params = dict(host=p["endpoint"], port=p["port"], dbname=p["database"], user=principal, sslmode=p["ssl_mode"],
                  gssencmode="prefer", connect_timeout=p["timeout"])
    if p["hostaddr"]:
        params["hostaddr"] = p["hostaddr"]
    if p["ca_cert"]:
        params["sslrootcert"] = p["ca_cert"]
    saved = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5CCNAME", "PGPASSWORD", "PGPASSFILE")}
    os.environ.update(KRB5_CONFIG=env["KRB5_CONFIG"], KRB5CCNAME=env["KRB5CCNAME"])
    # A password from the environment or ~/.pgpass would hide what Kerberos alone does.
    os.environ.pop("PGPASSWORD", None)
    os.environ["PGPASSFILE"] = os.devnull
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.Error as e:
        return doctor.login_finding(principal, p["endpoint"], p["database"], error=to_native(e))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        with conn.cursor() as cursor:
            cursor.execute(GSS_QUERY)
            row = cursor.fetchone()
    finally:
        conn.close()
    return doctor.login_finding(principal, p["endpoint"], p["database"], row=row)


def walk_client(module, walk, scratch):
    p = module.params
    principal = p["principal"]
    try:
        name, realm = doctor.parse_principal(principal)
    except ValueError as e:
        module.fail_json(msg=str(e))
    realm = p["realm"] or realm
    value, files = krb5_files(module)
    texts = []
    for path in files:
        try:
            with open(path) as handle:
                texts.append(handle.read())
        except OSError as e:
            walk.add(doctor.finding("client", "krb5_conf_realm", doctor.FAIL, f"Cannot read {path}: {e.strerror}.",
                                    "Give doctor_krb5_config: the krb5.conf the cluster role writes "
                                    "(cluster_krb5_conf_path)."))
    conf = doctor.merge_krb5_confs(texts)
    found, kdcs, clockskew = doctor.krb5_conf_findings(conf, value, realm, p["endpoint"], p["kdcs"])
    walk.add(*found)
    walk.add(doctor.resolve_finding(p["endpoint"], p["hostaddr"]))
    udp_limit = doctor._first(conf.get("libdefaults") or {}, "udp_preference_limit")
    walk.add(*doctor.kdc_findings(kdcs, name, realm, clockskew, timeout=p["timeout"],
                                  udp_needed=str(udp_limit).strip() != "1"))
    env = dict(os.environ, KRB5_CONFIG=value, KRB5CCNAME=doctor.private_ccache(scratch))
    ccache = kinit(module, walk, principal, env, env["KRB5CCNAME"])
    env["KRB5CCNAME"] = ccache
    rc, out = run(module, ["kvno", "-c", ccache, "-S", "postgres", p["endpoint"]], env)
    walk.add(doctor.kvno_finding(p["endpoint"], rc, out, realm, p["cluster_endpoint"]))
    walk.add(login(module, principal, env))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            principal=dict(type="str", required=True),
            realm=dict(type="str"),
            kdcs=dict(type="list", elements="str", default=[]),
            endpoint=dict(type="str", required=True),
            cluster_endpoint=dict(type="str"),
            hostaddr=dict(type="str"),
            port=dict(type="int", default=5432),
            database=dict(type="str", default="postgres"),
            krb5_config=dict(type="str"),
            password=dict(type="str", no_log=True),
            keytab=dict(type="path", no_log=False),
            ssl_mode=dict(type="str", default="prefer",
                          choices=["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]),
            ca_cert=dict(type="path"),
            timeout=dict(type="int", default=5),
        ),
        mutually_exclusive=[("password", "keytab")],
        supports_check_mode=True,
    )
    if psycopg2 is None:
        module.fail_json(msg=missing_required_lib("psycopg2 (with GSSAPI, as psycopg2-binary's libpq has)"))
    walk = doctor.Walk()
    scratch = tempfile.mkdtemp(prefix="aurora-kerberos-doctor.")
    try:
        walk_client(module, walk, scratch)
    except doctor.Broken as e:
        module.fail_json(msg=doctor.broken_message(e.finding), broken=e.finding, links=walk.findings)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    module.exit_json(changed=False, links=walk.findings)


if __name__ == "__main__":
    main()
