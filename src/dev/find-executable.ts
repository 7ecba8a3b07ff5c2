import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

// Dev tooling reads JAVA_HOME and PATH directly: they describe the machine, not the
// gateway's configuration, so they do not belong in config/.

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The absolute path of `name` on PATH, or undefined; like `command -v`. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** `java` from JAVA_HOME when that is set and valid, else from PATH. */
export function findJava(): string {
  const javaHome = process.env.JAVA_HOME;
  if (javaHome) {
    const candidate = path.join(javaHome, 'bin', 'java');
    if (isExecutable(candidate)) return candidate;
  }
  const java = findExecutable('java');
  if (!java) {
    throw new Error(
      'local-kafka: no `java` found (JAVA_HOME/bin/java or PATH); Kafka 4 needs a JDK 17+ ' +
        '(Debian: apt-get install openjdk-17-jre-headless)',
    );
  }
  return java;
}
