/**
 * Full-jitter exponential backoff: delay = random(0, min(cap, base * 2^attempt)).
 * Full jitter spreads a fleet that failed at the same moment across the whole window, where
 * plain or "equal" jitter keeps it in lock-step near the cap.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export interface BackoffPolicy {
  /** First window, in ms. */
  readonly initialMs: number;
  /** Largest window, in ms. */
  readonly maxMs: number;
}

/** Upper bound of the window for a (0-based) attempt. */
export function backoffCeiling(policy: BackoffPolicy, attempt: number): number {
  // 2^31 already exceeds any sane cap; clamp the exponent so the product stays finite.
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 31));
}

/** A delay for a (0-based) attempt, uniformly drawn from [0, ceiling]. */
export function fullJitterDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(policy, attempt));
}
