/**
 * Profiles one benchmark case: starts its server, creates its session pool and
 * warms it up, then records a V8 CPU profile in the server process (the same
 * profiler `node --cpu-prof` uses, limited to the measured window) while one
 * scenario runs, and prints where the server's CPU time went: the top
 * functions by self time and the time per module group.
 *
 *   node --import tsx bench/profile.ts <server file> <scenario> [seconds] [server args…]
 *   node --import tsx bench/profile.ts sessionkeeper.ts read 5 redis
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionPool, drive, type Scenario } from './lib/load.ts';
import { formatFixed, markdownTable } from './lib/markdown.ts';
import { closeBenchConnections, createBenchNamespace, removeBenchNamespace } from './lib/namespaces.ts';
import { buildLibrary } from './lib/baseline.ts';
import { REPO_ROOT, ServerProcess } from './lib/server-process.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const TOP_FUNCTIONS = 30;
const [file, scenario, seconds = '5', ...serverArgs] = process.argv.slice(2);
if (!file || !scenario) throw new Error('usage: bench/profile.ts <server file> <read|write|new> [seconds] [server args…]');

/** Where a frame's code lives: a package, sessionkeeper's own folders, or Node's internals. */
function groupOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inPackage) return inPackage[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const ours = /\/(middleware|bench)\/(.*)$/.exec(url);
  return ours ? `${ours[1]}/${ours[2]}` : url;
}

/** Self time by function and by module, as a share of the window and in µs per request served in it. */
function summarise(profile: CpuProfile, requests: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<string, number>();
  const groupMicros = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const delta = profile.timeDeltas[index] ?? 0;
    const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|middleware|bench)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    selfMicros.set(name, (selfMicros.get(name) ?? 0) + delta);
    const group = groupOf(url, functionName);
    groupMicros.set(group, (groupMicros.get(group) ?? 0) + delta);
    total += delta;
  });
  const share = (micros: number) => `${formatFixed((100 * micros) / total, 1)} %`;
  const perRequest = (micros: number) => formatFixed(micros / Math.max(1, requests), 2);
  const top = [...selfMicros].sort((a, b) => b[1] - a[1]).slice(0, TOP_FUNCTIONS);
  const groups = [...groupMicros].sort((a, b) => b[1] - a[1]).slice(0, 20);
  return [
    `#### Self time by function (top ${TOP_FUNCTIONS})\n\n${markdownTable(['function', 'self', 'µs/req'], top.map(([name, micros]) => [`\`${name}\``, share(micros), perRequest(micros)]))}`,
    `#### Self time by module\n\n${markdownTable(['module', 'self', 'µs/req'], groups.map(([name, micros]) => [name, share(micros), perRequest(micros)]))}`,
  ].join('\n\n');
}

// The servers run the compiled package (see servers/library.ts).
await buildLibrary(REPO_ROOT, (line) => process.stderr.write(`[profile] ${line}\n`));
const profileDir = await mkdtemp(join(tmpdir(), 'skbench-profile-'));
const namespace = await createBenchNamespace();
try {
  const server = await ServerProcess.start(file, serverArgs, namespace);
  const cookies = scenario === 'new' ? [] : await createSessionPool(server.port, 500);
  await drive(server.port, { scenario: scenario as Scenario, cookies, durationSeconds: 1 });
  const profilePath = join(profileDir, 'server.cpuprofile');
  await server.request('profileStart');
  const load = await drive(server.port, { scenario: scenario as Scenario, cookies, durationSeconds: Number(seconds) });
  await server.request('profileStop', { path: profilePath });
  await server.stop();
  const profile = JSON.parse(await readFile(profilePath, 'utf8')) as CpuProfile;
  // KEEP_PROFILE=<path> keeps the raw profile, for Chrome's DevTools or a closer look at one call stack.
  if (process.env.KEEP_PROFILE) await copyFile(profilePath, process.env.KEEP_PROFILE);
  process.stdout.write(`### Profile: ${file} ${serverArgs.join(' ')}, ${scenario}, ${Math.round(load.requestsPerSecond)} req/s\n\n${summarise(profile, load.requests)}\n`);
} finally {
  await removeBenchNamespace(namespace);
  await rm(profileDir, { recursive: true, force: true });
  await closeBenchConnections();
}
