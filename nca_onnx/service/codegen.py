"""Regenerate the Python gRPC code in nca_onnx/service/_proto from protos/nca/v1/nca.proto.

Run `python -m nca_onnx.service.codegen` after editing the contract; `--check` only
compares. Needs grpcio-tools (the `test` extra); the generated files depend on its
version, so the extra pins it.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

__all__ = ["GENERATED_FILES", "PROTO_FILE", "PROTO_ROOT", "generate", "main"]

PACKAGE_DIR = Path(__file__).resolve().parent / "_proto"
PROTO_ROOT = Path(__file__).resolve().parents[2] / "protos"
PROTO_FILE = "nca/v1/nca.proto"
GENERATED_FILES = ("nca_pb2.py", "nca_pb2.pyi", "nca_pb2_grpc.py")
# protoc writes an absolute import that follows the .proto folder; the generated files
# live in a package of their own, so the stub module imports its messages relatively.
_ABSOLUTE_IMPORT = "from nca.v1 import nca_pb2 as"
_RELATIVE_IMPORT = "from . import nca_pb2 as"


def generate(out_dir: Path) -> list[Path]:
    """Write GENERATED_FILES into `out_dir` (created if needed); returns their paths.

    Raises:
        RuntimeError: grpcio-tools is missing, the .proto is not found, or protoc fails.
    """
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError as error:
        raise RuntimeError("code generation needs grpcio-tools: "
                           "pip install -e '.[test]'") from error
    if not (PROTO_ROOT / PROTO_FILE).is_file():
        raise RuntimeError(f"'{PROTO_ROOT / PROTO_FILE}' is missing; run the generator "
                           "from a source checkout of nca-onnx")

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as scratch:
        status = protoc.main([
            "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}",
            f"--python_out={scratch}", f"--pyi_out={scratch}", f"--grpc_python_out={scratch}",
            str(PROTO_ROOT / PROTO_FILE),
        ])
        if status != 0:
            raise RuntimeError(f"protoc failed with status {status} on {PROTO_FILE}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name in GENERATED_FILES:
            text = (Path(scratch) / Path(PROTO_FILE).parent / name).read_text()
            target = out_dir / name
            target.write_text(text.replace(_ABSOLUTE_IMPORT, _RELATIVE_IMPORT))
            written.append(target)
    return written


def _check() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        generate(Path(scratch))
        stale = [name for name in GENERATED_FILES
                 if not (PACKAGE_DIR / name).exists()
                 or not filecmp.cmp(Path(scratch) / name, PACKAGE_DIR / name, shallow=False)]
    for name in stale:
        print(f"stale: {PACKAGE_DIR / name}; run python -m nca_onnx.service.codegen",
              file=sys.stderr)
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate in place, or with --check report stale files (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m nca_onnx.service.codegen",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR,
                        help="folder for the generated files (default: the package)")
    args = parser.parse_args(argv)
    if args.check:
        return _check()
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
