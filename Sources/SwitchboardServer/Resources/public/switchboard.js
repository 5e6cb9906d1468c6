// switchboard.js: the browser client for a Switchboard node. An ES module with no dependencies and no build
// step; the node serves it at /switchboard.js.
//
//   import { Switchboard } from '/switchboard.js';
//   const client = new Switchboard({ token: async () => (await (await fetch('/my-token')).json()).token });
//   client.on('state', (state) => console.log(state.type));
//   const lobby = client.subscribe('chat:lobby', { publication: (p) => console.log(p.data) });
//   await client.connect();
//   await client.publish('chat:lobby', { text: 'hi' });
//
// Behaviour (states, reconnect, send queue, recovery, heartbeats) is the machine in switchboard-machine.js, the
// same machine as the Swift client's, held to the same transcripts (docs/CLIENTS.md describes it); the wire
// protocol is docs/PROTOCOL.md. Over WebSocket when it can be opened, otherwise over
// Server-Sent Events (the stream carries pushes, commands go as HTTP POSTs).

import { ClientMachine } from './switchboard-machine.js';
import { StreamCursor, backoffDelay as jitteredDelay, forbidsReconnecting, isTemporary } from './switchboard-rules.js';
import { SSELink, WebSocketLink } from './switchboard-links.js';

export { StreamCursor, forbidsReconnecting, isTemporary };

const VERSION = '0.5.0';

/** Default settings; every one can be overridden in the constructor's options. */
export const defaults = Object.freeze({
  /** The node's base URL (http, https, ws or wss); the page's own origin when omitted. */
  url: undefined,
  websocketPath: '/connection/websocket',
  ssePath: '/connection/sse',
  ticketPath: '/connection/ticket',
  /** Transports in order of preference. SSE is used when a WebSocket cannot be opened. */
  transports: ['websocket', 'sse'],
  /** 'json', or 'protobuf': WebSocket messages in the switchboard.v1.protobuf subprotocol (switchboard-protobuf.js,
   * loaded only then). A node that does not take it answers in JSON. SSE is always JSON. */
  encoding: 'json',
  /** `async () => token` (a JWT, or null for an anonymous connection); called before every attempt. */
  token: null,
  /** Backoff with full jitter: attempt n waits random(0, min(cap, base · 2^(n−1))) ms. */
  reconnect: { base: 500, cap: 20000, maxAttempts: Infinity },
  /** Send a ping after this long without hearing anything (ms). */
  heartbeatInterval: 25000,
  /** The connection is dead when a ping gets no answer within this (ms). */
  heartbeatTimeout: 10000,
  /** Every command's answer must arrive within this (ms). */
  requestTimeout: 10000,
  /** Time for a WebSocket to open before the attempt fails over to the next transport (ms). */
  openTimeout: 10000,
  /** Publications queued while disconnected; one more fails with `sendQueueFull`. */
  sendQueueLimit: 100,
  /** Refresh the token this long before it expires (ms); at half its lifetime when that is shorter. */
  tokenRefreshMargin: 30000,
  /** Sent in `connect` for the node's logs. */
  name: 'switchboard.js',
  /** A source of random numbers in [0, 1), replaceable in tests. */
  random: Math.random,
});

/** What went wrong, as a `kind` a program can switch over and, for the server's errors, its `code`. */
export class SwitchboardError extends Error {
  constructor(kind, message, code) {
    super(message);
    this.name = 'SwitchboardError';
    /** 'server', 'requestTimeout', 'connectionLost', 'notConnected', 'disconnected', 'sendQueueFull', 'alreadySubscribed' */
    this.kind = kind;
    /** The protocol's error code (100–299) when `kind` is 'server'. */
    this.code = code;
  }
}

/** 128 random bits as hex: a publication's idempotency key (crypto.randomUUID needs a secure context). */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * The delay before reconnect attempt `attempt` (1-based, as every backoff of Switchboard counts): full jitter
 * over an exponential bound, and never shorter than the server's hint (a `disconnect` push's `delay`).
 */
export function backoffDelay(attempt, policy, random = Math.random, hint = 0) {
  return Math.max(hint, jitteredDelay(attempt, policy, random()));
}

