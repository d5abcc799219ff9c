/** Types for inflation@2, which ships none. */
declare module 'inflation' {
  import type { Readable } from 'node:stream';
  import type { BrotliOptions, ZlibOptions } from 'node:zlib';

  /**
   * `stream` itself for `identity`, else `stream` piped into a zlib decoder
   * for `gzip`, `deflate` or `br`. The encoding comes from `options.encoding`,
   * else from the stream's Content-Encoding header.
   *
   * @throws Error with `status` 415 for any other encoding.
   */
  function inflate(stream: Readable, options?: ZlibOptions & { encoding?: string; brotli?: BrotliOptions }): Readable;
  export = inflate;
}
