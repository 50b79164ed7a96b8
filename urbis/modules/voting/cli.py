"""`urbis vote`: an election from the commission's, a guardian's, the registrar's and a
resident's side. Guardian secrets and a resident's ballot key stay in that person's home
(`HOME/voting/<election>/`); the chain sees public keys, proofs and encrypted values only."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    act,
    client,
    emit,
    fail,
    home_path,
    parse_account,
    read_bytes,
    read_json,
    reported,
    send_actions,
    stdout,
    table,
)
from urbis.crypto import blindrsa
from urbis.election.ballot import Device, challenge_ballot, encrypt_ballot
from urbis.election.group import ElectionCryptoError
from urbis.modules.voting.client import PublishedElection, VotingApi
from urbis.modules.voting.electionguard import canonical
from urbis.modules.voting.parties import (
    BallotKey,
    Guardian,
    election_folder,
    presentation_nonce,
    registrar_sign,
    write_private,
)
from urbis.sdk.builder import TxBuilder

app = typer.Typer(help="Elections: ElectionGuard 2.1 on the ledger", no_args_is_help=True)
guardian_app = typer.Typer(help="A guardian's steps (secrets stay in --home)", no_args_is_help=True)
registrar_app = typer.Typer(help="The registrar's steps (its RSA key stays in --home)")
app.add_typer(guardian_app, name="guardian")
app.add_typer(registrar_app, name="registrar")

ElectionArgument = Annotated[str, typer.Argument(help="Election id, e.g. ref-2027")]
DEVICE = "urbis-cli"
"""Every resident's CLI is the same device label: a label per resident would name them."""
REGISTRAR_KEY_FILE = "voting/registrar_key.pem"


def _api(api: str | None) -> VotingApi:
    return VotingApi(client(api))


def _election(api: str | None, election: str) -> PublishedElection:
    with reported():
        return _api(api).election(election.encode())


def _me(home: Path, signer: str) -> str:
    from urbis.sdk.keystore import KeyStore

    with reported():
        return KeyStore(home / "keys").info(signer).account.text


def _guardian(folder: Path, election_id: bytes) -> Guardian:
    try:
        return Guardian.load(folder, election_id)
    except FileNotFoundError:
        fail(
            "voting.no_guardian_keys",
            f"{folder} holds no guardian keys for {election_id.decode()}; "
            "run `urbis vote guardian keygen` with this --home first",
            2,
        )


def _ballot_key(folder: Path, election_id: bytes) -> BallotKey:
    try:
        return BallotKey.load(folder, election_id)
    except FileNotFoundError:
        fail(
            "voting.not_registered",
            f"{folder} holds no ballot key for {election_id.decode()}; "
            "register first (`urbis vote register`)",
            2,
        )


def _done(what: str, as_json: bool, data: dict[str, Any]) -> None:
    emit(data, as_json, lambda d: stdout.print(what, highlight=False))


# -- the commission -------------------------------------------------------------------------


