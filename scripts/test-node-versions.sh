#!/usr/bin/env bash
# The test suite under other Node.js majors than the machine's: ship-hub supports 20, 22 and 24.
# The Node binaries come from the npm registry (node-linux-<arch>@<major>, a package holding the
# official build) and are unpacked under .node-versions/<major>/ (git-ignored). The tests run from
# build/ as `npm run build` made it with the machine's Node.
#
#   scripts/test-node-versions.sh [major ...] [-- filter ...]   fetch if needed, build, test
#   scripts/test-node-versions.sh --install [major ...]         only fetch (.ci/run does this)
#   scripts/test-node-versions.sh --installed [-- filter ...]   test under every fetched major,
#                                                               without building; nothing to do
#                                                               when none was fetched (npm test)
# Majors default to 22 and 24.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=run
case "${1:-}" in
  --install) mode=install; shift ;;
  --installed) mode=installed; shift ;;
esac
majors=()
while [[ $# -gt 0 && "$1" != "--" ]]; do majors+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
if [[ "${mode}" == installed ]]; then
  for dir in .node-versions/*/; do
    [[ -x "${dir}package/bin/node" ]] && majors+=("$(basename "${dir}")")
  done
  [[ ${#majors[@]} -eq 0 ]] && exit 0
elif [[ ${#majors[@]} -eq 0 ]]; then
  majors=(22 24)
fi

fetch() {
  local major=$1 dir=".node-versions/$1" arch tarball
  [[ -x "${dir}/package/bin/node" ]] && return 0
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "no node-linux package for $(uname -m)" >&2; return 2 ;;
  esac
  mkdir -p "${dir}"
  tarball=$(cd "${dir}" && npm pack --silent "node-linux-${arch}@${major}")
  tar xzf "${dir}/${tarball}" -C "${dir}"
  rm "${dir}/${tarball}"
  echo "fetched Node $("${dir}/package/bin/node" --version) into ${dir}"
}

for major in "${majors[@]}"; do fetch "${major}"; done
[[ "${mode}" == install ]] && exit 0
[[ "${mode}" == run ]] && npm run -s build

status=0
for major in "${majors[@]}"; do
  node_bin="$(pwd)/.node-versions/${major}/package/bin/node"
  echo "=== Node $("${node_bin}" --version) ==="
  # The test runner and the tests start child processes with their own executable
  # (process.execPath); PATH covers anything that calls plain `node`.
  if ! PATH="$(dirname "${node_bin}"):${PATH}" "${node_bin}" scripts/run-tests.mjs "$@"; then
    echo "=== FAILED on Node ${major} ===" >&2
    status=1
  fi
done
exit "${status}"
