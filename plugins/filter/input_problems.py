# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The roles' validation runs the same rules as the modules: each rule lives once, in module_utils."""

from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain


def _directory_name(value, variable):
    if not isinstance(value, str) or not value:
        return f"{variable} must be the directory's fully qualified DNS name (got {value!r}): use e.g. corp.example.com"
    problem = ds.directory_name_problem(value)
    return f"{variable} {problem}" if problem else None


def _directory_short_name(value, variable):
    if isinstance(value, str) and not ds.directory_input_problems(short_name=value):
        return None
    return (f"{variable} must be a NetBIOS name of 1-15 characters, none of \\/:*?\"<>| and not starting with a "
            f"period (got {value!r}): use e.g. CORP")


def _admin_password(value, variable):
    problem = "is missing" if not isinstance(value, str) or not value else ds.admin_password_problem(value)
    if not problem:
        return None
    return (f"{variable} {problem}: set it from a vault (8-64 characters, 3 of a-z, A-Z, 0-9 and symbols other than "
            "whitespace, no \"admin\")")


RULES = {
    "rds_id": rds_domain.rds_id_problem,
    "master_username": rds_domain.master_username_problem,
    "master_password": rds_domain.master_password_problem,
    "instance_class": rds_domain.instance_class_problem,
    "directory_name": _directory_name,
    "directory_short_name": _directory_short_name,
    "directory_admin_password": _admin_password,
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
