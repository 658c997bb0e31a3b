#!/usr/bin/env bash
# Runs the whole test suite. First installs what the tests need when it is missing,
# so a fresh machine goes from clone to green with this one command.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --locked   # as CI runs it
set -euo pipefail
cd "$(dirname "$0")/.."

# Test dependencies from Debian's packages and PyPI. Each entry is installed only
# when missing (`command:package`).
DEBIAN_PACKAGES=("redis-server:redis-server")
PYTHON_PACKAGES=("botocore:botocore" "moto:moto[server]")

install_missing() {
    local missing=()
    for entry in "${DEBIAN_PACKAGES[@]+"${DEBIAN_PACKAGES[@]}"}"; do
        local command_name="${entry%%:*}" package="${entry#*:}"
        command -v "$command_name" >/dev/null 2>&1 || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
    local py_missing=()
    for entry in "${PYTHON_PACKAGES[@]+"${PYTHON_PACKAGES[@]}"}"; do
        local module="${entry%%:*}" package="${entry#*:}"
        python3 -c "import $module" >/dev/null 2>&1 || py_missing+=("$package")
    done
    if [ "${#py_missing[@]}" -gt 0 ]; then
        echo "installing Python packages: ${py_missing[*]}"
        python3 -m pip install --quiet "${py_missing[@]}"
    fi
}

install_missing

# Keep test binaries small and builds quick on small machines.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
export CARGO_PROFILE_TEST_DEBUG="${CARGO_PROFILE_TEST_DEBUG:-line-tables-only}"
export PROPTEST_CASES="${PROPTEST_CASES:-256}"

# Unit, integration and example tests, and every bench run once as a test so that
# benches cannot rot; then the doc tests.
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
