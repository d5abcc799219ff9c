/**
 * The soak: a bounded mixed load on the real upload site and dashboard, in a
 * server process of its own on 127.0.0.1, against one real store. Visitors
 * upload, read back, forget, have an operator end their session, go idle past
 * the TTL or clear their cookies; an operator lists, reads the totals and
 * purges expired sessions; the sweeper runs every second. The client keeps
 * what each visitor last wrote and checks every read against it.
 *
 * A session is "lost" when a read that must find it (its idle expiry has not
 * come, it was not ended) shows nothing or something else. A read that must
 * not find it (expired, ended) and does is an error. Memory is the server's,
 * after a forced collection, once the load has warmed up and once it stopped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { publicIdOf } from '../../middleware/ids.ts';
import type { StoreKind } from '../../middleware/store.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { createNamespace } from '../helpers/store-fixtures.ts';
import { Visitor } from '../helpers/visitor.ts';

export interface SoakOptions {
  kind: StoreKind;
  durationMs: number;
  /** Visitors at once: each sends one request at a time, so this bounds the load. */
  visitors?: number;
  /** SESSION_TTL of the server. */
  idleTtlMs?: number;
}

export interface SoakReport {
  kind: StoreKind;
  durationMs: number;
  requests: number;
  /** 5xx answers and answers other than the one expected. */
  errors: number;
  /** Reads checked against what the visitor last wrote (found it, or rightly found nothing). */
  sessionsChecked: number;
  /** Reads that had to find the visitor's last write and did not. */
  sessionsLost: number;
  /** Sessions that expired while their visitor was idle (and were found gone). */
  expiredAsExpected: number;
  /** Sessions ended on purpose, by the visitor or an operator. */
  endedOnPurpose: number;
  /** Sessions the store still held, expired or not, once every session's TTL and a sweep had passed. */
  leftAfterExpiry: number;
  heapStartBytes: number;
  heapEndBytes: number;
  rssStartBytes: number;
  rssEndBytes: number;
  /** The first few errors, for the report. */
  errorSamples: string[];
}

const ADMIN_AUTH = basicAuth();
/** Slack for expiry checks: clocks are the same, but a request takes time on both sides of the check. */
const EXPIRY_SLACK_MS = 250;

/** What a visitor last did to its session, with the times of that request. */
type Expectation =
  | { kind: 'none' }
  | { kind: 'ended' }
  | { kind: 'content'; lines: string[]; sentAtMs: number; answeredAtMs: number };

class Tally {
  requests = 0;
  errors = 0;
  sessionsChecked = 0;
  sessionsLost = 0;
  expiredAsExpected = 0;
  endedOnPurpose = 0;
  readonly errorSamples: string[] = [];

  /** Sends one request, counted. */
  request<T>(call: () => Promise<T>): Promise<T> {
    this.requests++;
    return call();
  }

  error(what: string): void {
    this.errors++;
    if (this.errorSamples.length < 10) this.errorSamples.push(what);
  }
}