@app.command("create")
def create(
    election: ElectionArgument,
    manifest: Annotated[Path, typer.Option(help="The manifest (JSON); stored byte for byte")],
    department: Annotated[str, typer.Option(help="The department whose commission runs it")],
    title: Annotated[str, typer.Option(help="One line, public")],
    guardian: Annotated[list[str], typer.Option(help="A guardian account (repeat, in order)")],
    quorum: Annotated[int, typer.Option(help="k: guardians needed to decrypt")],
    registrar: Annotated[str, typer.Option(help="The registrar's account")],
    registrar_key: Annotated[
        Path, typer.Option(help="The registrar's RSA public key (PEM or DER)")
    ],
    signer: FromOption,
    opens_in: Annotated[int, typer.Option(help="Blocks until voting opens")] = 100,
    window: Annotated[int, typer.Option(help="Blocks voting stays open")] = 1000,
    vct: Annotated[str, typer.Option(help="Credential type that makes a voter eligible")] = (
        "VoterEligibility"
    ),
    group: Annotated[str, typer.Option(help="ElectionGuard parameter set")] = "standard-4096",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """The election commission (`<department>.elections`) creates an election.

    Example: urbis vote create ref-2027 --manifest ref.json --department registry
    --title "Car-free old town" --guardian urbis1… --guardian urbis1… --guardian urbis1…
    --quorum 2 --registrar urbis1… --registrar-key registrar.pub.pem --from registry
    """
    raw_key = read_bytes(registrar_key, "registrar key")
    try:
        key = (
            serialization.load_pem_public_key(raw_key)
            if raw_key.startswith(b"-----")
            else serialization.load_der_public_key(raw_key)
        )
    except ValueError as error:
        fail("voting.bad_registrar_key", f"{registrar_key}: {error}", 2)
    if not isinstance(key, rsa.RSAPublicKey):
        fail("voting.bad_registrar_key", f"{registrar_key} is not an RSA key", 2)
    with reported():
        height = int(client(api).status()["height"])
    act(
        "voting",
        "create",
        home_path(home),
        api,
        signer,
        as_json,
        id=election.encode(),
        department=department,
        title=title,
        manifest=read_bytes(manifest, "manifest"),
        guardians=[parse_account(g) for g in guardian],
        quorum=quorum,
        opens_at_height=height + opens_in,
        closes_at_height=height + opens_in + window,
        eligibility_vct=vct,
        registrar=parse_account(registrar),
        registrar_key=blindrsa.public_key_bytes(key),
        group=group,
    )


@app.command("show")
def show(election: ElectionArgument, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """An election's phase, counts and what it waits for.

    Example: urbis vote show ref-2027
    """
    found = _election(api, election)
    data = found.data

    def human(_: Any) -> None:
        table(
            data["title"],
            [
                ("election", data["id"]),
                ("phase", data["phase"]),
                ("waiting for", data["status"]["waiting_for"]),
                ("guardians", f"{len(data['guardians'])} (quorum {data['quorum']})"),
                ("window", f"blocks {data['opens_at_height']} to {data['closes_at_height']}"),
                ("registered", data["registrations"]),
                ("ballots counted", data["counted"]),
                ("replaced", data["replaced"]),
                ("challenged", data["challenged"]),
            ],
        )

    emit(data, as_json, human)


@app.command("close")
def close(
    election: ElectionArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """After the window, fix the aggregate (anyone may).

    Example: urbis vote close ref-2027 --from registry
    """
    act("voting", "close", home_path(home), api, signer, as_json, election_id=election.encode())


@app.command("tally")
def tally(
    election: ElectionArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Combine the quorum's decryptions into the result (fails saying how many are missing).

    Example: urbis vote tally ref-2027 --from registry
    """
    act("voting", "tally", home_path(home), api, signer, as_json, election_id=election.encode())


@app.command("result")
def result(election: ElectionArgument, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """The decrypted result, with each option's label.

    Example: urbis vote result ref-2027
    """
    found = _election(api, election)
    with reported():
        answer = _api(api).get(f"/elections/{election}/result")
    manifest = found.context().manifest if found.data["joint_key"] else None

    def human(_: Any) -> None:
        assert manifest is not None
        rows = []
        for contest, counts in zip(manifest.contests, answer["counts"], strict=True):
            for option, count in zip(contest.options, counts, strict=True):
                rows.append((f"{contest.label}: {option.label}", count))
        rows.append(("decrypted by guardians", ", ".join(map(str, answer["guardians"]))))
        table(f"Result of {election}", rows)

    emit(answer, as_json, human)


# -- guardians ------------------------------------------------------------------------------


def _post(
    api: str | None, home: Path, signer: str, actions: list[tuple[str, dict[str, Any]]]
) -> None:
    def build(builder: TxBuilder) -> None:
        for name, args in actions:
            builder.add("voting", name, **args)

    with reported():
        answer = send_actions(api, home, signer, build)
    receipt = answer.get("receipt")
    if receipt is None or not receipt["ok"]:
        from urbis.cli.common import require_ok

        require_ok(answer)


@guardian_app.command("keygen")
def guardian_keygen(
    election: ElectionArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make this guardian's polynomials (kept in --home) and post the public keys and proofs.

    Example: urbis vote guardian keygen ref-2027 --from museum --home ~/museum
    """
    folder = home_path(home)
    found = _election(api, election)
    index = found.guardian_index(_me(folder, signer))
    if (election_folder(folder, found.id) / "guardian.json").exists():
        fail("voting.already_posted", "this home already holds this guardian's keys", 2)
    mine = Guardian.generate(
        found.data["group"],
        bytes.fromhex(found.data["parameter_hash"]),
        index,
        found.data["quorum"],
    )
    mine.save(folder, found.id)
    _post(
        api,
        folder,
        signer,
        [("post_guardian_key", {"election_id": found.id, "public_key": mine.public_key_bytes()})],
    )
    _done(
        f"guardian {index}: keys posted; secrets in {election_folder(folder, found.id)}",
        as_json,
        {"guardian": index},
    )


@guardian_app.command("shares")
def guardian_shares(
    election: ElectionArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Encrypt this guardian's share for every other guardian and post them (one transaction).

    Example: urbis vote guardian shares ref-2027 --from museum --home ~/museum
    """
    folder = home_path(home)
    found = _election(api, election)
    mine = _guardian(folder, found.id)
    with reported():
        keys = _api(api).guardian_keys(found.id)
    missing = [i for i in range(1, len(found.guardians) + 1) if i not in keys]
    if missing:
        fail("voting.keys_missing", f"guardians {missing} have not posted keys yet")
    actions = []
    for index, key in sorted(keys.items()):
        if index != mine.index:
            recipient, encrypted = mine.share_for(key)
            actions.append(
                (
                    "post_share",
                    {"election_id": found.id, "recipient": recipient, "encrypted": encrypted},
                )
            )
    _post(api, folder, signer, actions)
    _done(f"guardian {mine.index}: {len(actions)} shares posted", as_json, {"shares": len(actions)})


@guardian_app.command("confirm")
def guardian_confirm(
    election: ElectionArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decrypt and check every share posted to this guardian; confirm each good one and
    complain about each bad one (the dealer must then reveal it in the clear).

    Example: urbis vote guardian confirm ref-2027 --from museum --home ~/museum
    """
    folder = home_path(home)
    found = _election(api, election)
    mine = _guardian(folder, found.id)
    voting = _api(api)
    with reported():
        keys = voting.guardian_keys(found.id)
        shares = [s for s in voting.shares(found.id, mine.index) if s["status"] == "posted"]
    actions = []
    complaints = []
    for share in shares:
        dealer = int(share["dealer"])
        try:
            mine.receive(keys[dealer], share["encrypted"].encode())
        except ElectionCryptoError as error:
            complaints.append((dealer, str(error)))
            actions.append(("complain_share", {"election_id": found.id, "dealer": dealer}))
        else:
            actions.append(("confirm_share", {"election_id": found.id, "dealer": dealer}))
    mine.save(folder, found.id)
    if actions:
        _post(api, folder, signer, actions)
    for dealer, why in complaints:
        stdout.print(f"[red]complaint[/] against guardian {dealer}: {why}", highlight=False)
    _done(
        f"guardian {mine.index}: {len(actions) - len(complaints)} shares confirmed, "
        f"{len(complaints)} complaints",
        as_json,
        {"confirmed": len(actions) - len(complaints), "complaints": [d for d, _ in complaints]},
    )


@guardian_app.command("reveal")
def guardian_reveal(
    election: ElectionArgument,
    recipient: Annotated[int, typer.Option(help="The guardian who complained")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a complaint: publish the share for `recipient` in the clear.

    Example: urbis vote guardian reveal ref-2027 --recipient 3 --from museum --home ~/museum
    """
    folder = home_path(home)
    found = _election(api, election)
    mine = _guardian(folder, found.id)
    args = {"election_id": found.id, "recipient": recipient, "value": mine.reveal_for(recipient)}
    _post(api, folder, signer, [("reveal_share", args)])
    _done(
        f"guardian {mine.index}: share for {recipient} revealed", as_json, {"recipient": recipient}
    )


def decrypt_step(
    voting: VotingApi, folder: Path, found: PublishedElection
) -> tuple[str, dict[str, Any]] | None:
    """The next decryption action this guardian can take, or None (it must wait)."""
    from urbis.election import tally as egtally
    from urbis.modules.voting import electionguard as eg

    mine = _guardian(folder, found.id)
    state = voting.decryptions(found.id)
    joined = [int(i) for i in state["tally_guardians"]]
    if mine.index not in joined:
        if len(joined) >= int(state["quorum"]):
            raise ValueError(f"guardians {joined} already form the quorum")
        return "join_tally", {"election_id": found.id}
    if len(joined) < int(state["quorum"]):
        return None
    step = next(g for g in state["guardians"] if int(g["guardian"]) == mine.index)
    context = found.context()
    group = context.group
    nonce_path = election_folder(folder, found.id) / "decryption_nonces.json"
    available = sorted(joined)
    if step["commit"] is None:
        aggregate = eg.read_aggregate(group, voting.aggregate(found.id))
        commit, nonces = egtally.commit(
            context, mine.key_share(len(found.guardians)), aggregate, available
        )
        write_private(nonce_path, nonces.to_json(group))
        return "post_decryption", {
            "election_id": found.id,
            "step": "commit",
            "payload": canonical(commit.to_json(group)),
        }
    nonces = egtally.DecryptionNonces.from_json(group, json.loads(nonce_path.read_text()))
    if step["reveal"] is None:
        if any(g["commit"] is None for g in state["guardians"]):
            return None
        reveal = egtally.reveal(nonces)
        return "post_decryption", {
            "election_id": found.id,
            "step": "reveal",
            "payload": canonical(reveal.to_json(group)),
        }
    if step["response"] is None and state["challenges"] is not None:
        challenges = eg.read_challenges(group, state["challenges"].encode())
        responses = egtally.respond(
            context, mine.key_share(len(found.guardians)), nonces, challenges, available
        )
        return "post_decryption", {
            "election_id": found.id,
            "step": "response",
            "payload": eg.responses_json(group, mine.index, responses),
        }
    return None


@guardian_app.command("decrypt")
def guardian_decrypt(
    election: ElectionArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    wait: Annotated[int, typer.Option(help="Seconds to wait for the other guardians")] = 120,
    as_json: JsonOption = False,
) -> None:
    """Take part in the decryption: join, commit, reveal once every commitment is in, then
    respond to the challenge; waits for the other guardians between steps.

    Example: urbis vote guardian decrypt ref-2027 --from museum --home ~/museum
    """
    folder = home_path(home)
    voting = _api(api)
    deadline = time.monotonic() + wait
    steps = []
    while True:
        found = _election(api, election)
        if found.phase != "closed":
            fail("voting.wrong_phase", f"election {election} is {found.phase}, not closed")
        try:
            with reported():
                action = decrypt_step(voting, folder, found)
        except ValueError as error:
            fail("voting.already_posted", str(error))
        if action is None:
            state = voting.decryptions(found.id)
            mine = _guardian(folder, found.id)
            own = next((g for g in state["guardians"] if int(g["guardian"]) == mine.index), None)
            if own is not None and own["response"] is not None:
                break
            if time.monotonic() > deadline:
                fail(
                    "voting.waiting",
                    f"still waiting for other guardians after {wait}s; run again later",
                )
            time.sleep(0.5)
            continue
        name, args = action
        _post(api, folder, signer, [(name, args)])
        steps.append(args.get("step", name))
        stdout.print(f"sent {steps[-1]}", highlight=False)
    _done(f"decryption steps sent: {', '.join(steps) or 'none'}", as_json, {"steps": steps})


# -- registrar ----------------------------------------------------------------------------


@registrar_app.command("keygen")
def registrar_keygen(
    out: Annotated[Path, typer.Option(help="Where to write the public key (PEM)")] = Path(
        "registrar.pub.pem"
    ),
    bits: Annotated[int, typer.Option(help="RSA modulus bits (2048 or more)")] = 3072,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Make the registrar's RSA key (RFC 9474); the private key stays in --home.

    Example: urbis vote registrar keygen --out registrar.pub.pem --home ~/registrar
    """
    path = home_path(home) / REGISTRAR_KEY_FILE
    if path.exists():
        fail("voting.exists", f"{path} exists; a registrar keeps one key per election cycle", 2)
    try:
        key = blindrsa.generate_private_key(bits)
    except blindrsa.BlindSignatureError as error:
        fail("voting.bad_registrar_key", str(error), 2)
    save_registrar_key(home_path(home), key)
    out.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    stdout.print(f"registrar key in {path}; public key → {out}")


def save_registrar_key(home: Path, key: rsa.RSAPrivateKey) -> None:
    path = home / REGISTRAR_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_registrar_key(home: Path) -> rsa.RSAPrivateKey:
    path = home / REGISTRAR_KEY_FILE
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except FileNotFoundError:
        fail(
            "voting.no_registrar_key",
            f"no registrar key at {path}; run `urbis vote registrar keygen`",
            2,
        )
    if not isinstance(key, rsa.RSAPrivateKey):
        fail("voting.bad_registrar_key", f"{path} is not an RSA key", 2)
    return key


@registrar_app.command("sign")
def registrar_sign_command(
    request: Annotated[Path, typer.Argument(help="The resident's request (`urbis vote register`)")],
    out: Annotated[Path, typer.Option(help="Where to write the response for the resident")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a resident's eligibility presentation, record its nullifier on chain, and
    answer with a blind signature on a ballot key the registrar never sees.

    Example: urbis vote registrar sign request.json --out response.json --from registrar
    """
    from urbis.sdk.bundle import export_bundle, offline_view
    from urbis.sdk.sdjwt import CredentialRejected, parse_jwt

    folder = home_path(home)
    data = read_json(request, "registration request")
    if not isinstance(data, dict) or not {"election", "presentation", "blinded_msg"} <= set(data):
        fail("voting.bad_request", f"{request} is not a registration request", 2)
    found = _election(api, str(data["election"]))
    me = _me(folder, signer)
    if me != found.registrar:
        fail("voting.not_registrar", f"{me} is not the registrar of {found.id.decode()}")
    key = load_registrar_key(folder)
    now_ms = int(time.time() * 1000)
    presentation = str(data["presentation"])
    try:
        issued = parse_jwt(presentation.split("~")[0])
        with reported():
            bundle = export_bundle(
                lambda path: client(api).send(_request(path)),
                [issued.vct],
                [issued.status[:2]] if issued.status else [],
                0,
                now_ms,
            )
        view = offline_view(bundle, now_ms, 60_000)
        registered = registrar_sign(
            found.id,
            found.data["eligibility_vct"],
            key,
            me,
            presentation,
            bytes.fromhex(data["blinded_msg"]),
            view,
            now_ms // 1000,
        )
    except CredentialRejected as error:
        fail(f"credential.{error.reason}", error.detail)
    except ValueError as error:
        fail("voting.not_eligible", str(error))
    _post(
        api,
        folder,
        signer,
        [
            (
                "record_registration",
                {
                    "election_id": found.id,
                    "nullifier": registered.nullifier,
                    "blinded_msg": bytes.fromhex(data["blinded_msg"]),
                    "blind_sig": registered.blind_sig,
                },
            )
        ],
    )
    out.write_text(
        json.dumps({"election": found.id.decode(), "blind_sig": registered.blind_sig.hex()})
    )
    _done(
        f"registered; blind signature → {out}", as_json, {"nullifier": registered.nullifier.hex()}
    )


def _request(path: str) -> Any:
    from urbis.sdk.client import Request

    return Request("GET", path)


# -- residents ----------------------------------------------------------------------------------


@app.command("register")
def register(
    election: ElectionArgument,
    credential: Annotated[
        str | None, typer.Option(help="Wallet name of the eligibility credential")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the request for the registrar")] = Path(
        "request.json"
    ),
    finish: Annotated[
        Path | None, typer.Option(help="The registrar's response: finish registering")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """A resident's side of the blind signature: make a fresh ballot key, blind it, and
    present the eligibility credential to the registrar (step 1); then unblind the
    registrar's answer (step 2, --finish). The registrar never sees the ballot key.

    Example: urbis vote register ref-2027 --credential voter --out request.json --home ~/alice;
    then urbis vote register ref-2027 --finish response.json --home ~/alice
    """
    folder = home_path(home)
    found = _election(api, election)
    if finish is not None:
        answer = read_json(finish, "registrar response")
        mine = _ballot_key(folder, found.id)
        try:
            mine.finalize(found.registrar_key(), bytes.fromhex(answer["blind_sig"]))
        except (blindrsa.BlindSignatureError, KeyError, ValueError) as error:
            fail("voting.bad_blind_signature", f"the registrar's answer does not verify: {error}")
        mine.save(folder)
        stdout.print(f"ballot key ready for {election}: you can vote (`urbis vote cast`)")
        return
    if credential is None:
        fail("cli.usage", "give --credential (step 1) or --finish (step 2)", 2)
    from urbis.cli.wallet import _wallet

    mine = BallotKey.fresh(found.id)
    blinded = mine.blind(found.registrar_key())
    mine.save(folder)
    with reported():
        presentation = _wallet(folder).present(
            credential,
            ["election_id"],
            found.registrar,
            presentation_nonce(blinded),
            int(time.time()),
        )
    out.write_text(
        json.dumps(
            {"election": election, "presentation": presentation, "blinded_msg": blinded.hex()}
        )
    )
    kept = election_folder(folder, found.id)
    stdout.print(f"request for the registrar → {out} (your ballot key stays in {kept})")


def _selections(found: PublishedElection, choices: list[str]) -> dict[int, list[int]]:
    """`--choose yes` (one-contest manifests) or `--choose "Contest label=option label"`."""
    manifest = found.context().manifest
    values = {c.index: [0] * len(c.options) for c in manifest.contests}
    for choice in choices:
        contest_label, _, option_label = choice.rpartition("=")
        contests = [c for c in manifest.contests if not contest_label or c.label == contest_label]
        if len(contests) != 1:
            fail("voting.bad_choice", f"{choice!r}: name the contest as 'Contest=option'", 2)
        contest = contests[0]
        options = [
            o for o in contest.options if o.label == option_label or str(o.index) == option_label
        ]
        if not options:
            labels = ", ".join(o.label for o in contest.options)
            fail(
                "voting.bad_choice", f"{contest.label} has no option {option_label!r} ({labels})", 2
            )
        values[contest.index][options[0].index - 1] += 1
    return values


def _encrypt(found: PublishedElection, choices: list[str]) -> tuple[Any, Any, bytes, bytes]:
    context = found.context()
    device = Device.start(context, DEVICE, "none")
    try:
        ballot, nonce = encrypt_ballot(context, 1, _selections(found, choices), device)
    except ElectionCryptoError as error:
        fail("voting.bad_choice", str(error), 2)
    return context, ballot, nonce, ballot.to_bytes(context.group)


@app.command("cast")
def cast(
    election: ElectionArgument,
    choose: Annotated[list[str], typer.Option(help="An option: 'yes', or 'Contest=option'")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Encrypt a ballot on this machine and hand it to any node's relay; a later cast with
    the same ballot key replaces it. Keep the confirmation code to track it.

    Example: urbis vote cast ref-2027 --choose yes --home ~/alice
    """
    folder = home_path(home)
    found = _election(api, election)
    mine = _ballot_key(folder, found.id)
    if not mine.registrar_signature:
        fail(
            "voting.not_registered", "finish registering first (`urbis vote register --finish`)", 2
        )
    _, _, _, raw = _encrypt(found, choose)
    code = json.loads(raw)["confirmation_code"]
    with reported():
        answer = _api(api).relay(found.id, ballot_body(mine, "cast", raw))
    (election_folder(folder, found.id) / "codes.txt").open("a").write(code + "\n")
    _done(
        f"ballot relayed; confirmation code {code}", as_json, {"confirmation_code": code, **answer}
    )


def ballot_body(
    mine: BallotKey, kind: str, raw: bytes, nonces: bytes | None = None
) -> dict[str, Any]:
    body = {
        "kind": kind,
        "ballot_key": mine.public.hex(),
        "key_prefix": mine.key_prefix.hex(),
        "registrar_signature": mine.registrar_signature.hex(),
        "ballot": raw.decode(),
        "signature": mine.sign(kind, raw).hex(),
    }
    if nonces is not None:
        body["nonces"] = nonces.decode()
    return body


@app.command("challenge")
def challenge(
    election: ElectionArgument,
    choose: Annotated[list[str], typer.Option(help="An option: 'yes', or 'Contest=option'")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Benaloh challenge: encrypt, then publish the nonces instead of casting, so anyone can
    check the device encrypted what you chose. A challenged ballot is never counted.

    Example: urbis vote challenge ref-2027 --choose yes --home ~/alice
    """
    folder = home_path(home)
    found = _election(api, election)
    mine = _ballot_key(folder, found.id)
    context, ballot, nonce, raw = _encrypt(found, choose)
    opened = challenge_ballot(context, ballot, nonce)
    nonces = canonical(opened.to_json(context.group))
    with reported():
        answer = _api(api).relay(found.id, ballot_body(mine, "challenge", raw, nonces))
    code = ballot.confirmation_code.hex()
    _done(
        f"ballot {code} challenged: it opened to {dict(opened.selections)}",
        as_json,
        {"confirmation_code": code, **answer},
    )


@app.command("track")
def track(
    election: ElectionArgument,
    code: Annotated[str, typer.Argument(help="The confirmation code `urbis vote cast` printed")],
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Is this confirmation code in the record (counted, replaced or challenged)?

    Example: urbis vote track ref-2027 6f1c…
    """
    with reported():
        answer = _api(api).get(f"/elections/{election}/codes/{code.lower()}")
    _done(f"{code}: {answer['status']}", as_json, answer)


@app.command("export")
def export(
    election: ElectionArgument,
    directory: Annotated[Path, typer.Argument(help="Folder to write the record into")],
    api: ApiOption = None,
) -> None:
    """Write the election record (JSON files; layout in urbis/modules/voting/README.md).

    Example: urbis vote export ref-2027 ./ref-2027-record
    """
    from urbis.modules.voting.export import write_files

    with reported():
        files = _api(api).record_files(election.encode())
    write_files(files, directory)
    stdout.print(f"record of {election}: {len(files)} files → {directory}")


@app.command("verify")
def verify(
    election: Annotated[str | None, typer.Argument(help="Election id (read from the node)")] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="A record folder; no node")
    ] = None,
    held: Annotated[
        list[str] | None, typer.Option("--held", help="A confirmation code you hold")
    ] = None,
    toy: Annotated[bool, typer.Option(help="Accept the toy parameter set (tests only)")] = False,
    workers: Annotated[int, typer.Option(help="Processes for the ballot proofs")] = 1,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run ElectionGuard's §6.2 verification (steps 1-14) on the record from the chain or
    from a folder; exits 1 naming each failed step.

    Example: urbis vote verify ref-2027 --held 6f1c…;  urbis vote verify --record ./ref-2027-record
    """
    from urbis.election.group import STANDARD
    from urbis.election.record import ElectionRecord, RecordInvalid
    from urbis.election.verify import verify_record
    from urbis.modules.voting.export import write_files

    if (election is None) == (record is None):
        fail("cli.usage", "give an election id or --record DIR", 2)
    with tempfile.TemporaryDirectory() as scratch:
        folder = record
        if folder is None:
            assert election is not None
            with reported():
                files = _api(api).record_files(election.encode())
            folder = Path(scratch)
            write_files(files, folder)
        try:
            loaded = ElectionRecord.from_dir(folder)
        except ElectionCryptoError as error:
            fail(getattr(error, "code", RecordInvalid.code), str(error))
    allowed = (STANDARD.name, "toy-256") if toy else (STANDARD.name,)
    try:
        codes = [bytes.fromhex(c) for c in held or []]
    except ValueError:
        fail("cli.usage", "a confirmation code is hex", 2)
    report = verify_record(
        loaded, held_codes=codes, allowed_parameter_sets=allowed, workers=workers
    )
    emit(report.to_json(), as_json, lambda _: stdout.print(report.to_text(), highlight=False))
    if not report.ok:
        raise typer.Exit(1)


COMMANDS = [("vote", app)]


def _demo(
    residents: Annotated[
        int, typer.Option(help="Residents with a VoterEligibility credential")
    ] = 1000,
    group: Annotated[str, typer.Option(help="ElectionGuard parameter set")] = "standard-4096",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """A referendum on a dev city (`urbis up`): five guardian institutions (quorum 3), a
    registrar, residents with VoterEligibility credentials who register blindly and vote
    through the relay, some re-votes and Benaloh challenges, two guardians absent at the
    tally, the result, and the full §6.2 verification report.

    Example: urbis up --home ./city &  urbis demo referendum --home ./city --residents 200
    """
    from urbis.modules.voting.demo import run_demo

    with reported():
        run_demo(home_path(home), client(api), residents, group)


DEMOS = [("referendum", _demo)]
