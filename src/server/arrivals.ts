/**
 * Tells the model's scheduler when requests are on their way in, so that clients arriving together join
 * one batching step however quickly this machine reads them (BitNetModel.expectArrival). A new connection
 * counts until its first request arrives, a POST until its body has been read and handed to the app; each
 * with a deadline, so a client that connects or sends slowly never holds the steps for long.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import type { BitNetModel } from "../model/model.ts";

/** A connection with no request yet after this long is not about to send one (a browser's preconnect). */
const FIRST_REQUEST_MS = 100;
/** A body still arriving after this long is a slow client, not part of this batch. */
const BODY_MS = 1000;

type Expecting = Pick<BitNetModel, "expectArrival">;

function holdFor(model: Expecting, ms: number): () => void {
  const release = model.expectArrival();
  const timer = setTimeout(release, ms);
  timer.unref();
  return () => {
    clearTimeout(timer);
    release();
  };
}

export function trackArrivals(server: Server, model: Expecting): void {
  const firstRequest = new WeakMap<Socket, () => void>();
  server.on("connection", (socket: Socket) => {
    const release = holdFor(model, FIRST_REQUEST_MS);
    firstRequest.set(socket, release);
    socket.once("close", release);
  });
  server.on("request", (req: IncomingMessage) => {
    firstRequest.get(req.socket)?.();
    if (req.method !== "POST") return;
    const release = holdFor(model, BODY_MS);
    // The app parses the body and submits its work in the microtasks after "end"; one turn more covers it.
    req.once("end", () => setImmediate(release));
    req.once("close", release);
  });
}
