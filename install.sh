#!/bin/sh
# Install agentbox on a Debian/Ubuntu host.
#
# From a checkout (this file next to deno.json): system packages, npm dependencies (with npm, from
# the lockfile), Deno if missing, an `agentbox` command on PATH, shell completions (bash, zsh,
# fish) and the man page under $PREFIX/share, and the default guest image.
# Piped (`curl -fsSL …/install.sh | sh`) or with AGENTBOX_RELEASE=1: download the release binary
# and the default image, verify their SHA-256 against the release's SHA256SUMS, and install them.
#
#   ./install.sh                        everything, from this checkout
#   ./install.sh --uninstall            remove the agentbox command (and the deno link it made)
#   ./install.sh --uninstall --purge    also remove images, caches, state and configuration
#   AGENTBOX_SKIP_IMAGE=1 ./install.sh  skip the image (build later: agentbox images build)
#   PREFIX=$HOME/.local ./install.sh    where bin/agentbox goes (default /usr/local as root, else ~/.local)
#   AGENTBOX_RELEASE_URL=URL            where release files are (default: the project's latest release)
set -eu

say() { printf 'install: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then PREFIX=${PREFIX:-/usr/local}; else PREFIX=${PREFIX:-$HOME/.local}; fi
DATA_DIR=${XDG_DATA_HOME:-$HOME/.local/share}/agentbox
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/agentbox
STATE_DIR=${XDG_STATE_HOME:-$HOME/.local/state}/agentbox
CONFIG_DIR=${XDG_CONFIG_HOME:-$HOME/.config}/agentbox
RELEASE_URL=${AGENTBOX_RELEASE_URL:-https://github.com/agentbox-dev/agentbox/releases/latest/download}
MARK="# agentbox launcher"

# Debian packages, as "NAME..." lists; `ensure_packages` installs the missing ones as root and
# otherwise prints the exact command.
RUNTIME_PACKAGES="qemu-system-x86 qemu-system-common util-linux findutils erofs-utils e2fsprogs \
  ca-certificates curl nftables iproute2"
# What the image build (apt, dpkg-deb, mkfs.erofs, debootstrap for the dev image), the tests and
# the benchmarks (ssh and ssh-keygen for tests/bench/ssh_exec.ts; ansible-playbook for the checks
# of `agentbox export --ansible`) use.
BUILD_PACKAGES="cpio debootstrap busybox-static tmux openssh-client ansible-core"

ensure_packages() {
  missing=""
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages:$missing
run as root, or first: sudo apt-get install -y --no-install-recommends$missing"
  fi
  say "installing Debian packages:$missing"
  apt-get update -qq
  # shellcheck disable=SC2086 # a list of package names
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Shell completions and the man page, written by the installed agentbox from its own help.
COMPLETION_FILES="share/bash-completion/completions/agentbox share/zsh/site-functions/_agentbox \
  share/fish/vendor_completions.d/agentbox.fish share/man/man1/agentbox.1"

install_extras() {
  bin="$PREFIX/bin/agentbox"
  for file in $COMPLETION_FILES; do
    mkdir -p "$PREFIX/$(dirname "$file")"
    case "$file" in
      */bash-completion/*) args="completion bash" ;;
      */_agentbox) args="completion zsh" ;;
      *.fish) args="completion fish" ;;
      *) args="help --man" ;;
    esac
    # shellcheck disable=SC2086 # two words
    if ! "$bin" $args >"$PREFIX/$file.tmp" 2>/dev/null; then
      rm -f "$PREFIX/$file.tmp"
      say "could not write $PREFIX/$file (\`agentbox $args\` failed); agentbox works without it"
      continue
    fi
    mv "$PREFIX/$file.tmp" "$PREFIX/$file"
  done
  say "installed completions for bash, zsh and fish, and the man page, under $PREFIX/share"
}

on_path() {
  case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) say "add $PREFIX/bin to your PATH" ;; esac
}

