// The peer for bench/intake.py: a Probot 14 app with a no-op handler, served by Node's http.
// bench/intake.py installs probot with npm into a temporary folder and runs this file there:
//   node probot_peer.mjs PORT SECRET
import { createServer } from "node:http";
import { generateKeyPairSync } from "node:crypto";
import { Probot, createNodeMiddleware } from "probot";

const [port, secret] = process.argv.slice(2);
const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const probot = new Probot({ appId: 1, privateKey, secret, logLevel: "warn" });
const appFn = (app) => {
  app.on("issues.opened", async () => {});
};
const middleware = await createNodeMiddleware(appFn, { probot, webhooksPath: "/webhook" });
createServer((req, res) => {
  middleware(req, res, () => {
    res.writeHead(404);
    res.end();
  });
}).listen(Number(port), "127.0.0.1");
