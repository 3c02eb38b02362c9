// Copies the non-TypeScript files the runtime reads (Lua scripts, the descriptor set served by
// reflection) next to the compiled JavaScript.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const assets = [
  ['src/redis-bridge/scripts', 'dist/src/redis-bridge/scripts'],
  ['src/generated/descriptors.binpb', 'dist/src/generated/descriptors.binpb'],
];
for (const [from, to] of assets) {
  fs.cpSync(path.join(root, from), path.join(root, to), { recursive: true });
}