uninstall() {
  purge=$1
  if [ -f "$PREFIX/bin/agentbox" ]; then
    if grep -q "$MARK" "$PREFIX/bin/agentbox" 2>/dev/null || [ -f "$PREFIX/bin/.agentbox-release" ]; then
      rm -f "$PREFIX/bin/agentbox" "$PREFIX/bin/.agentbox-release"
      for file in $COMPLETION_FILES; do rm -f "$PREFIX/$file"; done
      say "removed $PREFIX/bin/agentbox, its completions and man page"
    else
      die "$PREFIX/bin/agentbox was not installed by this script; remove it yourself"
    fi
  fi
  # The deno link the source install made points into a checkout's node_modules.
  if [ -L "$PREFIX/bin/deno" ]; then
    case "$(readlink "$PREFIX/bin/deno")" in
      */node_modules/@deno/*) rm -f "$PREFIX/bin/deno" && say "removed $PREFIX/bin/deno" ;;
    esac
  fi
  if [ "$purge" = 1 ]; then
    rm -rf "$DATA_DIR" "$CACHE_DIR" "$STATE_DIR" "$CONFIG_DIR"
    say "removed $DATA_DIR, $CACHE_DIR, $STATE_DIR and $CONFIG_DIR"
  else
    say "kept images, caches, session state and configuration ($DATA_DIR, $CACHE_DIR, $STATE_DIR, $CONFIG_DIR): --purge removes them"
  fi
  say "Debian packages are left installed"
}

install_release() {
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no release for $(uname -m)" ;;
  esac
  ensure_packages $RUNTIME_PACKAGES
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  binary="agentbox-linux-$arch"
  image="agentbox-image-default-$arch.tar.gz"
  for file in SHA256SUMS "$binary" "$image"; do
    say "downloading $RELEASE_URL/$file"
    curl -fsSL --retry 3 -o "$tmp/$file" "$RELEASE_URL/$file" || die "cannot download $RELEASE_URL/$file"
  done
  for file in "$binary" "$image"; do
    grep -E "^[0-9a-f]{64}  $file\$" "$tmp/SHA256SUMS" >"$tmp/want" || die "SHA256SUMS has no entry for $file"
    (cd "$tmp" && sha256sum -c --quiet "$tmp/want") || die "$file does not match its SHA-256: not installed"
  done
  mkdir -p "$PREFIX/bin" "$DATA_DIR/images"
  install -m 755 "$tmp/$binary" "$PREFIX/bin/agentbox"
  : >"$PREFIX/bin/.agentbox-release"
  say "installed $PREFIX/bin/agentbox"
  install_extras
  if [ "${AGENTBOX_SKIP_IMAGE:-}" != 1 ]; then
    rm -rf "$DATA_DIR/images/.default.install" && mkdir "$DATA_DIR/images/.default.install"
    tar -xzf "$tmp/$image" -C "$DATA_DIR/images/.default.install"
    rm -rf "$DATA_DIR/images/default"
    mv "$DATA_DIR/images/.default.install" "$DATA_DIR/images/default"
    say "installed the default image in $DATA_DIR/images/default"
  fi
  on_path
  say "done: try \`agentbox exec -- uname -a\`"
}

install_source() {
  repo=$1
  ensure_packages $RUNTIME_PACKAGES $BUILD_PACKAGES
  # Node.js may come from elsewhere than Debian: only its npm command matters.
  command -v npm >/dev/null 2>&1 || ensure_packages nodejs npm

  say "installing npm dependencies (npm ci)"
  (cd "$repo" && npm ci --no-audit --no-fund --loglevel=error)
  # Deno comes from npm too (@deno/linux-x64-glibc): the pinned binary, whether or not one is on
  # PATH. Elsewhere a deno on PATH is used.
  case "$(uname -m)" in
    x86_64 | amd64) deno="$repo/node_modules/@deno/linux-x64-glibc/deno" ;;
    *) deno=$(command -v deno) || die "install Deno first (package.json pins it for x86_64 only)" ;;
  esac
  "$deno" --version >/dev/null || die "the deno binary from npm does not run"

  mkdir -p "$PREFIX/bin"
  cat >"$PREFIX/bin/agentbox" <<LAUNCHER
#!/bin/sh
$MARK, written by $repo/install.sh
# Upstream TLS (inspected HTTPS) is verified against this host's trust store, not Deno's bundled one.
export DENO_TLS_CA_STORE="\${DENO_TLS_CA_STORE:-system}"
exec "$deno" run --allow-all --quiet --no-prompt --config "$repo/deno.json" "$repo/host/main.ts" "\$@"
LAUNCHER
  chmod 755 "$PREFIX/bin/agentbox"
  say "installed $PREFIX/bin/agentbox"
  install_extras
  if ! command -v deno >/dev/null 2>&1; then
    ln -sf "$deno" "$PREFIX/bin/deno"
    say "installed $PREFIX/bin/deno (Deno $("$deno" --version | head -n1 | cut -d' ' -f2), for \`deno task\`)"
  fi
  on_path

  if [ "${AGENTBOX_SKIP_IMAGE:-}" != 1 ]; then
    "$PREFIX/bin/agentbox" images build
  fi
  say "done: try \`agentbox exec -- uname -a\`"
}

uninstall=0
purge=0
for arg in "$@"; do
  case "$arg" in
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h | --help) sed -n '2,15p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $arg (see --help)" ;;
  esac
done
[ "$purge" = 1 ] && [ "$uninstall" = 0 ] && die "--purge goes with --uninstall"

if [ "$uninstall" = 1 ]; then
  uninstall "$purge"
  exit 0
fi

# Run from a checkout, this file sits next to deno.json; piped into sh, $0 is the shell.
repo=$(cd "$(dirname "$0")" 2>/dev/null && pwd) || repo=""
if [ "${AGENTBOX_RELEASE:-}" != 1 ] && [ -n "$repo" ] && [ -f "$repo/deno.json" ] &&
  [ -f "$repo/host/main.ts" ]; then
  install_source "$repo"
else
  install_release
fi
