import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CHART,
  FULL_VALUES,
  ROOT,
  gateway,
  helmAvailable,
  helmTemplate,
  literalEnv,
  only,
  podSpec,
  renderedConfig,
  type Container,
  type K8sObject,
  type Rendered,
} from './chart';
import { parse as parseYaml } from 'yaml';
import { configValuesSchema, readValuesSchema } from './values-schema';

/**
 * The Helm chart (helm/commitlog), rendered with helm from
 * scripts/tools/build-tools: the security policy every pod must meet, the
 * wiring between values, config, probes and Services, and that mistakes fail
 * at `helm template` time with a message naming the value. Schema validation
 * of the rendered objects (kubeconform) is in scripts/tools/check-deploy.
 */

/** The CLI from the sources (via tsx), so the check is of the code under test, not of a stale dist/. */
const CLI = ['--require', 'tsx/cjs', path.join(ROOT, 'test', 'server', 'gateway-entry.ts')];

/**
 * `commitlog serve --config FILE --check-config` with only the pod's literal
 * environment. `mounted` are the files of mounted Secrets the config names
 * (path: content): they are made in a temporary directory and the config
 * pointed at them, as the pod would find them.
 */
function checkConfig(
  configYaml: string,
  env: Record<string, string>,
  mounted: Record<string, string> = {},
): { status: number | null; output: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'commitlog-config-'));
  try {
    const file = path.join(dir, 'commitlog.yaml');
    for (const [secretFile, content] of Object.entries(mounted)) {
      const local = path.join(dir, 'mounted', secretFile);
      mkdirSync(path.dirname(local), { recursive: true });
      writeFileSync(local, content);
      configYaml = configYaml.replaceAll(secretFile, local);
    }
    writeFileSync(file, configYaml);
    const result = spawnSync(process.execPath, [...CLI, 'serve', '--config', file, '--check-config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { status: result.status, output: result.stdout + result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Kafka SASL files the rendered config names, with stand-in content, for checkConfig. */
function saslFiles(objects: K8sObject[]): Record<string, string> {
  const config = parseYaml(renderedConfig(objects)) as { kafka?: { sasl?: Record<string, string> } };
  const sasl = config.kafka?.sasl;
  return sasl === undefined ? {} : { [sasl.usernameFile]: 'gateway\n', [sasl.passwordFile]: 'stand-in\n' };
}

function deepMerge(under: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...under };
  for (const [key, value] of Object.entries(over)) {
    const below = out[key];
    const isMap = (v: unknown): v is Record<string, unknown> =>
      typeof v === 'object' && v !== null && !Array.isArray(v);
    out[key] = isMap(below) && isMap(value) ? deepMerge(below, value) : value;
  }
  return out;
}

function expectFailure(rendered: Rendered, ...messages: string[]): void {
  expect(rendered.status, 'helm template should have failed').to.not.equal(0);
  for (const message of messages) expect(rendered.stderr).to.contain(message);
}

describe('deploy: Helm chart', function () {
  before(function () {
    if (!helmAvailable()) {
      // The tools are built by scripts/tools/build-tools (Go and PyPI); CI's check-deploy builds them first.
      console.log('    helm is not built: run `bash scripts/tools/build-tools`, or `bash scripts/tools/check-deploy`');
      this.skip();
    }
  });

  const cases: [string, () => Rendered][] = [
    ['default values', () => helmTemplate()],
    ['ci/full-values.yaml', () => helmTemplate({ values: [FULL_VALUES] })],
  ];

  for (const [name, render] of cases) {
    describe(name, () => {
      let objects: K8sObject[];
      let container: Container;
      before(() => {
        const rendered = render();
        expect(rendered.stderr).to.equal('');
        expect(rendered.status).to.equal(0);
        objects = rendered.objects;
        container = gateway(objects);
      });

      it('runs as a non-root user with a read-only root, no privileges and RuntimeDefault seccomp', () => {
        const pod = podSpec(objects);
        expect(pod.securityContext).to.include({ runAsNonRoot: true });
        expect(pod.securityContext?.runAsUser).to.be.greaterThan(0);
        expect(pod.securityContext?.seccompProfile?.type).to.equal('RuntimeDefault');
        expect(pod.automountServiceAccountToken).to.equal(false);
        expect(pod.hostNetwork ?? false).to.equal(false);
        expect(pod.hostPID ?? false).to.equal(false);
        expect(pod.hostIPC ?? false).to.equal(false);
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          expect(c.securityContext, c.name).to.include({
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
          });
          expect(c.securityContext?.privileged ?? false).to.equal(false);
          expect(c.securityContext?.capabilities?.drop).to.include('ALL');
          expect(c.securityContext?.capabilities?.add ?? []).to.deep.equal([]);
          expect(c.securityContext?.seccompProfile?.type).to.equal('RuntimeDefault');
          expect(c.resources?.requests, `${c.name} requests`).to.have.keys('cpu', 'memory');
          expect(c.resources?.limits, `${c.name} limits`).to.have.property('memory');
        }
        expect(pod.volumes?.filter((v) => v.hostPath !== undefined)).to.deep.equal([]);
      });

      it('writes only to the spill volume (one PVC per pod) and an emptyDir /tmp', () => {
        const sts = only(objects, 'StatefulSet');
        const pod = podSpec(objects);
        const writable = (container.volumeMounts ?? []).filter((m) => m.readOnly !== true);
        const spillDir = literalEnv(container).COMMITLOG_SPILL_DIR;
        expect(writable.map((m) => [m.name, m.mountPath])).to.deep.equal([
          ['spill', spillDir],
          ['tmp', '/tmp'],
        ]);
        expect(sts.spec?.volumeClaimTemplates?.map((t) => t.metadata.name)).to.deep.equal(['spill']);
        expect(pod.volumes?.find((v) => v.name === 'tmp')?.emptyDir).to.not.equal(undefined);
        expect(pod.volumes?.find((v) => v.name === 'spill')).to.equal(undefined);
        expect(sts.spec?.persistentVolumeClaimRetentionPolicy).to.deep.equal({
          whenDeleted: 'Retain',
          whenScaled: 'Retain',
        });
      });

      it('probes grpc.health.v1 natively on the container gRPC port, which the Services route to', () => {
        const grpcPort = container.ports?.find((p) => p.name === 'grpc')?.containerPort;
        expect(container.readinessProbe?.grpc?.port).to.equal(grpcPort);
        expect(container.startupProbe?.tcpSocket?.port).to.equal('grpc');
        expect(container.livenessProbe).to.not.equal(undefined);
        const config = renderedConfig(objects);
        expect(config).to.contain(`listen: 0.0.0.0:${grpcPort}`);
        const headless = only(objects, 'Service', `${only(objects, 'StatefulSet').metadata.name}-headless`);
        expect(headless.spec?.clusterIP).to.equal('None');
        expect(only(objects, 'StatefulSet').spec?.serviceName).to.equal(headless.metadata.name);
        for (const service of objects.filter((o) => o.kind === 'Service')) {
          expect(service.spec?.selector).to.deep.include(only(objects, 'StatefulSet').spec?.selector?.matchLabels);
          expect(service.spec?.ports?.find((p) => p.name === 'grpc')).to.not.equal(undefined);
        }
      });

      it('gives the drain more time than drainTimeoutMs before SIGKILL', () => {
        const drainMs = /^drainTimeoutMs: (\d+)$/m.exec(renderedConfig(objects))?.[1];
        expect(drainMs).to.not.equal(undefined);
        expect(podSpec(objects).terminationGracePeriodSeconds).to.be.greaterThan(Number(drainMs) / 1000);
      });

      it('renders a config file the gateway accepts (`serve --check-config`, with the pod environment)', () => {
        const result = checkConfig(renderedConfig(objects), literalEnv(container), saslFiles(objects));
        expect(result.output).to.equal('config ok\n');
        expect(result.status).to.equal(0);
      });
    });
  }

  describe('values', () => {
    it('values.schema.json checks config with the gateway config schema (src/config/schema.ts)', () => {
      const config = (readValuesSchema().properties as Record<string, unknown>).config;
      expect(
        config,
        'values.schema.json is out of date: run `npx tsx test/deploy/values-schema.ts --write`',
      ).to.deep.equal(configValuesSchema());
    });

    it('fails helm template on a wrong value, naming it', () => {
      expectFailure(helmTemplate({ overlay: 'replicas: "3"\n' }), "at '/replicas': got string, want integer");
      expectFailure(
        helmTemplate({ overlay: 'config:\n  drainTimeoutMs: 30s\n' }),
        "at '/config/drainTimeoutMs': got string, want integer",
      );
      expectFailure(helmTemplate({ overlay: 'replica: 3\n' }), "additional properties 'replica' not allowed");
      expectFailure(
        helmTemplate({ overlay: 'config:\n  kafka:\n    linger: 5\n' }),
        "at '/config/kafka': additional properties 'linger' not allowed",
      );
      expectFailure(
        helmTemplate({ overlay: 'config:\n  kafka:\n    compression: brotli\n' }),
        "at '/config/kafka/compression'",
      );
      expectFailure(helmTemplate({ overlay: 'spill:\n  size: ten gigabytes\n' }), "at '/spill/size'");
    });

    it('keeps listen to itself: it follows ports.grpc', () => {
      expectFailure(helmTemplate({ overlay: 'config:\n  listen: 0.0.0.0:8080\n' }), "'listen' not allowed");
      const rendered = helmTemplate({ overlay: 'ports:\n  grpc: 6000\n' });
      expect(renderedConfig(rendered.objects)).to.contain('listen: 0.0.0.0:6000');
      expect(gateway(rendered.objects).readinessProbe?.grpc?.port).to.equal(6000);
    });

    it('derives terminationGracePeriodSeconds from drainTimeoutMs and refuses one that is too short', () => {
      const derived = helmTemplate({ overlay: 'config:\n  drainTimeoutMs: 60500\npreStopSleepSeconds: 5\n' });
      expect(podSpec(derived.objects).terminationGracePeriodSeconds).to.equal(61 + 5 + 15);
      expectFailure(
        helmTemplate({ overlay: 'terminationGracePeriodSeconds: 30\n' }),
        'terminationGracePeriodSeconds (30) must be at least config.drainTimeoutMs (30s) + preStopSleepSeconds (0s) + 5',
      );
      const explicit = helmTemplate({ overlay: 'terminationGracePeriodSeconds: 35\n' });
      expect(podSpec(explicit.objects).terminationGracePeriodSeconds).to.equal(35);
    });

    it('renders config as given, merged over the chart defaults: no template names a setting', () => {
      const values = (file: string): Record<string, unknown> =>
        (parseYaml(readFileSync(file, 'utf8')) as { config: Record<string, unknown> }).config;
      const expected = deepMerge(values(path.join(CHART, 'values.yaml')), values(FULL_VALUES));
      // What the chart adds: listen from ports.grpc, the kafkaTls Secret's files as ssl.* properties ...
      expected.listen = '0.0.0.0:50051';
      const kafka = expected.kafka as { properties: Record<string, string> };
      Object.assign(kafka.properties, {
        // SASL over TLS: full-values sets both kafkaTls and kafkaSasl.
        'security.protocol': 'SASL_SSL',
        'ssl.ca.location': '/etc/commitlog/kafka-tls/ca.crt',
        'ssl.certificate.location': '/etc/commitlog/kafka-tls/tls.crt',
        'ssl.key.location': '/etc/commitlog/kafka-tls/tls.key',
      });
      // ... and the kafkaSasl Secret's files as kafka.sasl.
      Object.assign(kafka, {
        sasl: {
          mechanism: 'SCRAM-SHA-512',
          usernameFile: '/etc/commitlog/kafka-sasl/username',
          passwordFile: '/etc/commitlog/kafka-sasl/password',
        },
      });
      const rendered = helmTemplate({ values: [FULL_VALUES] });
      expect(parseYaml(renderedConfig(rendered.objects))).to.deep.equal(expected);
    });

    it('wires a Kafka TLS Secret into librdkafka ssl.* properties, under those the config sets', () => {
      const rendered = helmTemplate({
        overlay: [
          'kafkaTls:',
          '  existingSecret: kafka-ca',
          'config:',
          '  kafka:',
          '    properties:',
          '      security.protocol: SASL_SSL',
          '',
        ].join('\n'),
      });
      const config = renderedConfig(rendered.objects);
      expect(config).to.contain('security.protocol: SASL_SSL');
      expect(config).to.contain('ssl.ca.location: /etc/commitlog/kafka-tls/ca.crt');
      expect(config).to.not.contain('ssl.key.location');
      const mount = gateway(rendered.objects).volumeMounts?.find((m) => m.name === 'kafka-tls');
      expect(mount).to.deep.equal({ name: 'kafka-tls', mountPath: '/etc/commitlog/kafka-tls', readOnly: true });
    });

    it('wires a Kafka SASL Secret into kafka.sasl as file paths: no secret in the ConfigMap', () => {
      const rendered = helmTemplate({
        overlay: ['kafkaSasl:', '  existingSecret: kafka-sasl', '  mechanism: SCRAM-SHA-256', ''].join('\n'),
      });
      expect(rendered.status).to.equal(0);
      const config = parseYaml(renderedConfig(rendered.objects)) as {
        kafka: { sasl: Record<string, string>; properties: Record<string, string> };
      };
      expect(config.kafka.sasl).to.deep.equal({
        mechanism: 'SCRAM-SHA-256',
        usernameFile: '/etc/commitlog/kafka-sasl/username',
        passwordFile: '/etc/commitlog/kafka-sasl/password',
      });
      // Without kafkaTls the password goes over SASL_PLAINTEXT (with it, SASL_SSL: full-values above).
      expect(config.kafka.properties).to.deep.equal({ 'security.protocol': 'SASL_PLAINTEXT' });
      // The chart renders no Secret of its own and copies nothing out of one.
      expect(rendered.objects.map((o) => o.kind)).to.not.include('Secret');
      for (const map of rendered.objects.filter((o) => o.kind === 'ConfigMap')) {
        expect(JSON.stringify(map)).to.not.match(/sasl\.password|secretKeyRef|stand-in/);
      }
      const mount = gateway(rendered.objects).volumeMounts?.find((m) => m.name === 'kafka-sasl');
      expect(mount).to.deep.equal({ name: 'kafka-sasl', mountPath: '/etc/commitlog/kafka-sasl', readOnly: true });
      const volume = podSpec(rendered.objects).volumes?.find((v) => v.name === 'kafka-sasl');
      // defaultMode 0440 as the other Secret volumes (Kubernetes reads the YAML 1.1 octal).
      expect(volume?.secret).to.deep.include({
        secretName: 'kafka-sasl',
        items: [
          { key: 'username', path: 'username' },
          { key: 'password', path: 'password' },
        ],
      });
      const env = literalEnv(gateway(rendered.objects));
      // The gateway reads the files at start: present, the config is good ...
      const ok = checkConfig(renderedConfig(rendered.objects), env, saslFiles(rendered.objects));
      expect([ok.status, ok.output]).to.deep.equal([0, 'config ok\n']);
      // ... missing (Secret not mounted), start-up stops naming the setting.
      const missing = checkConfig(renderedConfig(rendered.objects), env);
      expect(missing.status).to.equal(2);
      expect(missing.output).to.contain('kafka.sasl.passwordFile (from ');
      expect(missing.output).to.contain('cannot read /etc/commitlog/kafka-sasl/password: ENOENT');
    });

    it('keeps a security.protocol the config sets, and refuses kafka.sasl beside kafkaSasl', () => {
      const kept = helmTemplate({
        overlay: [
          'kafkaSasl:',
          '  existingSecret: kafka-sasl',
          'config:',
          '  kafka:',
          '    properties:',
          '      security.protocol: SASL_SSL',
          '',
        ].join('\n'),
      });
      expect(renderedConfig(kept.objects)).to.contain('security.protocol: SASL_SSL');
      expectFailure(
        helmTemplate({
          overlay: [
            'kafkaSasl:',
            '  existingSecret: kafka-sasl',
            'config:',
            '  kafka:',
            '    sasl: { mechanism: PLAIN, username: u, passwordFile: /x }',
            '',
          ].join('\n'),
        }),
        'config.kafka.sasl: set kafkaSasl instead',
      );
      expectFailure(helmTemplate({ overlay: 'kafkaSasl:\n  mechanism: GSSAPI\n' }), "at '/kafkaSasl/mechanism'");
    });

    it('lets `serve --check-config` catch what JSON Schema cannot: the environment the pod sets', () => {
      const rendered = helmTemplate({ overlay: 'extraEnv:\n  - name: COMMITLOG_LOG_LEVEL\n    value: loud\n' });
      expect(rendered.status).to.equal(0);
      const result = checkConfig(renderedConfig(rendered.objects), literalEnv(gateway(rendered.objects)));
      expect(result.status).to.equal(2);
      expect(result.output).to.contain('log.level (from COMMITLOG_LOG_LEVEL)');
    });
  });

  describe('optional objects (ci/full-values.yaml)', () => {
    let objects: K8sObject[];
    before(() => {
      objects = helmTemplate({ values: [FULL_VALUES] }).objects;
    });

    it('renders every optional object', () => {
      expect(objects.map((o) => o.kind).sort()).to.deep.equal([
        'ConfigMap',
        'ConfigMap',
        'HorizontalPodAutoscaler',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Service',
        'Service',
        'ServiceAccount',
        'ServiceMonitor',
        'StatefulSet',
      ]);
      expect(only(objects, 'StatefulSet').spec).to.not.have.property('replicas'); // the HPA owns it
    });

    it('points the ServiceMonitor at the Service that carries the metrics port', () => {
      const monitor = only(objects, 'ServiceMonitor');
      const selector = monitor.spec?.selector?.matchLabels ?? {};
      const selected = objects.filter(
        (o) => o.kind === 'Service' && Object.entries(selector).every(([k, v]) => o.metadata.labels?.[k] === v),
      );
      expect(selected.map((s) => s.metadata.name)).to.deep.equal(['ingest-headless']);
      expect(selected[0].spec?.ports?.map((p) => p.name)).to.include(monitor.spec?.endpoints?.[0].port);
    });

    it('exports traces to the OTLP endpoint from values and mounts the Secrets read-only', () => {
      const env = literalEnv(gateway(objects));
      expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).to.equal('http://jaeger-collector.observability:4318');
      expect(env.OTEL_SERVICE_NAME).to.equal('commitlog-riak');
      const secretMounts = (gateway(objects).volumeMounts ?? []).filter((m) =>
        ['tls', 'kafka-tls', 'kafka-sasl', 'auth'].includes(m.name),
      );
      expect(secretMounts).to.have.length(4);
      for (const mount of secretMounts) expect(mount.readOnly, mount.name).to.equal(true);
    });

    it('ships the Grafana dashboard: one row per golden signal, queries on commitlog_ metrics', () => {
      const file = readFileSync(path.join(CHART, 'dashboards', 'commitlog.json'), 'utf8');
      const configMap = only(objects, 'ConfigMap', 'ingest-dashboard');
      expect(configMap.metadata.namespace).to.equal('monitoring');
      expect(configMap.metadata.labels).to.include({ grafana_dashboard: '1' });
      expect(JSON.parse(configMap.data?.['commitlog.json'] ?? '')).to.deep.equal(JSON.parse(file));
      const dashboard = JSON.parse(file) as {
        panels: { type: string; title: string; targets?: { expr: string }[] }[];
      };
      const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
      expect(rows).to.deep.equal(['Latency', 'Traffic', 'Errors', 'Saturation']);
      const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
      for (const metric of [
        'commitlog_ack_duration_bucket',
        'commitlog_events_received_total',
        'commitlog_inflight_events',
        'commitlog_spill_backlog_events',
      ])
        expect(exprs.join('\n')).to.contain(metric);
    });
  });
});
