/**
 * The bench's HTTP/1.1 client for its loads: keep-alive connections, one request at a time on
 * each, answers read by their Content-Length. The bench shares two cores with the bank it
 * measures, and node:http's client costs several times what this does: 63 against 24 µs of CPU a
 * request, and 91-126 against 34-38 in a second pair of runs, each against the same plain server
 * (undici's took more than node:http's, issue 20). What it cannot read (a chunked answer, one
 * without a Content-Length) fails the request, loudly: the bank's every answer has a length.
 */
import net from 'node:net';

export interface Answer {
  status: number;
  body: string;
}

/** The end of a response's head, and its Content-Length header (case-insensitive). */
const HEAD_END = '\r\n\r\n';
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CHUNKED = /\r\ntransfer-encoding:/i;
const CLOSES = /\r\nconnection:[ \t]*close/i;
/** How long the server keeps an idle connection: `Keep-Alive: timeout=<seconds>` (Node's server says 5). */
const KEEP_ALIVE = /\r\nkeep-alive:[^\r]*timeout=(\d+)/i;
/**
 * An idle connection is used again only this long before the server would close it. A request
 * written as the server closes the connection fails (ECONNRESET, or closed before an answer), as
 * node:http's agent knows and avoids the same way.
 */
const IDLE_MARGIN_MS = 1_000;

interface Waiting {
  resolve(answer: Answer): void;
  reject(error: Error): void;
}

/** One keep-alive connection: a request at a time. */
class Connection {
  readonly socket: net.Socket;
  private text = '';
  private waiting: Waiting | undefined;
  closed = false;
  /** Until when (performance.now()) the server keeps this connection while it is idle. */
  usableUntil = Number.POSITIVE_INFINITY;

  constructor(port: number, onFree: (connection: Connection) => void) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    // Heads and bodies are ASCII and UTF-8 JSON; latin1 keeps every byte as one character, so the
    // Content-Length (bytes) counts characters, and the body is decoded as UTF-8 once whole.
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      this.text += chunk;
      const answer = this.answer();
      if (!answer) return;
      const waiting = this.waiting;
      this.waiting = undefined;
      if (answer.closes) this.close(new Error('the server closed the connection'));
      else onFree(this);
      waiting?.resolve(answer.answer);
    });
    this.socket.on('error', (error) => this.close(error));
    this.socket.on('close', () => this.close(new Error('the connection closed before an answer')));
  }

  send(head: string, body: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(head + body, 'utf8');
    });
  }

  close(error: Error): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }

  /** The whole answer at the start of what was read, taken off it; undefined until it is whole. */
  private answer(): { answer: Answer; closes: boolean } | undefined {
    const end = this.text.indexOf(HEAD_END);
    if (end < 0) return undefined;
    const head = this.text.slice(0, end);
    const length = CONTENT_LENGTH.exec(head);
    if (!length || CHUNKED.test(head)) {
      this.close(new Error(`an answer the bench's client cannot read (no Content-Length): ${head.slice(0, 200)}`));
      return undefined;
    }
    const from = end + HEAD_END.length;
    const to = from + Number(length[1]);
    if (this.text.length < to) return undefined;
    const body = Buffer.from(this.text.slice(from, to), 'latin1').toString('utf8');
    this.text = this.text.slice(to);
    const keepsFor = KEEP_ALIVE.exec(head);
    if (keepsFor) this.usableUntil = performance.now() + Number(keepsFor[1]) * 1_000 - IDLE_MARGIN_MS;
    return { answer: { status: Number(head.slice(9, 12)), body }, closes: CLOSES.test(head) };
  }
}

/** The load's keep-alive connections to ports on 127.0.0.1: as many to each as requests at once. */
export class LoadClient {
  private readonly idle = new Map<number, Connection[]>();
  private readonly all = new Set<Connection>();

  /**
   * POSTs `body` (JSON) to `path` on `port` with `headers` (lower-case names); fails on a
   * connection refused, reset or closed before the answer, and after `timeoutMs` without one.
   */
  post(port: number, path: string, headers: Record<string, string>, body: string, timeoutMs?: number): Promise<Answer> {
    let head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    head += `content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
    const connection = this.connection(port);
    const answer = connection.send(head, body);
    if (timeoutMs === undefined) return answer;
    const timer = setTimeout(() => connection.close(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    return answer.finally(() => clearTimeout(timer));
  }

  /** Closes every connection; requests still waiting fail. */
  close(): void {
    for (const connection of this.all) connection.close(new Error('the load was closed'));
    this.all.clear();
    this.idle.clear();
  }

  private connection(port: number): Connection {
    const idle = this.idle.get(port) ?? [];
    this.idle.set(port, idle);
    for (let connection = idle.pop(); connection; connection = idle.pop()) {
      if (!connection.closed && performance.now() < connection.usableUntil) return connection;
      connection.close(new Error('idle too long'));
    }
    const connection = new Connection(port, (free) => {
      if (!free.closed) idle.push(free);
    });
    this.all.add(connection);
    connection.socket.on('close', () => this.all.delete(connection));
    return connection;
  }
}
