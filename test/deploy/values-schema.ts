import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema';

/**
 * The chart's values.schema.json checks `config` with the gateway's own config
 * schema (src/config/schema.ts), converted to JSON Schema, so that a wrong
 * setting fails `helm install` instead of crash-looping a pod. This module
 * makes that part; test-chart.ts fails when the file is out of date, and
 * `npx tsx test/deploy/values-schema.ts --write` brings it up to date.
 * Checks zod cannot express in JSON Schema (refinements) are left to the
 * gateway itself: CI runs `commitlog serve --check-config` on the rendered file.
 */

const ROOT = path.resolve(__dirname, '..', '..');
export const VALUES_SCHEMA = path.join(ROOT, 'helm', 'commitlog', 'values.schema.json');

type JsonObject = Record<string, unknown>;

export function configValuesSchema(): JsonObject {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-07' }) as JsonObject;
  delete schema.$schema;
  // The chart owns listen (0.0.0.0:<ports.grpc>): probes and Services follow the port.
  const properties = schema.properties as JsonObject;
  delete properties.listen;
  return {
    $comment: 'Generated from src/config/schema.ts by test/deploy/values-schema.ts: do not edit by hand.',
    description:
      'The gateway configuration file (docs/configuration.md), merged over the chart defaults; listen comes from ports.grpc.',
    ...schema,
  };
}

export function readValuesSchema(): JsonObject {
  return JSON.parse(readFileSync(VALUES_SCHEMA, 'utf8')) as JsonObject;
}

function write(): void {
  const schema = readValuesSchema();
  (schema.properties as JsonObject).config = configValuesSchema();
  writeFileSync(VALUES_SCHEMA, `${JSON.stringify(schema, null, 2)}\n`);
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'prettier'), ['--write', VALUES_SCHEMA], { stdio: 'inherit' });
}

if (require.main === module) {
  if (process.argv.includes('--write')) write();
  else process.stdout.write(`${JSON.stringify(configValuesSchema(), null, 2)}\n`);
}
