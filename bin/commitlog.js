#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const main = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write(
    'commitlog: dist/ is not built; run `npm ci` (or `npm run build`) in ' + path.dirname(__dirname) + '\n',
  );
  process.exit(1);
}
require(main).main(process.argv);
