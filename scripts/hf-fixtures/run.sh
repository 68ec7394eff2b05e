#!/usr/bin/env bash
# Regenerates test/fixtures/hf (dev-only; never run by npm test or CI). Creates a virtual environment with
# torch, transformers, tokenizers, safetensors, sentencepiece, protobuf and accelerate (from the configured pip
# index or local wheels), then runs make_fixtures.py. VENV overrides where the environment lives.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${VENV:-/tmp/bitnet-hf-fixtures-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet torch transformers tokenizers safetensors sentencepiece protobuf accelerate
"$venv/bin/python" "$here/make_fixtures.py" "$here/../../test/fixtures/hf"
