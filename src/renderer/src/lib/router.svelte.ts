import { href, parseHash, type Route, type View } from './route';

export { href, parseHash, type Route, type View };

export class Router {
  route = $state<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));

  constructor() {
    if (typeof window !== 'undefined') {
      window.addEventListener('hashchange', () => (this.route = parseHash(location.hash)));
    }
  }

  go(view: View, id?: number | null, query?: Record<string, string | number | null | undefined>): void {
    const next = href(view, id, query);
    if (location.hash === next) this.route = parseHash(next);
    else location.hash = next;
  }
}
