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
  - Without O(dest) it writes nothing and returns the kit (RV(kit)), which the aurora.kerberos.cluster role
    publishes in C(cluster__output.client_kit). With O(files), it writes those contents (a published kit) as they
    are.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  dest:
    description: The directory to write the kit into (created when missing). Without it the kit is only returned.
    type: path
  krb5_conf_path:
    description:
      - A file to write the kit's C(krb5.conf) to as well (mode C(0644), its directory created when missing), for
        example the path C(KRB5_CONFIG) names on this host. Written with or without O(dest).
      - The cluster role gives it C(cluster_krb5_conf_path), so one module writes the kit and the client's
        krb5.conf.
    type: path
  files:
    description:
      - The kit's files, by name, as RV(kit.files) returned them (for example C(cluster__output.client_kit.files)),
        written as they are. Instead of O(name), O(realm), O(kdcs) and O(endpoints).
    type: dict
  name:
    description: The cluster's name, used for the libpq service and the pgAdmin entry. Required without O(files).
    type: str
  realm:
    description: The directory's realm, for example V(CORP.EXAMPLE.COM). Required without O(files).
    type: str
  kdcs:
    description: The directory's DNS addresses (its domain controllers). Required without O(files).
    type: list
    elements: str
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
    description:
      - The endpoints clients dial (cluster, reader, instances); the first is the default. Required without O(files).
    type: list
    elements: str
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
  user:
    description:
      - The login the examples and the pgAdmin entry name, for example V(alice@CORP.EXAMPLE.COM). Default the
        placeholder C(<you>@<realm>) (pgAdmin refuses an entry without a user name).
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    description: Says what it would write, and writes nothing.
    support: full
  diff_mode:
    description: Shows each file's change.
    support: full
  platform:
    platforms: posix
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
krb5_conf_changed:
  description: Whether this run wrote O(krb5_conf_path) (false without it).
  returned: always
  type: bool
  sample: true
files:
  description: Every file of the kit, by name, with whether this run changed it (all false without O(dest)).
  returned: always
  type: dict
  sample: {"krb5.conf": true, "pg_service.conf": false}
kit:
  description: The kit itself; it holds no secret.
  returned: always
  type: dict
  contains:
    files:
      description: Every file's content, by name (C(krb5.conf), C(krb5.ini), C(pg_service.conf), C(jaas.conf),
        C(jdbc.txt), C(servers.json), C(README.txt)).
      type: dict
    dsn:
      description: The libpq/psycopg DSN of the first endpoint (empty with O(files)).
      type: str
    psql:
      description: The psql line, with the kit's krb5.conf and service file (empty with O(files)).
      type: str
    jdbc_url:
      description: The pgjdbc URL of the first endpoint, with the user (empty with O(files)).
      type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aurora.kerberos.plugins.module_utils import client_kit

KIT_FILES = ("krb5.conf", "krb5.ini", "pg_service.conf", "jaas.conf", "jdbc.txt", "servers.json", "README.txt")


def contents(p):
    """(files, {dsn, psql, jdbc_url}) of the kit."""
    trusted = [dict(realm=t["realm"], kdcs=t["kdcs"]) for t in p["trusted_realms"]]
    realms = [dict(realm=p["realm"], kdcs=p["kdcs"])] + trusted
    endpoints = p["endpoints"]
    services = {(p["name"] if i == 0 else f"{p['name']}-{i}"): client_kit.libpq_params(
        e, p["port"], p["database"], p["sslmode"], p["ca_cert"], p["hostaddr"]) for i, e in enumerate(endpoints)}
    first = next(iter(services.values()))
    user = p["user"] or f"<you>@{p['realm']}"
    lines = dict(
        dsn=client_kit.dsn(first, user),
        psql=f"KRB5_CONFIG=$PWD/krb5.conf PGSERVICEFILE=$PWD/pg_service.conf psql 'service={p['name']} user={user}'",
        jdbc_url=f"{client_kit.jdbc_url(endpoints[0], p['port'], p['database'], p['sslmode'])}&user={user}")
    readme = "\n".join([
        f"Kerberos logins to {p['name']} ({p['realm']}), written by aurora.kerberos.",
        "",
        f"kinit:   KRB5_CONFIG=$PWD/krb5.conf kinit <you>@{p['realm']}   (your name in lower case)",
        f"psql:    {lines['psql']}",
        f"DSN:     {lines['dsn']}",
        f"JDBC:    {lines['jdbc_url']}",
        "         java -Djava.security.krb5.conf=krb5.conf -Djava.security.auth.login.config=jaas.conf ...",
        "         (jaas.conf reads the ticket cache: kinit first; Java finds it through KRB5CCNAME, a FILE: cache)",
        f"pgAdmin: import servers.json (setup.py load-servers servers.json); its user name is {user}: change it",
        "         to yours in the server's properties if it is not; connect with a ticket.",
        "",
        "Windows: copy krb5.ini to C:\\ProgramData\\MIT\\Kerberos5\\krb5.ini (MIT Kerberos for Windows). A Windows",
        "client of a trusted on-premises domain uses SSPI and reaches the cluster as",
        "<endpoint prefix>.<region>.<AD domain> instead of the rds.amazonaws.com name (AWS: connecting with",
        "Kerberos); custom endpoints do not work with Kerberos.",
        "macOS: Heimdal keeps tickets in the API cache (KRB5CCNAME=API:...); kinit and psql share it, Java reads",
        "only a FILE cache: kinit -c FILE:/tmp/krb5cc_$UID and set KRB5CCNAME to it.",
        "",
    ])
    files = {
        "krb5.conf": client_kit.krb5_conf(p["realm"], realms, endpoints),
        "krb5.ini": client_kit.krb5_conf(p["realm"], realms, endpoints, newline="\r\n"),
        "pg_service.conf": client_kit.pg_service(services),
        "jaas.conf": client_kit.jaas_conf(),
        "jdbc.txt": client_kit.jdbc_url(endpoints[0], p["port"], p["database"], p["sslmode"]) + "\n",
        "servers.json": client_kit.pgadmin_servers(
            [(name, params["host"], p["port"], p["database"], p["sslmode"]) for name, params in services.items()], user),
        "README.txt": readme,
    }
    return files, lines


