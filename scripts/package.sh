#!/usr/bin/env bash
# Builds the release binary for the Azure Functions Linux host and stages the deployable app:
#
#   dist/app/      host.json, one folder per function with its function.json, and the executable
#                  `shopsense` with its run bit: nothing else
#   dist/app.zip   the same files, exec bit kept: what `azd deploy` and the deploy workflow upload
#
#   scripts/package.sh                 x86-64 Linux, glibc 2.28 baseline, via cargo-zigbuild (default)
#   scripts/package.sh --native        this machine's toolchain, checked against the same baseline
#   scripts/package.sh --target x86_64-unknown-linux-musl
#                                      static musl build (needs `rustup target add` and musl-gcc)
#   scripts/package.sh --out DIR --zip FILE   other output paths
#
# Why a glibc baseline: the Functions host's Linux image is not ours to pick, and a binary linked
# against a newer glibc than the image has never starts (the only symptom is a host that keeps
# restarting). cargo-zigbuild links against glibc 2.28 whatever this machine has; every build is
# checked against the baseline before it is packaged (SHOPSENSE_GLIBC_BASELINE overrides it).
#
# The default route installs its pinned tools on first use under .tools/ (gitignored):
# cargo-zigbuild from crates.io and the zig compiler from PyPI (`ziglang`). A cold release build
# takes at least ten minutes of both cores on a 2-core machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

CARGO_ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.15.2
GLIBC_BASELINE="${SHOPSENSE_GLIBC_BASELINE:-2.28}"
ARCH_TARGET=x86_64-unknown-linux-gnu

die() {
  printf '\n*** package.sh: %s ***\n\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

route=zig
target="$ARCH_TARGET"
out=dist/app
zip=dist/app.zip
while (($#)); do
  case "$1" in
    --native) route=native ;;
    --target)
      [[ $# -ge 2 ]] || die "--target needs a target triple"
      route=cross
      target="$2"
      shift
      ;;
    --out)
      [[ $# -ge 2 ]] || die "--out needs a folder"
      out="$2"
      shift
      ;;
    --zip)
      [[ $# -ge 2 ]] || die "--zip needs a file name"
      zip="$2"
      shift
      ;;
    -h | --help) usage 0 ;;
    *)
      echo "package.sh: unknown argument $1" >&2
      usage 2
      ;;
  esac
  shift
done

command -v cargo >/dev/null || die "cargo is not on PATH (rustup installs the toolchain rust-toolchain.toml pins)"
command -v python3 >/dev/null || die "python3 is not on PATH (needed to read cargo metadata and, for the default route, to install zig)"

target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
build=(--release --locked -p shopsense-functions --bin shopsense)
# The commit goes into every model manifest's code version: a retrain after a deploy of new code
# trains again even when no new data came (`-dirty` for uncommitted changes).
if [[ -z "${SHOPSENSE_GIT_SHA:-}" ]]; then
  if sha="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null)"; then
    git -C "$root" diff --quiet HEAD 2>/dev/null || sha="$sha-dirty"
    export SHOPSENSE_GIT_SHA="$sha"
  else
    echo "package.sh: no git commit to record; set SHOPSENSE_GIT_SHA, or a retrain after deploying new code waits for new data (or \`shopsense train --force\`)" >&2
  fi
fi

case "$route" in
  zig)
    tools="$root/.tools"
    if ! "$tools/cargo/bin/cargo-zigbuild" --version 2>/dev/null | grep -q " $CARGO_ZIGBUILD_VERSION\$"; then
      echo "package.sh: installing cargo-zigbuild $CARGO_ZIGBUILD_VERSION into $tools/cargo" >&2
      cargo install --locked --quiet --root "$tools/cargo" cargo-zigbuild --version "$CARGO_ZIGBUILD_VERSION" ||
        die "cannot install cargo-zigbuild $CARGO_ZIGBUILD_VERSION from crates.io"
    fi
    if [[ "$("$tools/zig/bin/python3" -m ziglang version 2>/dev/null || true)" != "$ZIGLANG_VERSION" ]]; then
      echo "package.sh: installing zig $ZIGLANG_VERSION (PyPI ziglang) into $tools/zig" >&2
      rm -rf "$tools/zig"
      { python3 -m venv "$tools/zig" && "$tools/zig/bin/pip" install --quiet --disable-pip-version-check \
        "ziglang==$ZIGLANG_VERSION"; } || die "cannot install ziglang $ZIGLANG_VERSION from PyPI into $tools/zig"
    fi
    # cargo-zigbuild runs `python3 -m ziglang` when no `zig` is on PATH: the venv's python3 first.
    export PATH="$tools/cargo/bin:$tools/zig/bin:$PATH"
    cargo zigbuild "${build[@]}" --target "$ARCH_TARGET.$GLIBC_BASELINE"
    binary="$target_dir/$ARCH_TARGET/release/shopsense"
    ;;
  native)
    cargo build "${build[@]}"
    binary="$target_dir/release/shopsense"
    ;;
  cross)
    cargo build "${build[@]}" --target "$target"
    binary="$target_dir/$target/release/shopsense"
    ;;
esac
[[ -x "$binary" ]] || die "the build did not produce $binary"

# The highest glibc symbol version the binary needs (nothing for a static musl build).
needed_glibc() {
  local symbols
  if command -v objdump >/dev/null; then
    symbols="$(objdump -T "$1")"
  else
    symbols="$(LC_ALL=C grep -ao 'GLIBC_[0-9][0-9.]*' "$1" || true)"
  fi
  grep -o 'GLIBC_[0-9][0-9.]*' <<<"$symbols" | sed 's/^GLIBC_//' | sort -uV | tail -1 || true
}
needed="$(needed_glibc "$binary")"
if [[ -n "$needed" && "$(printf '%s\n%s\n' "$GLIBC_BASELINE" "$needed" | sort -V | tail -1)" != "$GLIBC_BASELINE" ]]; then
  die "$binary needs glibc $needed, newer than the $GLIBC_BASELINE baseline the Functions host is assumed to have.
Build with the default route (cargo-zigbuild) or --target x86_64-unknown-linux-musl, or set
SHOPSENSE_GLIBC_BASELINE if you know the host's glibc"
fi

# The binary packages itself: the staged executable is exactly the file that ran this step.
"$binary" package --out "$out" --zip "$zip"
echo "package.sh: $binary (glibc ${needed:-none needed}, baseline $GLIBC_BASELINE) packaged into $out and $zip" >&2
