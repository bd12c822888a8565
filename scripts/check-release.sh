#!/usr/bin/env bash
# What a release will do, without doing it: `changeset status` (every pending changeset reads and names real
# packages), then `changeset version` and a publish dry run of every public package in a temporary copy of the
# tree (so the checkout stays clean): the versions and changelogs are computed and every public package is
# packed and checked for publishing as `pnpm -r publish` does it (CHECK_RELEASE_JOBS `npm publish --dry-run`
# at a time, default twice the cores). Needs `pnpm build` first (the tarballs carry dist/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
copy="$(mktemp -d)"
status_log="$(mktemp)"
trap 'rm -rf "$copy" "$status_log"' EXIT
# npm publish --dry-run mostly waits on the registry: twice as many at a time as there are cores.
jobs="${CHECK_RELEASE_JOBS:-$(($(nproc 2>/dev/null || echo 2) * 2))}"
changeset="$root/node_modules/.bin/changeset"

# Read in the checkout while the copy is made.
"$changeset" status >"$status_log" 2>&1 &
status=$!

# The tracked files as they are now, the built dist/ folders, and the installed dependencies (links, not copies).
git ls-files -z --cached --others --exclude-standard | tar -c --null -T - -f - | tar -x -C "$copy"
for dir in packages/*/; do
  [ -d "$dir/dist" ] && cp -a "$dir/dist" "$copy/$dir"
  [ -d "$dir/node_modules" ] && cp -a "$dir/node_modules" "$copy/$dir"
done
ln -s "$root/node_modules" "$copy/node_modules"
(cd "$copy" && git init -q && git add -A >/dev/null &&
  git -c user.email=ci@localhost -c user.name=ci commit -qm snapshot)

status_ok=0
wait "$status" || status_ok=$?
cat "$status_log"
[ "$status_ok" = 0 ] || exit 1

cd "$copy"
"$changeset" version
echo "versions after \`changeset version\`:"
node -e "for (const d of require('fs').readdirSync('packages')) { const p = require('./packages/' + d + '/package.json'); console.log('  ' + p.name + ' ' + p.version) }"
# The peer ranges between our packages still include the new versions.
node scripts/check-compat.ts >/dev/null

# Every public package as `pnpm -r publish` publishes it: packed by pnpm (workspace ranges and publishConfig
# resolved), then `npm publish --ignore-scripts <tarball>` (here with --dry-run). pnpm does that package by
# package; here the packing is one pnpm run and the npm runs (mostly waiting on the registry) overlap.
# pnpm publish would also run the prepublishOnly/prepublish/publish/postpublish scripts: none may exist.
manifests=$(node -e "for (const d of require('fs').readdirSync('packages')) { const p = require('./packages/' + d + '/package.json'); if (!p.private) console.log(d, Object.keys(p.scripts ?? {}).join(' ')) }")
scripted=$(echo "$manifests" | grep -wE 'prepublishOnly|prepublish|publish|postpublish' || true)
if [ -n "$scripted" ]; then
  echo "publish lifecycle scripts, which this dry run does not run (run them here, or publish with pnpm -r publish):"
  echo "$scripted"
  exit 1
fi
filters=()
for dir in $(echo "$manifests" | cut -d' ' -f1); do filters+=(--filter "./packages/$dir"); done
shopt -s nullglob
mkdir -p .publish
pnpm -r "${filters[@]}" pack --pack-destination "$copy/.publish" >/dev/null
# A version already on the registry is skipped, as pnpm -r publish skips it.
# shellcheck disable=SC2016 # expanded by the inner shell
if ! (cd .publish && ls -- *.tgz | xargs -P "$jobs" -I{} sh -c '
  npm publish --ignore-scripts "$1" --dry-run --access public --tag latest >"$1.log" 2>&1 && exit 0
  spec=$(tar -xOzf "$1" package/package.json 2>/dev/null |
    node -p "const p = JSON.parse(require(\"fs\").readFileSync(0, \"utf8\")); p.name + \"@\" + p.version" 2>/dev/null) || spec=
  if [ -n "$spec" ] && [ "$(npm view "$spec" version 2>/dev/null)" = "${spec##*@}" ]; then
    echo "$spec is on the registry already: skipped"; rm "$1.log"; exit 0
  fi
  echo "FAILED: npm publish --dry-run of $1:"; cat "$1.log"; exit 1' sh {}); then
  exit 1
fi
echo "would publish:"
awk '/^npm notice name:/ { name = $NF } /^npm notice version:/ { version = $NF }
  /^npm notice total files:/ { print "  " name "\t" version "\t" $NF }' /dev/null .publish/*.tgz.log
echo "release dry run: changeset version, and the publish dry run of every public package, passed"
