"""Runs moto's server application one request at a time.

`moto_server` serves requests on many threads, and moto does not lock its DynamoDB
backend: two concurrent conditional transactions on the same key can then both succeed,
which real DynamoDB never allows (its transactions are serializable). Served one request
at a time, moto orders conflicting writes as DynamoDB does. moto is single-process Python
either way, so throughput is the same.

Usage: moto_serial.py HOST PORT   (HOST must be a loopback address)
"""
import ipaddress
import os
import sys

from moto.moto_server.threaded_moto_server import DomainDispatcherApplication, create_backend_app
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import run_simple


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to listen on non-loopback address {host}")
    os.environ.setdefault("MOTO_PORT", str(port))
    application = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, application, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
