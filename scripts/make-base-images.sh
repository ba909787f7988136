#!/usr/bin/env bash
# Builds the offline base root filesystems Berth's demo, tests and benches use:
#   busybox-rootfs.tar       Debian's busybox-static with its applet links, a few
#                            users and a www root for httpd demos (deterministic).
#   python-flask-rootfs.tar  Debian bookworm with python3, Flask and pip, from the
#                            same Debian mirror this machine's apt uses.
# Usage: scripts/make-base-images.sh [OUTDIR [IMAGE...]]
#   OUTDIR defaults to <repo>/images-cache; IMAGE is busybox or python-flask
#   (default: both).
# A tarball that already exists and is non-empty is kept; new ones are written to
# a temporary name and renamed, so an interrupted run never leaves a partial file.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:-$repo/images-cache}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
epoch=${SOURCE_DATE_EPOCH:-0}

work=$(mktemp -d "$outdir/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

log() { echo "make-base-images: $*"; }
fail() { echo "make-base-images: $*" >&2; exit 1; }

# Writes a deterministic tar of directory $1 to $2: sorted names, root-owned,
# one mtime, and no "./" prefix (like `docker export`).
deterministic_tar() {
    local dir=$1 out=$2
    (cd "$dir" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) |
        tar -C "$dir" --create --file "$out" --format=gnu --no-recursion \
            --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --files-from=-
}

make_busybox_rootfs() {
    local out=$1 root=$work/busybox
    # Debian's `busybox` package is dynamically linked and would not run in an
    # empty rootfs; busybox-static (same path, /bin/busybox) is self-contained.
    local busybox=/bin/busybox
    [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] ||
        fail "busybox-static is not installed: run scripts/install-deps.sh"

    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,tmp,var/www}
    install -m 0755 "$busybox" "$root/bin/busybox"
    # Applets at their canonical paths (bin/sh, usr/bin/env, ...), as `busybox --install` places them.
    local applet
    while read -r applet; do
        case $applet in
            */*) [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet" ;;
            *) ;; # top-level applets such as linuxrc have no place in an image
        esac
    done < <("$root/bin/busybox" --list-full)

    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
www-data:x:33:
nobody:x:65534:
EOF
    echo "hello from berth" >"$root/var/www/index.html"

    find "$root" -type d -exec chmod 0755 {} +
    chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/var/www/index.html"
    chmod 0700 "$root/root"
    chmod 1777 "$root/tmp"

    deterministic_tar "$root" "$out"
}

# Prints this machine's Debian bookworm apt sources as one-line entries, so
# mmdebstrap uses the mirror that works here (and in CI). Third-party
# repositories are left out. Falls back to deb.debian.org when apt has no lists.
debian_mirrors() {
    local lines
    lines=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' 2>/dev/null |
        awk '$2 ~ /^bookworm(-updates|-security)?$/ { print "deb " $1 " " $2 " " $3 }' | sort -u)
    if [ -z "$lines" ]; then
        lines="deb http://deb.debian.org/debian bookworm main"
    fi
    echo "$lines"
}

make_python_flask_rootfs() {
    local out=$1
    command -v mmdebstrap >/dev/null || fail "mmdebstrap not found: run scripts/install-deps.sh"
    local -a mirrors aptopts=()
    mapfile -t mirrors < <(debian_mirrors)
    # mmdebstrap does not read the host's apt.conf: carry a configured proxy over.
    local proxy
    proxy=$(apt-config dump --format '%v' Acquire::http::Proxy 2>/dev/null || true)
    [ -z "$proxy" ] || aptopts+=("--aptopt=Acquire::http::Proxy \"$proxy\"")
    log "mmdebstrap from: $(printf '%s; ' "${mirrors[@]}")"
    # PEP 668: Debian marks its Python as externally managed, so `pip install`
    # refuses to run, even when the requirement is already satisfied by a Debian
    # package. The PEP asks distro-based container images to delete the marker,
    # which makes this image behave like Docker's official python images (where
    # `RUN pip install -r requirements.txt` just works).
    # The merged-usr hook sets up /bin -> usr/bin directly instead of installing
    # the usrmerge package (and perl with it); unsafe-io skips dpkg's fsyncs, which
    # only matter for a live system; device nodes are left to the runtime's /dev.
    local start=$SECONDS
    if ! mmdebstrap --quiet --variant=apt --mode=root --format=tar \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --dpkgopt=force-unsafe-io --skip=output/dev \
        --include=python3-minimal,python3-flask,python3-pip,python-is-python3 \
        --customize-hook='rm -f "$1"/usr/lib/python3.*/EXTERNALLY-MANAGED' "${aptopts[@]}" \
        bookworm "$out" "${mirrors[@]}" >"$work/mmdebstrap.log" 2>&1; then
        tail -n 40 "$work/mmdebstrap.log" >&2
        fail "mmdebstrap failed"
    fi
    log "mmdebstrap took $((SECONDS - start)) s"
}

build() {
    local name=$1 maker=$2
    local target=$outdir/$name
    if [ -s "$target" ]; then
        log "$name: cached ($target)"
        return
    fi
    local tmp=$work/$name.tmp
    "$maker" "$tmp"
    [ -s "$tmp" ] || fail "$name: builder produced an empty file"
    mv -f "$tmp" "$target"
    log "$name: $(du -h "$target" | cut -f1) written to $target"
}

images=("${@:2}")
[ ${#images[@]} -gt 0 ] || images=(busybox python-flask)
for image in "${images[@]}"; do
    case $image in
        busybox) build busybox-rootfs.tar make_busybox_rootfs ;;
        python-flask) build python-flask-rootfs.tar make_python_flask_rootfs ;;
        *) fail "unknown image '$image' (known: busybox, python-flask)" ;;
    esac
done
