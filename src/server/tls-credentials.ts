import { ServerCredentials, experimental } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { SecurityConfig } from '../config/schema';
import { CommitlogError } from '../errors';

type TlsConfig = NonNullable<SecurityConfig['tls']>;

/**
 * The listener's credentials: plaintext without security.tls; else TLS whose
 * certificate, key and client CA grpc-js re-reads every `reloadMs`
 * (FileWatcherCertificateProvider), so a renewed certificate is served to new
 * connections without a restart. With a client CA, clients must show a
 * certificate it signed (mTLS) or the handshake fails.
 */
export class TlsCredentials {
  readonly #tls: TlsConfig | undefined;
  readonly #providers: experimental.FileWatcherCertificateProvider[] = [];
  readonly #listeners: Array<() => void> = [];

  constructor(security: SecurityConfig) {
    this.#tls = security.tls;
  }

  /** Checks the files can be read and resolves once grpc-js has read them too. */
  async start(): Promise<ServerCredentials> {
    const tls = this.#tls;
    if (tls === undefined) return ServerCredentials.createInsecure();
    for (const [setting, file] of Object.entries({
      'security.tls.certFile': tls.certFile,
      'security.tls.keyFile': tls.keyFile,
      'security.tls.clientCaFile': tls.clientCaFile,
    })) {
      if (file === undefined) continue;
      try {
        readFileSync(file);
      } catch (err) {
        throw new CommitlogError('CONFIG_INVALID', `${setting}: cannot read ${file}: ${(err as Error).message}`);
      }
    }
    const identity = new experimental.FileWatcherCertificateProvider({
      certificateFile: tls.certFile,
      privateKeyFile: tls.keyFile,
      refreshIntervalMs: tls.reloadMs,
    });
    this.#providers.push(identity);
    const ca =
      tls.clientCaFile === undefined
        ? null
        : new experimental.FileWatcherCertificateProvider({
            caCertificateFile: tls.clientCaFile,
            refreshIntervalMs: tls.reloadMs,
          });
    if (ca !== null) this.#providers.push(ca);
    // Until the first read completes grpc-js drops every connection: wait for it.
    await Promise.all([
      new Promise<void>((resolve) => identity.addIdentityCertificateListener(this.#listen(resolve))),
      ca === null ? undefined : new Promise<void>((resolve) => ca.addCaCertificateListener(this.#listen(resolve))),
    ]);
    // grpc-js 1.14 names its parameters (ca, identity, ...) but passes them on as (identity, ca, ...).
    return experimental.createCertificateProviderServerCredentials(identity, ca, ca !== null);
  }

  /** A listener that resolves the first read and, kept until close(), keeps the provider polling. */
  #listen(resolve: () => void): () => void {
    const listener = (): void => resolve();
    this.#listeners.push(listener);
    return listener;
  }

  /** Stops the file polling this class started (grpc-js stops its own when the listener closes). */
  close(): void {
    const [identity, ca] = this.#providers;
    const [identityListener, caListener] = this.#listeners;
    if (identityListener !== undefined) identity?.removeIdentityCertificateListener(identityListener);
    if (caListener !== undefined) ca?.removeCaCertificateListener(caListener);
  }
}
