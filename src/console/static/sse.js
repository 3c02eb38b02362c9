// EventSource with a status (live / reconnecting / ended) for the pages.
import { useEffect, useRef, useState } from '/vendor/htm-preact.js';

/**
 * Opens `url` (when not null) and calls handlers[eventName](data, id) for each event.
 * The browser reconnects by itself (with Last-Event-ID); `end` closes it for good.
 */
export function useEventSource(url, handlers, reopenMs = 3000) {
  const [status, setStatus] = useState(url ? 'connecting' : 'off');
  const [attempt, setAttempt] = useState(0);
  const h = useRef(handlers);
  h.current = handlers;
  useEffect(() => {
    if (!url) {
      setStatus('off');
      return undefined;
    }
    const es = new EventSource(url, { withCredentials: true });
    setStatus('connecting');
    es.onopen = () => setStatus('live');
    let timer;
    // A refused stream (an HTTP error before the first event) is not retried by the browser:
    // it is reopened here after a pause (503 while a replica drains), unless the page says stop.
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        setStatus('closed');
        if (reopenMs > 0) timer = setTimeout(() => setAttempt((a) => a + 1), reopenMs);
      } else setStatus('reconnecting');
    };
    const names = Object.keys(h.current);
    for (const name of names) {
      es.addEventListener(name, (ev) => {
        let data = null;
        try {
          data = ev.data ? JSON.parse(ev.data) : null;
        } catch {
          data = ev.data;
        }
        const fn = h.current[name];
        if (fn) fn(data, ev.lastEventId);
        if (name === 'end') {
          es.close();
          setStatus('ended');
        }
      });
    }
    return () => {
      clearTimeout(timer);
      es.close();
    };
  }, [url, attempt]);
  return status;
}
