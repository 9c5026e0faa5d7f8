# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run the collection's AWS modules against botocore Stubbers, shared by the module tests.

Every request is checked against the real API model, a call a test did not expect fails it,
every sleep is skipped, and exit_json/fail_json raise Exit instead of ending the process.
"""

import boto3
import botocore.waiter
import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule

SESSION = boto3.session.Session()  # one model loader for every test's clients


class Exit(Exception):
    """exit_json or fail_json was called; args[0] is the result, with `failed` set."""


def _exit_json(self, **result):
    raise Exit(dict(result, failed=False))


def _fail_json(self, msg, **result):
    raise Exit(dict(result, msg=msg, failed=True))


def raise_on_exit(monkeypatch):
    """exit_json and fail_json raise Exit (for modules that make no AWS call, too)."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)


def capture_warnings(monkeypatch):
    """The module's warnings, in a list the test can read."""
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    return warnings


def fake_client(name):
    return SESSION.client(name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def install(monkeypatch, clients, pick=None):
    """Stub `clients` ({key: client}); the module's client(name) gets clients[name], or pick(name, kwargs)'s key.
    Returns {key: Stubber}."""
    stubbers = {key: Stubber(client) for key, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    pick = pick or (lambda name, kwargs: name)
    monkeypatch.setattr(AuroraKerberosAWSModule, "client", lambda self, name, **kw: clients[pick(name, kw)])
    monkeypatch.setattr(botocore.waiter.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(cloud.time, "sleep", lambda seconds: None)
    raise_on_exit(monkeypatch)
    return stubbers


def stubbed(monkeypatch, *names):
    """The usual case: one stubbed client per service name. Returns {name: Stubber}."""
    return install(monkeypatch, {name: fake_client(name) for name in names})


def assert_all_used(stubbers):
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()


def run(main, check_mode=False, **args):
    """Run a module's main() with these options; the result it exited or failed with."""
    args = dict({"region": "us-east-1", "_ansible_check_mode": check_mode, "_ansible_diff": True}, **args)
    with patch_module_args(args), pytest.raises(Exit) as result:
        main()
    return result.value.args[0]
