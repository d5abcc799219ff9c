/**
 * A visitor of the upload site over real HTTP (fetch): keeps its session
 * cookies like a browser, uploads files, reads them back from /action and
 * forgets its session. For tests that run the server on a port.
 */
import { shownLines, textFileForm } from './upload-forms.ts';

/** What /action showed: the upload's lines, or nothing. */
export interface ShownUpload {
  status: number;
  /** False when the page says nothing was uploaded (or it was not a 200). */
  uploaded: boolean;
  lines: string[];
  /** The whole response body, for checks on what a page may never contain. */
  body: string;
}

/** Every request of a visitor is bounded: a hung server fails the test instead of hanging it. */
const REQUEST_TIMEOUT_MS = 10_000;

export class Visitor {
  /** The `sid` and `sid.sig` pairs the server set last. */
  cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  /** The Cookie header this visitor sends. */
  get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** The raw session id in the cookie, if any. */
  get rawSessionId(): string | undefined {
    return this.cookies.get('sid');
  }

  /** POST / with one text file; answers the status (303 on success). */
  async upload(text: string, fileName: string): Promise<number> {
    const form = textFileForm(text, fileName);
    const res = await this.request('/', { method: 'POST', headers: { 'Content-Type': form.contentType }, body: new Uint8Array(form.body) });
    await res.arrayBuffer();
    return res.status;
  }

  /** GET /action: what the session holds. */
  async read(): Promise<ShownUpload> {
    const res = await this.request('/action');
    const body = await res.text();
    const uploaded = res.status === 200 && !body.includes('<h1>Nothing uploaded yet</h1>');
    return { status: res.status, uploaded, lines: uploaded ? shownLines(body) : [], body };
  }

  /** POST /forget: ends the session; answers the status (303). */
  async forget(): Promise<number> {
    const res = await this.request('/forget', { method: 'POST' });
    await res.arrayBuffer();
    return res.status;
  }

  /** Any request with this visitor's cookies; remembers the cookies the answer sets. Redirects are not followed. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('Cookie', this.cookieHeader);
    const res = await fetch(`${this.baseUrl}${path}`, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (name !== 'sid' && name !== 'sid.sig') continue;
      // koa-session clears a cookie by setting it empty with an expiry in the past.
      if (value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}
