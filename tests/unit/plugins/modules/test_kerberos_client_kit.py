# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""kerberos_client_kit's krb5_conf_path: the cluster role's one writer of the client krb5.conf (the kit's own),
with check mode, diff, its mode and a second run that changes nothing."""

import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from aws_stubs import Exit, raise_on_exit
from ansible_collections.aurora.kerberos.plugins.modules import kerberos_client_kit

KIT = {"name": "orders", "realm": "CORP.EXAMPLE.COM", "kdcs": ["10.0.1.10", "10.0.2.10"],
       "endpoints": ["orders.cluster-abc.us-east-1.rds.amazonaws.com"]}


@pytest.fixture(autouse=True)
def exits(monkeypatch):
    raise_on_exit(monkeypatch)


def run(check_mode=False, **args):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)), pytest.raises(Exit) as result:
        kerberos_client_kit.main()
    return result.value.args[0]


def test_writes_the_kits_krb5_conf_to_krb5_conf_path_then_changes_nothing(tmp_path):
    path = tmp_path / "etc" / "krb5.conf.orders"
    result = run(krb5_conf_path=str(path), **KIT)
    assert result["changed"] and result["krb5_conf_changed"]
    assert path.read_text() == result["kit"]["files"]["krb5.conf"]
    assert "default_realm = CORP.EXAMPLE.COM" in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert result["diff"] == [{"before_header": str(path), "after_header": str(path), "before": "",
                               "after": path.read_text()}]
    assert not any(result["files"].values())  # without dest the kit's other files are not written
    again = run(krb5_conf_path=str(path), **KIT)
    assert not again["changed"] and not again["krb5_conf_changed"] and again["diff"] == []


def test_check_mode_predicts_the_write_and_writes_nothing(tmp_path):
    path = tmp_path / "krb5.conf"
    result = run(check_mode=True, krb5_conf_path=str(path), **KIT)
    assert result["changed"] and result["krb5_conf_changed"]
    assert not path.exists()


def test_a_changed_file_is_rewritten_and_its_mode_restored(tmp_path):
    path = tmp_path / "krb5.conf"
    path.write_text("[libdefaults]\n    default_realm = OLD.EXAMPLE.COM\n")
    os.chmod(path, 0o600)
    result = run(krb5_conf_path=str(path), **KIT)
    assert result["krb5_conf_changed"] and result["diff"][0]["before"].startswith("[libdefaults]")
    assert "CORP.EXAMPLE.COM" in path.read_text() and stat.S_IMODE(os.stat(path).st_mode) == 0o644
    os.chmod(path, 0o600)  # same content, wrong mode: changed, no content diff
    result = run(krb5_conf_path=str(path), **KIT)
    assert result["changed"] and result["diff"] == [] and stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_with_dest_the_kit_and_krb5_conf_path_hold_the_same_krb5_conf(tmp_path):
    result = run(dest=str(tmp_path / "kit"), krb5_conf_path=str(tmp_path / "krb5.conf"), **KIT)
    assert result["files"]["krb5.conf"] and result["krb5_conf_changed"]
    assert (tmp_path / "kit" / "krb5.conf").read_text() == (tmp_path / "krb5.conf").read_text()


def test_files_without_a_krb5_conf_are_refused_before_anything_is_written(tmp_path):
    result = run(dest=str(tmp_path / "kit"), files={"jdbc.txt": "jdbc:postgresql://x/postgres\n"},
                 krb5_conf_path=str(tmp_path / "krb5.conf"))
    assert result["failed"] and "krb5_conf_path" in result["msg"]
    assert not (tmp_path / "kit").exists() and not (tmp_path / "krb5.conf").exists()