/** Runs the soak on one store and returns its figures; the server and the namespace are gone afterwards. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { kind, durationMs, visitors: visitorCount = 40, idleTtlMs = 5_000 } = options;
  const namespace = await createNamespace(kind);
  let server: ServerProcess | undefined;
  try {
    server = await startServerProcess(namespace, {
      SESSION_TTL: `${idleTtlMs / 1000}s`,
      SESSION_SWEEP_INTERVAL: '1s',
      LOG_LEVEL: 'warn',
    });
    const tally = new Tally();
    const started = Date.now();
    const deadline = started + durationMs;
    const warmUpMs = Math.min(5_000, durationMs / 5);
    const visitorLoops = Array.from({ length: visitorCount }, (_, i) => visit(server!.url, i, deadline, idleTtlMs, tally));
    const operatorLoop = operate(server.url, deadline, tally);
    await sleep(warmUpMs);
    const memoryStart = await server.memory();
    await Promise.all([...visitorLoops, operatorLoop]);
    const memoryEnd = await server.memory();
    const elapsedMs = Date.now() - started;

    // Every session left behind (idle visitors, cleared cookies) must expire and be swept on schedule.
    await sleep(idleTtlMs + 2_500);
    const look = namespace.open();
    await look.init();
    const leftAfterExpiry = await look.count(0).finally(() => look.close());
    return {
      kind,
      durationMs: elapsedMs,
      requests: tally.requests,
      errors: tally.errors,
      sessionsChecked: tally.sessionsChecked,
      sessionsLost: tally.sessionsLost,
      expiredAsExpected: tally.expiredAsExpected,
      endedOnPurpose: tally.endedOnPurpose,
      leftAfterExpiry,
      heapStartBytes: memoryStart.heapUsed,
      heapEndBytes: memoryEnd.heapUsed,
      rssStartBytes: memoryStart.rss,
      rssEndBytes: memoryEnd.rss,
      errorSamples: tally.errorSamples,
    };
  } finally {
    await server?.stop();
    await namespace.remove();
  }
}

/** One visitor's loop until the deadline: a random action, a short pause, again. */
async function visit(url: string, index: number, deadline: number, idleTtlMs: number, tally: Tally): Promise<void> {
  let visitor = new Visitor(url);
  let expected: Expectation = { kind: 'none' };
  let version = 0;

  const step = async (): Promise<void> => {
    const roll = Math.random();
    if (expected.kind !== 'content') {
      expected = roll < 0.2 ? await checkRead(visitor, expected, idleTtlMs, tally) : await upload(visitor, index, ++version, tally);
    } else if (roll < 0.5) {
      expected = await checkRead(visitor, expected, idleTtlMs, tally);
    } else if (roll < 0.85) {
      expected = await upload(visitor, index, ++version, tally);
    } else if (roll < 0.89) {
      const status = await tally.request(() => visitor.forget());
      if (status !== 303) return tally.error(`POST /forget: ${status}`);
      tally.endedOnPurpose++;
      expected = { kind: 'ended' };
    } else if (roll < 0.92) {
      expected = await operatorEnds(url, visitor, expected, idleTtlMs, tally);
    } else if (roll < 0.95) {
      // Idle past the TTL (when the soak lasts that long): the next read must find the session gone.
      if (Date.now() + idleTtlMs + 1_000 > deadline) return;
      await sleep(idleTtlMs + 1_000);
      expected = await checkRead(visitor, expected, idleTtlMs, tally);
    } else {
      // Cookies cleared: the server copy is left to expire on schedule.
      visitor = new Visitor(url);
      expected = { kind: 'none' };
    }
  };

  while (Date.now() < deadline) {
    try {
      await step();
    } catch (err) {
      tally.error(`visitor ${index}: ${(err as Error).message}`);
    }
    await sleep(Math.random() * 20);
  }
}

async function upload(visitor: Visitor, index: number, version: number, tally: Tally): Promise<Expectation> {
  const lines = Array.from({ length: 1 + (version % 9) }, (_, k) => `visitor ${index} version ${version} line ${k}`);
  const sentAtMs = Date.now();
  const status = await tally.request(() => visitor.upload(`${lines.join('\n')}\n`, `v${version}.txt`));
  if (status !== 303) {
    tally.error(`POST /: ${status}`);
    return { kind: 'none' };
  }
  return { kind: 'content', lines, sentAtMs, answeredAtMs: Date.now() };
}

/** Reads /action and checks it against what the visitor expects; returns what to expect next. */
async function checkRead(
  visitor: Visitor,
  expected: Expectation,
  idleTtlMs: number,
  tally: Tally,
): Promise<Expectation> {
  const sentAtMs = Date.now();
  const shown = await tally.request(() => visitor.read());
  const answeredAtMs = Date.now();
  if (shown.status !== 200) {
    tally.error(`GET /action: ${shown.status}`);
    return expected;
  }
  if (expected.kind !== 'content') {
    tally.sessionsChecked++;
    if (shown.uploaded) tally.error(`GET /action found data in a session that was ${expected.kind === 'ended' ? 'ended' : 'never written'}`);
    return expected;
  }
  // The last request that used the session moved its idle expiry to (its time at the server + TTL): between
  // (sent + TTL) and (answered + TTL) by this clock. The slack covers rounding and the clock reads on either side.
  const mustBeThere = answeredAtMs < expected.sentAtMs + idleTtlMs - EXPIRY_SLACK_MS;
  const mustBeGone = sentAtMs > expected.answeredAtMs + idleTtlMs + EXPIRY_SLACK_MS;
  const same = shown.uploaded && JSON.stringify(shown.lines) === JSON.stringify(expected.lines);
  if (mustBeThere || mustBeGone) tally.sessionsChecked++;
  if (mustBeThere && !same) {
    tally.sessionsLost++;
    if (tally.errorSamples.length < 10) tally.errorSamples.push(`lost: expected ${expected.lines[0]}, shown ${shown.uploaded ? shown.lines[0] : 'nothing'}`);
  }
  if (mustBeGone && shown.uploaded) tally.error(`a session past its idle expiry was still served: ${shown.lines[0]}`);
  if (shown.uploaded && !same) tally.error(`GET /action showed another upload: ${shown.lines[0]}, expected ${expected.lines[0]}`);
  if (!shown.uploaded) {
    if (!mustBeThere) tally.expiredAsExpected++;
    return { kind: 'none' };
  }
  // The read rolled the idle expiry forward.
  return { ...expected, sentAtMs, answeredAtMs };
}

