// The chat benchmark's peer: a socket.io relay doing Rapport's fan-out without storing
// anything. A visitor's `message` event goes to every socket of the `operators` room as
// `message.created`, with the same payload. Operators join that room by connecting with
// `?role=operator`.
//
//   node socketio_relay.mjs [--redis redis://127.0.0.1:6379 --prefix KEY]
//
// With --redis, rooms span processes through @socket.io/redis-adapter (its channels start
// with KEY). Listens on 127.0.0.1, a free port, and prints `listening PORT`.

import { createServer } from "node:http";
import { Server } from "socket.io";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

// Only the websocket transport: the benchmark's client speaks it directly.
const io = new Server({ transports: ["websocket"], serveClient: false });

const redisUrl = option("--redis");
if (redisUrl) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub, { key: option("--prefix") ?? "socket.io" }));
}

io.on("connection", (socket) => {
  if (socket.handshake.query.role === "operator") {
    socket.join("operators");
    return;
  }
  socket.on("message", (payload) => {
    io.to("operators").emit("message.created", payload);
  });
});

const http = createServer();
io.attach(http);
http.listen(0, "127.0.0.1", () => {
  console.log(`listening ${http.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
