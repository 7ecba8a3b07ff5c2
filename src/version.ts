import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The package version; package.json sits one level above both src/ and dist/. */
export const VERSION = (
  JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
).version;
