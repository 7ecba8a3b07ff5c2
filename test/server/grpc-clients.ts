import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type CallOptions,
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO } from 'grpc-health-check';
import path from 'node:path';

/** What a call ended with: the response, or the status of its failure. Outcomes as data, also in tests. */
export type CallResult<T> = { ok: true; value: T } | { ok: false; code: number; details: string };

export interface HealthResponse {
  status: 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
}

interface HealthStub extends Client {
  Check(
    request: { service: string },
    metadata: Metadata,
    options: CallOptions,
    callback: (err: ServiceError | null, response?: HealthResponse) => void,
  ): ClientUnaryCall;
  Watch(request: { service: string }): ClientReadableStream<HealthResponse>;
}

/** A grpc.health.v1 client on its own channel. */
export class HealthClient {
  readonly stub: HealthStub;

  constructor(address: string) {
    const proto = loadPackageDefinition(loadSync(HEALTH_PROTO, { enums: String, defaults: true })) as unknown as {
      grpc: {
        health: {
          v1: { Health: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => HealthStub };
        };
      };
    };
    this.stub = new proto.grpc.health.v1.Health(address, credentials.createInsecure());
  }

  check(service = '', timeoutMs = 5_000): Promise<CallResult<HealthResponse['status']>> {
    return new Promise((resolve) => {
      this.stub.Check({ service }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, response) =>
        resolve(err || !response ? failed(err) : { ok: true, value: response.status }),
      );
    });
  }

  /** Collects every status a Watch stream reports, and how the stream ended. */
  watch(service = ''): { statuses: string[]; ended: Promise<CallResult<null>> } {
    const call = this.stub.Watch({ service });
    const statuses: string[] = [];
    call.on('data', (response: HealthResponse) => statuses.push(response.status));
    const ended = new Promise<CallResult<null>>((resolve) => {
      call.on('error', (err: ServiceError) => resolve(failed(err)));
      call.on('end', () => resolve({ ok: true, value: null }));
    });
    return { statuses, ended };
  }

  close(): void {
    this.stub.close();
  }
}

interface ReflectionResponse {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

interface ReflectionStub extends Client {
  ServerReflectionInfo(): ClientDuplexStream<Record<string, string>, ReflectionResponse>;
}

const REFLECTION_PROTO = path.resolve(
  require.resolve('@grpc/reflection'),
  '..',
  '..',
  'proto',
  'grpc',
  'reflection',
  'v1',
  'reflection.proto',
);

/** Asks grpc.reflection.v1 one question per call, as grpcurl does. */
export function askReflection(
  address: string,
  request: Record<string, string>,
): Promise<CallResult<ReflectionResponse>> {
  const proto = loadPackageDefinition(loadSync(REFLECTION_PROTO, { keepCase: true, defaults: true })) as unknown as {
    grpc: {
      reflection: {
        v1: {
          ServerReflection: new (
            address: string,
            creds: ReturnType<typeof credentials.createInsecure>,
          ) => ReflectionStub;
        };
      };
    };
  };
  const client = new proto.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  return new Promise<CallResult<ReflectionResponse>>((resolve) => {
    const call = client.ServerReflectionInfo();
    let response: ReflectionResponse | undefined;
    call.on('data', (r: ReflectionResponse) => (response = r));
    call.on('error', (err: ServiceError) => resolve(failed(err)));
    call.on('end', () => resolve(response ? { ok: true, value: response } : failed(null)));
    call.write(request);
    call.end();
  }).finally(() => client.close());
}

export function failed(err: ServiceError | null): { ok: false; code: number; details: string } {
  return { ok: false, code: err?.code ?? -1, details: err?.details ?? 'no response' };
}
