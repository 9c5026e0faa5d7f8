#!/usr/bin/env python3
"""The lab's AWS API endpoint: moto's server with the lab's fidelity extensions in front.

moto is pinned in requirements.txt and never edited. Where it fakes or lacks what the
collection calls (AWS_FACTS.md section 9), lab/fidelity/ patches its backends and puts a
WSGI layer in front of it (call log, fault injection, the services moto lacks).
"""

import argparse
import os
import signal
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=15030)
    args = parser.parse_args()
    # Without this, AmazonRDSDirectoryServiceAccess does not exist, and it can't be set later.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fidelity

    app = fidelity.wrap(DomainDispatcherApplication(create_backend_app))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
