#!/usr/bin/env python
"""Generate byte-compatibility fixtures using the real Python `eventsourcing`.

Run from the repository root:

    .venv/bin/python scripts/make_python_fixtures.py

Writes JSON files into tests/fixtures/python/. Every stored record is read
straight back from the application's (in-memory "popo") recorder, so the
`state_base64` bytes are exactly what eventsourcing stores.

Notes on determinism: aggregate ids are deterministic (uuid5 via create_id),
but event timestamps, and AES-GCM nonces, differ on every run.
"""

from __future__ import annotations

import base64
import json
import sys
import types
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from importlib.metadata import version

from eventsourcing.application import Application
from eventsourcing.utils import clear_topic_cache

# Note: eventsourcing.__version__ is stale ("9.3.0dev0") in the 9.3.5 wheel.
ES_VERSION = version("eventsourcing")
assert ES_VERSION == "9.3.5", ES_VERSION

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "python"

ZLIB_TOPIC = "eventsourcing.compressor:ZlibCompressor"
AES_TOPIC = "eventsourcing.cipher:AESCipher"
FIXED_KEY = base64.b64encode(bytes(range(32))).decode("ascii")

# ---------------------------------------------------------------------------
# Domain model, defined inside a module called "seed" so topics are stable.
# ---------------------------------------------------------------------------

seed = types.ModuleType("seed")
sys.modules["seed"] = seed

SEED_SOURCE = '''
from datetime import datetime
from decimal import Decimal
from uuid import UUID, NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate, event


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


class Account(Aggregate):
    @event('Opened')
    def __init__(self, owner_id: UUID, balance: Decimal, opened_at: datetime, tags: list):
        self.owner_id = owner_id
        self.balance = balance
        self.opened_at = opened_at
        self.tags = tags
        self.deposits = []

    @staticmethod
    def create_id(owner_id):
        return uuid5(NAMESPACE_URL, f'/accounts/{owner_id}')

    @event('Deposited')
    def deposit(self, amount: Decimal, note: str, ref: UUID):
        self.balance += amount
        self.deposits.append((amount, note, ref))


class Clock(Aggregate):
    @event('Started')
    def __init__(self):
        self.ticks = []

    @staticmethod
    def create_id():
        return uuid5(NAMESPACE_URL, '/clocks/1')

    @event('Ticked')
    def tick(self, at: datetime):
        self.ticks.append(at)
'''

PROFILE_V1_SOURCE = '''
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate, event


class Profile(Aggregate):
    @event('Created')
    def __init__(self, name):
        self.name = name

    @staticmethod
    def create_id(name):
        return uuid5(NAMESPACE_URL, f'/profiles/{name}')

    @event('Renamed')
    def rename(self, name):
        self.name = name
'''

PROFILE_V2_SOURCE = '''
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate, event


class Profile(Aggregate):
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state):
        state['language'] = 'en'

    class Created(Aggregate.Created):
        name: str
        language: str
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state):
            state['language'] = 'en'

    class Renamed(Aggregate.Event):
        name: str
        language: str
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state):
            state['language'] = 'en'

    @event(Created)
    def __init__(self, name, language):
        self.name = name
        self.language = language

    @staticmethod
    def create_id(name):
        return uuid5(NAMESPACE_URL, f'/profiles/{name}')

    @event(Renamed)
    def rename(self, name, language):
        self.name = name
        self.language = language
'''

exec(compile(SEED_SOURCE, "seed", "exec"), seed.__dict__)  # noqa: S102


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def plain_utf8(state: bytes) -> str | None:
    """Return the state as text when it is plain UTF-8 JSON, else None."""
    try:
        text = state.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    return text


def record_json(stored, **extra) -> dict:
    rec = {
        "originator_id": str(stored.originator_id),
        "originator_version": stored.originator_version,
        "topic": stored.topic,
        "state_base64": base64.b64encode(stored.state).decode("ascii"),
        "state_utf8": plain_utf8(stored.state),
    }
    rec.update(extra)
    return rec


