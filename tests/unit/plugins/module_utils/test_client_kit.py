# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""client_kit module_utils: the kit's files say what each client needs, and the kit's krb5.conf passes the
doctor's own krb5.conf checks."""

import json

from ansible_collections.aurora.kerberos.plugins.module_utils import client_kit
from ansible_collections.aurora.kerberos.plugins.module_utils import doctor

REALM = "CORP.EXAMPLE.COM"
ENDPOINT = "orders.cluster-abc.cn-north-1.rds.amazonaws.com.cn"
READER = "orders.cluster-ro-abc.cn-north-1.rds.amazonaws.com.cn"
REALMS = [dict(realm=REALM, kdcs=["10.0.1.10", "10.0.2.10"]), dict(realm="ONPREM.NET", kdcs=["192.168.1.5"])]


def test_krb5_conf_has_every_realm_every_kdc_and_maps_every_endpoint_in_the_partition():
    text = client_kit.krb5_conf(REALM, REALMS, [ENDPOINT, READER])
    conf = doctor.parse_krb5_conf(text)
    assert doctor.kdc_addresses(conf["realms"][REALM]) == [("10.0.1.10", 88), ("10.0.2.10", 88)]
    assert doctor.kdc_addresses(conf["realms"]["ONPREM.NET"]) == [("192.168.1.5", 88)]
    assert conf["domain_realm"][".rds.amazonaws.com.cn"] == [REALM]
    assert doctor.realm_for_host(conf["domain_realm"], "host.onprem.net") == ("ONPREM.NET", ".onprem.net")
    # a direct path each way between the trusted forest and the directory (a forest trust)
    assert conf["capaths"] == {"ONPREM.NET": {REALM: ["."]}, REALM: {"ONPREM.NET": ["."]}}
    assert "[capaths]" not in client_kit.krb5_conf(REALM, REALMS[:1], [ENDPOINT])
    found, dummy, dummy = doctor.krb5_conf_findings(conf, "kit/krb5.conf", REALM, READER, ["10.0.1.10"])
    assert [f["status"] for f in found] == [doctor.OK, doctor.OK]
    ini = client_kit.krb5_conf(REALM, REALMS, [ENDPOINT], newline="\r\n")
    assert ini.count("\r\n") == ini.count("\n") and "rdns = false" in ini


def test_the_libpq_service_dsn_jdbc_and_pgadmin_entries():
    params = client_kit.libpq_params(ENDPOINT, 5432, "reports", "verify-full", "/etc/rds.pem", "10.0.3.4")
    service = client_kit.pg_service({"orders": params})
    assert "[orders]\nhost=" + ENDPOINT in service and "gssencmode=prefer" in service and "hostaddr=10.0.3.4" in service
    assert client_kit.dsn(params, f"alice@{REALM}").endswith(f"user=alice@{REALM}")
    url = client_kit.jdbc_url(ENDPOINT, 5432, "reports", "verify-full")
    assert "gsslib=gssapi" in url and "jaasApplicationName=pgjdbc" in url and "jaasLogin=true" in url
    assert "pgjdbc {" in client_kit.jaas_conf() and "useTicketCache=true" in client_kit.jaas_conf()
    servers = json.loads(client_kit.pgadmin_servers([("orders", ENDPOINT, 5432, "reports", "verify-full")],
                                                    f"alice@{REALM}"))
    assert servers["Servers"]["1"]["KerberosAuthentication"] is True and servers["Servers"]["1"]["Port"] == 5432
    assert pgadmin_refuses(servers) is None


def pgadmin_refuses(data):
    """What pgAdmin 9.18's load-servers refuses (pgadmin/utils/__init__.py, validate_json_data), for a server that
    is not shared: the first message, or None."""
    if "Servers" not in data:
        return "'Servers' attribute not found"
    for key, server in data["Servers"].items():
        for attribute in ("Group", "Name", "Port"):
            if attribute not in server:
                return f"'{attribute}' attribute not found for server '{key}'"
        if not isinstance(server["Port"], int):
            return f"Port must be integer for server '{key}'"
        if not server.get("Username"):
            return f"'Username' attribute not found for server '{key}'"
        if "MaintenanceDB" not in server:
            return f"'MaintenanceDB' attribute not found for server '{key}'"
        if "Host" not in server and server.get("Service") is None:
            return f"'Host' or 'Service' attribute not found for server '{key}'"
    return None


def test_pgadmin_refuses_an_empty_username_so_the_kit_always_names_one():
    entry = dict(Name="orders", Group="g", Host=ENDPOINT, Port=5432, MaintenanceDB="postgres", Username="")
    assert pgadmin_refuses({"Servers": {"1": entry}}) == "'Username' attribute not found for server '1'"
    placeholder = json.loads(client_kit.pgadmin_servers([("orders", ENDPOINT, 5432, "postgres", "prefer")],
                                                        f"<you>@{REALM}"))
    assert pgadmin_refuses(placeholder) is None
