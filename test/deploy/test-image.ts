import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, kafka, uniqueTopic } from '../common';
import { ROOT } from './chart';

/**
 * The image's runtime tree, as scripts/tools/check-image-build assembled it by
 * running the Dockerfile outside Docker, started the way the image starts it
 * (ENTRYPOINT tini → node, CMD serve) against the test broker: its
 * HEALTHCHECK command reports SERVING, an event sent through it is
 * DELIVERED, and SIGTERM sent to tini reaches the gateway's drain, which ends
 * with exit 0. What only a real image shows (the base image's files, user
 * 10001, the read-only root) is not covered here.
 */

interface ImageSummary {
  image: {
    root: string;
    workdir: string;
    env: Record<string, string>;
    entrypoint: string[];
    cmd: string[];
    healthcheck: string[];
  };
}

const SUMMARY = path.join(ROOT, '.cache', 'deploy', 'image.json');

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('deploy: image runtime tree', function () {
  let summary: ImageSummary;
  let dir: string;
  let gateway: ChildProcess | undefined;
  let stderr = '';

  before(function () {
    if (!existsSync(SUMMARY)) {
      console.log('    no image build: run `bash scripts/tools/check-image-build` (CI runs it in check-deploy)');
      this.skip();
    }
    summary = JSON.parse(readFileSync(SUMMARY, 'utf8')) as ImageSummary;
    if (!existsSync(summary.image.root)) {
      console.log(`    the image build at ${summary.image.root} is gone: run \`bash scripts/tools/check-image-build\``);
      this.skip();
    }
    dir = mkdtempSync(path.join(tmpdir(), 'commitlog-image-'));
  });

  after(() => {
    gateway?.kill('SIGKILL');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('starts as the image does, is healthy, delivers, and drains on SIGTERM through tini', async function () {
    const { image } = summary;
    const workdir = path.join(image.root, image.workdir);
    // Container paths under the image's root; tini itself is the host's (the Dockerfile's apt step put it there).
    const hostPath = (arg: string): string => (arg.startsWith('/app/') ? path.join(image.root, arg) : arg);
    const [command, ...args] = [...image.entrypoint, ...image.cmd].map(hostPath);
    expect(existsSync(command), `${command} (the image's ENTRYPOINT)`).to.equal(true);

    const brokers = (await kafka()).brokers;
    const topic = uniqueTopic('image');
    const port = await freePort();
    const config = path.join(dir, 'commitlog.yaml');
    writeFileSync(config, `drainTimeoutMs: 5000\nrouting:\n  defaultTopic: ${topic}\n`);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      ...image.env,
      COMMITLOG_SPILL_DIR: path.join(dir, 'spill'),
      COMMITLOG_LISTEN: `127.0.0.1:${port}`,
      COMMITLOG_METRICS_LISTEN: `127.0.0.1:${await freePort()}`,
      COMMITLOG_KAFKA_BROKERS: brokers,
    };
    gateway = spawn(command, [...args, '--config', config], { cwd: workdir, env });
    gateway.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    // The HEALTHCHECK command, as Docker runs it (CMD form), until it reports SERVING.
    expect(image.healthcheck[0]).to.equal('CMD');
    const [probe, ...probeArgs] = image.healthcheck.slice(1);
    const deadline = Date.now() + 60_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline) {
      healthy = spawnSync(probe, probeArgs, { cwd: workdir, env, timeout: 10_000 }).status === 0;
      if (!healthy) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(healthy, `HEALTHCHECK never passed; gateway stderr:\n${stderr}`).to.equal(true);

    const send = spawnSync(
      process.execPath,
      [path.join(workdir, 'bin', 'commitlog.js'), 'send', '--address', `127.0.0.1:${port}`],
      { cwd: workdir, env, input: '{"id":"image-1","bucket":"b","key":"k","value":"v"}\n', encoding: 'utf8' },
    );
    expect(send.stderr).to.equal('');
    expect(JSON.parse(send.stdout) as Record<string, unknown>).to.include({
      id: 'image-1',
      outcome: 'DELIVERED',
      topic,
    });

    gateway.kill('SIGTERM');
    const code = await exited(gateway, 15_000);
    gateway = undefined;
    expect(code, stderr).to.equal(0);
    expect(stderr).to.match(/"signal":"SIGTERM".*"msg":"draining"|"msg":"draining".*"signal":"SIGTERM"/);
  });
});
