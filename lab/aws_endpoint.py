#!/usr/bin/env python3
"""The lab's AWS API endpoint: moto's server, started in-process so the lab can extend it.

moto is pinned in requirements.txt and never edited. Where it fakes or lacks what the
collection calls (AWS_FACTS.md section 9), the lab's extensions patch its backends here,
before the server starts serving.
"""

import argparse
import os


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=15030)
    args = parser.parse_args()
    # Without this, AmazonRDSDirectoryServiceAccess does not exist, and it can't be set later.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
