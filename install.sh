#!/bin/sh
# Set up agentbox from this checkout on a Debian/Ubuntu host: system packages, npm dependencies
# (with npm, from the lockfile), an `agentbox` command on PATH, and the default guest image.
#
#   ./install.sh                      everything
#   AGENTBOX_SKIP_IMAGE=1 ./install.sh  skip building the image (build later: agentbox images build)
#   PREFIX=$HOME/.local ./install.sh    where bin/agentbox goes (default /usr/local as root, else ~/.local)
set -eu

REPO=$(cd "$(dirname "$0")" && pwd)
say() { printf 'install: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

# What the VM backend, the image build (apt, dpkg-deb, mkfs.erofs) and the tests use.
PACKAGES="qemu-system-x86 qemu-system-common util-linux erofs-utils e2fsprogs cpio debootstrap \
  ca-certificates curl nftables iproute2 busybox-static tmux"

missing=""
for pkg in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
# Node.js may come from elsewhere than Debian: only its npm command matters.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages:$missing (run as root, or: sudo apt-get install$missing)"
  fi
  say "installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

say "installing npm dependencies (npm ci)"
(cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error)
DENO="$REPO/node_modules/@deno/linux-x64-glibc/deno"
"$DENO" --version >/dev/null || die "the deno binary from npm does not run"

if [ "$(id -u)" -eq 0 ]; then PREFIX=${PREFIX:-/usr/local}; else PREFIX=${PREFIX:-$HOME/.local}; fi
mkdir -p "$PREFIX/bin"
cat > "$PREFIX/bin/agentbox" <<LAUNCHER
#!/bin/sh
# agentbox launcher, written by $REPO/install.sh
# Upstream TLS (inspected HTTPS) is verified against this host's trust store, not Deno's bundled one.
export DENO_TLS_CA_STORE="\${DENO_TLS_CA_STORE:-system}"
exec "$DENO" run --allow-all --quiet --no-prompt --config "$REPO/deno.json" "$REPO/host/main.ts" "\$@"
LAUNCHER
chmod 755 "$PREFIX/bin/agentbox"
say "installed $PREFIX/bin/agentbox"
if ! command -v deno >/dev/null 2>&1; then
  ln -sf "$DENO" "$PREFIX/bin/deno"
  say "installed $PREFIX/bin/deno (Deno $("$DENO" --version | head -n1 | cut -d' ' -f2), for \`deno task\`)"
fi
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) say "add $PREFIX/bin to your PATH" ;; esac

if [ "${AGENTBOX_SKIP_IMAGE:-}" != 1 ]; then
  "$PREFIX/bin/agentbox" images build
fi
say "done: try \`agentbox exec -- uname -a\`"
