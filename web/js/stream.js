// The event stream (GET /api/v1/stream, Server-Sent Events; docs/api.md "Event stream") read with fetch rather
// than EventSource, so that the credentials travel in a header and not in the URL. Reconnects after a second when
// the connection ends, until stopped.
import {authHeaders} from './api.js';

/**
 * follow({events: 'st2.execution__create,...', action_refs, execution_ids}, onEvent(name, data), onState(state))
 * → stop(). `state` is 'live' once the server said it is connected, 'reconnecting' after a failure.
 */
export function follow(query, onEvent, onState = () => {}) {
  let stopped = false;
  let controller = null;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);

  async function connect() {
    controller = new AbortController();
    const res = await fetch(`/api/v1/stream?${q}`, {headers: authHeaders(), signal: controller.signal});
    if (!res.ok || !res.body) throw new Error(`stream: ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function dispatch(block) {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        if (line.startsWith(': connected')) onState('live');
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    let parsed;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      return;  // not JSON: no event of ours
    }
    onEvent(name, parsed);
  }

  (async () => {
    while (!stopped) {
      try {
        await connect();
      } catch {
        // ended, refused or aborted: try again unless stopped
      }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();

  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
