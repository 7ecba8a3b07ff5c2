import { expect } from 'chai';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { LocalHistograms } from '../../src/telemetry/local-histograms';

describe('LocalHistograms', () => {
  it('counts each value in the bucket whose upper bound (inclusive) is the first at or above it, per series', async () => {
    const local = new LocalHistograms({ name: 'commitlog' });
    const histogram = local.create('x.duration', { unit: 's', description: 'd', boundaries: [1, 2, 5] });
    const a = histogram.series({ m: 'a', o: 'delivered' });
    expect(histogram.series({ o: 'delivered', m: 'a' })).to.equal(a); // same set, any key order: same series
    for (const value of [0.5, 1, 1.5, 5, 7]) a.record(value);
    histogram.series({ m: 'b', o: 'spilled' }); // no value yet: no data point
    const { resourceMetrics } = await local.collect();
    const [metric] = resourceMetrics.scopeMetrics[0].metrics;
    expect(metric.descriptor).to.include({ name: 'x.duration', unit: 's' });
    expect(metric.dataPoints).to.have.length(1);
    expect(metric.dataPoints[0].attributes).to.deep.equal({ m: 'a', o: 'delivered' });
    expect(metric.dataPoints[0].value).to.deep.equal({
      buckets: { boundaries: [1, 2, 5], counts: [2, 1, 1, 1] },
      count: 5,
      sum: 15,
      min: 0.5,
      max: 7,
    });
  });

  it('sums a counter per series, monotonic and cumulative', async () => {
    const local = new LocalHistograms({ name: 'commitlog' });
    const counter = local.createCounter('x.calls', { unit: '{call}', description: 'd' });
    counter.series({ code: 0 }).add(2);
    counter.series({ code: 0 }).add(3);
    counter.series({ code: 14 }).add(1);
    const [metric] = (await local.collect()).resourceMetrics.scopeMetrics[0].metrics;
    expect(metric).to.include({ dataPointType: DataPointType.SUM, isMonotonic: true });
    expect(metric.dataPoints.map((p) => [p.attributes, p.value])).to.deep.equal([
      [{ code: 0 }, 5],
      [{ code: 14 }, 1],
    ]);
  });
});
