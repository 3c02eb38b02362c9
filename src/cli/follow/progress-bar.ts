/**
 * A progress bar: `[██████░░░░░░░░]  40%` (ASCII `#`/`-` when `ascii`). `percent` is clamped to
 * 0..100; NaN counts as 0.
 */
export function progressBar(percent: number, { width = 24, ascii = false }: { width?: number; ascii?: boolean } = {}): string {
  const p = Number.isFinite(percent) ? Math.min(100, Math.max(0, percent)) : 0;
  const filled = Math.round((p / 100) * width);
  const [on, off] = ascii ? ['#', '-'] : ['█', '░'];
  return `[${on.repeat(filled)}${off.repeat(width - filled)}] ${String(Math.round(p)).padStart(3)}%`;
}
