# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What ad_user and ad_group share: how to reach the directory (ldap or ds_data) and its domain."""

import os
import re

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.botocore import HAS_BOTO3

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import NETBIOS_FORBIDDEN
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import HAS_LDAP3
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LDAP3_IMPORT_ERROR
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import AdLdapError
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import base_dn_from_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import connect
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import is_dn
from ansible_collections.aurora.kerberos.plugins.module_utils.ds import DIRECTORY_ID
from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import AnsibleDSDataError
from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import open_directory_data

DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

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


def directory_settings(params, kind):
    """(settings, problems) of the options that say where the user or group (kind) lives and how to reach it:
    realm, base DN, short name and OU, each problem naming its option."""
    problems = []
    domain, labels = domain_labels(params["domain"])
    if labels is None:
        problems.append(f"domain {params['domain']!r} must be the directory's DNS name, such as corp.example.com")
        labels = [domain]
    base_dn = base_dn_from_domain(domain)
    short_name = params["short_name"] or labels[0].upper()
    if not 1 <= len(short_name) <= 15 or set(short_name) & NETBIOS_FORBIDDEN:
        problems.append(f"short_name {short_name!r} must be a NetBIOS name: 1 to 15 characters, no dots or spaces")
    ou = params["ou"] or f"OU=Users,OU={short_name},{base_dn}"
    if params["backend"] == "ldap":
        if not is_dn(ou):
            problems.append(f"ou {ou!r} is not a DN; give one such as OU=Users,OU={short_name},{base_dn}")
        elif not ou.replace(" ", "").lower().endswith(base_dn.lower()):
            problems.append(f"ou {ou!r} is not under the domain's base DN {base_dn}: check ou and domain")
        if not 1 <= params["ldap_port"] <= 65535:
            problems.append(f"ldap_port {params['ldap_port']} is not a TCP port")
        ca_file = params["ldap_ca_file"]
        if params["validate_certs"] and not ca_file:
            problems.append("ldap_ca_file is required with validate_certs=true: give the CA that signed the domain "
                            "controller's LDAPS certificate")
        elif params["validate_certs"] and not (os.path.isfile(ca_file) and os.access(ca_file, os.R_OK)):
            problems.append(f"ldap_ca_file {ca_file} is not a readable file")
    else:
        if params["ou"]:
            problems.append(f"ou is not supported with backend=ds_data: the API creates {kind}s in OU=Users,"
                            f"OU={short_name},{base_dn}. Leave ou out or use backend=ldap")
        if not DIRECTORY_ID.match(params["directory_id"]):
            problems.append(f"directory_id {params['directory_id']!r} is not a directory id: use d- and 10 hex digits")
    return dict(realm=domain.upper(), base_dn=base_dn, short_name=short_name, ou=ou), problems


def run_on_directory(module, settings, ldap_directory, run):
    """Reach the directory the backend option names (an ldap_directory over LDAPS, or ds-data with its data access
    ensured), run the task there (run_user or run_group, which serve both) and exit with its result."""
    params = module.params
    if params["backend"] == "ds_data":
        if not HAS_BOTO3:
            module.fail_json(msg=missing_required_lib("boto3 and botocore"))
        try:
            data, access_changed, readable = open_directory_data(module, params["directory_id"],
                                                                 params["enable_data_access"])
            result = run(module, data, settings, readable)
        except AnsibleDSDataError as e:
            module.fail_json_aws_error(e)
        result["changed"] = result["changed"] or access_changed
    else:
        if not HAS_LDAP3:
            module.fail_json(msg=missing_required_lib("ldap3"), exception=LDAP3_IMPORT_ERROR)
        try:
            directory = ldap_directory(ldap_connection(params, settings["realm"]), settings["base_dn"])
            try:
                result = run(module, directory, settings)
            finally:
                directory.close()
        except AdLdapError as e:
            module.fail_json(msg=str(e))
    module.exit_json(**result)
