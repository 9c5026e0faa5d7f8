#!/usr/bin/env bash
# One-command setup for a Debian 12 machine: system packages, the pinned .venv, and the
# ansible-test bootstrap. Idempotent: each step checks first and says what it did.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# libfaketime: tests/integration/test_doctor.py runs the doctor with the client's clock 10 minutes off.
# default-jre-headless, default-jdk-headless, libpostgresql-jdbc-java: the same test logs in through pgjdbc with
# the client kit's jaas.conf (a one-file Java program run as source, which needs the JDK's jdk.compiler module).
APT_PACKAGES=(krb5-user samba samba-ad-provision samba-dsdb-modules samba-vfs-modules postgresql iproute2 gcc libfaketime
              default-jre-headless default-jdk-headless libpostgresql-jdbc-java)

say() { printf 'setup: %s\n' "$*"; }

# 0. What setup needs: stop at once, in one line, when it is not there --------------------
[ -r /etc/debian_version ] || { say "needs Debian 12 (no /etc/debian_version here): the lab uses Debian's samba, krb5 and postgresql packages"; exit 1; }
command -v dpkg-query >/dev/null && command -v apt-get >/dev/null || { say "needs dpkg and apt-get (Debian's package tools) to install its packages"; exit 1; }
command -v "$PYTHON" >/dev/null || { say "needs $PYTHON (Python 3.11 with venv): set PYTHON=/path/to/python3.11"; exit 1; }

# 1. Debian packages ---------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "Debian packages already installed: ${APT_PACKAGES[*]}"
else
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]}"
    say "run as root, or install them first: apt-get install --no-install-recommends ${missing[*]}"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  # Keep Debian from starting the packaged daemons: the lab runs its own, by pid.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # samba-ad-provision, samba-dsdb-modules and samba-vfs-modules are only Recommends of samba;
  # provisioning an AD DC fails without each of them.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "installed: ${missing[*]}"
fi

# 2. The pinned virtualenv ------------------------------------------------------------------
want=$(sha256sum requirements.txt | cut -d' ' -f1)
have=$(cat .venv/.requirements.sha256 2>/dev/null || true)
if [ -x .venv/bin/python ] && [ "$want" = "$have" ]; then
  say ".venv is up to date with requirements.txt"
else
  # A venv this run creates and cannot finish is removed: no half-made .venv is left behind.
  fresh_venv=0
  [ -x .venv/bin/python ] || { say "creating .venv with $($PYTHON --version)"; fresh_venv=1; "$PYTHON" -m venv .venv; }
  say "installing requirements.txt into .venv (about 60 s on a fresh machine)"
  if ! { .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt && .venv/bin/pip check >/dev/null; }; then
    [ "$fresh_venv" = 1 ] && rm -rf .venv
    say "pip could not install requirements.txt (see above); $([ "$fresh_venv" = 1 ] && echo 'removed the half-made .venv' || echo '.venv keeps its previous packages')"
    exit 1
  fi
  echo "$want" > .venv/.requirements.sha256
  say ".venv ready: $(.venv/bin/ansible --version | sed -n 1p)"
fi

# 3. ansible-test bootstrap -----------------------------------------------------------------
# ansible-test --venv downloads a get-pip script from a host this kind of machine cannot reach.
# It looks in its cache first, so we put a stand-in there that installs from the bundled pip.
pip_ver=$(sed -n "s/^ *pip='\\([0-9.]*\\)',$/\\1/p" \
  .venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -1 | tr . _)
[ -n "$pip_ver" ] || { say "cannot find ansible-test's pip version"; exit 1; }
cache="$HOME/.ansible/test/cache/get_pip_${pip_ver}.py"
if [ -f "$cache" ] && grep -q 'aurora.kerberos stand-in' "$cache"; then
  say "ansible-test pip bootstrap already in place"
else
  mkdir -p "$(dirname "$cache")"
  cp scripts/get_pip_standin.py "$cache"
  say "wrote the ansible-test pip bootstrap to $cache"
fi

say "done"
