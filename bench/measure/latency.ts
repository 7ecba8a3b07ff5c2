import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

/** One hour in µs: the largest latency a histogram tracks; larger values are clamped to it. */
const HIGHEST_US = 3_600_000_000;

/** An HDR histogram of latencies in µs, 3 significant digits (0.1% resolution at every scale). */
export function latencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });
}

export function recordMs(histogram: Histogram, ms: number): void {
  const us = Math.round(ms * 1000);
  histogram.recordValue(us < 1 ? 1 : us > HIGHEST_US ? HIGHEST_US : us);
}

export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

/** Adds every encoded histogram into one. */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const total = latencyHistogram();
  for (const text of encoded) {
    const part = decodeFromCompressedBase64(text);
    total.add(part);
    part.destroy();
  }
  return total;
}

/** Latency percentiles in ms; undefined when nothing was recorded. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarise(histogram: Histogram): LatencySummary | undefined {
  if (histogram.totalCount === 0) return undefined;
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
  };
}
