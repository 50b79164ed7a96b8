"""Generate the CometBFT protobuf types for Python from the Go module cache.

CometBFT's .proto files are not copied into this repository: they are read
from the module that `go install` (or `go mod download`) put in the Go module
cache, compiled with the protoc that grpcio-tools ships, and written to
`urbis/consensus/cometbft/pb/` (ignored by git).

    python -m urbis.consensus.cometbft.protogen --version v0.38.25
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

COMETBFT_MODULE = "github.com/cometbft/cometbft"
GOGOPROTO_MODULE = "github.com/cosmos/gogoproto"
OUTPUT = Path(__file__).resolve().parent / "pb"
PROTO_FILES = (
    "tendermint/abci/types.proto",
    "tendermint/crypto/proof.proto",
    "tendermint/crypto/keys.proto",
    "tendermint/types/params.proto",
    "tendermint/types/validator.proto",
    "tendermint/types/types.proto",
    "tendermint/types/canonical.proto",
    "tendermint/version/types.proto",
)


def go(*args: str) -> str:
    return subprocess.run(["go", *args], check=True, capture_output=True, text=True).stdout.strip()


def module_dir(module: str, version: str) -> Path:
    cache = Path(go("env", "GOMODCACHE"))
    path = cache / f"{module}@{version}"
    if not path.is_dir():
        go("mod", "download", f"{module}@{version}")
    return path


def generate(version: str) -> Path:
    import grpc_tools
    from grpc_tools import protoc

    cometbft = module_dir(COMETBFT_MODULE, version)
    go_mod = (cometbft / "go.mod").read_text()
    match = re.search(rf"{re.escape(GOGOPROTO_MODULE)} (v\S+)", go_mod)
    if match is None:
        raise SystemExit(f"cannot find {GOGOPROTO_MODULE} in {cometbft}/go.mod")
    gogoproto = module_dir(GOGOPROTO_MODULE, match.group(1))
    google = Path(grpc_tools.__file__).parent / "_proto"
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    OUTPUT.mkdir(parents=True)
    sources = [*PROTO_FILES, "gogoproto/gogo.proto"]
    status = protoc.main(
        [
            "protoc",
            f"-I{cometbft / 'proto'}",
            f"-I{gogoproto}",
            f"-I{google}",
            f"--python_out={OUTPUT}",
            *sources,
        ]
    )
    if status != 0:
        raise SystemExit(f"protoc failed with status {status}")
    for folder in [OUTPUT, *[p for p in OUTPUT.rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()
    (OUTPUT / "VERSION").write_text(version + "\n")
    return OUTPUT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="CometBFT module version, e.g. v0.38.25")
    args = parser.parse_args()
    print(f"generated {generate(args.version)}", file=sys.stderr)


if __name__ == "__main__":
    main()
