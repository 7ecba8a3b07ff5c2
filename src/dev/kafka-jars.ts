import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { findExecutable } from './find-executable';

/** Where the broker's jars come from; the pom names them, this file only fetches. */
export const KAFKA_POM = path.join('dev', 'kafka', 'pom.xml');

/** Written last, so a half-finished fetch is never mistaken for a usable cache. */
const COMPLETE_MARKER = '.complete';

export interface KafkaJars {
  /** Kafka version from the pom's <kafka.version>, e.g. "4.4.0". */
  version: string;
  /** Directory holding every jar; the JVM class path is `${libsDir}/*`. */
  libsDir: string;
  /** True when this call ran Maven, false when the cache was reused. */
  fetched: boolean;
  elapsedMs: number;
}

/**
 * Walks up from `from` to the directory holding dev/kafka/pom.xml. The caller may be
 * src/dev/ (run by tsx) or dist/dev/ (compiled), so a fixed "../.." would be wrong in one.
 */
export function findRepoRoot(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, KAFKA_POM))) return dir;
    if (path.dirname(dir) === dir) {
      throw new Error(`local-kafka: no ${KAFKA_POM} in ${from} or any parent directory`);
    }
  }
}

export async function readKafkaVersion(rootDir: string): Promise<string> {
  const pom = await readFile(path.join(rootDir, KAFKA_POM), 'utf8');
  const match = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom);
  if (!match) throw new Error(`local-kafka: ${KAFKA_POM} has no <kafka.version> property`);
  return match[1];
}

/**
 * Makes sure `.cache/kafka/<version>/libs` holds the broker's jars, running
 * `mvn dependency:copy-dependencies` only when the completion marker is missing.
 */
export async function ensureKafkaJars(rootDir: string): Promise<KafkaJars> {
  const started = Date.now();
  const version = await readKafkaVersion(rootDir);
  const versionDir = path.join(rootDir, '.cache', 'kafka', version);
  const libsDir = path.join(versionDir, 'libs');
  const marker = path.join(versionDir, COMPLETE_MARKER);
  if (existsSync(marker)) {
    return { version, libsDir, fetched: false, elapsedMs: Date.now() - started };
  }

  const mvn = findExecutable('mvn');
  if (!mvn) {
    throw new Error(
      'local-kafka: Maven (`mvn`) is not on PATH; it is needed once to fetch the Kafka ' +
        `${version} jars into ${versionDir} (Debian: apt-get install maven)`,
    );
  }
  // Fetch into a private directory and rename it into place, so a second process
  // (a parallel test run, `commitlog dev`) never starts a JVM on half-copied jars.
  await mkdir(versionDir, { recursive: true });
  const staging = path.join(versionDir, `libs.tmp-${process.pid}-${Date.now()}`);
  try {
    await runMaven(mvn, rootDir, staging);
    try {
      await rename(staging, libsDir);
    } catch (err) {
      // Another process finished first; its copy is as good as ours.
      if (!existsSync(libsDir)) throw err;
    }
    await writeFile(marker, `${new Date().toISOString()}\n`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { version, libsDir, fetched: true, elapsedMs: Date.now() - started };
}

function runMaven(mvn: string, rootDir: string, outputDir: string): Promise<void> {
  const args = [
    '-q',
    '-B',
    '-f',
    path.join(rootDir, KAFKA_POM),
    'dependency:copy-dependencies',
    `-DoutputDirectory=${outputDir}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(mvn, args, { cwd: rootDir, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const output = `${stdout}\n${stderr}`.trim().split('\n').slice(-20).join('\n');
      reject(new Error(`local-kafka: \`mvn ${args.join(' ')}\` failed: ${err.message}\n${output}`));
    });
  });
}
