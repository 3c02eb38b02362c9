import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway PKI made with openssl: a CA, certificates it signs, and their files. */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'nexus-pki-'));

  constructor(readonly name = 'ca') {
    this.openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', this.path(`${name}.key`), '-out', this.path(`${name}.pem`), '-days', '2', '-subj', `/CN=${name}`]);
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  read(file: string): Buffer {
    return readFileSync(this.path(file));
  }

  /** Issues `<file>.pem` / `<file>.key` with the given CN and subjectAltName (e.g. `IP:127.0.0.1`). */
  issue(file: string, cn: string, san?: string): { cert: string; key: string } {
    const ext = this.path(`${file}.ext`);
    writeFileSync(ext, san ? `subjectAltName=${san}\n` : '');
    this.openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', this.path(`${file}.key`), '-out', this.path(`${file}.csr`), '-subj', `/CN=${cn}`]);
    this.openssl(['x509', '-req', '-in', this.path(`${file}.csr`), '-CA', this.path(`${this.name}.pem`), '-CAkey', this.path(`${this.name}.key`), '-CAcreateserial', '-out', this.path(`${file}.pem`), '-days', '2', '-extfile', ext]);
    return { cert: this.path(`${file}.pem`), key: this.path(`${file}.key`) };
  }

  /** Removes the keys and certificates. */
  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { stdio: 'ignore' });
  }
}
