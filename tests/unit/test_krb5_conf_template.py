# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The cluster role's client krb5.conf maps the RDS domain of the cluster's partition to the realm:
.rds.amazonaws.com, and .rds.amazonaws.com.cn in China (AWS_FACTS.md section 3)."""

from pathlib import Path

import jinja2
import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "roles" / "cluster" / "templates" / "krb5.conf.j2"


def render(endpoint, trusted=()):
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(TEMPLATE.read_text())
    return template.render(cluster_id="orders", cluster_realm="CORP.EXAMPLE.COM", cluster_directory_dns_ips=["10.0.1.10"],
                           __cluster_info={"endpoint": endpoint, "reader_endpoint": ""},
                           cluster_client_kit_trusted_realms=list(trusted))


def domain_realm(text):
    section = text.split("[domain_realm]", 1)[1].split("[capaths]")[0]
    return [line.split("=")[0].strip() for line in section.splitlines() if "=" in line]


@pytest.mark.parametrize("endpoint, domain", [
    ("orders.cluster-abc.us-east-1.rds.amazonaws.com", ".rds.amazonaws.com"),
    ("orders.cluster-abc.us-gov-west-1.rds.amazonaws.com", ".rds.amazonaws.com"),
    ("orders.cluster-abc.cn-north-1.rds.amazonaws.com.cn", ".rds.amazonaws.com.cn"),
])
def test_domain_realm_follows_the_endpoints_partition(endpoint, domain):
    mapped = domain_realm(render(endpoint))
    assert mapped[0] == domain and endpoint in mapped
    assert not [d for d in mapped if d.startswith(".rds.") and d != domain]


def test_trusted_forests_get_their_kdcs_their_domain_and_a_direct_path_each_way():
    """A user of a forest the directory trusts gets a ticket from their own KDC, then a cross-realm ticket:
    the file names both realms, their KDCs and the path between them (lab: tests/integration/test_trust_login.py)."""
    from ansible_collections.aurora.kerberos.plugins.module_utils import doctor

    endpoint = "orders.cluster-abc.us-east-1.rds.amazonaws.com"
    conf = doctor.parse_krb5_conf(render(endpoint, [{"realm": "ONPREM.EXAMPLE.ORG", "kdcs": ["192.168.1.5", "192.168.1.6"]}]))
    assert doctor.kdc_addresses(conf["realms"]["ONPREM.EXAMPLE.ORG"]) == [("192.168.1.5", 88), ("192.168.1.6", 88)]
    assert doctor.realm_for_host(conf["domain_realm"], "dc1.onprem.example.org")[0] == "ONPREM.EXAMPLE.ORG"
    assert doctor.realm_for_host(conf["domain_realm"], endpoint)[0] == "CORP.EXAMPLE.COM"
    assert conf["capaths"] == {"ONPREM.EXAMPLE.ORG": {"CORP.EXAMPLE.COM": ["."]},
                               "CORP.EXAMPLE.COM": {"ONPREM.EXAMPLE.ORG": ["."]}}
    assert "[capaths]" not in render(endpoint)
