"""`urbis data`: data keys, streams, records, grants, access log, replication, datasets.

Data keys (X25519, for epoch keys wrapped to a department) live in HOME/data-keys/
<department>.key, readable by their owner only; signing keys stay in the key store.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    emit,
    fail,
    home_path,
    passphrase_for,
    read_bytes,
    read_json,
    read_text,
    reported,
    stdout,
    table,
    trusted_validators,
)
from urbis.cli.common import client as node_client
from urbis.modules.data import crypto
from urbis.modules.data.sdk import (
    DataSession,
    Producer,
    Reader,
    load_data_key,
    measure_quality,
    new_data_key,
    public_bytes,
    publish_dataset,
    range_root,
    replicate,
    save_data_key,
    verify_dataset,
)
from urbis.sdk.client import default_api
from urbis.sdk.keystore import KeyStore

app = typer.Typer(
    help="Data streams shared between departments, and open datasets", no_args_is_help=True
)
dataset_app = typer.Typer(
    help="Open datasets with provenance and quality attestations", no_args_is_help=True
)
app.add_typer(dataset_app, name="dataset")

StreamArgument = Annotated[str, typer.Argument(help="Stream id, e.g. traffic.live")]
AsOption = Annotated[
    str | None, typer.Option("--as", help="Key name to sign reads with (omit for public streams)")
]
DepartmentOption = Annotated[str, typer.Option("--department", help="The department acting")]


def data_key_path(home: Path, department: str) -> Path:
    return home / "data-keys" / f"{department}.key"


def session(home: Path, api: str | None, name: str | None, verify: bool = True) -> DataSession:
    url = api or default_api()
    node_client(url)  # a malformed URL is misuse (exit 2), not a crash
    validators: Any = frozenset()
    if verify:
        powers, _, _ = trusted_validators(home, url)
        validators = powers
    if name is None:
        return DataSession(url, validators=validators)
    keystore = KeyStore(home / "keys")
    return DataSession(
        url, passphrase_for(keystore, name), keystore.info(name).account, validators=validators
    )


def department_key(home: Path, department: str) -> Any:
    path = data_key_path(home, department)
    if not path.exists():
        fail(
            "data.no_data_key",
            f"no data key for {department} at {path}; run "
            f"`urbis data key create {department} --from ...`",
            2,
        )
    return load_data_key(path)


def guarded_crypto(error: crypto.EnvelopeError) -> None:
    fail("data.decrypt_failed", str(error))


@app.command("key-create")
def key_create(
    department: Annotated[str, typer.Argument(help="Department whose data key this is")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Make the department's X25519 data key (kept in HOME/data-keys) and register it.

    Example: urbis data key-create transport --from transport
    """
    folder = home_path(home)
    path = data_key_path(folder, department)
    key = load_data_key(path) if path.exists() else new_data_key()
    with reported():
        session(folder, api, signer, False).act(
            "register_key", department=department, public_key=public_bytes(key)
        )
    save_data_key(key, path)
    stdout.print(f"data key of {department} registered; private part in {path}")


