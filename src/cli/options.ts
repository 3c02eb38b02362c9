import { readFileSync } from 'node:fs';
import { CliError, EXIT } from './exit-codes';

/** Output formats (`-o`), as kubectl names them, plus jsonl for streams. */
export const FORMATS = ['table', 'wide', 'json', 'jsonl', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

/** The global flags, each with an environment variable (the flag wins). */
export interface GlobalOptions {
  /** `--server` / `NEXUS_ADDR`: any gRPC target (`host:port`, `dns:///nexus:50051`, `ipv4:a:1,b:2`). */
  server: string;
  output: Format;
  /** `--timeout` / `NEXUS_TIMEOUT`: seconds for each request (and for connecting). */
  timeoutSec: number;
  /** `--token` / `NEXUS_TOKEN`, or read from `--token-file` / `NEXUS_TOKEN_FILE`. */
  token: string | undefined;
  /** TLS: `--tls` / `NEXUS_TLS=1`, or any of `--ca`, `--cert`, `--key` (`NEXUS_TLS_CA`, `_CERT`, `_KEY`). */
  tls: { ca: Buffer | undefined; cert: Buffer | undefined; key: Buffer | undefined } | undefined;
  /** Colour: on a terminal, unless `--no-color` or `NO_COLOR`. */
  color: boolean;
}

/** What commander parsed for the global flags. */
export interface RawGlobals {
  server?: string;
  output?: string;
  timeout?: string;
  token?: string;
  tokenFile?: string;
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  color?: boolean;
}

export const DEFAULT_SERVER = 'localhost:50051';

/** Resolves flags and environment into GlobalOptions; a bad value is a usage error naming the flag. */
export function resolveGlobals(raw: RawGlobals, env: NodeJS.ProcessEnv = process.env, isTty = Boolean(process.stdout.isTTY)): GlobalOptions {
  const output = (raw.output ?? 'table') as Format;
  if (!FORMATS.includes(output)) throw new CliError(`-o/--output must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(raw.output)}`, EXIT.USAGE);
  const timeoutText = raw.timeout ?? env.NEXUS_TIMEOUT ?? '10';
  const timeoutSec = Number(timeoutText);
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0 || timeoutSec > 3600) {
    throw new CliError(`--timeout (NEXUS_TIMEOUT) must be seconds in (0, 3600], got ${JSON.stringify(timeoutText)}`, EXIT.USAGE);
  }
  const tokenFile = raw.tokenFile ?? env.NEXUS_TOKEN_FILE;
  let token = raw.token ?? env.NEXUS_TOKEN;
  if (!token && tokenFile) token = readText('--token-file (NEXUS_TOKEN_FILE)', tokenFile).trim();
  const ca = raw.ca ?? env.NEXUS_TLS_CA;
  const cert = raw.cert ?? env.NEXUS_TLS_CERT;
  const key = raw.key ?? env.NEXUS_TLS_KEY;
  if (Boolean(cert) !== Boolean(key)) throw new CliError('--cert and --key (NEXUS_TLS_CERT, NEXUS_TLS_KEY) go together', EXIT.USAGE);
  const useTls = raw.tls || env.NEXUS_TLS === '1' || env.NEXUS_TLS === 'true' || Boolean(ca || cert);
  return {
    server: raw.server ?? env.NEXUS_ADDR ?? DEFAULT_SERVER,
    output,
    timeoutSec,
    token: token || undefined,
    tls: useTls
      ? {
          ca: ca ? readBytes('--ca (NEXUS_TLS_CA)', ca) : undefined,
          cert: cert ? readBytes('--cert (NEXUS_TLS_CERT)', cert) : undefined,
          key: key ? readBytes('--key (NEXUS_TLS_KEY)', key) : undefined,
        }
      : undefined,
    color: raw.color !== false && isTty && !('NO_COLOR' in env && env.NO_COLOR !== ''),
  };
}

function readBytes(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.USAGE);
  }
}

function readText(flag: string, path: string): string {
  return readBytes(flag, path).toString('utf8');
}
