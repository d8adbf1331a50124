"""The seed workload in Python eventsourcing, for scripts/bench.sh to compare with.

Usage: bench_python.py --dogs D --tricks T
Persistence comes from the environment (PERSISTENCE_MODULE etc.), as in the seed.
Prints `commands=<D*(T+2)> seconds=<wall seconds>` last.
"""
import argparse
import time
import uuid

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class TrainingSchool(Application):
    def register(self, name):
        dog = Dog(name)
        self.save(dog)

    def add_trick(self, name, trick):
        dog = self.repository.get(Dog.create_id(name))
        dog.add_trick(trick)
        self.save(dog)

    def get_tricks(self, name):
        dog = self.repository.get(Dog.create_id(name))
        return dog.tricks


class Dog(Aggregate):
    @event('Registered')
    def __init__(self, name):
        self.name = name
        self.tricks = []

    @staticmethod
    def create_id(name):
        return uuid.uuid5(uuid.NAMESPACE_URL, f'/dogs/{name}')

    @event('TrickAdded')
    def add_trick(self, trick):
        self.tricks.append(trick)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dogs", type=int, default=1000)
    parser.add_argument("--tricks", type=int, default=10)
    args = parser.parse_args()
    run = uuid.uuid4().hex
    names = [f"dog-{d}-{run}" for d in range(args.dogs)]
    school = TrainingSchool()
    started = time.perf_counter()
    for name in names:
        school.register(name)
    for trick in range(args.tricks):
        for name in names:
            school.add_trick(name, f"trick-{trick}")
    expected = [f"trick-{t}" for t in range(args.tricks)]
    for name in names:
        assert school.get_tricks(name) == expected, name
    seconds = time.perf_counter() - started
    print(f"commands={args.dogs * (args.tricks + 2)} seconds={seconds:.6f}")


if __name__ == "__main__":
    main()