/** Listeners by event name; `on` returns the function that removes the listener. */
class Emitter {
  #listeners = new Map();

  on(event, listener) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(listener);
    return () => this.#listeners.get(event)?.delete(listener);
  }

  emit(event, value) {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        // A failing application handler must not break the connection's bookkeeping.
        setTimeout(() => { throw error; });
      }
    }
  }
}

/**
 * One channel the application listens to. Events: 'publication' ({channel, data, offset, epoch, info}),
 * 'join' and 'leave' (info), 'gap' ({lastDelivered, resumedAt}: publications were lost in between),
 * 'recovered' ({count}: missed publications were delivered after a reconnect), 'error' (the subscription
 * was refused or ended; no more events follow).
 */
export class Subscription extends Emitter {
  #client;

  constructor(client, channel, handlers) {
    super();
    this.#client = client;
    this.channel = channel;
    for (const [event, listener] of Object.entries(handlers ?? {})) {
      if (typeof listener === 'function') this.on(event, listener);
    }
    /** Resolves at the first successful subscribe reply; rejects if the node refuses the channel. */
    this.ready = new Promise((resolve, reject) => {
      this._settle = { resolve, reject };
    });
    this.ready.catch(() => {}); // An unobserved refusal is reported on 'error' too.
  }

  /** The position of the last publication delivered, `{offset, epoch}`, or null. */
  get position() {
    return this.#client._position(this.channel);
  }

  /** Stops listening; the node is told when connected. */
  unsubscribe() {
    return this.#client._unsubscribe(this);
  }
}

/**
 * A connection to a Switchboard node that keeps itself connected. Events: 'state' (see `state`), 'error'
 * (an error without a command to blame, e.g. a refused refresh), 'message' (every message from the node,
 * for debugging), 'reconnected' ({attempt}).
 *
 * The driver of the protocol machine: it feeds the machine the application's calls, the transports' events
 * and its timers, and carries out what the machine answers. Every decision is the machine's.
 */
export class Switchboard extends Emitter {
  #options;
  #machine;
  #state = { type: 'idle' };
  #links = new Map(); // generation → open link
  #timers = new Map(); // timer name → setTimeout handle
  #connectWaiters = [];
  #requests = new Map(); // request number → {resolve, reject}
  #subscriptions = new Map(); // channel → Subscription
  #nextRequest = 1;
  #token = null;
  #attempt = 0;

