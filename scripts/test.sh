#!/usr/bin/env bash
# The whole test suite, from a clean clone: builds every test target, installs and starts the
# emulators (Azurite for Blob, our launcher around @vercel/cosmosdb-server for Cosmos DB) on
# free loopback ports, runs every test against them, and stops them, pass or fail.
# A missing emulator fails the run with a message naming it; nothing is skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The Cosmos DB SDK probes the Azure VM metadata service (169.254.169.254) unless told not to;
# tests talk to loopback only.
export COSMOS_DISABLE_IMDS=1

# Build before the emulators start: they would idle through a cold build, and the build must not
# see the test-only TLS settings the emulator script exports.
cargo test --workspace --locked --no-run

# Offline checks of the deployment (Bicep, azure.yaml, workflows, scripts) against this build's
# settings and functions. They need no emulator, so they run before the emulators start; they
# install their own pinned tools (infra/tests/requirements.txt) on first use.
infra/tests/run.sh

exec emulators/with-emulators.sh cargo test --workspace --locked "$@"
