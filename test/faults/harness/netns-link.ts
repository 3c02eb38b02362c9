import { execFileSync } from 'node:child_process';

/**
 * A network namespace joined to the host by a veth pair, so a process inside it reaches the
 * host over a real (kernel) link that a test can pull down: no FIN, no RST, a true half-open
 * connection. Needs root and iproute2; `available()` says whether this machine allows it.
 */
export class NetnsLink {
  readonly hostIp: string;
  readonly nsIp: string;
  private readonly hostDev: string;
  private readonly nsDev: string;

  constructor(readonly name: string, subnet = 77) {
    this.hostIp = `10.213.${subnet}.1`;
    this.nsIp = `10.213.${subnet}.2`;
    this.hostDev = `${name.slice(0, 8)}-h`;
    this.nsDev = `${name.slice(0, 8)}-n`;
  }

  static available(): boolean {
    if (process.getuid?.() !== 0) return false;
    try {
      execFileSync('ip', ['netns', 'add', 'nexus-check'], { stdio: 'ignore' });
      execFileSync('ip', ['netns', 'del', 'nexus-check'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  up(): void {
    this.down(true);
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' });
    ip('netns', 'add', this.name);
    ip('link', 'add', this.hostDev, 'type', 'veth', 'peer', 'name', this.nsDev);
    ip('link', 'set', this.nsDev, 'netns', this.name);
    ip('addr', 'add', `${this.hostIp}/30`, 'dev', this.hostDev);
    ip('link', 'set', this.hostDev, 'up');
    ip('netns', 'exec', this.name, 'ip', 'addr', 'add', `${this.nsIp}/30`, 'dev', this.nsDev);
    ip('netns', 'exec', this.name, 'ip', 'link', 'set', this.nsDev, 'up');
    ip('netns', 'exec', this.name, 'ip', 'link', 'set', 'lo', 'up');
  }

  /** Pulls the link: packets stop, and neither end is told. */
  cut(): void {
    execFileSync('ip', ['link', 'set', this.hostDev, 'down'], { stdio: 'ignore' });
  }

  heal(): void {
    execFileSync('ip', ['link', 'set', this.hostDev, 'up'], { stdio: 'ignore' });
  }

  /** The command prefix that runs a program inside the namespace. */
  get exec(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** Removes the namespace and the veth pair. */
  down(quiet = false): void {
    for (const args of [['link', 'del', this.hostDev], ['netns', 'del', this.name]]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch (err) {
        if (!quiet) throw err;
      }
    }
  }
}
