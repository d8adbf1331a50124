"""The seed's Dog in Python eventsourcing on DynamoDB, for the Rust interoperability tests.

Usage: interop.py read NAME   -> prints {"tricks": [...], "version": N} of dog NAME
       interop.py write NAME TRICK...  -> registers dog NAME and adds the tricks
The environment supplies PERSISTENCE_MODULE, DYNAMO_ENDPOINT_URL and DYNAMO_TABLE.
"""
import json
import sys
import types
from uuid import NAMESPACE_URL, uuid5

SOURCE = '''
from eventsourcing.domain import Aggregate, event
from uuid import uuid5, NAMESPACE_URL


class Dog(Aggregate):
    @event('Registered')
    def __init__(self, name):
        self.name = name
        self.tricks = []

    @staticmethod
    def create_id(name):
        return uuid5(NAMESPACE_URL, f'/dogs/{name}')

    @event('TrickAdded')
    def add_trick(self, trick):
        self.tricks.append(trick)
'''

# The classes live in a module called "seed", so their topics are seed:Dog.Registered etc.
seed = types.ModuleType("seed")
sys.modules["seed"] = seed
exec(compile(SOURCE, "seed.py", "exec"), seed.__dict__)

from eventsourcing.application import Application  # noqa: E402


def main():
    mode, name, *tricks = sys.argv[1:]
    app = Application()
    if mode == "read":
        dog = app.repository.get(uuid5(NAMESPACE_URL, f"/dogs/{name}"))
        print(json.dumps({"tricks": dog.tricks, "version": int(dog.version)}))
    elif mode == "write":
        dog = seed.Dog(name)
        for trick in tricks:
            dog.add_trick(trick)
        app.save(dog)
        print(json.dumps({"id": str(dog.id), "version": int(dog.version)}))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
