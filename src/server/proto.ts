import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import path from 'node:path';
import type { ProtoGrpcType } from '../gen/commitlog';

/** proto/ sits two levels above both src/server and dist/server. */
export const PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');
export const COMMITLOG_PROTO = 'commitlog/v1/commitlog.proto';

/** Must match the flags of `npm run gen`, so the generated types describe what the loader yields. */
export const LOADER_OPTIONS: Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export function loadCommitlogProto(): ProtoGrpcType {
  return loadPackageDefinition(loadSync(COMMITLOG_PROTO, LOADER_OPTIONS)) as unknown as ProtoGrpcType;
}

/** Descriptors of every service the server offers (commitlog and grpc.health.v1), for server reflection. */
export function loadServiceDescriptors(): PackageDefinition {
  return { ...loadSync(COMMITLOG_PROTO, LOADER_OPTIONS), ...loadSync(HEALTH_PROTO_PATH, LOADER_OPTIONS) };
}
