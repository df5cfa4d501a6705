// `/api/v1/realtime`: one websocket for the whole app. It reconnects with backoff and
// resumes from the last `seq` it saw, so no change is missed or seen twice; screens
// subscribe with `realtime.on(type, handler)`. Types: `event` (every change; `data` is the
// event: object_type, action, object_id, lead_id, user_id, data, changed_fields), the
// event's own `{object_type}.{action}` (`lead.updated`, `message.created`), `presence`
// (`{users: [{user_id, viewing}]}`, viewing a lead id or null), `typing`, `hello`, `ready`, `resync`,
// `disconnected`, `unauthorized` (the server closed the socket because the session ended:
// logged out elsewhere, password changed, removed from the organization).

export class Realtime {
  constructor() {
    this.handlers = new Map();
    this.lastSeq = null;
    this.socket = null;
    this.viewing = null;
    this.closed = false;
    this.delay = 500;
  }

  start() {
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.retry);
    if (this.socket) this.socket.close();
  }

  connect() {
    if (this.closed) return; // stopped while a reconnect was waiting
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const since = this.lastSeq === null ? '' : `?since=${this.lastSeq}`;
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/realtime${since}`);
    this.socket = socket;
    socket.onopen = () => {
      this.delay = 500;
      if (this.viewing) this.send({ type: 'view', lead_id: this.viewing });
    };
    socket.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (typeof frame.seq === 'number') this.lastSeq = frame.seq;
      const builtIn = ['hello', 'ready', 'resync', 'presence', 'typing', 'pong', 'error'];
      if (!builtIn.includes(frame.type)) this.emit('event', frame.data, frame);
      this.emit(frame.type, frame.data, frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return; // a socket from before a stop() and start()
      this.socket = null;
      this.emit('disconnected');
      if (event.code === 4401) this.emit('unauthorized');
      if (this.closed) return;
      this.retry = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    };
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  /** Tells the others which lead this screen shows (`null`: none). */
  view(leadId) {
    this.viewing = leadId;
    this.send({ type: 'view', lead_id: leadId });
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type).delete(handler);
  }

  emit(type, data, frame) {
    for (const handler of this.handlers.get(type) || []) handler(data, frame);
  }
}
