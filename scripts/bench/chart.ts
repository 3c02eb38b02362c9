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
