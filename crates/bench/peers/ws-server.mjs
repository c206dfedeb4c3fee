// The common choice for a small chat server: Node's `ws`, every text frame broadcast to every
// connection. No auth, no storage. Prints "listening on PORT" once ready.
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0) });
wss.on("listening", () => console.log(`listening on ${wss.address().port}`));
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    for (const client of wss.clients) client.send(data, { binary: isBinary });
  });
});
