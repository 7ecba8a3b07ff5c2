import { expect } from 'chai';
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
});
