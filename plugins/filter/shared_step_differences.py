# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.shared_step_differences: a shared step of site.yml runs once with one host's values, so every
host of the play must give the same values to that step's role; this names each variable where they differ."""

_MISSING = object()


def _role_variables(host_vars, role):
    """The names of a role's variables that one host sets: <role>_*, not the role's published <role>__output."""
    return {name for name in host_vars if name.startswith(role + "_") and not name.startswith(role + "__")}


def shared_step_differences(hostvars, hosts, roles):
    """hostvars: Ansible's hostvars; hosts: the play's hosts; roles: the shared steps' roles.
    Returns one message per variable whose value is not the same on every host (values are never shown: they may
    be secrets); [] when every shared step has one set of values."""
    problems = []
    for role in roles:
        names = set()
        for host in hosts:
            names |= _role_variables(hostvars[host], role)
        for name in sorted(names):
            first_host, first_value = hosts[0], hostvars[hosts[0]].get(name, _MISSING)
            other = next((host for host in hosts[1:] if hostvars[host].get(name, _MISSING) != first_value), None)
            if other is None:
                continue
            problems.append(
                f"{name} differs between hosts {first_host} and {other}, and {role} is a shared step "
                f"(aurora_kerberos_shared_steps): it runs once, for all hosts, with one host's values. Give every "
                f"host the same {name}, or take {role} out of aurora_kerberos_shared_steps to run it for each host")
    return problems


class FilterModule:
    def filters(self):
        return {"shared_step_differences": shared_step_differences}
