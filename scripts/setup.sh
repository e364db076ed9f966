#!/usr/bin/env bash
# Idempotent prerequisites for building, testing and running Cadence. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET 10 SDK is required (https://dot.net); 'dotnet' is not on PATH" >&2; exit 1
fi
