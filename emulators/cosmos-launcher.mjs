// Serves @vercel/cosmosdb-server's request handler in a way the Rust SDK (azure_data_cosmos 1.0)
// accepts. Usage: node cosmos-launcher.mjs --port N --cert leaf.pem --key leaf-key.pem
// (or COSMOS_PORT / COSMOS_CERT / COSMOS_KEY). Listens on 127.0.0.1 only.
import http2 from "node:http2";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createHttpServer } = require("@vercel/cosmosdb-server");

const { values: args } = parseArgs({
  options: { port: { type: "string" }, cert: { type: "string" }, key: { type: "string" } },
});
const host = "127.0.0.1";
const port = Number(args.port ?? process.env.COSMOS_PORT);
const certFile = args.cert ?? process.env.COSMOS_CERT;
const keyFile = args.key ?? process.env.COSMOS_KEY;
if (!Number.isInteger(port) || port <= 0 || !certFile || !keyFile) {
  console.error("usage: cosmos-launcher.mjs --port N --cert leaf.pem --key leaf-key.pem");
  process.exit(2);
}

// The package exports only server factories; its handler is the factory's "request" listener,
// and its in-memory account is created on "listening" from server.address(). We never listen
// on that server: we hand it our own address, so the account document advertises
// https://127.0.0.1:<port>/ (the SDK follows the advertised endpoints for every later call).
const inner = createHttpServer();
inner.address = () => ({ address: host, family: "IPv4", port });
inner.emit("listening");
const [handle] = inner.listeners("request");

const docPath = /^\/+dbs\/[^/]+\/colls\/[^/]+\/docs\/[^/]+\/?$/;
const pkrangesPath = /^\/+dbs\/[^/]+\/colls\/[^/]+\/pkranges\/?(\?.*)?$/;

// Rewrites a finished JSON answer before it is sent; returns [status, body text].
function fixUp(req, status, text) {
  const path = req.url.split("?")[0];
  // The server reports partition key range ids as numbers ("id": 0); the SDK deserialises
  // them as strings and fails the whole request, so every "id" in the answer becomes a string.
  if (pkrangesPath.test(req.url) && status < 300) {
    return [status, text.replace(/"id":(-?\d+)/g, '"id":"$1"')];
  }
  // A point read of a missing item dereferences undefined inside the server and answers 500;
  // Cosmos DB answers 404 NotFound, which the SDK (and our store) treat as "no such item".
  if (req.method === "GET" && docPath.test(path) && status === 500) {
    const message = "Entity with the specified id does not exist in the system.";
    return [404, JSON.stringify({ code: "NotFound", message })];
  }
  return [status, text];
}

function onRequest(req, res) {
  // Opt-in access log (COSMOS_ACCESS_LOG=1), for seeing what the SDK asks of the emulator.
  if (process.env.COSMOS_ACCESS_LOG) {
    res.on("finish", () => console.log(`${req.method} ${req.url} -> ${res.statusCode}`));
  }
  // HTTP/2 requests carry :authority instead of Host, from which the handler builds
  // content-location. It also sets "connection", which HTTP/2 forbids: node drops it with a
  // warning on every answer, so we drop it quietly.
  if (!req.headers.host && req.headers[":authority"]) req.headers.host = req.headers[":authority"];
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name, value) =>
    req.httpVersionMajor >= 2 && name.toLowerCase() === "connection" ? res : setHeader(name, value);
  // The handler writes its whole JSON answer with one end(text) call: buffer it for fixUp.
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    if (typeof chunk !== "string") return end(chunk, ...rest);
    const [status, text] = fixUp(req, res.statusCode, chunk);
    res.statusCode = status;
    return end(text, ...rest);
  };
  handle(req, res);
}

const server = http2.createSecureServer(
  {
    // The SDK offers ALPN h2 only; curl and other tools may still speak HTTP/1.1.
    allowHTTP1: true,
    // The package's bundled certificate expired in 2021 and has no SAN: use the test CA's leaf.
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
  },
  onRequest,
);
server.on("error", (err) => {
  console.error(`cosmos-launcher: cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => console.log(`cosmos-launcher: listening on https://${host}:${port}/`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