/** An operator ends this visitor's session by its public id; the visitor's next read must find nothing. */
async function operatorEnds(
  url: string,
  visitor: Visitor,
  expected: Expectation,
  idleTtlMs: number,
  tally: Tally,
): Promise<Expectation> {
  if (expected.kind !== 'content' || !visitor.rawSessionId) return expected;
  const id = publicIdOf(visitor.rawSessionId);
  const sentAtMs = Date.now();
  const res = await tally.request(() => fetch(`${url}/admin/api/sessions/${id}`, { method: 'DELETE', headers: { Authorization: ADMIN_AUTH } }));
  await res.arrayBuffer();
  const mayHaveExpired = sentAtMs > expected.sentAtMs + idleTtlMs - EXPIRY_SLACK_MS;
  if (res.status === 200 || (res.status === 404 && mayHaveExpired)) tally.endedOnPurpose++;
  else if (res.status === 404) tally.sessionsLost++;
  else tally.error(`DELETE /admin/api/sessions/:id: ${res.status}`);
  return { kind: 'ended' };
}

/** The operator: pages through the list, reads the totals and the feed, purges expired sessions. */
async function operate(url: string, deadline: number, tally: Tally): Promise<void> {
  const get = async (path: string, method = 'GET') => {
    const res = await tally.request(() => fetch(`${url}/admin/api${path}`, { method, headers: { Authorization: ADMIN_AUTH } }));
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) tally.error(`${method} /admin/api${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  for (let round = 0; Date.now() < deadline; round++) {
    try {
      let cursor: string | null = null;
      for (let page = 0; page < 5; page++) {
        const sort = round % 2 === 0 ? 'activity' : 'expiry';
        const body = await get(`/sessions?limit=20&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`);
        cursor = (body.nextCursor as string | null) ?? null;
        if (!cursor) break;
      }
      await get('/stats');
      await get('/events?limit=50');
      if (round % 3 === 2) await get('/purge-expired', 'POST');
    } catch (err) {
      tally.error(`operator: ${(err as Error).message}`);
    }
    await sleep(1_000);
  }
}

/** Server heap may grow by this much between the warmed-up start and the end before it counts as growing. */
const HEAP_GROWTH_ALLOWED_BYTES = 16 * 1_048_576;

/** What is wrong with a soak's figures: nothing, for a pass. */
export function problemsOf(report: SoakReport): string[] {
  const problems: string[] = [];
  if (report.errors > 0) problems.push(`${report.errors} errors`);
  if (report.sessionsLost > 0) problems.push(`${report.sessionsLost} sessions lost`);
  if (report.leftAfterExpiry > 0) problems.push(`${report.leftAfterExpiry} sessions still stored after every TTL and a sweep had passed`);
  if (report.sessionsChecked === 0) problems.push('no session was checked');
  const growthBytes = report.heapEndBytes - report.heapStartBytes;
  if (growthBytes > HEAP_GROWTH_ALLOWED_BYTES) problems.push(`server heap grew by ${(growthBytes / 1_048_576).toFixed(1)} MiB`);
  return problems;
}

/** The figures as a few lines of text. */
export function formatReport(report: SoakReport): string {
  const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
  return [
    `soak on the ${report.kind} store: ${(report.durationMs / 1000).toFixed(1)} s, ${report.requests} requests (${Math.round(report.requests / (report.durationMs / 1000))}/s), ${report.errors} errors`,
    `  sessions checked ${report.sessionsChecked}, lost ${report.sessionsLost}, expired as expected ${report.expiredAsExpected}, ended on purpose ${report.endedOnPurpose}, left in the store after every TTL and a sweep ${report.leftAfterExpiry}`,
    `  server heap ${mib(report.heapStartBytes)} -> ${mib(report.heapEndBytes)}, rss ${mib(report.rssStartBytes)} -> ${mib(report.rssEndBytes)}`,
    ...report.errorSamples.map((sample) => `  error: ${sample}`),
  ].join('\n');
}