  constructor(options = {}) {
    super();
    this.#options = { ...defaults, ...options, reconnect: { ...defaults.reconnect, ...(options.reconnect ?? {}) } };
    const o = this.#options;
    this.#machine = new ClientMachine({
      reconnect: { base: o.reconnect.base, cap: o.reconnect.cap, maxAttempts: Number.isFinite(o.reconnect.maxAttempts) ? o.reconnect.maxAttempts : null },
      sendQueueLimit: o.sendQueueLimit, heartbeatInterval: o.heartbeatInterval, heartbeatTimeout: o.heartbeatTimeout,
      requestTimeout: o.requestTimeout, tokenRefreshMargin: o.tokenRefreshMargin, name: o.name, version: VERSION,
      transports: o.transports,
    }, () => this.#options.random());
  }

  /**
   * `{type: 'idle'}`, `{type: 'connecting'}`, `{type: 'connected', client, user, transport}`,
   * `{type: 'reconnecting', attempt, delay, reason}` (why the last connection or attempt ended) or `{type: 'disconnected', code?, reason}`.
   */
  get state() {
    return this.#state;
  }

  /** 'websocket' or 'sse' while connected, otherwise null. */
  /** 'json' or 'protobuf' while connected over a WebSocket (what its handshake chose); null otherwise. */
  get encoding() {
    const link = this.#links.get(this.#machine.generation);
    return this.#state.type === 'connected' && link?.name === 'websocket' ? link.encoding : null;
  }

  get transport() {
    return this.#state.type === 'connected' ? this.#state.transport : null;
  }

  /** Starts connecting (and keeps reconnecting); resolves when connected, rejects if it stops first. */
  connect() {
    const promise = new Promise((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    this.#feed({ connect: {} });
    return promise;
  }

  /** Closes the connection and stops reconnecting. Queued publications fail with `disconnected`. */
  disconnect() {
    this.#feed({ disconnect: {} });
  }

  /**
   * Listens to a channel. `handlers` may hold listeners for the subscription's events; `since` (a position
   * from `history` or an earlier session) asks for everything after it. Subscribing while disconnected
   * registers the channel for the next connection.
   */
  subscribe(channel, { since = null, ...handlers } = {}) {
    if (this.#subscriptions.has(channel)) {
      throw new SwitchboardError('alreadySubscribed', `already subscribed to ${channel}`);
    }
    const subscription = new Subscription(this, channel, handlers);
    this.#subscriptions.set(channel, subscription);
    // `ready` settles at the subscribe reply (the machine's `subscribed` or `finished`), not at this call.
    this.#call((request) => ({ subscribe: { request, channel, since } })).catch(() => {});
    return subscription;
  }

  /**
   * Publishes `data` (any JSON value); resolves with `{offset, epoch}`. Queued while disconnected. Each
   * publication carries an idempotency key: when the answer is lost with the connection (or the node could
   * not confirm it, 203), it is sent again with the same key after the reconnect, and the node publishes it
   * at most once (PROTOCOL.md, publish).
   */
  async publish(channel, data) {
    const reply = await this.#call((request) => ({ publish: { request, channel, data, key: idempotencyKey() } }));
    return reply.publish;
  }

  /** Who is in the channel: `{clients, clientCount, userCount}`. Needs a connection. */
  async presence(channel) {
    return (await this.request({ type: 'presence', channel })).presence;
  }

  /** Retained publications: `{publications, offset, epoch}`; `since` and `limit` as in PROTOCOL.md. */
  async history(channel, { since, limit } = {}) {
    const command = { type: 'history', channel };
    if (since) command.since = since;
    if (limit !== undefined) command.limit = limit;
    return (await this.request(command)).history;
  }

  /** Any command (for those this class has no method for); resolves with the reply object. */
  request(command) {
    return this.#call((request) => ({ request: { request, command } }));
  }

  // MARK: internal hooks for Subscription

  _position(channel) {
    return this.#machine.position(channel);
  }

  async _unsubscribe(subscription) {
    if (this.#subscriptions.get(subscription.channel) !== subscription) return;
    this.#subscriptions.delete(subscription.channel);
    try {
      await this.#call((request) => ({ unsubscribe: { request, channel: subscription.channel } }));
    } catch {
      // Not subscribed on the node (refused, or the connection went away): nothing to undo.
    }
  }

  // MARK: the machine

  #call(input) {
    const request = this.#nextRequest++;
    const promise = new Promise((resolve, reject) => this.#requests.set(request, { resolve, reject }));
    this.#feed(input(request));
    return promise;
  }

  #feed(input) {
    for (const output of this.#machine.handle(input)) this.#perform(output);
  }

  #perform(output) {
    if ('open' in output) {
      this.#open(output.open, output.transport).catch((error) => {
        this.#feed({ failed: { generation: output.open, reason: `${output.transport}: ${error?.message ?? error}` } });
      });
    } else if ('close' in output) {
      this.#links.get(output.close)?.close();
      this.#links.delete(output.close);
    } else if ('send' in output) {
      this.#links.get(this.#machine.generation)?.send(output.send);
    } else if ('arm' in output) {
      clearTimeout(this.#timers.get(output.arm));
      this.#timers.set(output.arm, setTimeout(() => {
        this.#timers.delete(output.arm);
        this.#feed({ timer: output.arm });
      }, output.ms));
    } else if ('cancel' in output) {
      clearTimeout(this.#timers.get(output.cancel));
      this.#timers.delete(output.cancel);
    } else if ('fetchToken' in output) {
      this.#refreshToken(output.fetchToken);
    } else if ('state' in output) {
      this.#changeState(output.state);
    } else if ('connect' in output) {
      const waiters = this.#connectWaiters.splice(0);
      const error = output.connect === 'ok' ? null : new SwitchboardError(output.connect.kind, output.connect.message);
      for (const waiter of waiters) {
        if (error) waiter.reject(error);
        else waiter.resolve(this.#state);
      }
    } else if ('settle' in output) {
      const waiter = this.#requests.get(output.settle);
      this.#requests.delete(output.settle);
      if (output.error) waiter?.reject(new SwitchboardError(output.error.kind, output.error.message, output.error.code));
      else waiter?.resolve(output.reply);
    } else if ('deliver' in output) {
      this.#deliver(output);
    }
  }

  #changeState(state) {
    const phase = this.#machine.phase;
    switch (state.is) {
      case 'connected': {
        this.#state = { type: 'connected', client: state.client, user: state.user, transport: phase.transport };
        this.emit('state', this.#state);
        if (this.#attempt > 0) this.emit('reconnected', { attempt: this.#attempt });
        this.#attempt = 0;
        return;
      }
      case 'reconnecting':
        this.#attempt = state.attempt;
        this.#state = { type: 'reconnecting', attempt: state.attempt, delay: state.ms, reason: phase.why };
        break;
      case 'disconnected':
        this.#attempt = 0;
        this.#state = { type: 'disconnected', code: state.code ?? state.error, reason: phase.reason?.message };
        break;
      default:
        this.#state = { type: state.is };
    }
    this.emit('state', this.#state);
  }

  #deliver(output) {
    const subscription = this.#subscriptions.get(output.deliver);
    if (!subscription) return;
    if ('publication' in output) {
      subscription.emit('publication', output.publication);
    } else if ('gap' in output) {
      subscription.emit('gap', { lastDelivered: output.gap.last, resumedAt: output.gap.resumed });
    } else if ('recovered' in output) {
      subscription.emit('recovered', { count: output.recovered });
    } else if ('subscribed' in output) {
      subscription._settle.resolve(output.subscribed);
    } else if ('finished' in output && output.finished) {
      this.#subscriptions.delete(output.deliver);
      const error = new SwitchboardError(output.finished.kind, output.finished.message, output.finished.code);
      subscription._settle.reject(error);
      subscription.emit('error', error);
    }
  }

  // MARK: the transports

  async #open(generation, transport) {
    const token = this.#options.token ? await this.#options.token() : null;
    if (generation !== this.#machine.generation) return;
    this.#token = token;
    const handlers = {
      message: (message) => this.#received(generation, message),
      closed: (code, reason) => {
        this.#links.delete(generation);
        this.#feed({ closed: { generation, code, reason } });
      },
    };
    const link = transport === 'sse'
      ? await SSELink.open(this.#urls(), () => this.#token, handlers)
      : await WebSocketLink.open(this.#urls().websocket, this.#options.openTimeout, handlers, await this.#codec());
    this.#links.set(generation, link);
    this.#feed({ opened: { generation, token } });
  }

  /** The protobuf codec when it is asked for, imported on first use. */
  async #codec() {
    if (this.#options.encoding !== 'protobuf') return null;
    return import('./switchboard-protobuf.js');
  }

  #received(generation, message) {
    this.emit('message', message);
    if (message?.type === 'join' || message?.type === 'leave') {
      this.#subscriptions.get(message.channel)?.emit(message.type, message.info);
    } else if (message?.type === 'error' && message.id === undefined && message.code !== 109) {
      this.emit('error', new SwitchboardError('server', message.message, message.code));
    }
    this.#feed({ received: { generation, message } });
  }

  async #refreshToken(generation) {
    let token = null;
    if (this.#options.token) {
      try {
        token = await this.#options.token();
      } catch (error) {
        // The server disconnects with 4003 after its grace period; the reconnect asks for a token again.
        this.emit('error', new SwitchboardError('server', `token provider failed: ${error?.message ?? error}`));
      }
    }
    if (token && generation === this.#machine.generation) this.#token = token;
    this.#feed({ refreshToken: { generation, token } });
  }

  #urls() {
    const base = new URL(this.#options.url ?? globalThis.location?.href ?? 'http://127.0.0.1:8000/');
    const secure = base.protocol === 'https:' || base.protocol === 'wss:';
    const http = `${secure ? 'https' : 'http'}://${base.host}`;
    return {
      websocket: `${secure ? 'wss' : 'ws'}://${base.host}${this.#options.websocketPath}`,
      sse: `${http}${this.#options.ssePath}`,
      command: `${http}${this.#options.ssePath}/command`,
      ticket: `${http}${this.#options.ticketPath}`,
    };
  }
}
