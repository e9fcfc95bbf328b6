#!/usr/bin/env node
'use strict';
// Entry point of the `resvision` command: runs the compiled CLI (built by `npm run build`, which `npm ci`
// runs through the `prepare` script).
const path = require('path');
const fs = require('fs');
const compiled = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(compiled)) {
  process.stderr.write('resvision: the compiled CLI is missing; run `npm run build` in the package folder first\n');
  process.exit(1);
}
require(compiled).main(process.argv).catch((e) => {
  process.stderr.write(`resvision: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
