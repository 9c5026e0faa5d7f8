# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The roles' validation runs the same rules as the modules: each rule lives once, in module_utils."""

import re

from ansible_collections.aurora.kerberos.plugins.module_utils import input_rules
from ansible_collections.aurora.kerberos.plugins.module_utils import network
from ansible_collections.aurora.kerberos.plugins.module_utils import logins

# botocore.utils.validate_region_name's pattern, copied: importing botocore costs every worker that checks inputs
# about 0.05 CPU seconds a host (tests/unit hold the copy to botocore's function).
REGION_NAME = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)$")


def _directory_name(value, variable):
    if not isinstance(value, str) or not value:
        return f"{variable} must be the directory's fully qualified DNS name (got {value!r}): use e.g. corp.example.com"
    problem = input_rules.directory_name_problem(value)
    return f"{variable} {problem}" if problem else None


def _directory_short_name(value, variable):
    if isinstance(value, str) and not input_rules.directory_input_problems(short_name=value):
        return None
    return (f"{variable} must be a NetBIOS name of 1-15 characters, none of \\/:*?\"<>| and not starting with a "
            f"period (got {value!r}): use e.g. CORP")


def _admin_password(value, variable):
    problem = "is missing" if not isinstance(value, str) or not value else input_rules.admin_password_problem(value)
    if not problem:
        return None
    return (f"{variable} {problem}: set it from a vault (8-64 characters, 3 of a-z, A-Z, 0-9 and symbols other than "
            "whitespace, no \"admin\")")


GROUP_LOGIN_KEYS = ("ad_group", "roles", "databases")


def _group_logins(value, variable):
    """The shape of db_users_group_logins (a list of {ad_group, roles, databases}, the lists of names), then the
    names by kerberos_logins' own rules (logins.validate_group_logins: the group name and its marker role, role and
    database names, never rds_iam), before the directory is read."""
    example = "[{ad_group: dba, roles: [dba_role], databases: [reports]}]"
    if value is None:
        return None
    if not isinstance(value, list):
        return f"{variable} must be a list of {{ad_group, roles, databases}} (got {value!r}): use e.g. {example}"
    problems = []
    for index, entry in enumerate(value):
        where = f"{variable}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a mapping with ad_group, roles and databases (got {entry!r}): use e.g. {example}")
            continue
        unknown = sorted(str(key) for key in entry if key not in GROUP_LOGIN_KEYS)
        if unknown:
            problems.append(f"{where} has unknown keys {', '.join(unknown)}: use only {', '.join(GROUP_LOGIN_KEYS)}")
        for key in ("roles", "databases"):
            names = entry.get(key)
            if names is not None and (not isinstance(names, list) or not all(isinstance(name, str) for name in names)):
                problems.append(f"{where}.{key} must be a list of names (got {names!r}): use e.g. {key}: [reports]")
    if problems:
        return "; ".join(problems)
    try:
        # No members yet: only the entries' own names are checked here.
        logins.validate_group_logins([dict(entry, members=[]) for entry in value], "EXAMPLE.COM", option=variable)
    except logins.LoginsError as e:
        found = str(e).replace("Refused before any change: ", "").replace("Fix these group_logins entries.", "").strip(" .")
        return f"{found}: give each entry an AD group name and role and database names PostgreSQL can store"
    return None


# What amazon.aws's modules take as their connection (its doc fragment amazon.aws.common.modules); every AWS module
# of the collection's action group takes them, so module_defaults can give them all at once.
AWS_CONNECTION_KEYS = ("region", "profile", "endpoint_url", "access_key", "secret_key", "session_token",
                       "aws_ca_bundle", "validate_certs")
AWS_CONNECTION_EXAMPLE = "{region: eu-west-1, profile: prod}"


def _aws_connection(value, variable):
    """aurora_kerberos_aws: a mapping of connection options. Its values are never echoed (keys are secrets)."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        return (f"{variable} must be a mapping of the AWS connection (got a {type(value).__name__}): "
                f"use e.g. {AWS_CONNECTION_EXAMPLE}")
    unknown = sorted(str(key) for key in value if key not in AWS_CONNECTION_KEYS)
    if unknown:
        return f"{variable} has unknown keys {', '.join(unknown)}: use only {', '.join(AWS_CONNECTION_KEYS)}"
    if value.get("profile") and (value.get("access_key") or value.get("secret_key")):
        # amazon.aws refuses the pair too ("parameters are mutually exclusive: profile|access_key").
        return f"{variable} gives both a profile and keys: give one of them"
    region = value.get("region")
    if region not in (None, "") and not _region_code(region):
        return f"{variable}.region must be an AWS Region code (got {region!r}): use e.g. eu-west-1 or us-gov-west-1"
    return None


def _region_code(region):
    """botocore's own check of a Region name (what boto3 refuses), and lower case: Region codes are, and SigV4 signs
    the Region as given."""
    return isinstance(region, str) and region == region.lower() and REGION_NAME.match(region) is not None


def _removed_aws(value, variable):
    """The <role>_aws_* variables, removed before the first release: value is the names the user still sets."""
    names = sorted(value or [])
    if not names:
        return None
    options = ", ".join(sorted({name.split("_aws_", 1)[1] for name in names}))
    return (f"{', '.join(names)}: the {variable} role no longer has its own AWS connection. Set the one connection "
            f"of the whole chain instead, aurora_kerberos_aws ({options}; e.g. {AWS_CONNECTION_EXAMPLE}), which "
            "the collection's playbooks give every AWS module through module_defaults; in a playbook of your own, "
            "set module_defaults for group/aurora.kerberos.aws at play level. Then remove these variables")


RULES = {
    "rds_id": input_rules.rds_id_problem,
    "iam_role_name": input_rules.iam_role_name_problem,
    "iam_path": input_rules.iam_path_problem,
    "master_username": input_rules.master_username_problem,
    "master_password": input_rules.master_password_problem,
    "instance_class": input_rules.instance_class_problem,
    "rds_kind": input_rules.kind_problem,
    "ec2_id": network.ec2_id_problem,
    "directory_id": input_rules.directory_id_problem,
    "directory_name": _directory_name,
    "directory_short_name": _directory_short_name,
    "directory_admin_password": _admin_password,
    "group_logins": _group_logins,
    "aws_connection": _aws_connection,
    "removed_aws": _removed_aws,
}


def input_problems(checks):
    """[[rule, variable, value, {options}], ...] -> the message of each value its rule refuses, naming the variable."""
    problems = []
    for check in checks:
        rule, variable, value = check[0], check[1], check[2]
        options = check[3] if len(check) > 3 else {}
        if rule not in RULES:
            # A plain exception: ansible reports it as the filter's error. (ansible.errors is not imported, so that
            # module unit tests running in the same process keep their module-side warnings.)
            raise ValueError(f"input_problems: no rule {rule!r} (rules: {', '.join(sorted(RULES))})")
        problem = RULES[rule](value, variable, **options)
        if problem:
            problems.append(problem)
    return problems


class FilterModule:
    def filters(self):
        return {"input_problems": input_problems}
