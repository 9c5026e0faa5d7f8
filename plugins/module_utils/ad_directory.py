# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What ad_user and ad_group share: how to reach the directory (ldap or ds_data) and its domain."""

import re

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import connect

DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
DIRECTORY_ID = re.compile(r"^d-[0-9a-f]{10}$")

# The options of both backends; AuroraKerberosAWSModule adds the AWS ones (ignored with backend=ldap).
DIRECTORY_ARGUMENT_SPEC = dict(
    domain=dict(type="str", required=True),
    short_name=dict(type="str"),
    backend=dict(type="str", choices=["ldap", "ds_data"], default="ldap"),
    directory_id=dict(type="str"),
    enable_data_access=dict(type="bool", default=False),
    poll_interval=dict(type="int", default=15),
    consistency_timeout=dict(type="int", default=60),
    ldap_server=dict(type="str"),
    ldap_port=dict(type="int", default=636),
    ldap_ca_file=dict(type="path"),
    ldap_server_name=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
    bind_user=dict(type="str", default="Admin"),
    bind_password=dict(type="str", no_log=True),
)

DIRECTORY_REQUIRED_IF = [
    ("backend", "ldap", ("ldap_server", "bind_password")),
    ("backend", "ds_data", ("directory_id",)),
]


def domain_labels(domain):
    """(the domain without a trailing dot, its labels), or (domain, None) when it is not a DNS name."""
    domain = domain.strip().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL.match(label) for label in labels):
        return domain, None
    return domain, labels


def ldap_connection(params, realm):
    """An LDAPS connection bound with the module's ldap_* and bind_* options."""
    return connect(params["ldap_server"], params["bind_user"], params["bind_password"], realm,
                   port=params["ldap_port"], ca_file=params["ldap_ca_file"], server_name=params["ldap_server_name"],
                   validate_certs=params["validate_certs"])
