// Builds the published package into dist/: the library (middleware/), the
// dashboard (admin/), what both share (web/) and the operator CLI (cli/, the
// package's bin) compiled to JavaScript with type declarations, plus the
// dashboard's templates and assets at the same places relative to the
// compiled code as in the source tree, so that
// `new URL('../views/admin/', import.meta.url)` finds them either way.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('../', import.meta.url);
const dist = new URL('dist/', root);

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
cpSync(new URL('views/admin/', root), new URL('views/admin/', dist), { recursive: true });
cpSync(new URL('public/', root), new URL('public/', dist), { recursive: true });

// The bin: tsc keeps cli/main.ts's `#!/usr/bin/env node` line; the file must also be executable.
const bin = new URL('cli/main.js', dist);
if (!readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')) throw new Error('dist/cli/main.js lost its #!/usr/bin/env node line');
chmodSync(bin, 0o755);
