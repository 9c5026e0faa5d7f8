# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filter aurora.kerberos.iam_role_changes: the iam_role role calls amazon.aws.iam_role only when it says so."""

import pytest

from ansible_collections.aurora.kerberos.plugins.filter.iam_role_changes import iam_role_changes

POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": ["directoryservice.rds.amazonaws.com",
                                                                           "rds.amazonaws.com"]}}]}
WANTED = {"assume_role_policy_document": TRUST, "path": "/", "description": "RDS directory access",
          "managed_policies": [POLICY], "tags": {"aurora.kerberos:chain": "aurora-kerberos"}}


def found(**changes):
    """A role as amazon.aws.iam_role_info returns it: AWS's own order and a single string where it has one."""
    role = {"role_name": "rds", "path": "/", "description": "RDS directory access",
            "assume_role_policy_document": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["sts:AssumeRole"],
                "Principal": {"Service": ["rds.amazonaws.com", "directoryservice.rds.amazonaws.com"]}}]},
            "managed_policies": [{"policy_arn": POLICY, "policy_name": "AmazonRDSDirectoryServiceAccess"}],
            "tags": {"aurora.kerberos:chain": "aurora-kerberos", "team": "db"}}
    role.update(changes)
    return role


def test_a_role_as_wanted_needs_no_change_whatever_the_order_and_the_tags_someone_else_added():
    assert iam_role_changes(found(), WANTED) == []


def test_no_role_is_a_change():
    assert iam_role_changes({}, WANTED) == ["role"]


@pytest.mark.parametrize("changes, expected", [
    ({"assume_role_policy_document": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "rds.amazonaws.com"}}]}},
     ["assume_role_policy_document"]),
    ({"path": "/service-role/"}, ["path"]),
    ({"description": "something else"}, ["description"]),
    ({"managed_policies": []}, ["managed_policies"]),
    ({"managed_policies": [{"policy_arn": POLICY}, {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]},
     ["managed_policies"]),
    ({"tags": {"team": "db"}}, ["tags"]),
])
def test_each_difference_is_named(changes, expected):
    assert iam_role_changes(found(**changes), WANTED) == expected


def test_a_description_iam_role_info_does_not_return_is_not_a_difference():
    role = found()
    del role["description"]
    assert iam_role_changes(role, WANTED) == []
