# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Defaults that work on a new AWS account: waits poll every 15-30 s (AWS takes minutes, and Describe calls share
the account's throttling buckets; botocore's RDS waiters use 30 s), while the lab inventory keeps 1 s; the
directory role manages users through ds-data, which a new AWS Managed Microsoft AD serves without server-side
LDAPS."""

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/defaults/main.yml"))
MODULES = sorted((ROOT / "plugins" / "modules").glob("*.py"))


def defaults(role):
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def documentation(path):
    """The module's DOCUMENTATION; {} when it does not parse (sanity's validate-modules reports that)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION":
            try:
                return yaml.safe_load(node.value.value)
            except yaml.YAMLError:
                return {}
    return {}


@pytest.mark.parametrize("role", ROLES)
def test_role_waits_poll_every_15_to_30_seconds(role):
    for name, value in defaults(role).items():
        if name.endswith("_poll_interval"):
            assert 15 <= value <= 30, f"{role}: {name} is {value}"


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_module_waits_poll_every_15_to_30_seconds(path):
    option = (documentation(path).get("options") or {}).get("poll_interval")
    if option is not None:
        assert 15 <= option["default"] <= 30, f"{path.stem}: poll_interval defaults to {option['default']}"


def test_the_ad_modules_data_access_wait_polls_every_15_seconds():
    from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_ARGUMENT_SPEC

    assert DIRECTORY_ARGUMENT_SPEC["poll_interval"]["default"] == 15


def test_the_lab_inventory_polls_every_second():
    lab = yaml.safe_load((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    assert lab["lab_poll_interval"] == 1
    for role in ROLES:
        for name in defaults(role):
            if name.endswith("_poll_interval"):
                assert lab.get(name) == "{{ lab_poll_interval }}", f"inventories/lab does not set {name}"


def test_the_directory_role_manages_users_through_ds_data_by_default():
    assert defaults("directory")["directory_users_backend"] == "ds_data"
