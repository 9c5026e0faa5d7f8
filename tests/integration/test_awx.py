"""site.yml, then verify.yml, as an AWX / Automation Platform job runs them: ansible-runner over a
private data dir, with the collection installed from its built tarball (as the execution environment
holds it), and no password in anything the runner records.

The private data dir is laid out the way AWX writes it for a job:
- project/      the job template's project: the playbooks of this repository;
- inventory/    the inventory, here the lab's (inventories/lab), so the job runs whatever steps it
                lists, and follows it as it grows;
- env/envvars   what credentials inject as environment variables: an "Amazon Web Services"
                credential (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SECURITY_TOKEN) and a custom
                credential type for the lab that injects its endpoint and non-secret values (the lab
                inventory reads them with env lookups);
- env/extravars the passwords, injected as extra vars by a custom credential type (AWX keeps
                credential extra vars out of the job's stored extra_vars). They must not go in as
                environment variables: ansible-runner writes the job's environment to
                artifacts/<job>/command.
- env/cmdline   -vvvv, the job template's verbosity 4 (Connection Debug): the most a job can print.
"""

import json
import os
import re
import secrets
import shutil
import subprocess

import pytest
import yaml

from ansible_run import BIN, ROOT, install_collection
from labtools import secret_names

INVENTORY = ROOT / "inventories" / "lab"
JOBS = {"site": "site.yml", "verify": "playbooks/verify.yml"}
ENV_LOOKUP = re.compile(r"""lookup\(\s*['"](?:ansible\.builtin\.)?env['"]\s*,\s*['"](\w+)['"]\s*\)""")
WHOLE_ENV_LOOKUP = re.compile(r"\{\{\s*" + ENV_LOOKUP.pattern + r"\s*\}\}")


def inventory_vars():
    """{variable: value} of the lab inventory's group_vars and host_vars files."""
    found = {}
    for path in sorted(INVENTORY.rglob("*.yml")):
        if {"group_vars", "host_vars"} & set(path.relative_to(INVENTORY).parts):
            found.update(yaml.safe_load(path.read_text()) or {})
    return found


def inventory_secret_names(lab):
    """The lab passwords the inventory reads, wherever it reads them."""
    text = "\n".join(p.read_text() for p in INVENTORY.rglob("*.yml"))
    return set(ENV_LOOKUP.findall(text)) & set(secret_names(lab))


def secret_extravars(lab):
    """The credential's extra vars: each inventory variable that is exactly an env lookup of a lab
    password gets that password, which overrides the lookup (extra vars win)."""
    extravars, covered = {}, set()
    for key, value in inventory_vars().items():
        match = WHOLE_ENV_LOOKUP.fullmatch(value.strip()) if isinstance(value, str) else None
        if match and match.group(1) in secret_names(lab):
            extravars[key] = lab[match.group(1)]
            covered.add(match.group(1))
    # A password read any other way would reach the job only through the environment, which the
    # runner records: the inventory must read each through a top-level variable of its own.
    missing = inventory_secret_names(lab) - covered
    assert not missing, (
        f"inventories/lab reads {sorted(missing)} other than as `var: \"{{{{ lookup('ansible.builtin.env', 'NAME') }}}}\"`"
        " in group_vars: give each password a top-level variable so a credential can inject it as an extra var")
    return extravars


def job_envvars(lab, collections_path):
    aws = {  # the Amazon Web Services credential type's injectors; the lab takes any keys
        "AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AWS_SECURITY_TOKEN": secrets.token_urlsafe(40),
    }
    lab_credential = {k: v for k, v in lab.items()
                      if k not in secret_names(lab) and k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    # Set by AWX for every job; the collection comes from the execution environment.
    awx = {"ANSIBLE_COLLECTIONS_PATH": str(collections_path), "ANSIBLE_HOST_KEY_CHECKING": "False",
           "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_FORCE_COLOR": "False"}
    return {**lab_credential, **aws, **awx}


@pytest.fixture(scope="module")
def ee_collections(tmp_path_factory):
    """This checkout's collection, built and installed as the execution environment holds it."""
    built = tmp_path_factory.mktemp("tarball")
    done = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(built), str(ROOT)],
                          cwd=built, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    path = tmp_path_factory.mktemp("ee")
    install_collection(next(built.glob("aurora-kerberos-*.tar.gz")), path)
    return path