def decoded_utf8(app: Application, stored) -> str:
    """Undo cipher/compressor with the app's own mapper strategies."""
    state = stored.state
    if app.mapper.cipher:
        state = app.mapper.cipher.decrypt(state)
    if app.mapper.compressor:
        state = app.mapper.compressor.decompress(state)
    return state.decode("utf-8")


def all_stored(app: Application):
    return app.recorder.select_notifications(1, 100)


def write(name: str, doc: dict) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    doc = {
        "description": doc.pop("description"),
        "eventsourcing_version": ES_VERSION,
        **doc,
    }
    path = OUT_DIR / name
    with path.open("w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"== wrote {path.relative_to(OUT_DIR.parent.parent.parent)}")
    for r in doc["records"]:
        shown = r["state_utf8"] if r["state_utf8"] is not None else (
            "<binary> " + r["state_base64"][:40] + "..."
        )
        print(f"   v{r['originator_version']} {r['topic']}: {shown}")


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


def dog_fixture(name: str, env: dict, description: str) -> None:
    app = Application(env=dict(env))
    dog = seed.Dog("Fido")
    dog.add_trick("roll over")
    dog.add_trick("play dead")
    app.save(dog)
    stored = app.recorder.select_events(dog.id)
    assert [s.topic for s in stored] == [
        "seed:Dog.Registered",
        "seed:Dog.TrickAdded",
        "seed:Dog.TrickAdded",
    ], [s.topic for s in stored]
    # Check the stored events round-trip through the real library.
    copy = app.repository.get(dog.id)
    assert copy.tricks == ["roll over", "play dead"], copy.tricks
    assert copy.name == "Fido"
    doc = {
        "description": description,
        "env": dict(env),
        "records": [record_json(s) for s in stored],
        "expected_tricks": ["roll over", "play dead"],
    }
    if env:
        doc["decoded_states_utf8"] = [decoded_utf8(app, s) for s in stored]
    write(name, doc)


def typed_fields_fixture() -> None:
    app = Application(env={})
    owner_id = UUID("12345678-1234-5678-1234-567812345678")
    balance = Decimal("10.50")
    opened_at = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    note = 'café ☕ "quoted" \\ back\nslash\ttab\x01ctrl'
    ref = UUID("00000000-0000-0000-0000-0000000000ff")
    tick_at = datetime(2024, 1, 2, 3, 4, 5, 0, tzinfo=timezone.utc)

    account = seed.Account(owner_id=owner_id, balance=balance,
                           opened_at=opened_at, tags=["a", "b"])
    account.deposit(Decimal("0.05"), note, ref)
    clock = seed.Clock()
    clock.tick(tick_at)
    app.save(account, clock)

    stored = all_stored(app)
    topics = [s.topic for s in stored]
    assert topics == [
        "seed:Account.Opened",
        "seed:Account.Deposited",
        "seed:Clock.Started",
        "seed:Clock.Ticked",
    ], topics

    acc2 = app.repository.get(account.id)
    assert acc2.owner_id == owner_id and acc2.balance == Decimal("10.55")
    assert acc2.opened_at == opened_at and acc2.tags == ["a", "b"]
    assert acc2.deposits == [(Decimal("0.05"), note, ref)]
    clk2 = app.repository.get(clock.id)
    assert clk2.ticks == [tick_at]

    doc = {
        "description": (
            "Account (Opened, Deposited) and Clock (Started, Ticked) aggregates "
            "in module 'seed', default JSONTranscoder with the Application's "
            "transcodings: UUID -> {\"_type_\":\"uuid_hex\",\"_data_\":<32 hex "
            "chars, no hyphens>}, Decimal -> {\"_type_\":\"decimal_str\","
            "\"_data_\":str(d)}, datetime -> {\"_type_\":\"datetime_iso\","
            "\"_data_\":dt.isoformat()} (fraction omitted when microsecond==0). "
            "JSON is compact (separators ',' and ':') with ensure_ascii=False: "
            "non-ASCII is raw UTF-8, control chars are \\uXXXX escaped except "
            "\\n \\t etc. 'expected' gives field values as plain strings "
            "(UUIDs hyphenated as Python str(UUID))."
        ),
        "env": {},
        "records": [record_json(s) for s in stored],
        "expected": {
            "account_id": str(account.id),
            "clock_id": str(clock.id),
            "Account.Opened": {
                "owner_id": str(owner_id),
                "owner_id_hex": owner_id.hex,
                "balance": str(balance),
                "opened_at": opened_at.isoformat(),
                "tags": ["a", "b"],
            },
            "Account.Deposited": {
                "amount": "0.05",
                "note": note,
                "ref": str(ref),
                "ref_hex": ref.hex,
            },
            "Account.final_balance": str(acc2.balance),
            "Clock.Ticked": {"at": tick_at.isoformat()},
        },
    }
    write("typed_fields.json", doc)


def class_version_fixture() -> None:
    app = Application(env={"IS_SNAPSHOTTING_ENABLED": "y"})

    # Version 1 of the Profile classes.
    exec(compile(PROFILE_V1_SOURCE, "seed", "exec"), seed.__dict__)  # noqa: S102
    ProfileV1 = seed.Profile
    p1 = ProfileV1("Alice")
    p1.rename("Alicia")
    app.save(p1)
    n_v1 = len(all_stored(app))

    # Version 2 of the same classes (same topics). The topic registry refuses
    # to map one topic to two different classes, so clear it first.
    clear_topic_cache()
    exec(compile(PROFILE_V2_SOURCE, "seed", "exec"), seed.__dict__)  # noqa: S102
    ProfileV2 = seed.Profile
    assert ProfileV2 is not ProfileV1

    # Old aggregate reconstructed with v2 classes: v1 events are upcast.
    old = app.repository.get(p1.id)
    assert type(old) is ProfileV2
    assert old.name == "Alicia" and old.language == "en", old.__dict__
    old.rename("Ally", "fr")
    p2 = ProfileV2("Bob", "de")
    p2.rename("Robert", "de")
    app.save(old, p2)

    stored = all_stored(app)
    records = []
    for i, s in enumerate(stored):
        cv = 1 if i < n_v1 else 2
        state = json.loads(s.state)
        if cv == 1:
            assert "class_version" not in state, state
        else:
            assert state["class_version"] == 2, state
            assert list(state)[-1] == "class_version", list(state)
        records.append(record_json(s, class_version=cv))

    # A v2 aggregate snapshot too (aggregate state class_version).
    app.take_snapshot(p2.id)
    snaps = app.snapshots.recorder.select_events(p2.id)
    snapshot_records = [record_json(s, class_version=2) for s in snaps]

    reread = app.repository.get(p1.id)
    assert (reread.name, reread.language) == ("Ally", "fr")

    doc = {
        "description": (
            "Event class versioning. Profile v1 (Created(name), Renamed(name)) "
            "then Profile v2 with class_version=2 on the aggregate and on "
            "Created/Renamed, which gain field 'language' (upcast_v1_v2 sets "
            "language='en'). Topics are identical across versions "
            "(seed:Profile.Created, seed:Profile.Renamed). Storage rule "
            "observed in eventsourcing 9.3.5 (Mapper.to_stored_event): when "
            "the event class's class_version > 1 the mapper adds the key "
            "\"class_version\" (JSON integer) to the event state AFTER all "
            "other attributes, so it is the LAST key of the top-level JSON "
            "object; for version 1 the key is ABSENT (never written as 1). "
            "On read, a missing key means version 1. The same rule applies to "
            "snapshots: Snapshot.take appends \"class_version\" as the last key "
            "of the NESTED aggregate 'state' object (not the snapshot's "
            "top-level object) when the aggregate class has class_version > 1; "
            "the Snapshot class itself is version 1, so no top-level key; see "
            "'snapshot_records'. Records 0-1 are v1 events of aggregate "
            "/profiles/Alice; record 2 is a v2 Renamed appended to that same "
            "aggregate (version 3); records 3-4 are v2 events of /profiles/Bob."
        ),
        "env": {},
        "records": records,
        "snapshot_records": snapshot_records,
        "expected": {
            "alice_id": str(p1.id),
            "bob_id": str(p2.id),
            "alice_final": {"name": "Ally", "language": "fr"},
            "alice_after_upcast_of_v1_events": {"name": "Alicia", "language": "en"},
            "bob_final": {"name": "Robert", "language": "de"},
        },
    }
    write("class_version.json", doc)


def snapshot_fixture() -> None:
    env = {"IS_SNAPSHOTTING_ENABLED": "y"}
    app = Application(env=dict(env))
    dog = seed.Dog("Fido")
    dog.add_trick("roll over")
    dog.add_trick("play dead")
    app.save(dog)
    app.take_snapshot(dog.id)
    snaps = app.snapshots.recorder.select_events(dog.id)
    assert len(snaps) == 1
    snap = snaps[0]
    state = json.loads(snap.state)
    print("   snapshot topic:", snap.topic, "state keys:", list(state),
          "inner state keys:", list(state["state"]))
    restored = app.repository.get(dog.id)
    assert restored.tricks == ["roll over", "play dead"]
    doc = {
        "description": (
            "Snapshot of the seed Dog ('Fido', tricks 'roll over','play dead') "
            "taken with app.take_snapshot(dog_id) and read from "
            "app.snapshots.recorder. Stored topic is "
            f"'{snap.topic}' (the snapshot class, not the aggregate); "
            "originator_version is the aggregate version (3). State JSON keys, "
            f"in order: {list(state)}. 'topic' is the aggregate class topic "
            f"('{state['topic']}'); 'state' is the aggregate __dict__ minus "
            "_id, _version, _pending_events, with keys in order "
            f"{list(state['state'])} (_created_on/_modified_on as "
            "datetime_iso objects)."
        ),
        "env": dict(env),
        "records": [record_json(snap)],
        "event_records": [record_json(s) for s in app.recorder.select_events(dog.id)],
        "expected_tricks": ["roll over", "play dead"],
    }
    write("snapshot.json", doc)


def main() -> None:
    dog_fixture(
        "seed_dog.json",
        {},
        "Seed Dog aggregate in module 'seed': Dog('Fido') then add_trick('roll "
        "over'), add_trick('play dead'). Default JSONTranscoder, no compressor, "
        "no cipher; state bytes are compact UTF-8 JSON.",
    )
    typed_fields_fixture()
    dog_fixture(
        "zlib.json",
        {"COMPRESSOR_TOPIC": ZLIB_TOPIC},
        "Seed Dog with ZlibCompressor: state = zlib.compress(json) (default "
        "level, zlib header 0x78 0x9c). 'decoded_states_utf8' holds the "
        "decompressed JSON for each record.",
    )
    dog_fixture(
        "aes.json",
        {"CIPHER_TOPIC": AES_TOPIC, "CIPHER_KEY": FIXED_KEY},
        "Seed Dog with AESCipher (AES-256-GCM, key = base64(bytes(range(32)))). "
        "state = nonce(12 random bytes) + tag(16 bytes) + ciphertext, no AAD. "
        "'decoded_states_utf8' holds the decrypted JSON for each record.",
    )
    dog_fixture(
        "zlib_aes.json",
        {
            "COMPRESSOR_TOPIC": ZLIB_TOPIC,
            "CIPHER_TOPIC": AES_TOPIC,
            "CIPHER_KEY": FIXED_KEY,
        },
        "Seed Dog with ZlibCompressor and AESCipher: state = nonce(12) + "
        "tag(16) + AES-GCM(zlib.compress(json)); compression happens before "
        "encryption. 'decoded_states_utf8' holds the decrypted, decompressed "
        "JSON.",
    )
    class_version_fixture()
    snapshot_fixture()


if __name__ == "__main__":
    main()
