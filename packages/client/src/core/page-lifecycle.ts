/** What a subscription does when the page it lives in goes away, comes back, or regains the network. */
export interface PageLifecycleHandlers {
  /** `pagehide`: the page is being unloaded (or frozen into the back/forward cache). */
  hide(): void;
  /** `pageshow` after `pagehide`: the page came back from the back/forward cache. */
  show(): void;
  /** `online`: the network is back. */
  online(): void;
}

/** True in a browser page (not Node, not a worker without a document). */
function inPage(): boolean {
  return typeof document !== 'undefined' && typeof globalThis.addEventListener === 'function';
}

/** Listens to the page's lifecycle; returns the function that stops listening. A no-op outside a page. */
export function watchPage(handlers: PageLifecycleHandlers): () => void {
  if (!inPage()) return () => undefined;
  const hide = (): void => handlers.hide();
  const show = (event: PageTransitionEvent): void => {
    if (event.persisted) handlers.show();
  };
  const online = (): void => handlers.online();
  globalThis.addEventListener('pagehide', hide);
  globalThis.addEventListener('pageshow', show);
  globalThis.addEventListener('online', online);
  return () => {
    globalThis.removeEventListener('pagehide', hide);
    globalThis.removeEventListener('pageshow', show);
    globalThis.removeEventListener('online', online);
  };
}

/**
 * Sends a request that survives the page being unloaded: `navigator.sendBeacon` (a POST the server
 * treats like the GET, PROTOCOL.md §5), else `fetch` with `keepalive`.
 */
export function sendBeacon(url: string, withCredentials: boolean): void {
  const navigatorLike = (globalThis as { navigator?: { sendBeacon?: (url: string) => boolean } }).navigator;
  try {
    if (typeof navigatorLike?.sendBeacon === 'function' && navigatorLike.sendBeacon(url)) return;
  } catch {
    // fall through to fetch
  }
  void fetch(url, {
    keepalive: true,
    credentials: withCredentials ? 'include' : 'same-origin',
    cache: 'no-store',
  }).catch(() => undefined);
}

/**
 * Sends the explicit close request and resolves when it was answered or failed (never rejects). Bounded
 * to 5 s, and by `signal`.
 */
export async function sendCloseRequest(
  url: string,
  withCredentials: boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  const timeout = AbortSignal.timeout(5_000);
  const bound =
    signal === undefined || typeof AbortSignal.any !== 'function'
      ? timeout
      : AbortSignal.any([timeout, signal]);
  try {
    const response = await fetch(url, {
      keepalive: true,
      credentials: withCredentials ? 'include' : 'same-origin',
      cache: 'no-store',
      signal: bound,
    });
    await response.body?.cancel().catch(() => undefined);
  } catch {
    // The server may be gone; leaving must not fail.
  }
}
