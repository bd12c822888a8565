#!/usr/bin/env bash
# What a release will do, without doing it: `changeset status` (every pending changeset reads and names real
# packages), then `changeset version` and `pnpm -r publish --dry-run` in a temporary copy of the tree (so the
# checkout stays clean): the versions and changelogs are computed and every public package is packed and checked
# for publishing exactly as `pnpm -r publish` would. Needs `pnpm build` first (the tarballs carry dist/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
copy="$(mktemp -d)"
trap 'rm -rf "$copy"' EXIT

pnpm changeset status

# The tracked files as they are now, the built dist/ folders, and the installed dependencies (links, not copies).
git ls-files -z --cached --others --exclude-standard | tar -c --null -T - -f - | tar -x -C "$copy"
for dir in packages/*/; do
  [ -d "$dir/dist" ] && cp -a "$dir/dist" "$copy/$dir"
  [ -d "$dir/node_modules" ] && cp -a "$dir/node_modules" "$copy/$dir"
done
ln -s "$root/node_modules" "$copy/node_modules"
cd "$copy"
git init -q && git add -A >/dev/null && git -c user.email=ci@localhost -c user.name=ci commit -qm snapshot

pnpm changeset version
echo "versions after \`changeset version\`:"
for manifest in packages/*/package.json; do node -p "const p = require('./$manifest'); '  ' + p.name + ' ' + p.version"; done
# The peer ranges between our packages still include the new versions.
node scripts/check-compat.ts >/dev/null
if ! pnpm -r publish --dry-run --no-git-checks --access public >publish.log 2>&1; then
  cat publish.log
  exit 1
fi
echo "would publish:"
grep -E '^npm notice (name|version|total files):' publish.log | paste - - - | sed -E 's/npm notice (name|version|total files): +//g; s/^/  /'
echo "release dry run: changeset version and pnpm -r publish --dry-run passed"
