# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The cluster role's client krb5.conf maps the RDS domain of the cluster's partition to the realm:
.rds.amazonaws.com, and .rds.amazonaws.com.cn in China (AWS_FACTS.md section 3)."""

from pathlib import Path

import jinja2
import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "roles" / "cluster" / "templates" / "krb5.conf.j2"


def render(endpoint):
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(TEMPLATE.read_text())
    return template.render(cluster_id="orders", cluster_realm="CORP.EXAMPLE.COM", cluster_directory_dns_ips=["10.0.1.10"],
                           __cluster_info={"endpoint": endpoint, "reader_endpoint": ""})


def domain_realm(text):
    section = text.split("[domain_realm]", 1)[1]
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
