# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's AnsibleAWSModule subclass stamps our name and version into the user agent."""

from pathlib import Path

import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.amazon.aws.plugins.module_utils import common as aws_common
from ansible_collections.aurora.kerberos.plugins.module_utils.common import AURORA_KERBEROS_COLLECTION_NAME
from ansible_collections.aurora.kerberos.plugins.module_utils.common import AURORA_KERBEROS_COLLECTION_VERSION
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule

GALAXY = Path(__file__).resolve().parents[4] / "galaxy.yml"


def test_name_and_version_match_galaxy_yml():
    galaxy = yaml.safe_load(GALAXY.read_text())
    assert AURORA_KERBEROS_COLLECTION_NAME == f"{galaxy['namespace']}.{galaxy['name']}"
    assert AURORA_KERBEROS_COLLECTION_VERSION == galaxy["version"]


def test_clients_carry_the_collection_in_their_user_agent(monkeypatch):
    monkeypatch.setitem(aws_common._collection_info_context, "name", "amazon.aws")
    with patch_module_args({"region": "us-east-1", "access_key": "AKIDEXAMPLE", "secret_key": "not-a-secret-x"}):
        module = AuroraKerberosAWSModule(argument_spec={})
    client = module.client("sts")
    agent = client.meta.config.user_agent
    assert f"{AURORA_KERBEROS_COLLECTION_NAME}/{AURORA_KERBEROS_COLLECTION_VERSION}" in agent
    assert "amazon.aws/" not in agent
