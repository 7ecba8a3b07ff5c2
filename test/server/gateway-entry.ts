// `node -r tsx/cjs test/server/gateway-entry.ts serve --config FILE`: the CLI from the sources, as a process of its own.
import { main } from '../../src/cli/main';

main(process.argv);
