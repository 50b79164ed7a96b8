"""`urbis doc`: anchor public documents and verify files against the chain."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.progress import Progress

from urbis.chain.tx import ACTIONS_PER_TX_MAX
from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    client,
    emit,
    fail,
    home_path,
    read_json,
    reported,
    require_ok,
    send_actions,
    stdout,
    table,
    trusted_validators,
)
from urbis.cli.money import moment
from urbis.crypto.merkle import merkle_path, merkle_root, verify_merkle_path
from urbis.sdk.builder import TxBuilder
from urbis.sdk.client import ApiError
from urbis.sdk.verify import verify_state_proof

app = typer.Typer(help="Public documents (anchor, verify, revoke)", no_args_is_help=True)
Department = Annotated[str, typer.Option("--department", help="Anchoring department id")]
FilesArgument = Annotated[
    list[Path], typer.Argument(help="Files to anchor", exists=True, dir_okay=False, readable=True)
]


def file_hash(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def _hash_of(file: Path | None, digest: str | None) -> bytes:
    if (file is None) == (digest is None):
        fail("cli.bad_input", "give a FILE or --hash, not both", 2)
    if file is not None:
        if not file.is_file():
            fail("cli.bad_input", f"{file} is not a readable file", 2)
        return file_hash(file)
    assert digest is not None
    try:
        value = bytes.fromhex(digest)
    except ValueError:
        fail("cli.bad_input", "--hash must be 64 hex digits", 2)
    if len(value) != 32:
        fail("cli.bad_input", "--hash must be 64 hex digits (SHA-256)", 2)
    return value


@app.command("anchor")
def anchor(
    files: FilesArgument,
    department: Department,
    signer: FromOption,
    doc_type: Annotated[str, typer.Option("--type", help="Document type, e.g. deed, permit")],
    reference: Annotated[str, typer.Option(help="Public reference, e.g. a deed number")] = "",
    batch: Annotated[
        Path | None,
        typer.Option(help="Anchor all files as one Merkle root; write the proofs manifest here"),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Anchor files' SHA-256 on chain (their content never leaves this machine).

    Example: urbis doc anchor deed.pdf --department land --type deed --reference D-1 --from land
    """
    root_dir = home_path(home)
    hashes = [file_hash(f) for f in files]
    if len(set(hashes)) != len(hashes):
        fail("cli.bad_input", "two of the files have the same content", 2)
    results: list[dict[str, Any]] = []
    with reported():
        if batch is not None:
            results.append(
                _anchor_batch(
                    files, hashes, department, signer, doc_type, reference, batch, root_dir, api
                )
            )
        else:
            groups = [
                list(range(i, min(i + ACTIONS_PER_TX_MAX, len(files))))
                for i in range(0, len(files), ACTIONS_PER_TX_MAX)
            ]
            with Progress(disable=len(groups) < 2 or as_json, transient=True) as progress:
                task = progress.add_task("Anchoring", total=len(files))
                for group in groups:

                    def build(builder: TxBuilder, group: list[int] = group) -> None:
                        for i in group:
                            builder.add(
                                "documents",
                                "anchor",
                                department=department,
                                hash=hashes[i],
                                doc_type=doc_type,
                                reference=reference,
                            )

                    receipt = require_ok(send_actions(api, root_dir, signer, build))
                    for i in group:
                        results.append(
                            {
                                "file": str(files[i]),
                                "hash": hashes[i].hex(),
                                "height": receipt["height"],
                                "tx_id": receipt["tx_id"],
                            }
                        )
                    progress.advance(task, len(group))

    def human(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            stdout.print(f"Anchored {row['file']}  sha256 {row['hash']}  at height {row['height']}")

    emit(results, as_json, human)


def _anchor_batch(
    files: list[Path],
    hashes: list[bytes],
    department: str,
    signer: str,
    doc_type: str,
    reference: str,
    manifest: Path,
    home: Path,
    api: str | None,
) -> dict[str, Any]:
    root = merkle_root(hashes)

    def build(builder: TxBuilder) -> None:
        builder.add(
            "documents",
            "anchor_batch",
            department=department,
            root=root,
            count=len(hashes),
            doc_type=doc_type,
            reference=reference,
        )

    receipt = require_ok(send_actions(api, home, signer, build))
    documents = [
        {
            "file": f.name,
            "hash": h.hex(),
            "path": [[left, sibling.hex()] for left, sibling in merkle_path(hashes, i)],
        }
        for i, (f, h) in enumerate(zip(files, hashes, strict=True))
    ]
    manifest.write_text(
        json.dumps(
            {
                "root": root.hex(),
                "count": len(hashes),
                "department": department,
                "doc_type": doc_type,
                "reference": reference,
                "height": receipt["height"],
                "documents": documents,
            },
            indent=2,
        )
    )
    return {
        "file": f"{len(files)} files (manifest {manifest})",
        "hash": root.hex(),
        "height": receipt["height"],
        "tx_id": receipt["tx_id"],
    }


@app.command("verify")
def verify(
    file: Annotated[Path | None, typer.Argument(help="The file to check")] = None,
    digest: Annotated[str | None, typer.Option("--hash", help="Or its SHA-256 in hex")] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="Batch manifest from `doc anchor --batch`, if the file was batch-anchored"
        ),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a file against the chain, verifying the state proof on this machine.

    Exits 0 only when the document is anchored and current; 1 when it is
    revoked, superseded or not anchored (the absence is proven too).

    Example: urbis doc verify deed.pdf
    """
    target = _hash_of(file, digest)
    lookup = target
    batch_path: list[list[Any]] | None = None
    if manifest is not None:
        root, path, batch_path = _manifest_entry(manifest, target)
        if not verify_merkle_path(target, path, root):
            fail("proof.invalid", "the file's Merkle path does not lead to the batch root")
        lookup = root
    root_dir = home_path(home)
    with reported():
        node = client(api)
        answer = node.call("state", "documents/doc/0x" + lookup.hex(), None, True)
        validators, chain_id, pinned = trusted_validators(root_dir, api)
        verified = verify_state_proof(answer, validators, chain_id=chain_id)
    result: dict[str, Any] = {
        "hash": target.hex(),
        "batch_root": lookup.hex() if batch_path is not None else None,
        "proof_height": verified.height,
        "pinned_genesis": pinned,
        "anchored": verified.value is not None,
        "record": answer["decoded"],
    }
    record = None if verified.value is None else _record_view(verified.value)
    result["record"] = record

    def human(d: dict[str, Any]) -> None:
        trust = "" if pinned else " (validator keys from the node: no local genesis)"
        if record is None:
            stdout.print(
                f"[bold red]Not anchored[/]: {d['hash']} — absence proven at height "
                f"{d['proof_height']}{trust}"
            )
            return
        table(
            f"Document {d['hash']}",
            [
                ("status", record["status"]),
                ("department", record["department"]),
                ("type", record["doc_type"]),
                ("reference", record["reference"]),
                ("anchored by", record["anchored_by"]),
                ("height", record["anchored_at_height"]),
                ("time", moment(record["time_ms"])),
                (
                    "transaction",
                    record["tx_id"].hex()
                    if isinstance(record["tx_id"], bytes)
                    else record["tx_id"],
                ),
                ("in batch", d["batch_root"] or "-"),
                ("revoked", record.get("revoked_reason") or "-"),
                ("superseded by", record.get("superseded_by") or "-"),
                ("proof", f"verified at height {d['proof_height']}{trust}"),
            ],
        )

    emit(result, as_json, human)
    if record is None:
        raise typer.Exit(1)
    if record["status"] != "valid":
        raise typer.Exit(1)


def _manifest_entry(
    manifest: Path, target: bytes
) -> tuple[bytes, list[tuple[bool, bytes]], list[list[Any]]]:
    """The batch root and `target`'s Merkle path from a manifest; `cli.bad_manifest` (exit 2)
    names the first thing that is not as `doc anchor --batch` writes it."""

    def bad(why: str) -> NoReturn:
        fail("cli.bad_manifest", f"{manifest}: {why}", 2)

    def digest_of(value: Any, what: str) -> bytes:
        if not isinstance(value, str) or len(value) != 64:
            bad(f"{what} must be 64 hex digits")
        try:
            return bytes.fromhex(value)
        except ValueError:
            bad(f"{what} must be 64 hex digits")

    data = read_json(manifest, "manifest")
    if not isinstance(data, dict) or not isinstance(data.get("documents"), list):
        bad("expected an object with a documents list")
    root = digest_of(data.get("root"), "root")
    entry = next(
        (d for d in data["documents"] if isinstance(d, dict) and d.get("hash") == target.hex()),
        None,
    )
    if entry is None:
        fail("documents.not_in_batch", f"{target.hex()} is not listed in {manifest}")
    steps = entry.get("path")
    if not isinstance(steps, list):
        bad("the document's path must be a list of [left, sibling]")
    path = []
    for step in steps:
        if not (isinstance(step, list) and len(step) == 2 and isinstance(step[0], bool)):
            bad("each path step must be [true|false, sibling]")
        path.append((step[0], digest_of(step[1], "a sibling")))
    return root, path, steps


def _record_view(value: bytes) -> dict[str, Any]:
    """The proven bytes, decoded as the documents module's record."""
    from urbis.chain.codec import from_wire
    from urbis.crypto.encoding import decode
    from urbis.modules.documents.module import record_json
    from urbis.modules.documents.records import DocumentRecord

    return record_json(from_wire(DocumentRecord, decode(value)))


@app.command("revoke")
def revoke(
    department: Department,
    signer: FromOption,
    reason: Annotated[str, typer.Option(help="Why, in public words (no personal data)")],
    file: Annotated[Path | None, typer.Argument(help="The anchored file")] = None,
    digest: Annotated[str | None, typer.Option("--hash", help="Or its SHA-256 in hex")] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke an anchored document (the anchoring department only).

    Example: urbis doc revoke deed.pdf --department land --reason "issued in error" --from land
    """
    target = _hash_of(file, digest)

    def build(builder: TxBuilder) -> None:
        builder.add("documents", "revoke", department=department, hash=target, reason=reason)

    with reported():
        receipt = require_ok(send_actions(api, home_path(home), signer, build))
    emit(
        {"hash": target.hex(), "height": receipt["height"], "tx_id": receipt["tx_id"]},
        as_json,
        lambda d: stdout.print(f"Revoked {d['hash']} at height {d['height']}"),
    )


@app.command("supersede")
def supersede(
    old: Annotated[Path, typer.Argument(help="The current version", exists=True, dir_okay=False)],
    new: Annotated[Path, typer.Argument(help="The new version", exists=True, dir_okay=False)],
    department: Department,
    signer: FromOption,
    doc_type: Annotated[str, typer.Option("--type", help="Document type")],
    reference: Annotated[str, typer.Option(help="Public reference")] = "",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Anchor a new version of a document; the old one becomes superseded.

    Example: urbis doc supersede deed-v1.pdf deed-v2.pdf --department land --type deed --from land
    """
    old_hash, new_hash = file_hash(old), file_hash(new)

    def build(builder: TxBuilder) -> None:
        builder.add(
            "documents",
            "supersede",
            department=department,
            old_hash=old_hash,
            new_hash=new_hash,
            doc_type=doc_type,
            reference=reference,
        )

    with reported():
        receipt = require_ok(send_actions(api, home_path(home), signer, build))
    emit(
        {"old": old_hash.hex(), "new": new_hash.hex(), "height": receipt["height"]},
        as_json,
        lambda d: stdout.print(f"{d['new']} supersedes {d['old']} (height {d['height']})"),
    )


@app.command("show")
def show(
    digest: Annotated[str, typer.Argument(help="SHA-256 in hex")],
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a document's record (no proof check; use `doc verify` for that).

    Example: urbis doc show 9f86d0…
    """
    try:
        data = client(api).call("document", digest, False)
    except ApiError as error:
        fail(error.code, error.detail)
    emit(
        data["record"],
        as_json,
        lambda r: table(f"Document {r['hash']}", [(k, v) for k, v in r.items() if v != ""]),
    )


COMMANDS = [("doc", app)]
