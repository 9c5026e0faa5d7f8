# aurora.kerberos stand-in for get-pip.py, used by ansible-test to bootstrap pip in the
# virtualenvs it creates. The real script is downloaded from a host that offline machines
# cannot reach; this one runs the pip wheel that ships with CPython's ensurepip instead.
import glob
import os
import sys

import ensurepip

wheels = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"))
if not wheels:
    sys.exit("no bundled pip wheel found in ensurepip")
sys.path.insert(0, wheels[0])

from pip._internal.cli.main import main  # noqa: E402

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install"] + args))