@pytest.fixture(scope="module")
def private_data_dir(lab, ee_collections, tmp_path_factory):
    pdd = tmp_path_factory.mktemp("awx")
    (pdd / "project").mkdir()
    shutil.copy(ROOT / "site.yml", pdd / "project")
    shutil.copytree(ROOT / "playbooks", pdd / "project" / "playbooks")
    shutil.copytree(INVENTORY, pdd / "inventory")
    (pdd / "env").mkdir()
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(job_envvars(lab, ee_collections)))
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(secret_extravars(lab)))
    (pdd / "env" / "cmdline").write_text("-vvvv")
    return pdd


@pytest.fixture(scope="module")
def jobs(private_data_dir):
    """Each job's artifacts directory. The runner gets no environment of the test process (which holds
    the lab's passwords): only what a job's container starts with."""
    clean_env = {"PATH": f"{BIN}{os.pathsep}{os.defpath}", "HOME": os.environ["HOME"], "LANG": "C.UTF-8"}
    artifacts = {}
    for ident, playbook in JOBS.items():
        done = subprocess.run([str(BIN / "ansible-runner"), "run", str(private_data_dir), "-p", playbook,
                               "--ident", ident], env=clean_env, capture_output=True, text=True, check=False)
        artifacts[ident] = private_data_dir / "artifacts" / ident
        assert done.returncode == 0, f"{ident}: {done.stdout[-6000:]}{done.stderr[-3000:]}"
    return artifacts


def events(artifact_dir):
    return [json.loads(p.read_text()) for p in sorted((artifact_dir / "job_events").glob("*.json"))]


def found_in(artifact_root, value):
    """The files under artifact_root holding value, as written or JSON-escaped (job events are JSON)."""
    forms = {value.encode(), json.dumps(value)[1:-1].encode()}
    return sorted(str(p.relative_to(artifact_root)) for p in artifact_root.rglob("*")
                  if p.is_file() and any(form in p.read_bytes() for form in forms))


@pytest.mark.parametrize("ident", JOBS)
def test_job_succeeds(jobs, ident):
    assert (jobs[ident] / "rc").read_text().strip() == "0"
    assert (jobs[ident] / "status").read_text().strip() == "successful"
    stats = [e for e in events(jobs[ident]) if e["event"] == "playbook_on_stats"]
    assert len(stats) == 1 and not stats[0]["event_data"]["failures"] and stats[0]["event_data"]["ok"]


def test_roles_run_from_the_installed_collection(jobs, ee_collections):
    installed = str(ee_collections / "ansible_collections" / "aurora" / "kerberos" / "roles") + "/"
    paths = {e.get("event_data", {}).get("task_path", "") for e in events(jobs["site"])}
    role_tasks = {p for p in paths if "/roles/" in p}
    assert role_tasks, "site.yml ran no role task"
    assert all(p.startswith(installed) for p in role_tasks), sorted(role_tasks)[:5]


def test_verify_job_proves_the_kerberos_login(jobs, lab):
    assert f"alice@{lab['LAB_AD_REALM']}: logged in over GSSAPI" in (jobs["verify"] / "stdout").read_text()


def test_artifacts_hold_no_password(lab, jobs, private_data_dir):
    artifact_root = private_data_dir / "artifacts"
    # The check can see: a value the jobs print is found the same way.
    assert found_in(artifact_root, f"alice@{lab['LAB_AD_REALM']}")
    # env/ is left out on purpose: AWX writes the job's inputs there (env/extravars holds every
    # credential-injected password by design) and deletes the private data dir after the job; what it
    # keeps and shows is the artifacts: events, stdout. The jobs did get the passwords:
    extravars = yaml.safe_load((private_data_dir / "env" / "extravars").read_text())
    passed = {name for name in secret_names(lab) if lab[name] in extravars.values()}
    assert passed and passed == inventory_secret_names(lab), "the jobs must get every password the inventory reads"
    for name in secret_names(lab):
        hits = found_in(artifact_root, lab[name])
        assert not hits, f"{name} appears in {hits}"


def test_aws_keys_stay_out_of_events_and_output(jobs, private_data_dir):
    """AWX injects the AWS keys as environment variables, which ansible-runner records in
    artifacts/<job>/command (AWX stores the job's environment with such values redacted). Nothing
    the playbooks print may carry them."""
    envvars = yaml.safe_load((private_data_dir / "env" / "envvars").read_text())
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        for artifact_dir in jobs.values():
            assert [f for f in found_in(artifact_dir, envvars[name]) if f != "command"] == [], name
