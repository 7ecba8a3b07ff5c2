// `node -r tsx/cjs test/spill/spill-lock-holder.ts DIR`: opens the spill log in DIR from
// another process, appends one record, prints "open", and holds the log (and so its lock)
// until its stdin ends; then closes the log and prints "closed". For test-spill-lock.ts.
import { SpillLog } from '../../src/spill/spill-log';
import { spillRecord } from './spill-fixtures';

async function hold(dir: string): Promise<void> {
  const log = new SpillLog({ dir, segmentBytes: 1 << 20, maxBytes: 1 << 30 });
  await log.open();
  const appended = await log.append(spillRecord('from-child'));
  if (!appended.ok) throw new Error(appended.message);
  process.stdout.write('open\n');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  await log.close();
  process.stdout.write('closed\n');
}

hold(process.argv[2]).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
