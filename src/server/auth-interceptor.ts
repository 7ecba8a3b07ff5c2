import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { TokenStore } from './token-store';

/** Where the interceptor leaves the authenticated principal for the handler; a client's own value is dropped. */
const PRINCIPAL_KEY = 'commitlog-principal';

export interface AuthOptions {
  /** Bearer tokens; undefined: only client certificates authenticate. */
  readonly tokens: TokenStore | undefined;
  /** Calls without a principal fail UNAUTHENTICATED. */
  readonly requireAuth: boolean;
  /** Services (full names) open to everyone: health and reflection. */
  readonly exempt: readonly string[];
}

/**
 * A server interceptor that authenticates every call before the handler reads
 * an event: `authorization: Bearer <token>` metadata names the principal, else
 * a verified client certificate (mTLS) does, by its CN or first subject
 * alternative name. A wrong token fails UNAUTHENTICATED even beside a good
 * certificate; no credentials fail only when `requireAuth`. The token is
 * removed from the metadata the handler (and anything it logs) sees.
 */
export function authInterceptor(options: AuthOptions): ServerInterceptor {
  const exempt = options.exempt.map((service) => `/${service}/`);
  return (method, next: ServerInterceptingCallInterface) => {
    if (exempt.some((prefix) => method.path.startsWith(prefix))) return new ServerInterceptingCall(next);
    return new ServerInterceptingCall(next, {
      start: (startNext) => {
        startNext({
          onReceiveMetadata: (metadata, mdNext) => {
            const result = authenticate(metadata, next, options);
            metadata.remove('authorization');
            metadata.remove(PRINCIPAL_KEY);
            if (result.kind === 'refused') {
              next.sendStatus({ code: Status.UNAUTHENTICATED, details: result.details, metadata: new Metadata() });
              return;
            }
            if (result.principal !== undefined) metadata.set(PRINCIPAL_KEY, result.principal);
            mdNext(metadata);
          },
        });
      },
    });
  };
}

/** The principal the authInterceptor found for a call, if any. */
export function callPrincipal(metadata: Metadata): string | undefined {
  const value = metadata.get(PRINCIPAL_KEY)[0];
  return value === undefined ? undefined : String(value);
}

type AuthResult = { kind: 'ok'; principal: string | undefined } | { kind: 'refused'; details: string };

function authenticate(metadata: Metadata, call: ServerInterceptingCallInterface, options: AuthOptions): AuthResult {
  const header = metadata.get('authorization')[0];
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(String(header));
    const principal = match === null ? undefined : options.tokens?.principalOf(match[1]);
    // Never echo the token: the details reach the client and the rpc log.
    return principal === undefined ? { kind: 'refused', details: 'invalid bearer token' } : { kind: 'ok', principal };
  }
  const principal = certificatePrincipal(call.getAuthContext().sslPeerCertificate);
  if (principal !== undefined) return { kind: 'ok', principal };
  return options.requireAuth
    ? { kind: 'refused', details: 'authentication required: a bearer token or a client certificate' }
    : { kind: 'ok', principal: undefined };
}

/** grpc-js reports a certificate only once Node verified it against the client CA. */
function certificatePrincipal(cert: PeerCertificate | undefined): string | undefined {
  if (cert === undefined) return undefined;
  const cn = cert.subject?.CN;
  if (typeof cn === 'string' && cn !== '') return cn;
  // "DNS:a.example, URI:spiffe://..." → the first name's value.
  const first = cert.subjectaltname?.split(',')[0]?.trim();
  const at = first?.indexOf(':') ?? -1;
  return first !== undefined && at > 0 ? first.slice(at + 1) : undefined;
}
