"""The scale figures of benchmarks/examples/scale_bench.rs that the Python stack has, for scripts/bench.sh.

Usage: scale_python.py --events N --loads L
Persistence comes from the environment, as in the seed. Writes one aggregate of N events
(50 per save) and loads it L times by replaying every event, printing the same lines as
scale_bench (`write ...`, `load_replay ...`). eventsourcing_dynamodb 0.1.0 has no
notification log (select_notifications raises NotImplementedError), and with snapshotting on
it reads the latest *event* as a snapshot (events and snapshots share the table's keys), so
neither is measured. Requests are counted with botocore's event hooks when on DynamoDB.
"""
import argparse
import time
import uuid

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Dog(Aggregate):
    @event('Registered')
    def __init__(self, name):
        self.name = name
        self.tricks = []

    @event('TrickAdded')
    def add_trick(self, trick):
        self.tricks.append(trick)


class Requests:
    def __init__(self, app):
        self.count = None
        resource = getattr(app.recorder, "dynamo_resource", None)
        if resource is not None:
            self.count = 0
            resource.meta.client.meta.events.register("before-send.dynamodb", self.sent)

    def sent(self, **_):
        self.count += 1

    def since(self, before, runs):
        if self.count is None:
            return ""
        return f"requests_per_run={(self.count - before) / runs:.1f} "


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=2)
    args = parser.parse_args()
    app = Application()
    requests = Requests(app)

    started, before = time.perf_counter(), requests.count
    dog = Dog(f"Methuselah {uuid.uuid4()}")
    for trick in range(1, args.events):
        dog.add_trick(f"trick number {trick:05}")
        if len(dog.pending_events) == 50:
            app.save(dog)
    app.save(dog)
    seconds = time.perf_counter() - started
    print(f"write events={args.events} {requests.since(before, 1)}seconds={seconds:.4f} "
          f"events_per_second={args.events / seconds:.0f}")

    started, before = time.perf_counter(), requests.count
    for _ in range(args.loads):
        loaded = app.repository.get(dog.id)
        assert loaded.version == args.events, loaded.version
        assert len(loaded.tricks) == args.events - 1
    seconds = (time.perf_counter() - started) / args.loads
    print(f"load_replay events={args.events} {requests.since(before, args.loads)}"
          f"seconds_per_load={seconds:.4f} events_per_second={args.events / seconds:.0f}")


if __name__ == "__main__":
    main()
