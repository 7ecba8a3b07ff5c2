// `node -r tsx/cjs test/spill/spill-cli-entry.ts verify PATH`: the spill subcommands as a process, for exit codes.
import { spillCommand } from '../../src/cli/spill';

void spillCommand().parseAsync(process.argv);
