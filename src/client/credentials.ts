import { credentials, Metadata, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';

/** TLS to the gateway. PEM contents (read the files yourself), not paths. */
export interface TlsOptions {
  /** CA bundle that signed the gateway's certificate; the system roots when absent. */
  readonly ca?: Buffer | string;
  /** Client certificate and key, for mTLS: both or neither. */
  readonly cert?: Buffer | string;
  readonly key?: Buffer | string;
  /** Name to verify the gateway's certificate against, when it differs from the address's host. */
  readonly serverName?: string;
}

/** A bearer token, or a function read before every call, so a rotated token is picked up (a CommitStream reads it when it opens). */
export type TokenSource = string | (() => string);

const pem = (value: Buffer | string | undefined): Buffer | null =>
  value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);

/** Channel credentials: plaintext, TLS, or mTLS when a client certificate is given. */
export function channelCredentials(tls: TlsOptions | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  return credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

/** grpc-js channel options that TLS needs: the name to check the certificate against. */
export function tlsChannelOptions(tls: TlsOptions | undefined): ChannelOptions {
  if (tls?.serverName === undefined) return {};
  return { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName };
}

/**
 * Metadata for one call: `authorization: Bearer <token>` when there is a token.
 * Added per call rather than as grpc-js call credentials, because grpc-js refuses
 * to compose call credentials with a plaintext channel, and a loopback sidecar
 * is a plaintext channel worth supporting.
 */
export function callMetadata(token: TokenSource | undefined): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${typeof token === 'function' ? token() : token}`);
  return metadata;
}

/** Whether a target stays on this host, so a token may travel without TLS. */
export function isLoopback(address: string): boolean {
  const target = address.replace(/^dns:(\/\/[^/]*\/)?/, '');
  if (target.startsWith('unix:')) return true;
  const host = target.startsWith('[') ? target.slice(1, target.indexOf(']')) : target.split(':')[0];
  return host === 'localhost' || host === '::1' || /^127\.[0-9.]+$/.test(host);
}
