/**
 * The dashboard's addresses under the prefix it is mounted at (`/admin`
 * unless the app says otherwise): every route, redirect, form action, asset
 * link and cookie path is built here, so the dashboard works under any prefix.
 */
export class AdminPaths {
  /** @param base the prefix, like `/admin` or `/ops/sessions`: starts with `/`, no trailing `/`. */
  constructor(readonly base: string) {}

  /** The address of a dashboard path: `at('/login')` is `/admin/login` under `/admin`. */
  at(subpath: `/${string}`): string {
    return `${this.base}${subpath}`;
  }

  /** True for the prefix itself and everything under it. */
  contains(path: string): boolean {
    return path === this.base || path.startsWith(`${this.base}/`);
  }

  /**
   * True for the paths whose clients are scripts, scrapers or `EventSource`, not people:
   * the JSON API, the live event stream and the Prometheus metrics. Their errors are JSON, never a page.
   */
  isForScripts(path: string): boolean {
    const api = this.at('/api');
    return path === api || path.startsWith(`${api}/`) || path === this.at('/events/stream') || path === this.at('/metrics');
  }
}
