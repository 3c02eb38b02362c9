/**
 * A Lua script answered in a shape its decoder does not know: the script and its reader
 * (./script-replies) disagree. Thrown instead of reading values at the wrong positions.
 */
export class ScriptReplyError extends Error {
  constructor(
    readonly script: string,
    problem: string,
  ) {
    super(`${script}: unexpected reply: ${problem}`);
    this.name = 'ScriptReplyError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