def write(module, path, text, before, after, label, mode=None):
    """Writes text to path unless it holds it already (not in check mode); records the diff under label. Returns
    whether the file changed (or would)."""
    current = None
    if os.path.exists(path):
        with open(path, newline="") as handle:
            current = handle.read()
    changed = current != text or (mode is not None and current is not None and os.stat(path).st_mode & 0o7777 != mode)
    if current != text:
        before[label], after[label] = current or "", text
    if changed and not module.check_mode:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w", newline="") as handle:
            handle.write(text)
        if mode is not None:
            os.chmod(path + ".tmp", mode)
        os.replace(path + ".tmp", path)
    return changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path"),
            krb5_conf_path=dict(type="path"),
            files=dict(type="dict"),
            name=dict(type="str"),
            realm=dict(type="str"),
            kdcs=dict(type="list", elements="str"),
            trusted_realms=dict(type="list", elements="dict", default=[], options=dict(
                realm=dict(type="str", required=True),
                kdcs=dict(type="list", elements="str", required=True))),
            endpoints=dict(type="list", elements="str"),
            port=dict(type="int", default=5432),
            database=dict(type="str", default="postgres"),
            sslmode=dict(type="str", default="verify-full"),
            ca_cert=dict(type="str"),
            hostaddr=dict(type="str"),
            user=dict(type="str"),
        ),
        mutually_exclusive=[("files", "name"), ("files", "realm"), ("files", "kdcs"), ("files", "endpoints")],
        required_one_of=[("files", "name")],
        required_by=dict(name=("realm", "kdcs", "endpoints")),
        supports_check_mode=True,
    )
    p = module.params
    if p["files"] is not None:
        unknown = sorted(set(p["files"]) - set(KIT_FILES))
        if unknown or not all(isinstance(v, str) for v in p["files"].values()):
            module.fail_json(msg=f"files must map the kit's file names ({', '.join(KIT_FILES)}) to their contents, "
                                 f"as the kit returned them (cluster__output.client_kit.files); not: {', '.join(unknown)}")
        kit, lines = dict(p["files"]), dict(dsn="", psql="", jdbc_url="")
    else:
        if not p["kdcs"] or not p["endpoints"]:
            module.fail_json(msg="kdcs and endpoints must not be empty: give the directory's DNS addresses and the "
                                 "cluster's endpoints")
        kit, lines = contents(p)
    if p["krb5_conf_path"] and "krb5.conf" not in kit:
        module.fail_json(msg="krb5_conf_path needs the kit's krb5.conf: files has none")
    files, before, after = {}, {}, {}
    for name, text in kit.items():
        if not p["dest"]:
            files[name] = False
            continue
        path = os.path.join(p["dest"], name)
        files[name] = write(module, path, text, before, after, name)
    krb5_conf_changed = False
    if p["krb5_conf_path"]:
        krb5_conf_changed = write(module, p["krb5_conf_path"], kit["krb5.conf"], before, after, p["krb5_conf_path"],
                                  mode=0o644)
    result = dict(changed=any(files.values()) or krb5_conf_changed, files=files, krb5_conf_changed=krb5_conf_changed,
                  kit=dict(lines, files=kit))
    if module._diff:
        result["diff"] = [dict(before_header=name, after_header=name, before=before[name], after=after[name])
                          for name in before]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
