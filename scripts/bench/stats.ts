/** Sum of a list. */
export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** Middle value of a list (the upper one of an even count), as every bench table reports. */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The most hellos between any sample and the last sample at least 1 s before it (or the start). */
export function peakPerSecond(samples: { t: number; hellos: number }[]): number {
  let peak = 0;
  let i = 0;
  for (const s of samples) {
    while (i + 1 < samples.length && samples[i + 1].t <= s.t - 1000) i++;
    peak = Math.max(peak, s.hellos - samples[i].hellos);
  }
  return peak;
}
