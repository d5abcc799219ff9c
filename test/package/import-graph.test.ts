/**
 * The layering of the source folders, checked on every import:
 *
 *   middleware/  the library (`sessionkeeper`): imports no other folder
 *   web/         what the dashboard and the site share: middleware/ only
 *   admin/       the dashboard (`sessionkeeper/admin`): middleware/ and web/
 *   cli/         the operator CLI (the package's bin): middleware/, web/ and admin/
 *   server/      the reference upload server: middleware/, web/ and admin/
 *
 * cli/ and server/ are both top layers: neither imports the other. The four
 * published folders may load only what a user's install brings: the
 * package's `dependencies`, its `peerDependencies` and Node's `node:` modules.
 * A devDependency imported there works in this repository and breaks for
 * every user.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesUnder, importsOfFile, isRelative, packageNameOf } from './module-imports.ts';

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** Each source folder and the folders it may import from (itself included). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  middleware: ['middleware'],
  web: ['web', 'middleware'],
  admin: ['admin', 'web', 'middleware'],
  cli: ['cli', 'admin', 'web', 'middleware'],
  server: ['server', 'admin', 'web', 'middleware'],
};
const SOURCE_FOLDERS = Object.keys(MAY_IMPORT);
/** The folders compiled into the package (scripts/build.mjs, tsconfig.build.json). */
const PUBLISHED_FOLDERS = ['middleware', 'web', 'admin', 'cli'];

/** One import of one source file, with where it points. */
interface Edge {
  /** The importing file, relative to the repository: `admin/index.ts`. */
  file: string;
  specifier: string;
  typeOnly: boolean;
  /** The top-level folder the importing file is in. */
  fromFolder: string;
  /** For a relative import, the top-level folder of its target (`..` when outside the repository); else undefined. */
  toFolder?: string;
}

/** Every import of every .ts file in the source folders. */
function sourceImports(): Edge[] {
  return SOURCE_FOLDERS.flatMap((folder) =>
    filesUnder(resolve(REPO_DIR, folder), (name) => name.endsWith('.ts')).flatMap((path) => {
      const file = relative(REPO_DIR, path);
      return importsOfFile(path).map(({ specifier, typeOnly }) => ({
        file,
        specifier,
        typeOnly,
        fromFolder: folder,
        toFolder: isRelative(specifier) ? topFolderOf(resolve(dirname(path), specifier)) : undefined,
      }));
    }),
  );
}

function topFolderOf(absolutePath: string): string {
  return relative(REPO_DIR, absolutePath).split(sep)[0]!;
}

function describe(edge: Edge): string {
  return `${edge.file} imports ${edge.typeOnly ? 'type ' : ''}'${edge.specifier}'`;
}

/** A cycle in the folder graph as `a → b → a`, or undefined when there is none. */
function findCycle(graph: Map<string, Set<string>>): string | undefined {
  const done = new Set<string>();
  const walk = (node: string, path: string[]): string | undefined => {
    const seen = path.indexOf(node);
    if (seen >= 0) return [...path.slice(seen), node].join(' → ');
    if (done.has(node)) return undefined;
    for (const next of graph.get(node) ?? []) {
      const cycle = walk(next, [...path, node]);
      if (cycle) return cycle;
    }
    done.add(node);
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = walk(node, []);
    if (cycle) return cycle;
  }
  return undefined;
}

const edges = sourceImports();

test('the parser sees the imports (a guard against a check that passes because it reads nothing)', () => {
  const adminIndex = edges.filter((edge) => edge.file === `admin${sep}index.ts`).map((edge) => edge.specifier);
  assert.ok(adminIndex.includes('@koa/router'), 'admin/index.ts imports @koa/router');
  assert.ok(adminIndex.includes('../middleware/sessionkeeper.ts'), 'admin/index.ts imports type Sessionkeeper');
  assert.ok(adminIndex.includes('./settings.ts'), 'admin/index.ts re-exports from ./settings.ts');
  for (const folder of SOURCE_FOLDERS) assert.ok(edges.some((edge) => edge.fromFolder === folder), `${folder}/ has imports`);
});

test('each folder imports only from the folders below it: middleware ← web ← admin ← cli, server', () => {
  const wrong = edges
    .filter((edge) => edge.toFolder !== undefined && !MAY_IMPORT[edge.fromFolder]!.includes(edge.toFolder))
    .map((edge) => `${describe(edge)} (${edge.fromFolder}/ may import only ${MAY_IMPORT[edge.fromFolder]!.join(', ')})`);
  assert.deepEqual(wrong, []);
});

test('no import cycle between folders', () => {
  const graph = new Map<string, Set<string>>(SOURCE_FOLDERS.map((folder) => [folder, new Set()]));
  for (const edge of edges) {
    if (edge.toFolder !== undefined && edge.toFolder !== edge.fromFolder) graph.get(edge.fromFolder)!.add(edge.toFolder);
  }
  assert.equal(findCycle(graph), undefined);
});

test('the published folders load only dependencies, peerDependencies and node: modules', () => {
  const manifest = JSON.parse(readFileSync(resolve(REPO_DIR, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  const installedForUsers = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
  // Type-only imports count too: the .d.ts files keep them, and a user's type check needs those packages.
  const undeclared = edges
    .filter((edge) => PUBLISHED_FOLDERS.includes(edge.fromFolder) && !isRelative(edge.specifier))
    .filter((edge) => !edge.specifier.startsWith('node:') && !installedForUsers.has(packageNameOf(edge.specifier)))
    .map(describe);
  assert.deepEqual(undeclared, []);
});

test('no source, template, asset or README cites SPEC.md', () => {
  const places = [...SOURCE_FOLDERS, 'views', 'public'].flatMap((folder) => filesUnder(resolve(REPO_DIR, folder), () => true));
  places.push(resolve(REPO_DIR, 'README.md'));
  const citations = places.flatMap((path) =>
    readFileSync(path, 'utf8')
      .split('\n')
      .flatMap((line, index) => (/SPEC\.md/i.test(line) ? [`${relative(REPO_DIR, path)}:${index + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(citations, []);
});
