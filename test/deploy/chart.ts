import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** Helpers for the chart tests: helm from scripts/tools/build-tools, rendered objects as typed data. */

export const ROOT = path.resolve(__dirname, '..', '..');
export const CHART = path.join(ROOT, 'helm', 'commitlog');
export const FULL_VALUES = path.join(CHART, 'ci', 'full-values.yaml');
export const TOOLS_BIN = path.join(ROOT, '.cache', 'tools', 'bin');
const HELM = path.join(TOOLS_BIN, 'helm');

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface Probe {
  grpc?: { port: number; service?: string };
  tcpSocket?: { port: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  securityContext?: SecurityContext;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string };
  configMap?: { name: string };
  secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
  hostPath?: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: {
    selector?: { matchLabels?: Record<string, string> } & Record<string, unknown>;
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: { resources: { requests: { storage: string } } } }[];
    persistentVolumeClaimRetentionPolicy?: { whenDeleted: string; whenScaled: string };
    ports?: { name: string; port: number }[];
    endpoints?: { port: string }[];
  } & Record<string, unknown>;
}

export interface Rendered {
  status: number | null;
  stderr: string;
  objects: K8sObject[];
}

export function helmAvailable(): boolean {
  return existsSync(HELM);
}

/** `helm template` of the chart with values files and an inline YAML overlay. */
export function helmTemplate(options: { values?: string[]; overlay?: string } = {}): Rendered {
  const dir = mkdtempSync(path.join(tmpdir(), 'commitlog-chart-'));
  try {
    const args = ['template', 'commitlog', CHART, '--namespace', 'ingest'];
    for (const file of options.values ?? []) args.push('-f', file);
    if (options.overlay !== undefined) {
      const overlay = path.join(dir, 'overlay.yaml');
      writeFileSync(overlay, options.overlay);
      args.push('-f', overlay);
    }
    const result = spawnSync(HELM, args, { encoding: 'utf8' });
    const objects =
      result.status === 0
        ? parseAllDocuments(result.stdout)
            .map((doc) => doc.toJS() as K8sObject | null)
            .filter((o): o is K8sObject => o !== null)
        : [];
    return { status: result.status, stderr: result.stderr, objects };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
}

export function podSpec(objects: K8sObject[]): PodSpec {
  const spec = only(objects, 'StatefulSet').spec?.template?.spec;
  if (spec === undefined) throw new Error('the StatefulSet has no pod template');
  return spec;
}

export function gateway(objects: K8sObject[]): Container {
  const container = podSpec(objects).containers.find((c) => c.name === 'commitlog');
  if (container === undefined) throw new Error('no commitlog container');
  return container;
}

/** The config file the gateway reads: the ConfigMap's commitlog.yaml. */
export function renderedConfig(objects: K8sObject[]): string {
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['commitlog.yaml'] !== undefined);
  if (configMap?.data === undefined) throw new Error('no ConfigMap with commitlog.yaml');
  return configMap.data['commitlog.yaml'];
}

/** The container's environment as far as it is literal (values from Secrets or the downward API are left out). */
export function literalEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) if (variable.value !== undefined) env[variable.name] = variable.value;
  return env;
}
