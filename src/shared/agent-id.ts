/** Longest accepted agent id. */
export const MAX_AGENT_ID_LENGTH = 128;

/** Agent ids are printable and safe inside Redis keys and log lines. */
const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;

/** Returns why `id` is not a valid agent id, or undefined when it is. */
export function agentIdProblem(id: string): string | undefined {
  if (id === '') return 'agent_id is empty';
  if (id.length > MAX_AGENT_ID_LENGTH) return `agent_id is longer than ${MAX_AGENT_ID_LENGTH} characters`;
  if (!AGENT_ID_PATTERN.test(id)) return 'agent_id may hold only letters, digits and . _ : @ - (and must start with a letter or digit)';
  return undefined;
}
