"""Meters the DynamoDB capacity units each request to a local moto server would consume.

moto answers `ReturnConsumedCapacity` with fixed figures, whatever the item sizes, so the
benchmark computes them here instead, the same way for every client (Rust SDK or boto3),
from the items in each request and response, with DynamoDB's documented rules:

- item size: the UTF-8 length of every attribute name plus its value's size (strings by
  UTF-8 length, binary by byte length, numbers 1 byte per two significant digits plus 1,
  lists and maps 3 bytes plus 1 byte per element, booleans and nulls 1 byte);
- writes: 1 WCU per started KB of each item put (a condition check, delete or update, whose
  item this meter does not see, counts 1); inside TransactWriteItems each counts twice;
- reads: 1 RCU per started 4 KB, for GetItem per item and for Query/Scan per response (the
  sum of its items), at least 1; eventually consistent reads cost half; TransactGetItems
  counts twice.

A request that DynamoDB rejects (a failed condition, a cancelled transaction) still consumes
its write capacity there, so it is counted here too.

Each DynamoDB request adds one line to the server's log:
    capacity <Operation> read=<RCU> write=<WCU>
"""
import base64
import io
import json
import math
import sys

KB = 1024


def number_size(text):
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0].strip("0")
    return (max(len(digits), 1) + 1) // 2 + 1


def value_size(value):
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(v) for k, v in data.items())
    return 0


def item_size(item):
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(item):
    return max(1, math.ceil(item_size(item) / KB)) if item else 1


def read_units(size, consistent):
    units = max(1, math.ceil(size / (4 * KB)))
    return units if consistent else units / 2


def capacity(operation, request, response):
    """(read units, write units) of one request."""
    if operation == "PutItem":
        return 0, write_units(request.get("Item"))
    if operation in ("DeleteItem", "UpdateItem"):
        return 0, 1
    if operation == "BatchWriteItem":
        return 0, sum(
            write_units(write.get("PutRequest", {}).get("Item"))
            for writes in request.get("RequestItems", {}).values()
            for write in writes
        )
    if operation == "TransactWriteItems":
        # A ConditionCheck is billed as a transactional write of the item it checks; the
        # request names only the key, so it is counted as an item under 1 KB (the
        # sequencer's lease, the one item checked here, is).
        return 0, 2 * sum(
            write_units(entry["Put"].get("Item")) if "Put" in entry else 1
            for entry in request.get("TransactItems", [])
        )
    consistent = bool(request.get("ConsistentRead"))
    if operation == "GetItem":
        return read_units(item_size(response.get("Item", {})), consistent), 0
    if operation in ("Query", "Scan"):
        return read_units(sum(item_size(item) for item in response.get("Items", [])), consistent), 0
    if operation == "BatchGetItem":
        return sum(
            read_units(item_size(item), bool(request["RequestItems"][table].get("ConsistentRead")))
            for table, items in response.get("Responses", {}).items()
            for item in items
        ), 0
    if operation == "TransactGetItems":
        return 2 * sum(
            read_units(item_size(entry.get("Item", {})), True) for entry in response.get("Responses", [])
        ), 0
    return 0, 0


class CapacityMeter:
    """WSGI middleware: passes every request through and logs its capacity units."""

    def __init__(self, application, log=sys.stderr):
        self.application = application
        self.log = log

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDBStreams_"):
            # Stream reads are billed apart (stream read request units), not as RCU/WCU.
            print(f"stream {target.split('.', 1)[-1]}", file=self.log, flush=True)
            return self.application(environ, start_response)
        if not target.startswith("DynamoDB_"):
            return self.application(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        chunks = list(self.application(environ, start_response))
        operation = target.split(".", 1)[-1]
        try:
            response = json.loads(b"".join(chunks) or b"{}")
            read, write = capacity(operation, json.loads(body or b"{}"), response)
        except (ValueError, KeyError, TypeError, AttributeError) as problem:
            print(f"capacity {operation} unmetered: {problem!r}", file=self.log, flush=True)
        else:
            print(f"capacity {operation} read={read} write={write}", file=self.log, flush=True)
        return chunks


def _self_check():
    """The sizing rules on cases worked out by hand from DynamoDB's documentation."""
    assert item_size({"a": {"S": "xyz"}}) == 4
    assert item_size({"n": {"N": "12345"}}) == 1 + 4  # 3 bytes for 5 digits, plus 1
    assert item_size({"m": {"M": {"k": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1
    big = {"k": {"S": "x" * 1024}}  # 1025 bytes: two write units
    assert capacity("PutItem", {"Item": big}, {}) == (0, 2)
    assert capacity("TransactWriteItems", {"TransactItems": [{"Put": {"Item": big}}, {"ConditionCheck": {}}]}, {}) == (0, 6)
    page = {"Items": [{"k": {"S": "x" * 4095}}, {"k": {"S": "y"}}]}  # 4098 bytes
    assert capacity("Query", {"ConsistentRead": True}, page) == (2, 0)
    assert capacity("Query", {}, page) == (1.0, 0)
    assert capacity("Query", {}, {"Items": []}) == (0.5, 0)


if __name__ == "__main__":
    _self_check()
    print("capacity_meter: sizing rules check out")
