#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kerberos_client_kit
short_description: Write the files each client needs to log in to Aurora PostgreSQL with Kerberos
version_added: 0.2.0
description:
  - Writes into O(dest) - C(krb5.conf) (Linux, macOS) and C(krb5.ini) (Windows, CRLF) with every realm, every KDC,
    C([domain_realm]) for the partition's RDS names and every endpoint, C(rdns) and C(dns_canonicalize_hostname)
    false; C(pg_service.conf), a libpq service per endpoint (psql, psycopg); C(jaas.conf) and C(jdbc.txt) for pgjdbc
    (C(gsslib), C(jaasApplicationName), C(jaasLogin)); C(servers.json) for pgAdmin with Kerberos; C(README.txt)
    with the DSN, the psql line and notes (Windows across a trust, macOS ticket caches).
  - Each file is written only when its content differs, so a second run changes nothing.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  dest:
    description: The directory to write into (created when missing).
    type: path
    required: true
  name:
    description: The cluster's name, used for the libpq service and the pgAdmin entry.
    type: str
    required: true
  realm:
    description: The directory's realm, for example V(CORP.EXAMPLE.COM).
    type: str
    required: true
  kdcs:
    description: The directory's DNS addresses (its domain controllers).
    type: list
    elements: str
    required: true
  trusted_realms:
    description: Realms of trusted forests, each with its KDCs.
    type: list
    elements: dict
    default: []
    suboptions:
      realm:
        description: The forest's realm.
        type: str
        required: true
      kdcs:
        description: Its KDCs.
        type: list
        elements: str
        required: true
  endpoints:
    description: The endpoints clients dial (cluster, reader, instances); the first is the default.
    type: list
    elements: str
    required: true
  port:
    description: The cluster's port.
    type: int
    default: 5432
  database:
    description: The database.
    type: str
    default: postgres
  sslmode:
    description: The libpq sslmode the kit sets.
    type: str
    default: verify-full
  ca_cert:
    description: Where clients keep the RDS CA bundle (sslrootcert).
    type: str
  hostaddr:
    description: An IP address libpq dials instead of resolving the endpoint (a lab, or a client without DNS).
    type: str
attributes:
  check_mode:
    description: Says what it would write, and writes nothing.
    support: full
  diff_mode:
    description: Shows each file's change.
    support: full
"""

EXAMPLES = r"""
- name: The client kit for orders
  aurora.kerberos.kerberos_client_kit:
    dest: ./kit
    name: orders
    realm: CORP.EXAMPLE.COM
    kdcs: [10.0.1.10, 10.0.2.10]
    endpoints: [orders.cluster-abc.us-east-1.rds.amazonaws.com]
    ca_cert: /etc/pki/rds/global-bundle.pem
"""

RETURN = r"""
files:
  description: Every file of the kit, by name, with whether this run changed it.
  returned: always
  type: dict
  sample: {"krb5.conf": true, "pg_service.conf": false}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aurora.kerberos.plugins.module_utils import client_kit


def contents(p):
    trusted = [dict(realm=t["realm"], kdcs=t["kdcs"]) for t in p["trusted_realms"]]
    realms = [dict(realm=p["realm"], kdcs=p["kdcs"])] + trusted
    endpoints = p["endpoints"]
    services = {(p["name"] if i == 0 else f"{p['name']}-{i}"): client_kit.libpq_params(
        e, p["port"], p["database"], p["sslmode"], p["ca_cert"], p["hostaddr"]) for i, e in enumerate(endpoints)}
    first = next(iter(services.values()))
    user = f"<you>@{p['realm']}"
    readme = "\n".join([
        f"Kerberos logins to {p['name']} ({p['realm']}), written by aurora.kerberos.",
        "",
        f"kinit:   KRB5_CONFIG=$PWD/krb5.conf kinit <you>@{p['realm']}   (your name in lower case)",
        f"psql:    KRB5_CONFIG=$PWD/krb5.conf PGSERVICEFILE=$PWD/pg_service.conf psql 'service={p['name']} user={user}'",
        f"DSN:     {client_kit.dsn(first, user)}",
        f"JDBC:    {client_kit.jdbc_url(endpoints[0], p['port'], p['database'], p['sslmode'])}&user={user}",
        "         java -Djava.security.krb5.conf=krb5.conf -Djava.security.auth.login.config=jaas.conf ...",
        "pgAdmin: import servers.json (setup.py load-servers servers.json), then connect with a ticket.",
        "",
        "Windows: copy krb5.ini to C:\\ProgramData\\MIT\\Kerberos5\\krb5.ini (MIT Kerberos for Windows). A Windows",
        "client of a trusted on-premises domain uses SSPI and reaches the cluster as",
        "<endpoint prefix>.<region>.<AD domain> instead of the rds.amazonaws.com name (AWS: connecting with",
        "Kerberos); custom endpoints do not work with Kerberos.",
        "macOS: Heimdal keeps tickets in the API cache (KRB5CCNAME=API:...); kinit and psql share it, Java reads",
        "only a FILE cache: kinit -c FILE:/tmp/krb5cc_$UID and set KRB5CCNAME to it.",
        "",
    ])
    return {
        "krb5.conf": client_kit.krb5_conf(p["realm"], realms, endpoints),
        "krb5.ini": client_kit.krb5_conf(p["realm"], realms, endpoints, newline="\r\n"),
        "pg_service.conf": client_kit.pg_service(services),
        "jaas.conf": client_kit.jaas_conf(),
        "jdbc.txt": client_kit.jdbc_url(endpoints[0], p["port"], p["database"], p["sslmode"]) + "\n",
        "servers.json": client_kit.pgadmin_servers(
            [(name, params["host"], p["port"], p["database"], p["sslmode"]) for name, params in services.items()]),
        "README.txt": readme,
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            name=dict(type="str", required=True),
            realm=dict(type="str", required=True),
            kdcs=dict(type="list", elements="str", required=True),
            trusted_realms=dict(type="list", elements="dict", default=[], options=dict(
                realm=dict(type="str", required=True),
                kdcs=dict(type="list", elements="str", required=True))),
            endpoints=dict(type="list", elements="str", required=True),
            port=dict(type="int", default=5432),
            database=dict(type="str", default="postgres"),
            sslmode=dict(type="str", default="verify-full"),
            ca_cert=dict(type="str"),
            hostaddr=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["kdcs"] or not p["endpoints"]:
        module.fail_json(msg="kdcs and endpoints must not be empty: give the directory's DNS addresses and the "
                             "cluster's endpoints")
    files, before, after = {}, {}, {}
    for name, text in contents(p).items():
        path = os.path.join(p["dest"], name)
        current = None
        if os.path.exists(path):
            with open(path, newline="") as handle:
                current = handle.read()
        files[name] = current != text
        if files[name]:
            before[name], after[name] = current or "", text
            if not module.check_mode:
                os.makedirs(p["dest"], exist_ok=True)
                with open(path + ".tmp", "w", newline="") as handle:
                    handle.write(text)
                os.replace(path + ".tmp", path)
    result = dict(changed=any(files.values()), files=files)
    if module._diff:
        result["diff"] = [dict(before_header=name, after_header=name, before=before[name], after=after[name])
                          for name in before]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
