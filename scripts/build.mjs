// Builds the published package into dist/: the library (middleware/), the
// dashboard (admin/) and what both share (web/) compiled to JavaScript with
// type declarations, plus the dashboard's templates and assets at the same
// places relative to the compiled code as in the source tree, so that
// `new URL('../views/admin/', import.meta.url)` finds them either way.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('../', import.meta.url);
const dist = new URL('dist/', root);

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
cpSync(new URL('views/admin/', root), new URL('views/admin/', dist), { recursive: true });
cpSync(new URL('public/', root), new URL('public/', dist), { recursive: true });
