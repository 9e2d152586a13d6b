/** Hash routing (works from file:// in Electron and from the server in browser mode). */
export type View = 'home' | 'datasets' | 'new' | 'runs' | 'run' | 'inspect';

export interface Route {
  view: View;
  /** Path segment after the view, e.g. the run id in #/run/3. */
  id: number | null;
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split('?');
  const [view = '', id] = path.split('/');
  const views: View[] = ['home', 'datasets', 'new', 'runs', 'run', 'inspect'];
  const n = Number(id);
  return {
    view: (views as string[]).includes(view) ? (view as View) : 'home',
    id: id && Number.isInteger(n) ? n : null,
    query: new URLSearchParams(search),
  };
}

export function href(view: View, id?: number | null, query?: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v != null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `#/${view}${id != null ? `/${id}` : ''}${qs ? `?${qs}` : ''}`;
}
