#!/usr/bin/env bash
# Checks deploy/ as part of the test suite (make test):
# - the Dockerfile: built where a Docker engine runs, else linted with
#   dockerfilelint (from the npm registry);
# - the Kubernetes manifests parse as YAML (js-yaml), and the Slurm scripts
#   as bash;
# - every train command line in them names a command and flags that
#   the train binary has ('train help CMD' lists them).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker build -q -f deploy/Dockerfile -t resnet-train:check . >/dev/null
  echo "deploy: Dockerfile builds"
else
  npm install --silent --no-audit --no-fund --prefix "$tmp/npm" dockerfilelint@1.8.0 >/dev/null
  "$tmp/npm/node_modules/.bin/dockerfilelint" deploy/Dockerfile >/dev/null ||
    { "$tmp/npm/node_modules/.bin/dockerfilelint" deploy/Dockerfile; exit 1; }
  echo "deploy: Dockerfile linted (no Docker engine here to build it)"
fi
[[ -d $tmp/npm/node_modules/js-yaml ]] ||
  npm install --silent --no-audit --no-fund --prefix "$tmp/npm" js-yaml@3 >/dev/null

for f in deploy/slurm/*.sbatch; do bash -n "$f"; done

# Every container's args in the manifests, then the train lines of the
# Slurm scripts, one command line a line, words separated by tabs.
NODE_PATH=$tmp/npm/node_modules node -e '
const yaml = require("js-yaml"), fs = require("fs");
for (const f of process.argv.slice(1)) {
  for (const doc of yaml.safeLoadAll(fs.readFileSync(f, "utf8"))) {
    const spec = doc && doc.spec && doc.spec.template && doc.spec.template.spec;
    for (const c of spec ? [...(spec.initContainers || []), ...spec.containers] : []) {
      if (c.args) console.log(c.args.join("\t"));
    }
  }
}' deploy/kubernetes/*.yaml > "$tmp/lines"
sed -n 's/^exec "\${\{0,1\}[a-zA-Z_:-]*\(train\)[^"]*"\{0,1\} //p' deploy/slurm/*.sbatch |
  sed 's/\\$//' | tr ' ' '\t' >> "$tmp/lines"
go build -o "$tmp/train" ./cmd/train
n=0
while IFS=$'\t' read -r -a words; do
  cmd=${words[0]}
  help=$("$tmp/train" help "$cmd")
  for w in "${words[@]:1}"; do
    if [[ $w == -* ]] && ! grep -q -- "^  ${w%%=*}\b" <<<"$help"; then
      echo "deploy: 'train $cmd' has no flag $w (in: ${words[*]})" >&2
      exit 1
    fi
  done
  n=$((n + 1))
done < "$tmp/lines"
echo "deploy: $n train command lines name existing commands and flags"
