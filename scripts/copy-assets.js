// Copies the non-TypeScript files the runtime reads (Lua scripts, the descriptor set served by
// reflection, the web console's pages) next to the compiled JavaScript, and marks the bin entries executable.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const assets = [
  ['src/redis-bridge/scripts', 'dist/src/redis-bridge/scripts'],
  ['src/generated/descriptors.binpb', 'dist/src/generated/descriptors.binpb'],
  // The web console's pages (served by src/console/static-files.ts).
  ['src/console/static', 'dist/src/console/static'],
];
for (const [from, to] of assets) {
  // Replaced, not merged: a renamed script (its key count is in the name) must not linger.
  fs.rmSync(path.join(root, to), { recursive: true, force: true });
  fs.cpSync(path.join(root, from), path.join(root, to), { recursive: true });
}

// tsc writes plain files; the bin entries must be executable for npx and npm's bin links.
for (const bin of Object.values(require('../package.json').bin)) {
  fs.chmodSync(path.join(root, bin), 0o755);
}
