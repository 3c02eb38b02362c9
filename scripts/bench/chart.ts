/** A small horizontal bar chart as SVG (no dependency): one bar per system, median and min–max. */
export function barChartSvg(title: string, unit: string, rows: { label: string; median: number; min: number; max: number }[]): string {
  const width = 840;
  const barArea = 440;
  const left = 260;
  const rowHeight = 34;
  const top = 48;
  const height = top + rows.length * rowHeight + 30;
  const max = Math.max(...rows.map((r) => r.max)) * 1.1;
  const x = (v: number) => left + (v / max) * barArea;
  const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
  const bars = rows.map((r, i) => {
    const y = top + i * rowHeight;
    const color = r.label.startsWith('Nexus') ? '#2b6cb0' : '#a0aec0';
    return [
      `<text x="${left - 8}" y="${y + 17}" text-anchor="end" font-size="13">${r.label}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${x(r.median) - left}" height="20" fill="${color}"/>`,
      `<line x1="${x(r.min)}" x2="${x(r.max)}" y1="${y + 14}" y2="${y + 14}" stroke="#1a202c" stroke-width="1.5"/>`,
      `<text x="${x(r.max) + 6}" y="${y + 18}" font-size="12">${fmt(r.median)}</text>`,
    ].join('\n  ');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${left}" y="26" font-size="15" font-weight="bold">${title}</text>
  <text x="${left}" y="${height - 8}" font-size="11" fill="#4a5568">${unit}; bar = median, line = min–max</text>
  ${bars.join('\n  ')}
</svg>
`;
}

/**
 * Latency percentiles as SVG: one row per system and rate, a bar to the p50, a lighter bar on
 * to the p99 and a tick at the max, on a log scale (0.5 ms to the largest max) so a 4 ms and a
 * 900 ms tail are both readable.
 */
export function latencyChartSvg(title: string, unit: string, rows: { label: string; p50: number; p99: number; max: number }[]): string {
  const width = 840;
  const barArea = 460;
  const left = 240;
  const rowHeight = 30;
  const top = 70;
  const height = top + rows.length * rowHeight + 34;
  const ceiling = 10 ** Math.ceil(Math.log10(Math.max(10, ...rows.map((r) => r.max))));
  // From 0.5 ms, so a 1 ms p50 still shows as a bar.
  const x = (v: number) => left + (Math.log10(Math.max(0.5, v) / 0.5) / Math.log10(ceiling / 0.5)) * barArea;
  const ticks: string[] = [];
  for (let v = 1; v <= ceiling; v *= 10) {
    ticks.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${top - 6}" y2="${height - 30}" stroke="#e2e8f0"/>`, `<text x="${x(v)}" y="${top - 10}" text-anchor="middle" font-size="11" fill="#4a5568">${v.toLocaleString('en-US')} ms</text>`);
  }
  const bars = rows.map((r, i) => {
    const y = top + i * rowHeight;
    const nexus = r.label.startsWith('Nexus');
    return [
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="13">${r.label}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${x(r.p99) - left}" height="18" fill="${nexus ? '#90cdf4' : '#e2e8f0'}"/>`,
      `<rect x="${left}" y="${y + 3}" width="${x(r.p50) - left}" height="18" fill="${nexus ? '#2b6cb0' : '#a0aec0'}"/>`,
      `<line x1="${x(r.max)}" x2="${x(r.max)}" y1="${y + 1}" y2="${y + 23}" stroke="#1a202c" stroke-width="2"/>`,
      `<text x="${x(r.max) + 6}" y="${y + 16}" font-size="12">${r.p50} / ${r.p99} / ${r.max}</text>`,
    ].join('\n  ');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${left}" y="26" font-size="15" font-weight="bold">${title}</text>
  ${ticks.join('\n  ')}
  ${bars.join('\n  ')}
  <text x="${left}" y="${height - 10}" font-size="11" fill="#4a5568">${unit}; dark bar = p50, light bar = p99, tick = max (labels: p50 / p99 / max); log scale</text>
</svg>
`;
}
