#!/usr/bin/env bash
# Offline checks of everything that deploys shopsense (no Azure, no Bicep compiler needed):
# every .bicep parses, no key or connection string anywhere, the app settings and event
# subscriptions in the Bicep match what the code reads and routes (`shopsense config --json`),
# azure.yaml packages and deploys the tested zip, and the workflows and scripts lint clean.
#
#   infra/tests/run.sh [pytest args...]
#
# Installs its pinned tools (requirements.txt) into infra/tests/.venv (gitignored) on first use
# or when requirements.txt changes, and builds the debug `shopsense` binary if needed (a no-op
# after the test command's build step). Fails loudly when a tool cannot be installed: a check
# that did not run is never reported as passed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$here/.venv"

die() {
  printf '\n*** infra checks: %s ***\n\n' "$*" >&2
  exit 1
}

command -v python3 >/dev/null || die "python3 is not on PATH (3.10+ with the venv module)"
command -v cargo >/dev/null || die "cargo is not on PATH"

stamp="$venv/.installed-requirements.txt"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "infra checks: installing the pinned tools into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || die "cannot create a venv in $venv (Debian/Ubuntu: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt" ||
    die "pip could not install $here/requirements.txt (is PyPI reachable?)"
  cp "$here/requirements.txt" "$stamp"
fi
for tool in actionlint shellcheck; do
  [[ -x "$venv/bin/$tool" ]] || die "$tool is missing from $venv/bin after installing requirements.txt"
done

# The checks compare the Bicep with what this build of the code reads and routes.
cargo build --quiet --locked -p shopsense-functions --bin shopsense --manifest-path "$repo/Cargo.toml" ||
  die "cannot build the shopsense binary"
target_dir="$(cargo metadata --format-version 1 --no-deps --locked --manifest-path "$repo/Cargo.toml" |
  "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export SHOPSENSE_BIN="$target_dir/debug/shopsense"
[[ -x "$SHOPSENSE_BIN" ]] || die "the build did not produce $SHOPSENSE_BIN"

# actionlint runs shellcheck on every `run:` block when it finds it on PATH. No __pycache__ or
# .pytest_cache in the work tree.
export PATH="$venv/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
cd "$repo"
exec "$venv/bin/python" -m pytest "$here" -p no:cacheprovider -q "$@"
