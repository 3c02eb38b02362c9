import type { PeerCertificate } from 'node:tls';

/** The SAN URI form of an agent identity. */
export const AGENT_SPIFFE_PREFIX = 'spiffe://nexus/agent/';

/**
 * The agent id a client certificate vouches for: the SAN URI `spiffe://nexus/agent/<id>` if
 * there is one, else the subject CN. Undefined when the certificate names no agent.
 */
export function certificateAgentId(cert: PeerCertificate | undefined): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const value = entry.trim();
    if (value.startsWith(`URI:${AGENT_SPIFFE_PREFIX}`)) return value.slice(`URI:${AGENT_SPIFFE_PREFIX}`.length);
  }
  const cn = cert.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn || undefined;
}
