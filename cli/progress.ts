/**
 * The progress line of a long purge, on stderr so that stdout keeps only the
 * result: on a terminal one line rewritten in place (at most every 100 ms),
 * elsewhere (a log file, a CI job) a line every LINE_EVERY sessions removed.
 */

/** Removed sessions between two progress lines when stderr is not a terminal. */
export const LINE_EVERY = 5_000;
const REDRAW_EVERY_MS = 100;

/** Told the running total after each batch; `done()` clears the line on a terminal. */
export interface Progress {
  update(removedSoFar: number): void;
  done(): void;
}

export function purgeProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const text = (removed: number) => `removing expired sessions: ${removed} so far…`;
  if (stream.isTTY) {
    let drawnAt = 0;
    let drawn = false;
    return {
      update(removed) {
        if (Date.now() - drawnAt < REDRAW_EVERY_MS) return;
        drawnAt = Date.now();
        drawn = true;
        stream.write(`\r\x1b[2K${text(removed)}`);
      },
      done() {
        if (drawn) stream.write('\r\x1b[2K');
      },
    };
  }
  let lines = 0;
  return {
    update(removed) {
      if (Math.floor(removed / LINE_EVERY) <= lines) return;
      lines = Math.floor(removed / LINE_EVERY);
      stream.write(`${text(removed)}\n`);
    },
    done() {},
  };
}
