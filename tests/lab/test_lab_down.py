"""lab.py's teardown steps are idempotent whatever the kernel does meanwhile (no lab needed).

The kernel is played by a fake `run`: removing a namespace takes its veth along, at a moment of
the kernel's choosing, so a device that `ip link show` just listed may be gone when `ip link del`
comes. That is success; a failure that leaves the thing in place is not. The same steps against a
real namespace: tests/integration/test_lab_lifecycle.py.
"""

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def labpy():
    spec = importlib.util.spec_from_file_location("lab_script_under_test", ROOT / "lab" / "lab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Kernel:
    """Just enough of `ip` for network_up/network_down, with the race made certain."""

    def __init__(self, labpy, netns=True, veth=True, veth_goes_after_show=False, del_error=None):
        self.labpy = labpy
        self.netns, self.veth = netns, veth
        self.veth_goes_after_show = veth_goes_after_show  # the namespace's removal reaches the veth now
        self.del_error = del_error  # `ip link del` fails this way and the device stays
        self.calls = []

    def run(self, cmd, check=True, quiet=True, **kwargs):
        self.calls.append(cmd[1:3])
        rc, out, err = 0, "", ""
        name = self.labpy.VETH_HOST
        if cmd[1:3] == ["netns", "list"]:
            out = f"{self.labpy.NETNS} (id: 7)\n" if self.netns else ""
        elif cmd[1:3] == ["netns", "pids"]:
            pass
        elif cmd[1:3] == ["netns", "del"]:
            if self.netns:
                self.netns = False
            else:
                rc, err = 1, f'Cannot remove namespace file "/run/netns/{self.labpy.NETNS}": No such file or directory'
        elif cmd[1:3] == ["link", "show"]:
            if self.veth:
                out = f"5: {name}@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500"
                if self.veth_goes_after_show and not self.netns:
                    self.veth = False
            else:
                rc, err = 1, f'Device "{name}" does not exist.'
        elif cmd[1:3] == ["link", "del"]:
            if self.del_error:
                rc, err = 2, self.del_error
            elif self.veth:
                self.veth = False
            else:
                rc, err = 1, "Cannot find device " + f'"{name}"'
        else:
            raise AssertionError(f"unexpected command {cmd}")
        if check and rc != 0:
            raise self.labpy.LabError(f"command failed ({rc}): {' '.join(cmd)}\n{err}")
        return subprocess.CompletedProcess(cmd, rc, out, err)


def test_down_when_the_namespace_takes_the_veth_between_the_check_and_the_delete(labpy, monkeypatch):
    kernel = Kernel(labpy, veth_goes_after_show=True)
    monkeypatch.setattr(labpy, "run", kernel.run)
    labpy.network_down()
    assert (kernel.netns, kernel.veth) == (False, False)
    assert ["link", "del"] in kernel.calls  # the race really happened: del came after the device went


def test_down_twice_and_down_after_the_namespace_was_removed_first(labpy, monkeypatch):
    kernel = Kernel(labpy, netns=False, veth=True, veth_goes_after_show=True)
    monkeypatch.setattr(labpy, "run", kernel.run)
    labpy.network_down()
    labpy.network_down()
    assert (kernel.netns, kernel.veth) == (False, False)


def test_a_removal_that_really_fails_still_raises(labpy, monkeypatch):
    kernel = Kernel(labpy, netns=False, del_error="RTNETLINK answers: Operation not permitted")
    monkeypatch.setattr(labpy, "run", kernel.run)
    with pytest.raises(labpy.LabError, match="Operation not permitted"):
        labpy.network_down()


def test_up_clears_a_stale_veth_that_the_kernel_removes_meanwhile(labpy, monkeypatch):
    kernel = Kernel(labpy, netns=False, veth=False)
    monkeypatch.setattr(labpy, "run", kernel.run)
    assert labpy.until_gone(["ip", "link", "del", labpy.VETH_HOST], lambda: not labpy.link_exists(labpy.VETH_HOST)) \
        is False


def test_a_process_that_exits_between_the_check_and_the_kill_is_stopped(labpy, monkeypatch):
    monkeypatch.setattr(labpy, "pid_alive", lambda pid, expect: True)

    def kill(pid, sig):
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(labpy.os, "kill", kill)
    assert labpy.stop_pid(4242, "samba") is True


def test_a_folder_already_removed_is_removed(labpy, tmp_path):
    labpy.remove_tree(tmp_path / "never-made")
    made = tmp_path / "made"
    (made / "inner").mkdir(parents=True)
    labpy.remove_tree(made)
    assert not made.exists()