@app.command("register")
def register(
    stream: StreamArgument,
    department: DepartmentOption,
    schema: Annotated[Path, typer.Option("--schema", help="JSON Schema file of its records")],
    signer: FromOption,
    classification: Annotated[str, typer.Option(help="public, internal or personal")] = "internal",
    retention_blocks: Annotated[int, typer.Option(help="How long records are kept")] = 2_592_000,
    purpose: Annotated[str, typer.Option(help="Why the records are collected")] = "operations",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Register a stream owned by a department.

    Example: urbis data register traffic.live --department transport --schema reading.json
    --classification internal --purpose "congestion management" --from transport
    """
    text = read_text(schema, "schema")
    with reported():
        session(home_path(home), api, signer, False).act(
            "register_stream",
            id=stream,
            department=department,
            schema=text,
            classification=classification,
            retention_blocks=retention_blocks,
            purpose=purpose,
        )
    stdout.print(f"stream {stream} registered ({classification})")


@app.command("show")
def show(
    stream: StreamArgument,
    api: ApiOption = None,
    as_json: JsonOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Show a stream: owner, classification, epoch, records, grants.

    Example: urbis data show traffic.live
    """
    with reported():
        info = session(home_path(home), api, None, False).stream(stream)

    def human(_: Any) -> None:
        table(
            f"Stream {stream}",
            [
                ("department", info["department"]),
                ("classification", info["classification"]),
                ("purpose", info["purpose"]),
                ("records", info["next_seq"]),
                ("anchors", info["anchors"]),
                ("epoch", info["epoch"]),
                ("schema versions", info["schema_versions"]),
                (
                    "grants",
                    ", ".join(
                        f"{g['grantee']} until block {g['expires_at_height']}"
                        for g in info["grants"]
                    )
                    or "none",
                ),
            ],
        )

    emit(info, as_json, human)


@app.command("publish")
def publish(
    stream: StreamArgument,
    source: Annotated[str, typer.Argument(help="File of JSON records, one a line; - for stdin")],
    signer: FromOption,
    subject_field: Annotated[
        str | None,
        typer.Option(help="Personal streams: the field naming each record's subject account"),
    ] = None,
    batch: Annotated[int, typer.Option(help="Records per anchor", min=1, max=4096)] = 500,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Publish records (sealed on this machine for encrypted streams) and anchor them.

    Example: urbis data publish traffic.live readings.jsonl --from transport
    """
    folder = home_path(home)
    raw = sys.stdin.buffer.read() if source == "-" else read_bytes(Path(source), "records")
    try:
        records = [json.loads(line) for line in raw.splitlines() if line.strip()]
    except ValueError as error:
        fail("data.bad_input", f"not JSON lines: {error}", 2)
    from urbis.chain.ids import AccountId

    with reported():
        own = session(folder, api, signer, False)
        department = own.stream(stream)["department"]
        key = (
            department_key(folder, department)
            if own.stream(stream)["classification"] != "public"
            else new_data_key()
        )
        producer = Producer(own, stream, key)
        done = 0
        try:
            for start in range(0, len(records), batch):
                chunk = records[start : start + batch]
                subjects = None
                if subject_field:
                    subjects = [AccountId.parse(r.pop(subject_field)).raw for r in chunk]
                producer.publish(chunk, subjects)
                done += len(chunk)
                stdout.print(f"{done}/{len(records)} records handed in", end="\r")
        except (crypto.EnvelopeError, ValueError, KeyError) as error:
            fail("data.bad_input", str(error), 2)
    stdout.print(
        f"\n{done} records published to {stream} (sequence {producer.next_seq - done}"
        f" to {producer.next_seq - 1})"
    )


@app.command("read")
def read(
    stream: StreamArgument,
    reader: AsOption = None,
    department: Annotated[
        str | None,
        typer.Option(help="Whose data key to unwrap with (default: the reader's department)"),
    ] = None,
    start: Annotated[int, typer.Option("--start", min=0, help="First sequence number")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=4096)] = 100,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Read records, each checked against its anchored root and decrypted here; JSON lines.

    Example: urbis data read traffic.live --as police --department police --start 0
    """
    folder = home_path(home)
    with reported():
        own = session(folder, api, reader)
        key = department_key(folder, department) if department else None
        try:
            for record in Reader(own, stream, key).read(start, limit):
                sys.stdout.write(json.dumps({"seq": record.seq, **_as_map(record.record)}) + "\n")
        except crypto.EnvelopeError as error:
            guarded_crypto(error)


def _as_map(record: Any) -> dict[str, Any]:
    return record if isinstance(record, dict) else {"record": record}


@app.command("follow")
def follow(
    stream: StreamArgument,
    reader: AsOption = None,
    department: Annotated[str | None, typer.Option(help="Whose data key to unwrap with")] = None,
    start: Annotated[int, typer.Option("--start", min=0, help="Sequence to resume from")] = 0,
    count: Annotated[int, typer.Option(min=0, help="Stop after this many (0: never)")] = 0,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Follow a stream live over WebSocket, decrypting here; JSON lines.

    Example: urbis data follow traffic.live --as police --department police --start 1200
    """
    folder = home_path(home)
    key = department_key(folder, department) if department else None

    async def run() -> None:
        with reported():
            own = session(folder, api, reader, False)
            seen = 0
            async for record in Reader(own, stream, key).follow(start):
                sys.stdout.write(json.dumps({"seq": record.seq, **_as_map(record.record)}) + "\n")
                sys.stdout.flush()
                seen += 1
                if count and seen >= count:
                    return

    asyncio.run(run())


@app.command("grant")
def grant(
    stream: StreamArgument,
    grantee: Annotated[str, typer.Argument(help="Department granted read access")],
    purpose: Annotated[str, typer.Option(help="What the grantee may use the records for")],
    signer: FromOption,
    expires_in_blocks: Annotated[int, typer.Option(min=1, help="Blocks until it ends")] = 86_400,
    role: Annotated[str, typer.Option(help="The grantee's role whose holders read")] = "data",
    field: Annotated[list[str] | None, typer.Option(help="Projection: a field it sees")] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Grant a department read access; the epoch key is wrapped for its data key (HPKE).

    Example: urbis data grant traffic.live police --purpose "incident response" --from transport
    """
    folder = home_path(home)
    with reported():
        own = session(folder, api, signer, False)
        info = own.stream(stream)
        producer = Producer(own, stream, department_key(folder, info["department"]))
        height = int(own.get("/v1/status")["height"])
        producer.grant(grantee, purpose, height + expires_in_blocks, role, field or [])
    stdout.print(
        f"{grantee} may read {stream} until block {height + expires_in_blocks} "
        f"(epoch {producer.epoch})"
    )


@app.command("revoke")
def revoke(
    stream: StreamArgument,
    grantee: Annotated[str, typer.Argument(help="Department")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Revoke a grant; the stream moves to a new epoch whose key the grantee never gets.

    Example: urbis data revoke traffic.live planning --from transport
    """
    folder = home_path(home)
    with reported():
        own = session(folder, api, signer, False)
        info = own.stream(stream)
        producer = Producer(own, stream, department_key(folder, info["department"]))
        producer.revoke(grantee)
    stdout.print(f"{grantee} revoked; {stream} is in epoch {producer.epoch}")


@app.command("shred")
def shred(
    stream: StreamArgument,
    signer: FromOption,
    epoch: Annotated[int | None, typer.Option(min=1, help="Destroy this epoch's key")] = None,
    subject: Annotated[str | None, typer.Option(help="Destroy this subject's key")] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Crypto-shred: destroy an epoch key or a data subject's key on every node.

    Example: urbis data shred health.cases --subject urbis1qy... --from health
    """
    if (epoch is None) == (subject is None):
        fail("cli.usage", "give exactly one of --epoch and --subject", 2)
    from urbis.chain.ids import AccountId

    with reported():
        own = session(home_path(home), api, signer, False)
        department = own.stream(stream)["department"]
        if epoch is not None:
            own.act("shred_epoch", stream=stream, department=department, epoch=epoch)
        else:
            try:
                raw = AccountId.parse(subject or "").raw
            except ValueError as error:
                fail("cli.bad_account", str(error), 2)
            own.act(
                "shred_subject",
                stream=stream,
                department=department,
                pseudonym=crypto.pseudonym(stream, raw),
            )
    stdout.print("shredded: the key is gone from every node; roots on chain still verify")


@app.command("access-log")
def access_log(
    stream: StreamArgument,
    api: ApiOption = None,
    as_json: JsonOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Who read which records of a personal stream, under which grant and purpose.

    Example: urbis data access-log health.cases
    """
    with reported():
        rows = session(home_path(home), api, None, False).get(
            f"/v1/data/streams/{stream}/access-log"
        )

    def human(_: Any) -> None:
        if not rows:
            stdout.print("no logged reads")
        for row in rows:
            stdout.print(
                f"#{row['index']} block {row['height']}: {row['reader']} "
                f"({row['grantee']}) read {row['first_seq']}-{row['last_seq']} "
                f"for {row['purpose']!r}"
            )

    emit(rows, as_json, human)


@app.command("my-accesses")
def my_accesses(
    stream: StreamArgument,
    subject: Annotated[str, typer.Option("--as", help="Your key name (the data subject)")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """For a data subject: your records in a personal stream and every logged read of them.

    Example: urbis data my-accesses health.cases --as alice
    """
    with reported():
        answer = session(home_path(home), api, subject, False).get(
            f"/v1/data/streams/{stream}/my-accesses"
        )

    def human(_: Any) -> None:
        stdout.print(
            f"{len(answer['records'])} records about you (pseudonym {answer['pseudonym'][:16]}…)"
        )
        for row in answer["accesses"]:
            stdout.print(
                f"block {row['height']}: {row['reader']} ({row['grantee']}) read "
                f"{row['records']} for {row['purpose']!r}"
            )

    emit(answer, as_json, human)


@app.command("replicate")
def replicate_command(
    stream: StreamArgument,
    source: Annotated[str, typer.Option("--source", help="The producer node's API URL")],
    reader: Annotated[str, typer.Option("--as", help="Key name of a grantee reader")],
    department: Annotated[str, typer.Option(help="The reader's department")],
    start: Annotated[int, typer.Option("--start", min=0)] = 0,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Copy granted records from the producer's node into this node, checked on the way.

    Example: urbis data replicate traffic.live --source http://transport:8080 --as police
    --department police
    """
    folder = home_path(home)
    with reported():
        there = session(folder, source, reader)
        here = session(folder, api, reader, False)
        result = replicate(Reader(there, stream, department_key(folder, department)), here, start)
    stdout.print(
        f"stored {result['stored']}; this node holds {stream} to {result['anchored_head'] - 1}"
    )


@dataset_app.command("publish")
def dataset_publish(
    dataset: Annotated[str, typer.Argument(help="Dataset id")],
    file: Annotated[Path, typer.Argument(help="JSON lines file")],
    version: Annotated[int, typer.Option(min=1)],
    department: DepartmentOption,
    signer: FromOption,
    input_range: Annotated[
        list[str], typer.Option("--input", help="STREAM:FIRST-LAST (or DATASET@VERSION)")
    ],
    transformation: Annotated[str, typer.Option(help="What was done to the inputs")],
    code: Annotated[Path, typer.Option(help="The program that did it (hashed)")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Publish an open dataset version: its root, inputs by root, transformation, code hash.

    Example: urbis data dataset publish traffic-daily day.jsonl --version 1 --department
    transport --input traffic.live:0-86399 --transformation "hourly means" --code agg.py
    --from transport
    """
    content = read_bytes(file, "dataset")
    folder = home_path(home)
    with reported():
        own = session(folder, api, signer, False)
        inputs = [_input(own, text) for text in input_range]
        publish_dataset(
            own,
            dataset,
            version,
            department,
            content,
            inputs,
            transformation,
            read_bytes(code, "code"),
        )
    stdout.print(f"{dataset} v{version} published: root {crypto.dataset_root(content).hex()}")


def _input(own: DataSession, text: str) -> dict[str, Any]:
    if "@" in text:
        name, _, version = text.partition("@")
        found = own.get(f"/v1/data/datasets/{name}", version=int(version))
        return {
            "kind": "dataset",
            "ref": text,
            "first_seq": 0,
            "last_seq": 0,
            "root": bytes.fromhex(found["root"]),
        }
    try:
        stream, _, span = text.partition(":")
        first, _, last = span.partition("-")
        first_seq, last_seq = int(first), int(last)
    except ValueError:
        fail("cli.usage", f"--input {text!r} is not STREAM:FIRST-LAST", 2)
    try:
        root = range_root(own, stream, first_seq, last_seq)
    except crypto.EnvelopeError as error:
        fail("data.bad_input", str(error), 2)
    return {
        "kind": "stream",
        "ref": stream,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "root": root,
    }


@dataset_app.command("show")
def dataset_show(
    dataset: Annotated[str, typer.Argument(help="Dataset id")],
    version: Annotated[int, typer.Option(min=0, help="0: the latest")] = 0,
    api: ApiOption = None,
    as_json: JsonOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Show a dataset version: root, inputs, transformation, publisher, attestations.

    Example: urbis data dataset show traffic-daily --version 1
    """
    with reported():
        info = session(home_path(home), api, None, False).get(
            f"/v1/data/datasets/{dataset}", version=version
        )

    def human(_: Any) -> None:
        table(
            f"Dataset {dataset} v{info['version']}",
            [
                ("root", info["root"]),
                ("records", info["records"]),
                ("publisher", f"{info['publisher']} ({info['department']})"),
                ("transformation", info["transformation"]),
                ("code hash", info["code_hash"]),
                (
                    "inputs",
                    "; ".join(
                        f"{i['ref']} {i['first_seq']}-{i['last_seq']}" for i in info["inputs"]
                    ),
                ),
                *[
                    (
                        f"{a['kind']} ({'passed' if a['passed'] else 'failed'})",
                        ", ".join(f"{k}={v}" for k, v in a["figures"].items()),
                    )
                    for a in info["attestations"]
                ],
            ],
        )

    emit(info, as_json, human)


@dataset_app.command("download")
def dataset_download(
    dataset: Annotated[str, typer.Argument(help="Dataset id")],
    version: Annotated[int, typer.Option(min=1)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the file")],
    api: ApiOption = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Download a dataset file and verify its root against the chain before keeping it.

    Example: urbis data dataset download traffic-daily --version 1 -o day.jsonl
    """
    with reported():
        own = session(home_path(home), api, None)
        content = own.request("GET", f"/v1/data/datasets/{dataset}/{version}/file", signed=False)
        try:
            verify_dataset(own, dataset, version, content)
        except crypto.EnvelopeError as error:
            fail("data.root_mismatch", str(error))
        output.write_bytes(content)
    stdout.print(f"{output}: {len(content)} bytes, root verified against the chain")


@dataset_app.command("verify")
def dataset_verify(
    dataset: Annotated[str, typer.Argument(help="Dataset id")],
    file: Annotated[Path, typer.Argument(help="The downloaded file")],
    version: Annotated[int, typer.Option(min=1)],
    api: ApiOption = None,
    as_json: JsonOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Recompute a file's root and check it is the root published on chain (with a proof).

    Example: urbis data dataset verify traffic-daily day.jsonl --version 1
    """
    content = read_bytes(file, "dataset")
    with reported():
        try:
            report = verify_dataset(session(home_path(home), api, None), dataset, version, content)
        except crypto.EnvelopeError as error:
            fail("data.root_mismatch", str(error))
    emit(report, as_json, lambda r: stdout.print(f"verified: root {r['root']}"))


@dataset_app.command("attest")
def dataset_attest(
    dataset: Annotated[str, typer.Argument(help="Dataset id")],
    file: Annotated[Path, typer.Argument(help="The dataset file to measure")],
    version: Annotated[int, typer.Option(min=1)],
    department: DepartmentOption,
    schema: Annotated[Path, typer.Option(help="JSON Schema each row must meet")],
    signer: FromOption,
    expected: Annotated[int, typer.Option(help="Records a complete file holds")] = 0,
    time_field: Annotated[str | None, typer.Option(help="Row field with ms timestamps")] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """A steward measures a dataset (schema, completeness, freshness) and signs the figures.

    Example: urbis data dataset attest traffic-daily day.jsonl --version 1 --department
    planning --schema row.json --expected 86400 --time-field at_ms --from planning
    """
    content = read_bytes(file, "dataset")
    rule = read_json(schema, "schema")
    with reported():
        own = session(home_path(home), api, signer, False)
        try:
            verify_dataset(own, dataset, version, content)
        except crypto.EnvelopeError as error:
            fail("data.root_mismatch", str(error))
        figures = measure_quality(
            content, rule, expected or 1, time_field, time.time_ns() // 1_000_000
        )
        for kind, values in figures.items():
            passed = {
                "schema": values.get("invalid", 1) == 0,
                "completeness": values.get("permille", 0) >= 990,
                "freshness": values.get("age_ms", 1 << 62) <= 86_400_000,
            }[kind]
            own.act(
                "attest",
                dataset=dataset,
                version=version,
                department=department,
                kind=kind,
                passed=passed,
                figures=values,
            )
            stdout.print(f"{kind}: {'passed' if passed else 'failed'} {values}")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _demo(
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    seconds: Annotated[int, typer.Option(min=1, max=3600, help="How long sensors publish")] = 10,
    rate: Annotated[int, typer.Option(min=1, max=20_000, help="Readings per second")] = 1_000,
) -> None:
    """Traffic sensors publish at RATE/s to a transport stream; police and planning watch
    live; planning is revoked mid-stream and stops; a daily open dataset with quality
    attestations is published and verified.

    Example: urbis up --home ./city &  urbis demo traffic --home ./city
    """
    from urbis.modules.data.demo import run_demo

    with reported():
        run_demo(home_path(home), api or default_api(), seconds, rate, stdout.print)


DEMOS = [("traffic", _demo)]
COMMANDS = [("data", app)]
