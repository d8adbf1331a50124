"""Runs moto's server application one request at a time, with cheap transaction rollback.

1. `moto_server` serves requests on many threads, and moto does not lock its DynamoDB
   backend: two concurrent conditional transactions on the same key can then both succeed,
   which real DynamoDB never allows (its transactions are serializable). Served one request
   at a time, moto orders conflicting writes as DynamoDB does. moto is single-process Python
   either way, so throughput is the same.
2. moto's TransactWriteItems backs up a whole table with copy.deepcopy once per item of the
   transaction, so each transaction costs time in proportion to the table's size. Here the
   backup is of the items the transaction touches only, restored the same way on failure:
   the outcome of every transaction is unchanged, its cost no longer grows with the table.

Usage: moto_serial.py HOST PORT   (HOST must be a loopback address)
With MOTO_CAPACITY_METER=1, it logs the capacity units of each request (capacity_meter.py).
"""
import copy
import ipaddress
import os
import sys
import types

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.moto_server.threaded_moto_server import DomainDispatcherApplication, create_backend_app
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import run_simple

_moto_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items
# moto's module sees this in place of `copy`: tables are no longer deep-copied.
_no_table_copies = types.SimpleNamespace(
    deepcopy=lambda value, *args: value if isinstance(value, Table) else copy.deepcopy(value, *args),
    copy=copy.copy,
)


def _item_key(table, operation):
    if "Key" in operation:
        return operation["Key"]
    item = operation.get("Item", {})
    key = {table.hash_key_attr: item.get(table.hash_key_attr)}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = item.get(table.range_key_attr)
    return key


def transact_write_items(self, transact_items):
    backups = []
    for entry in transact_items:
        operation = next(iter(entry.values()), {})
        table = self.tables.get(operation.get("TableName"))
        if table is None:
            continue
        try:
            key = _item_key(table, operation)
            current = self.get_item(table.name, key)
        except Exception:  # an invalid request: moto's own checks will reject it
            continue
        backups.append((table.name, key, None if current is None else current.to_json()["Attributes"]))
    dynamodb_models.copy = _no_table_copies
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        for table_name, key, attributes in reversed(backups):
            if attributes is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attributes)
        raise
    finally:
        dynamodb_models.copy = copy


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to listen on non-loopback address {host}")
    os.environ.setdefault("MOTO_PORT", str(port))
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items
    application = DomainDispatcherApplication(create_backend_app)
    if os.environ.get("MOTO_CAPACITY_METER"):
        from capacity_meter import CapacityMeter

        application = CapacityMeter(application)
    run_simple(host, port, application, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
