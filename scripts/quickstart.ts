/**
 * `npm run quickstart [-- OPTIONS]`: `resvision quickstart` from the sources (no build needed). The job itself is
 * `src/tasks/quickstart.ts`; the options are the command's (`resvision quickstart --help`).
 */
import { main } from '../src/cli/main';
import { formatCliError } from '../src/cli/common';

main([process.argv[0], 'resvision', 'quickstart', ...process.argv.slice(2)]).catch((e: unknown) => {
  const line = formatCliError(e);
  if (line) process.stderr.write(`${line}\n`);
  process.exit(1);
});
