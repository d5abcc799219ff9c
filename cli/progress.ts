/**
 * The progress line of a long command (a purge, a migration), on stderr so
 * that stdout keeps only the result: on a terminal one line rewritten in
 * place (at most every 100 ms), elsewhere (a log file, a CI job) a line every
 * LINE_EVERY sessions.
 */

/** Sessions between two progress lines when stderr is not a terminal. */
export const LINE_EVERY = 5_000;
const REDRAW_EVERY_MS = 100;
/** Characters of the bar between its brackets. */
const BAR_WIDTH = 24;

/** Told the running count after each batch; `done()` clears the line on a terminal. */
export interface Progress {
  update(soFar: number): void;
  done(): void;
}

/** `removing expired sessions: 1200 so far…` */
export function purgeProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  return progressLine(stream, (removed) => `removing expired sessions: ${removed} so far…`);
}

/** `[######------------------]  25%  25000 of 100000 sessions  8120/s`, the rate since the start. */
export function migrationProgress(total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = performance.now();
  return progressLine(stream, (done) => {
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(share * BAR_WIDTH);
    const perSecond = Math.round(done / Math.max(0.001, (performance.now() - started) / 1000));
    return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(share * 100)).padStart(3)}%  ${done} of ${total} sessions  ${perSecond}/s`;
  });
}

/** A progress line drawing `text(soFar)`. */
function progressLine(stream: NodeJS.WriteStream, text: (soFar: number) => string): Progress {
  if (stream.isTTY) {
    let drawnAt = 0;
    let drawn = false;
    return {
      update(soFar) {
        if (Date.now() - drawnAt < REDRAW_EVERY_MS) return;
        drawnAt = Date.now();
        drawn = true;
        stream.write(`\r\x1b[2K${text(soFar)}`);
      },
      done() {
        if (drawn) stream.write('\r\x1b[2K');
      },
    };
  }
  let lines = 0;
  return {
    update(soFar) {
      if (Math.floor(soFar / LINE_EVERY) <= lines) return;
      lines = Math.floor(soFar / LINE_EVERY);
      stream.write(`${text(soFar)}\n`);
    },
    done() {},
  };
}
