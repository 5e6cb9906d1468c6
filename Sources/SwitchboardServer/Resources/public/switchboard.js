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
// Behaviour (states, reconnect, send queue, recovery, heartbeats) follows docs/CLIENTS.md, the same rules as
// the Swift client; the wire protocol is docs/PROTOCOL.md. Over WebSocket when it can be opened, otherwise over
// Server-Sent Events (the stream carries pushes, commands go as HTTP POSTs).

const VERSION = '0.4.0';

/** Default settings; every one can be overridden in the constructor's options. */
export const defaults = Object.freeze({
  /** The node's base URL (http, https, ws or wss); the page's own origin when omitted. */
  url: undefined,
  websocketPath: '/connection/websocket',
  ssePath: '/connection/sse',
  ticketPath: '/connection/ticket',
  /** Transports in order of preference. SSE is used when a WebSocket cannot be opened. */
  transports: ['websocket', 'sse'],
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

/** PROTOCOL.md, disconnect codes: 4500–4999 "do not reconnect without a change" (Swift: `forbidsReconnecting`). */
export function forbidsReconnecting(code) {
  return code >= 4500 && code <= 4999;
}

/** PROTOCOL.md, error codes: 200–299 are temporary, the same request may succeed later (Swift: `isTemporary`). */
export function isTemporary(code) {
  return code >= 200 && code <= 299;
}

/**
 * The delay before reconnect attempt `attempt` (1-based, as every backoff of Switchboard counts): full jitter
 * over an exponential bound, and never shorter than the server's hint (a `disconnect` push's `delay`).
 */
export function backoffDelay(attempt, { base, cap }, random = Math.random, hint = 0) {
  const bound = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.max(hint, Math.floor(random() * bound));
}

/**
 * The last position delivered to the application in one channel, and the rule that keeps duplicates out
 * (PROTOCOL.md, "Positions and recovery": never compare offsets across epochs).
 */
export class StreamCursor {
  constructor(position = null) {
    this.last = position;
  }

  /** 'deliver', 'gap' (deliver after reporting a loss) or 'duplicate'; moves the cursor unless a duplicate. */
  accept({ offset, epoch }) {
    const last = this.last;
    if (last === null) {
      this.last = { offset, epoch };
      return 'deliver';
    }
    if (epoch !== last.epoch) {
      this.last = { offset, epoch };
      return 'gap';
    }
    if (offset <= last.offset) return 'duplicate';
    this.last = { offset, epoch };
    return offset === last.offset + 1 ? 'deliver' : 'gap';
  }

  /** After a subscribe reply: live publications continue after `position`. */
  resume(position) {
    if (this.last && this.last.epoch === position.epoch && this.last.offset > position.offset) return;
    this.last = { offset: position.offset, epoch: position.epoch };
  }
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
 * for debugging).
 */
export class Switchboard extends Emitter {
  #options;
  #phase = { type: 'idle' };
  #generation = 0;
  #nextId = 1;
  #pending = new Map(); // command id → { kind, channel?, resolve, reject, timer }
  #channels = new Map(); // channel → { subscription, cursor, subscribing, buffer, confirmed }
  #queue = []; // publications waiting for a connection: { channel, data, resolve, reject }
  #connectWaiters = [];
  #preferSSE = false;
  #lastHeard = 0;
  #heartbeatTimer = null;
  #refreshTimer = null;
  #lastDisconnect = null;
  #token = null;

  constructor(options = {}) {
    super();
    this.#options = { ...defaults, ...options, reconnect: { ...defaults.reconnect, ...(options.reconnect ?? {}) } };
  }

  /**
   * `{type: 'idle'}`, `{type: 'connecting'}`, `{type: 'connected', client, user, transport}`,
   * `{type: 'reconnecting', attempt, delay, reason}` (why the last connection or attempt ended) or `{type: 'disconnected', code?, reason}`.
   */
  get state() {
    const phase = this.#phase;
    switch (phase.type) {
      case 'connecting':
        return phase.attempt === 0 ? { type: 'connecting' } : { type: 'reconnecting', attempt: phase.attempt, delay: phase.delay ?? 0 };
      case 'waiting':
        return { type: 'reconnecting', attempt: phase.attempt, delay: phase.delay, reason: phase.why };
      case 'connected':
        return { type: 'connected', client: phase.client, user: phase.user, transport: phase.link.name };
      case 'disconnected':
        return { type: 'disconnected', code: phase.code, reason: phase.reason };
      default:
        return { type: 'idle' };
    }
  }

  /** 'websocket' or 'sse' while connected, otherwise null. */
  get transport() {
    return this.#phase.type === 'connected' ? this.#phase.link.name : null;
  }

  /** Starts connecting (and keeps reconnecting); resolves when connected, rejects if it stops first. */
  connect() {
    const promise = new Promise((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    switch (this.#phase.type) {
      case 'connected':
        this.#settleConnectWaiters(null);
        break;
      case 'idle':
      case 'disconnected':
        this.#startAttempt(0);
        break;
      default:
        break; // Already trying; the waiter is answered when that ends.
    }
    return promise;
  }

  /** Closes the connection and stops reconnecting. Queued publications fail with `disconnected`. */
  disconnect() {
    if (this.#phase.type === 'disconnected') return;
    this.#stop({ reason: 'disconnected by the application' });
  }

  /**
   * Listens to a channel. `handlers` may hold listeners for the subscription's events; `since` (a position
   * from `history` or an earlier session) asks for everything after it. Subscribing while disconnected
   * registers the channel for the next connection.
   */
  subscribe(channel, { since = null, ...handlers } = {}) {
    if (this.#channels.has(channel)) {
      throw new SwitchboardError('alreadySubscribed', `already subscribed to ${channel}`);
    }
    const subscription = new Subscription(this, channel, handlers);
    const record = { subscription, cursor: new StreamCursor(since), subscribing: false, buffer: [], confirmed: false };
    this.#channels.set(channel, record);
    if (this.#phase.type === 'connected') this.#sendSubscribe(record);
    return subscription;
  }

  /**
   * Publishes `data` (any JSON value); resolves with `{offset, epoch}`. Queued while disconnected. Each
   * publication carries an idempotency key: when the answer is lost with the connection (or the node could
   * not confirm it, 203), it is sent again with the same key after the reconnect, and the node publishes it
   * at most once (PROTOCOL.md, publish).
   */
  publish(channel, data) {
    if (this.#phase.type === 'disconnected' && this.#phase.reason !== undefined) {
      return Promise.reject(new SwitchboardError('disconnected', `disconnected: ${this.#phase.reason}`));
    }
    if (this.#phase.type !== 'connected' && this.#queue.length >= this.#options.sendQueueLimit) {
      return Promise.reject(new SwitchboardError('sendQueueFull', `send queue full (${this.#options.sendQueueLimit} publications waiting)`));
    }
    return new Promise((resolve, reject) => {
      const item = { channel, data, key: idempotencyKey(), resolve, reject, sent: false, attempts: 0 };
      if (this.#phase.type === 'connected') this.#sendPublish(this.#phase.link, item);
      else this.#queue.push(item);
    });
  }

  /** Who is in the channel: `{clients, clientCount, userCount}`. Needs a connection. */
  async presence(channel) {
    return (await this.#request({ type: 'presence', channel })).presence;
  }

  /** Retained publications: `{publications, offset, epoch}`; `since` and `limit` as in PROTOCOL.md. */
  async history(channel, { since, limit } = {}) {
    const command = { type: 'history', channel };
    if (since) command.since = since;
    if (limit !== undefined) command.limit = limit;
    return (await this.#request(command)).history;
  }

  /** Any command (for those this class has no method for); resolves with the reply object. */
  request(command) {
    return this.#request(command);
  }

  // MARK: internal hooks for Subscription

  _position(channel) {
    const record = this.#channels.get(channel);
    return record ? record.cursor.last : null;
  }

  async _unsubscribe(subscription) {
    const record = this.#channels.get(subscription.channel);
    if (!record || record.subscription !== subscription) return;
    this.#channels.delete(subscription.channel);
    if (this.#phase.type !== 'connected') return;
    try {
      await this.#request({ type: 'unsubscribe', channel: subscription.channel });
    } catch {
      // Not subscribed on the node (refused, or the connection went away): nothing to undo.
    }
  }

  // MARK: connecting

  #startAttempt(attempt, delay) {
    const generation = ++this.#generation;
    this.#phase = { type: 'connecting', attempt, delay };
    // A reconnect attempt stays in `reconnecting`, already announced with its delay.
    if (attempt === 0) this.emit('state', this.state);
    this.#open(generation, attempt).catch((error) => this.#attemptFailed(generation, String(error?.message ?? error)));
  }

  async #open(generation, attempt) {
    const token = this.#options.token ? await this.#options.token() : null;
    if (generation !== this.#generation) return;
    this.#token = token;
    const handlers = {
      message: (message) => this.#received(generation, message),
      closed: (code, reason) => this.#transportClosed(generation, code, reason),
    };
    let link = null;
    const transports = this.#options.transports.filter((name) => !(this.#preferSSE && name === 'websocket'));
    const failures = [];
    for (const name of transports) {
      try {
        link = name === 'sse'
          ? await SSELink.open(this.#urls(), () => this.#token, handlers)
          : await WebSocketLink.open(this.#urls().websocket, this.#options.openTimeout, handlers);
        break;
      } catch (error) {
        failures.push(`${name}: ${error.message}`);
        if (generation !== this.#generation) return;
      }
    }
    if (generation !== this.#generation) {
      link?.close();
      return;
    }
    if (!link) throw new Error(failures.join('; '));
    this.#phase = { type: 'connecting', attempt, delay: this.#phase.delay, link };
    const command = { type: 'connect', name: this.#options.name, version: VERSION };
    if (token) command.token = token;
    this.#send(link, command, { kind: 'connect', timeout: this.#options.requestTimeout });
  }

  #connected(link, result) {
    const attempt = this.#phase.attempt;
    // Keep to SSE only once it worked where a WebSocket did not.
    if (link.name === 'sse' && this.#options.transports.includes('websocket')) this.#preferSSE = true;
    if (link.name === 'websocket') this.#preferSSE = false;
    this.#phase = { type: 'connected', link, client: result.client, user: result.user };
    this.#lastHeard = Date.now();
    for (const record of this.#channels.values()) this.#sendSubscribe(record);
    // CLIENTS.md, send queue: flushed after the resubscribes, in call order.
    for (const item of this.#queue.splice(0)) this.#sendPublish(link, item);
    this.#scheduleHeartbeat();
    this.#scheduleRefresh(result.expires);
    this.emit('state', this.state);
    if (attempt > 0) this.emit('reconnected', { attempt });
    this.#settleConnectWaiters(null);
  }

  #attemptFailed(generation, why) {
    if (generation !== this.#generation || this.#phase.type !== 'connecting') return;
    const next = this.#phase.attempt + 1;
    this.#dropLink();
    this.#scheduleReconnect(next, 0, why);
  }

  #scheduleReconnect(attempt, hint, why) {
    const { maxAttempts } = this.#options.reconnect;
    if (attempt > maxAttempts) {
      this.#stop({ reason: `gave up after ${maxAttempts} reconnect attempts (${why})` });
      return;
    }
    const delay = backoffDelay(attempt, this.#options.reconnect, this.#options.random, hint);
    const generation = this.#generation;
    const timer = setTimeout(() => {
      if (generation === this.#generation && this.#phase.type === 'waiting') this.#startAttempt(attempt, delay);
    }, delay);
    this.#phase = { type: 'waiting', attempt, delay, timer, why };
    this.emit('state', this.state);
  }

  #settleConnectWaiters(error) {
    const waiters = this.#connectWaiters.splice(0);
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve(this.state);
    }
  }

  // MARK: losing the connection

  #transportClosed(generation, code, reason) {
    if (generation !== this.#generation) return;
    const phase = this.#phase;
    if (phase.type !== 'connected' && !(phase.type === 'connecting' && phase.link)) return;
    const pushed = this.#lastDisconnect;
    const finalCode = pushed?.code ?? code;
    const finalReason = pushed?.reason ?? reason;
    if (forbidsReconnecting(finalCode)) {
      this.#stop({ code: finalCode, reason: finalReason || `closed with ${finalCode}` });
      return;
    }
    const attempt = phase.type === 'connected' ? 1 : phase.attempt + 1;
    this.#dropLink();
    this.#scheduleReconnect(attempt, pushed?.delay ?? 0, `closed with ${finalCode} ${finalReason}`);
  }

  /** Ends the current connection or attempt; commands in flight fail with `connectionLost`. */
  #dropLink() {
    const phase = this.#phase;
    if (phase.type === 'connecting' || phase.type === 'connected') phase.link?.close();
    if (phase.type === 'waiting') clearTimeout(phase.timer);
    this.#generation += 1;
    clearTimeout(this.#heartbeatTimer);
    clearTimeout(this.#refreshTimer);
    this.#heartbeatTimer = null;
    this.#refreshTimer = null;
    this.#lastDisconnect = null;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    const unanswered = [];
    for (const entry of pending) {
      clearTimeout(entry.timer);
      // CLIENTS.md, requests: a publish goes out again with its idempotency key, in the order it was sent;
      // any other command whose fate is unknown fails.
      if (entry.kind === 'publish') unanswered.push(entry.item);
      else entry.reject?.(new SwitchboardError('connectionLost', 'the connection was lost before the answer arrived'));
    }
    this.#queue.unshift(...unanswered);
    for (const record of this.#channels.values()) {
      record.subscribing = false;
      record.buffer = [];
    }
  }

  #stop({ code, reason }) {
    this.#dropLink();
    this.#phase = { type: 'disconnected', code, reason };
    const error = new SwitchboardError('disconnected', `disconnected: ${reason}`);
    const lost = new SwitchboardError('connectionLost', `disconnected (${reason}) before the node confirmed the publication: it may or may not have happened`);
    for (const item of this.#queue.splice(0)) item.reject(item.sent ? lost : error);
    this.#settleConnectWaiters(error);
    this.emit('state', this.state);
  }

  // MARK: commands

  #request(command) {
    if (this.#phase.type !== 'connected') {
      return Promise.reject(new SwitchboardError('notConnected', `not connected (${this.state.type})`));
    }
    return new Promise((resolve, reject) => {
      this.#send(this.#phase.link, command, { kind: 'request', resolve, reject, timeout: this.#options.requestTimeout });
    });
  }

  #sendPublish(link, item) {
    item.sent = true;
    const command = { type: 'publish', channel: item.channel, data: item.data, idempotencyKey: item.key };
    this.#send(link, command, { kind: 'publish', item, timeout: this.#options.requestTimeout });
  }

  #send(link, command, entry) {
    const id = this.#nextId++;
    const generation = this.#generation;
    if (entry.timeout) {
      entry.timer = setTimeout(() => this.#timedOut(generation, id), entry.timeout);
    }
    this.#pending.set(id, entry);
    link.send({ ...command, id });
  }

  #timedOut(generation, id) {
    if (generation !== this.#generation) return;
    const entry = this.#pending.get(id);
    if (!entry) return;
    this.#pending.delete(id);
    switch (entry.kind) {
      case 'request':
        entry.reject(new SwitchboardError('requestTimeout', `no answer within ${this.#options.requestTimeout} ms`));
        break;
      case 'publish':
        entry.item.reject(new SwitchboardError('requestTimeout', `no answer within ${this.#options.requestTimeout} ms`));
        break;
      case 'connect':
        this.#attemptFailed(generation, 'no connect reply in time');
        break;
      case 'ping':
        this.#connectionDead(generation);
        break;
      default:
        break; // A subscribe or refresh without an answer: the heartbeat finds a dead connection.
    }
  }

  #sendSubscribe(record) {
    if (this.#phase.type !== 'connected') return;
    const command = { type: 'subscribe', channel: record.subscription.channel };
    const since = record.cursor.last;
    if (since) command.since = since;
    record.subscribing = true;
    record.buffer = [];
    this.#send(this.#phase.link, command, { kind: 'subscribe', record, since, timeout: this.#options.requestTimeout });
  }

  // MARK: receiving

  #received(generation, message) {
    if (generation !== this.#generation) return;
    this.#lastHeard = Date.now();
    this.emit('message', message);
    switch (message.type) {
      case 'reply':
      case 'error':
        if (message.id !== undefined) this.#answered(message);
        // PROTOCOL.md, error without id: 109 asks for `refresh` within `tokenRefreshGrace`.
        else if (message.type === 'error' && message.code === 109) this.#refreshNow(generation);
        else if (message.type === 'error') this.emit('error', new SwitchboardError('server', message.message, message.code));
        break;
      case 'publication': {
        const record = this.#channels.get(message.channel);
        if (!record) break;
        // Over SSE a live publication can overtake the subscribe reply (another HTTP connection); hold it.
        if (record.subscribing) record.buffer.push(message);
        else this.#deliver(record, message);
        break;
      }
      case 'join':
      case 'leave':
        this.#channels.get(message.channel)?.subscription.emit(message.type, message.info);
        break;
      case 'unsubscribed': {
        // The node saw a hole in its live stream; PROTOCOL.md: "resubscribe with `since`".
        const record = this.#channels.get(message.channel);
        if (record && !record.subscribing) this.#sendSubscribe(record);
        break;
      }
      case 'disconnect':
        this.#lastDisconnect = message;
        break;
      default:
        break;
    }
  }

  #answered(message) {
    const entry = this.#pending.get(message.id);
    if (!entry) return;
    this.#pending.delete(message.id);
    clearTimeout(entry.timer);
    const failed = message.type === 'error';
    switch (entry.kind) {
      case 'connect': {
        const phase = this.#phase;
        if (phase.type !== 'connecting' || !phase.link) return;
        if (!failed) {
          this.#connected(phase.link, message.connect);
        } else if (message.code === 109 || isTemporary(message.code)) {
          // A token that expired on the way, or a temporary failure: a fresh attempt may work.
          this.#attemptFailed(this.#generation, `connect refused: ${message.code} ${message.message}`);
        } else {
          this.#stop({ code: message.code, reason: message.message });
        }
        break;
      }
      case 'subscribe':
        if (failed) this.#subscribeRefused(entry.record, message);
        else this.#subscribed(entry.record, entry.since, message.subscribe);
        break;
      case 'refresh':
        if (failed) this.emit('error', new SwitchboardError('server', `token refresh refused: ${message.message}`, message.code));
        else this.#scheduleRefresh(message.refresh.expires);
        break;
      case 'ping':
        break;
      case 'publish': {
        const item = entry.item;
        if (!failed) {
          item.resolve(message.publish);
        } else if (message.code === 203 && item.attempts < 3 && this.#phase.type === 'connected') {
          // The node could not confirm: the same key makes the retry safe.
          item.attempts += 1;
          this.#sendPublish(this.#phase.link, item);
        } else {
          item.reject(new SwitchboardError('server', message.message, message.code));
        }
        break;
      }
      default:
        if (failed) entry.reject(new SwitchboardError('server', message.message, message.code));
        else entry.resolve(message);
    }
  }

  #subscribed(record, since, result) {
    if (this.#channels.get(record.subscription.channel) !== record) return;
    const current = { offset: result.offset, epoch: result.epoch };
    if (since && result.recovered) {
      let count = 0;
      for (const publication of result.publications ?? []) {
        if (this.#deliver(record, publication)) count += 1;
      }
      record.subscription.emit('recovered', { count });
      record.cursor.resume(current);
    } else if (since) {
      // PROTOCOL.md, recovery: "`recovered: false`: the gap cannot be filled … continue from the reply's position".
      record.subscription.emit('gap', { lastDelivered: since, resumedAt: current });
      record.cursor.last = current;
    } else {
      record.cursor.resume(current);
    }
    record.subscribing = false;
    const buffered = record.buffer.splice(0);
    for (const publication of buffered) this.#deliver(record, publication);
    if (!record.confirmed) {
      record.confirmed = true;
      record.subscription._settle.resolve(current);
    }
  }

  #subscribeRefused(record, message) {
    const channel = record.subscription.channel;
    if (this.#channels.get(channel) !== record) return;
    if (record.confirmed && isTemporary(message.code)) {
      // A resubscription refused for now (202 while the node's broker is down): the app still wants the
      // channel, so ask again after a jittered delay, from wherever it has got to by then.
      record.subscribing = false;
      record.buffer = [];
      const generation = this.#generation;
      setTimeout(() => {
        if (generation === this.#generation && this.#channels.get(channel) === record) this.#sendSubscribe(record);
      }, backoffDelay(2, this.#options.reconnect, this.#options.random));
      return;
    }
    this.#channels.delete(channel);
    const error = new SwitchboardError('server', message.message, message.code);
    record.subscription._settle.reject(error);
    record.subscription.emit('error', error);
  }

  /** True when delivered; false for a duplicate. */
  #deliver(record, publication) {
    const before = record.cursor.last;
    const verdict = record.cursor.accept(publication);
    if (verdict === 'duplicate') return false;
    if (verdict === 'gap') {
      const resumedAt = { offset: publication.offset - 1, epoch: publication.epoch };
      record.subscription.emit('gap', { lastDelivered: before, resumedAt });
    }
    record.subscription.emit('publication', publication);
    return true;
  }

  // MARK: heartbeat and token refresh

  #scheduleHeartbeat() {
    const generation = this.#generation;
    const interval = this.#options.heartbeatInterval;
    const check = () => {
      if (generation !== this.#generation || this.#phase.type !== 'connected') return;
      const quiet = Date.now() - this.#lastHeard;
      if (quiet < interval) {
        this.#heartbeatTimer = setTimeout(check, interval - quiet);
        return;
      }
      if (![...this.#pending.values()].some((entry) => entry.kind === 'ping')) {
        // CLIENTS.md, heartbeat: browsers hide ping frames, so the client asks with the protocol's `ping`;
        // no answer within heartbeatTimeout drops the connection (see #timedOut).
        this.#send(this.#phase.link, { type: 'ping' }, { kind: 'ping', timeout: this.#options.heartbeatTimeout });
      }
      this.#heartbeatTimer = setTimeout(check, interval);
    };
    this.#heartbeatTimer = setTimeout(check, interval);
  }

  #connectionDead(generation) {
    if (generation !== this.#generation || this.#phase.type !== 'connected') return;
    this.#dropLink();
    this.#scheduleReconnect(1, 0, 'no answer to the heartbeat');
  }

  #scheduleRefresh(expires) {
    clearTimeout(this.#refreshTimer);
    if (!expires || !this.#options.token) return;
    const lifetime = expires * 1000;
    const margin = this.#options.tokenRefreshMargin;
    const due = lifetime < 2 * margin ? lifetime / 2 : lifetime - margin;
    const generation = this.#generation;
    this.#refreshTimer = setTimeout(() => this.#refreshNow(generation), due);
  }

  async #refreshNow(generation) {
    if (generation !== this.#generation || this.#phase.type !== 'connected' || !this.#options.token) return;
    let token;
    try {
      token = await this.#options.token();
    } catch (error) {
      // The server disconnects with 4003 after its grace period; the reconnect asks for a token again.
      this.emit('error', new SwitchboardError('server', `token provider failed: ${error?.message ?? error}`));
      return;
    }
    if (!token || generation !== this.#generation || this.#phase.type !== 'connected') return;
    this.#token = token;
    this.#send(this.#phase.link, { type: 'refresh', token }, { kind: 'refresh', timeout: this.#options.requestTimeout });
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

/** A WebSocket carrying the protocol: one JSON text message per command or push. */
class WebSocketLink {
  name = 'websocket';

  static open(url, timeout, handlers) {
    return new Promise((resolve, reject) => {
      let opened = false;
      const socket = new WebSocket(url);
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error(`not open after ${timeout} ms`));
      }, timeout);
      socket.onopen = () => {
        opened = true;
        clearTimeout(timer);
        resolve(new WebSocketLink(socket));
      };
      socket.onmessage = (event) => {
        if (typeof event.data !== 'string') return;
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        handlers.message(message);
      };
      socket.onclose = (event) => {
        clearTimeout(timer);
        if (opened) handlers.closed(event.code, event.reason);
        else reject(new Error(`could not open (close code ${event.code})`));
      };
    });
  }

  constructor(socket) {
    this.socket = socket;
  }

  send(command) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(command));
  }

  close() {
    this.socket.onclose = null;
    this.socket.onmessage = null;
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000);
  }
}

/**
 * The protocol over Server-Sent Events (PROTOCOL.md, "Server-Sent Events fallback"): pushes and the
 * connect reply arrive on an EventSource, commands go one at a time as POSTs whose responses are the
 * answers. The client reconnects by itself, so EventSource's own reconnect is cut off at the first error.
 */
class SSELink {
  name = 'sse';
  #source = null;
  #handlers;
  #urls;
  #token;
  #client = null;
  #connectId = null;
  #chain = Promise.resolve();
  #closed = false;

  static open(urls, token, handlers) {
    return Promise.resolve(new SSELink(urls, token, handlers));
  }

  constructor(urls, token, handlers) {
    this.#urls = urls;
    this.#token = token;
    this.#handlers = handlers;
  }

  send(command) {
    if (this.#closed) return;
    if (command.type === 'connect') {
      // The stream itself is the connect: its first message is the connect reply with id 0.
      this.#connectId = command.id;
      this.#openStream(command.token);
      return;
    }
    // One POST at a time: the node runs commands in arrival order, and parallel requests could overtake.
    this.#chain = this.#chain.then(() => this.#post(command));
  }

  async #openStream(token) {
    const url = new URL(this.#urls.sse);
    if (token) {
      // A JWT never goes in a URL, where logs and history keep it (PROTOCOL.md, "Connect tickets"): it buys
      // a ticket that opens this one stream within seconds, and nothing after.
      let response;
      let answer;
      try {
        response = await fetch(this.#urls.ticket, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
        answer = await response.json();
      } catch (error) {
        if (!this.#closed) this.#end(1006, `ticket request failed: ${error.message}`);
        return;
      }
      if (this.#closed) return;
      if (!response.ok || typeof answer?.ticket !== 'string') {
        // The token itself was refused: that is the connect's answer.
        this.#handlers.message({ type: 'error', id: this.#connectId, code: answer?.error?.code ?? 200,
                                 message: answer?.error?.message ?? `ticket request failed with status ${response.status}` });
        return;
      }
      url.searchParams.set('ticket', answer.ticket);
    }
    const source = new EventSource(url);
    this.#source = source;
    source.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'reply' && message.id === 0 && message.connect) {
        this.#client = message.connect.client;
        message.id = this.#connectId;
      } else if (message.type === 'error' && message.id === 0) {
        message.id = this.#connectId;
      }
      this.#handlers.message(message);
      if (message.type === 'disconnect') this.#end(message.code, message.reason);
    };
    // EventSource reports neither status codes nor reasons; 1006 stands for "lost, reconnect".
    source.onerror = () => this.#end(1006, 'event stream failed');
  }

  async #post(command) {
    if (this.#closed) return;
    const url = new URL(this.#urls.command);
    url.searchParams.set('client', this.#client ?? '');
    const headers = { 'Content-Type': 'application/json' };
    const token = this.#token();
    if (token) headers.Authorization = `Bearer ${token}`;
    let answer;
    try {
      const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(command) });
      answer = await response.json();
      if (response.status === 404) {
        // PROTOCOL.md: no SSE session with that id on this node; the stream is gone.
        this.#end(1006, 'the node no longer knows this stream');
        return;
      }
    } catch (error) {
      if (!this.#closed) this.#end(1006, `command failed: ${error.message}`);
      return;
    }
    if (answer?.error && !answer.type) {
      answer = { type: 'error', id: command.id, code: answer.error.code, message: answer.error.message };
    }
    if (!this.#closed) this.#handlers.message(answer);
  }

  #end(code, reason) {
    if (this.#closed) return;
    this.close();
    this.#handlers.closed(code, reason);
  }

  close() {
    this.#closed = true;
    this.#source?.close();
  }
}
