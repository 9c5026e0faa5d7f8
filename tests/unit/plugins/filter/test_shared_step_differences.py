# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filter aurora.kerberos.shared_step_differences: site.yml refuses a shared step whose hosts disagree."""

from ansible_collections.aurora.kerberos.plugins.filter.shared_step_differences import shared_step_differences

SAME = {"directory_name": "corp.example.com", "directory_admin_password": "S3cret!pass", "iam_role_name": "rds"}


def hostvars(**per_host):
    return {host: dict(SAME, **values) for host, values in per_host.items()}


def test_hosts_that_agree_have_no_difference():
    assert shared_step_differences(hostvars(a={}, b={}, c={}), ["a", "b", "c"], ["directory", "iam_role"]) == []


def test_a_differing_value_names_the_variable_the_hosts_and_the_fix_never_the_value():
    problems = shared_step_differences(hostvars(a={}, b={}, c={"directory_admin_password": "Other!pass1"}),
                                       ["a", "b", "c"], ["directory", "iam_role"])
    assert len(problems) == 1
    assert "directory_admin_password differs between hosts a and c" in problems[0]
    assert "aurora_kerberos_shared_steps" in problems[0]
    assert "S3cret" not in problems[0] and "Other" not in problems[0]


def test_a_variable_only_one_host_sets_is_a_difference():
    problems = shared_step_differences({"a": dict(SAME), "b": dict(SAME, directory_users=[{"name": "bob"}])},
                                       ["a", "b"], ["directory"])
    assert problems == [problems[0]] and problems[0].startswith("directory_users differs between hosts a and b")


def test_only_the_shared_roles_and_never_their_output_are_compared():
    differ = {"cluster_id": "two", "iam_role__output": {"name": "x"}, "directory__output": {"directory_id": "d-1"}}
    assert shared_step_differences(hostvars(a={}, b=differ), ["a", "b"], ["directory", "iam_role"]) == []
    assert shared_step_differences(hostvars(a={}, b=differ), ["a", "b"], ["cluster"])[0].startswith("cluster_id differs")


def test_one_host_has_nothing_to_differ_from():
    assert shared_step_differences(hostvars(a={}), ["a"], ["directory"]) == []
