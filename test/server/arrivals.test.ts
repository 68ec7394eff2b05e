// src/server/arrivals.ts on a plain node:http server, with a counter in place of the model: a new connection
// is expected until its first request or for 100 ms at most (a connection that never sends, as a browser's
// preconnect, must not hold the batching steps for long); a POST until its body has been read (plus a turn);
// a GET not at all; a connection that closes releases what it held.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { trackArrivals } from "../../src/server/arrivals.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("bitnet serve: what the server tells the scheduler is on its way", () => {
  let server: Server;
  let port: number;
  let expected = 0;
  const model = {
    expectArrival: () => {
      expected++;
      let held = true;
      return () => {
        if (held) expected--;
        held = false;
      };
    },
  };

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    trackArrivals(server, model);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  const sockets: Socket[] = [];
  after(() => {
    for (const s of sockets) s.destroy(); // also those a failed assertion left open
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function open(): Promise<Socket> {
    const s = connect(port, "127.0.0.1");
    sockets.push(s);
    await new Promise<void>((resolve, reject) => s.once("connect", resolve).once("error", reject));
    await sleep(20); // the server has accepted it
    return s;
  }

  it("a connection that sends nothing is expected for 100 ms, then not", async () => {
    const s = await open();
    assert.equal(expected, 1, "expected while it may be about to send");
    await sleep(150);
    assert.equal(expected, 0, "no longer after the deadline");
    s.destroy();
  });

  it("a POST is expected until its body is in; a GET is not; closing releases", async () => {
    const body = '{"prompt":"x"}';
    const s = await open();
    s.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    await sleep(30);
    assert.equal(expected, 1, "the headers are in, the body is not: the request is on its way");
    s.write(body);
    await sleep(30);
    assert.equal(expected, 0, "the body is in and handed over");
    s.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    await sleep(30);
    assert.equal(expected, 0, "a GET on a kept-alive connection is nothing to wait for");
    s.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
    await sleep(30);
    assert.equal(expected, 1);
    s.destroy();
    await sleep(30);
    assert.equal(expected, 0, "a client that goes away is not waited for");
  });
});
