# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The client kit: what each client needs to log in to an Aurora cluster with Kerberos, as file contents.

krb5.conf (and krb5.ini, the same for MIT Kerberos for Windows) with every realm and KDC, a domain_realm
entry for the partition's RDS names and each endpoint, rdns and dns_canonicalize_hostname off (so the
client asks for postgres/<the name it dials>); a libpq service file; pgjdbc's jaas.conf and URL; a
pgAdmin servers.json entry; and notes (AWS_FACTS.md sections 5 and 10).
"""

import json

JAAS_APPLICATION = "pgjdbc"


def krb5_conf(default_realm, realms, endpoints, newline="\n"):
    """realms: [{realm, kdcs}] (the directory's first, then each trusted forest's)."""
    lines = ["# Client Kerberos configuration for Aurora PostgreSQL, written by aurora.kerberos (client kit).",
             "[libdefaults]",
             f"    default_realm = {default_realm}",
             "    dns_lookup_realm = false",
             "    dns_lookup_kdc = false",
             "    rdns = false",
             "    dns_canonicalize_hostname = false",
             "    udp_preference_limit = 1",
             "",
             "[realms]"]
    for entry in realms:
        lines.append(f"    {entry['realm']} = {{")
        lines += [f"        kdc = {kdc}" for kdc in entry["kdcs"]]
        lines.append("    }")
    lines += ["", "[domain_realm]"]
    # .rds.<the partition's DNS suffix>: amazonaws.com, amazonaws.com.cn in China
    suffixes = sorted({".rds." + e.split(".rds.", 1)[1] for e in endpoints if ".rds." in e})
    lines += [f"    {suffix} = {default_realm}" for suffix in suffixes]
    lines += [f"    {endpoint} = {default_realm}" for endpoint in endpoints]
    for entry in realms:
        lines += [f"    .{entry['realm'].lower()} = {entry['realm']}", f"    {entry['realm'].lower()} = {entry['realm']}"]
    trusted = [entry["realm"] for entry in realms if entry["realm"] != default_realm]
    if trusted:
        # A forest trust is a direct path: each trusted realm's KDC refers its users to the directory's, and back.
        lines += ["", "[capaths]"]
        for realm in trusted:
            lines += [f"    {realm} = {{", f"        {default_realm} = .", "    }"]
        lines += [f"    {default_realm} = {{"] + [f"        {realm} = ." for realm in trusted] + ["    }"]
    return newline.join(lines) + newline


def libpq_params(endpoint, port, database, sslmode, ca_cert=None, hostaddr=None):
    params = dict(host=endpoint, port=str(port), dbname=database, gssencmode="prefer", sslmode=sslmode,
                  krbsrvname="postgres")
    if ca_cert:
        params["sslrootcert"] = ca_cert
    if hostaddr:
        params["hostaddr"] = hostaddr
    return params


def pg_service(services):
    """services: {name: libpq params} as a pg_service.conf."""
    lines = ["# libpq service file (PGSERVICEFILE=<this file> psql service=<name> user=<you>@<REALM>)."]
    for name, params in services.items():
        lines += ["", f"[{name}]"] + [f"{key}={value}" for key, value in params.items()]
    return "\n".join(lines) + "\n"


def dsn(params, user):
    return " ".join(f"{key}={value}" for key, value in dict(params, user=user).items())


def jaas_conf():
    return (f"{JAAS_APPLICATION} {{\n"
            "    com.sun.security.auth.module.Krb5LoginModule required\n"
            "    useTicketCache=true\n"
            "    doNotPrompt=true;\n"
            "};\n")


def jdbc_url(endpoint, port, database, sslmode):
    return (f"jdbc:postgresql://{endpoint}:{port}/{database}?gsslib=gssapi&jaasApplicationName={JAAS_APPLICATION}"
            f"&jaasLogin=true&sslmode={sslmode}")


def pgadmin_servers(servers, user):
    """servers: [(name, endpoint, port, database, sslmode)] as pgAdmin's servers.json (import with setup.py
    load-servers). pgAdmin's loader refuses a server without a non-empty Username (pgAdmin 9's
    validate_json_data), and a Kerberos login's user name is the principal: user is it, or a placeholder."""
    entries = {}
    for index, (name, endpoint, port, database, sslmode) in enumerate(servers, start=1):
        entries[str(index)] = dict(Name=name, Group="Aurora Kerberos", Host=endpoint, Port=int(port),
                                   MaintenanceDB=database, Username=user, KerberosAuthentication=True,
                                   ConnectionParameters=dict(sslmode=sslmode, connect_timeout=10))
    return json.dumps({"Servers": entries}, indent=2, sort_keys=True) + "\n"
