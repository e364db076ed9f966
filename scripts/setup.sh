#!/usr/bin/env bash
# Idempotent prerequisites for building, testing and running Cadence. Safe to run repeatedly.
# Run as root on CI (make test / make demo); as a normal user it only reports what is missing.
# `setup.sh --bench` (make bench) also installs the benchmarks' peers: python3-torch and libopenblas0-pthread.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=false
[ "${1:-}" = --bench ] && bench=true
if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET 10 SDK is required (https://dot.net); 'dotnet' is not on PATH" >&2; exit 1
fi

is_root() { [ "$(id -u)" = 0 ]; }
debian_major() { [ -r /etc/debian_version ] && cut -d. -f1 /etc/debian_version || echo ""; }

# --- TorchSharp-cpu 0.107 needs libstdc++ with GLIBCXX_3.4.32 (GCC >= 13) --------------------------
# See shared/reference/environment.md. Debian 12 ships GCC 12's libstdc++ (up to GLIBCXX_3.4.30);
# trixie's libstdc++6 is installed through one-off apt options, leaving no trixie entry in the sources.
libstdcxx=/usr/lib/x86_64-linux-gnu/libstdc++.so.6
has_glibcxx_3432() {
  [ -e "$libstdcxx" ] && grep -qa 'GLIBCXX_3\.4\.32' "$libstdcxx"
}
if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] && ! has_glibcxx_3432; then
  if is_root && [ "$(debian_major)" = 12 ]; then
    echo "setup: libstdc++ lacks GLIBCXX_3.4.32 (needed by TorchSharp 0.107); installing libstdc++6 from Debian 13 (trixie)"
    list=$(mktemp -d /tmp/cadence-apt.XXXXXX)
    cat > "$list/both.list" <<'X'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
X
    chmod 755 "$list"; mkdir -p "$list/lists/partial"
    o=(-o "Dir::Etc::SourceList=$list/both.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$list/lists" -o APT::Default-Release=bookworm)
    apt-get "${o[@]}" -qq update
    DEBIAN_FRONTEND=noninteractive apt-get "${o[@]}" -y -qq -o Dpkg::Use-Pty=0 install -t trixie libstdc++6 >/dev/null
    rm -rf "$list"
    if has_glibcxx_3432; then echo "setup: libstdc++6 now provides GLIBCXX_3.4.32"
    else echo "setup: installing trixie's libstdc++6 did not provide GLIBCXX_3.4.32; TorchSharp will not load" >&2; exit 1; fi
  else
    echo "setup: missing GLIBCXX_3.4.32 in $libstdcxx: TorchSharp 0.107 needs libstdc++ from GCC >= 13 (on Debian 12 run 'make setup' as root to install libstdc++6 from trixie; Ubuntu 24.04 / Debian 13 have it)" >&2
  fi
fi

# --- Fashion-MNIST (demo and benchmarks only; tests never need it) --------------------------------
fmnist=/usr/share/datasets/fashion-mnist
if [ ! -e "$fmnist/train-images-idx3-ubyte.gz" ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian package dataset-fashion-mnist (for make demo)"
    if ! { apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 install dataset-fashion-mnist >/dev/null; }; then
      echo "setup: could not install dataset-fashion-mnist; the demo needs it (or pass --data idx DIR with the four Fashion-MNIST files)" >&2
    fi
  else
    echo "setup: Fashion-MNIST not found in $fmnist (install Debian's dataset-fashion-mnist, or use --data idx DIR); only the demo needs it" >&2
  fi
fi

# --- Benchmark peers (make bench only): PyTorch 1.13.1 from Debian, and OpenBLAS for its fair run ----------------
# libopenblas0-pthread also becomes the system's libblas.so.3 through update-alternatives (priority 100 over the
# reference BLAS); bench/harness.py names the BLAS each PyTorch run really loaded.
if $bench; then
  missing=()
  { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; } || missing+=(python3-torch)
  [ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ] || missing+=(libopenblas0-pthread)
  if [ ${#missing[@]} -gt 0 ]; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing ${missing[*]} (PyTorch peer of make bench)"
      if ! { apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 install "${missing[@]}" >/dev/null; }; then
        echo "setup: could not install ${missing[*]}; make bench will skip the PyTorch runs that need them" >&2
      fi
    else
      echo "setup: ${missing[*]} not installed (Debian packages; run 'make setup' as root); make bench will skip the PyTorch runs that need them" >&2
    fi
  fi
fi

# --- Chromium (headless check of the HTML report in tests/Cadence.Plots.Tests; skipped there when missing) --
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian package chromium (tests load the HTML report in headless Chromium)"
    if ! { apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 install chromium >/dev/null; }; then
      echo "setup: could not install chromium; the headless report test will be skipped" >&2
    fi
  else
    echo "setup: chromium not found and not root (or no apt-get): the headless report test will be skipped (install Debian's chromium to run it)" >&2
  fi
fi

# --- A sans-serif font for chart text (Cadence.Plots); Skia draws no text without an installed font -------------
if [ "$(uname -s)" = Linux ] && [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && ! ls /usr/share/fonts/truetype/liberation*/LiberationSans-Regular.ttf >/dev/null 2>&1; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian package fonts-dejavu-core (text in charts)"
    { apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 install fonts-dejavu-core >/dev/null; } \
      || echo "setup: could not install fonts-dejavu-core; charts will have no readable text" >&2
  else
    echo "setup: no DejaVu or Liberation font found: chart text needs a TrueType font (Debian: fonts-dejavu-core)" >&2
  fi
fi
