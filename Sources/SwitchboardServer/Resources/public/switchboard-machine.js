// switchboard-machine.js: the client side of the protocol as a pure machine, facts in and actions out, the
// same machine as the Swift client's ClientProtocolMachine. It owns no socket, timer or clock: timers are
// outputs its driver (the Switchboard class in switchboard.js) arms and inputs when they fire, and random
// numbers come from the function it is given. Inputs and outputs are plain objects in the form of the
// transcripts under Tests/Transcripts/client, which both clients replay.
//
// Inputs:  {connect: {}}, {disconnect: {}}, {publish: {request, channel, data, key}},
//          {subscribe: {request, channel, since?}}, {unsubscribe: {request, channel}}, {request: {request, command}},
//          {opened: {generation, token}}, {failed: {generation, reason, retryAfter}},
//          {received: {generation, message}}, {closed: {generation, code, reason}}, {timer: name},
//          {refreshToken: {generation, token}}
// Outputs: {open: generation, transport}, {close: generation, code}, {send: command}, {arm: timer, ms}, {cancel: timer},
//          {fetchToken: generation}, {state: {is, ...}}, {connect: 'ok' | error}, {settle: request, ok | error},
//          {deliver: channel, publication | gap | recovered | subscribed | finished}

import { StreamCursor, backoffDelay, clampUnit, forbidsReconnecting, isTemporary } from './switchboard-rules.js';

const position = ({ offset, epoch }) => ({ offset, epoch });

/** The machine. `settings`: reconnect {base, cap, maxAttempts}, sendQueueLimit, heartbeatInterval, heartbeatTimeout,
 * requestTimeout, tokenRefreshMargin (ms), name, version, transports ('websocket', 'sse' in order of preference);
 * `random`: a number in [0, 1) each call. */
export class ClientMachine {
  #settings;
  #random;
  #out = [];
  phase = { is: 'idle' };
  generation = 0;
  #nextId = 1;
  #pending = new Map(); // command id → {kind, channel?, since?, waiter?, request?, item?}
  #cursors = new Map(); // channel → StreamCursor
  #queue = []; // publications waiting: {request, channel, data, key, sent, retries}
  #lastDisconnect = null;
  #heard = false;
  #resubscribeTimers = new Set();
  #held = new Map(); // channel → publications that overtook its subscribe reply
  #prefersSSE = false; // SSE worked where a WebSocket did not: attempts start with it

  constructor(settings, random) {
    this.#settings = settings;
    this.#random = random;
  }

  get queuedPublishCount() {
    return this.#queue.length;
  }

  /** The channels the application is subscribed to, with the position each has reached. */
  position(channel) {
    return this.#cursors.get(channel)?.last ?? null;
  }

  handle(input) {
    this.#out = [];
    const [kind, value] = Object.entries(input)[0];
    switch (kind) {
      case 'connect': this.#connect(); break;
      case 'disconnect': if (this.phase.is !== 'disconnected') this.#stop({ message: 'disconnected by the application' }, 1000); break;
      case 'publish': this.#publish(value); break;
      case 'subscribe': this.#subscribe(value); break;
      case 'unsubscribe': this.#unsubscribe(value); break;
      case 'request': this.#request(value); break;
      case 'opened': this.#transportOpened(value); break;
      case 'failed': this.#transportFailed(value); break;
      case 'received': if (value.generation === this.generation) this.#received(value.message); break;
      case 'closed': this.#transportClosed(value); break;
      case 'timer': this.#timerFired(value); break;
      case 'refreshToken': this.#refreshToken(value); break;
      default: throw new Error(`unknown input ${kind}`);
    }
    return this.#out;
  }

  #emit(output) {
    this.#out.push(output);
  }

  #draw() {
    return clampUnit(this.#random());
  }

  // MARK: the application's calls

  #connect() {
    switch (this.phase.is) {
      case 'connected': this.#emit({ connect: 'ok' }); break;
      case 'idle':
      case 'disconnected':
        this.#emit({ state: { is: 'connecting' } });
        this.#startAttempt(0);
        break;
      default: break; // the caller waits for the attempt under way
    }
  }

  #publish({ request, channel, data, key }) {
    const item = { request, channel, data, key, sent: false, retries: 0 };
    if (this.phase.is === 'connected') {
      this.#sendPublish(item);
    } else if (this.phase.is === 'disconnected') {
      this.#emit({ settle: request, error: { kind: 'disconnected', message: `disconnected: ${this.phase.reason.message}` } });
    } else if (this.#queue.length >= this.#settings.sendQueueLimit) {
      this.#emit({ settle: request, error: { kind: 'sendQueueFull', message: `the send queue is full (${this.#settings.sendQueueLimit} publications wait for a connection)` } });
    } else {
      this.#queue.push(item);
    }
  }

  #subscribe({ request, channel, since = null }) {
    if (this.#cursors.has(channel)) {
      this.#emit({ settle: request, error: { kind: 'alreadySubscribed', message: `already subscribed to ${channel}` } });
      return;
    }
    this.#cursors.set(channel, new StreamCursor(since ? position(since) : null));
    if (this.phase.is === 'connected') this.#sendSubscribe(channel, since ? position(since) : null, request);
    else this.#emit({ settle: request, ok: true });
  }

  #unsubscribe({ request, channel }) {
    if (!this.#cursors.delete(channel)) {
      this.#emit({ settle: request, ok: true });
      return;
    }
    this.#held.delete(channel);
    this.#emit({ deliver: channel, finished: null });
    if (this.#resubscribeTimers.delete(channel)) this.#emit({ cancel: `resubscribe:${channel}` });
    if (this.phase.is !== 'connected') {
      this.#emit({ settle: request, ok: true });
      return;
    }
    const id = this.#register({ kind: 'unsubscribe', request });
    this.#emit({ send: { type: 'unsubscribe', id, channel } });
  }

  #request({ request, command }) {
    if (this.phase.is !== 'connected') {
      this.#emit({ settle: request, error: { kind: 'notConnected', message: 'the client is not connected' } });
      return;
    }
    const id = this.#register({ kind: 'request', request });
    this.#emit({ send: { ...command, id } });
  }

  // MARK: commands on the wire

  #sendPublish(item) {
    item.sent = true;
    const id = this.#register({ kind: 'publish', item });
    this.#emit({ send: { type: 'publish', id, channel: item.channel, data: item.data, idempotencyKey: item.key } });
  }

  #sendSubscribe(channel, since, waiter) {
    this.#held.set(channel, []);
    const id = this.#register({ kind: 'subscribe', channel, since, waiter });
    const command = { type: 'subscribe', id, channel };
    if (since) command.since = since;
    this.#emit({ send: command });
  }

  /** Numbers a command and arms its reply timeout (every command but `subscribe` has one). */
  #register(entry, timeout = this.#settings.requestTimeout) {
    const id = this.#nextId++;
    this.#pending.set(id, entry);
    if (entry.kind !== 'subscribe') this.#emit({ arm: `reply:${id}`, ms: timeout });
    return id;
  }

  #takePending(id) {
    const entry = this.#pending.get(id);
    if (!entry) return null;
    this.#pending.delete(id);
    if (entry.kind !== 'subscribe') this.#emit({ cancel: `reply:${id}` });
    return entry;
  }

  // MARK: connections

  /** The transports an attempt tries, in order. */
  #candidates() {
    const preferred = (this.#settings.transports ?? ['websocket']).filter((name) => !(this.#prefersSSE && name === 'websocket'));
    return preferred.length > 0 ? preferred : ['websocket'];
  }

  #startAttempt(attempt) {
    this.#open(attempt, this.#candidates()[0]);
  }

  #open(attempt, transport) {
    this.generation += 1;
    this.phase = { is: 'opening', attempt, transport };
    this.#emit({ open: this.generation, transport });
  }

  #transportOpened({ generation, token = null }) {
    if (generation !== this.generation || this.phase.is !== 'opening') {
      this.#emit({ close: generation, code: 1001 }); // an abandoned attempt's transport
      return;
    }
    this.phase = { is: 'authenticating', attempt: this.phase.attempt, transport: this.phase.transport };
    this.#lastDisconnect = null;
    this.#heard = false;
    const id = this.#register({ kind: 'connect' });
    const command = { type: 'connect', id };
    if (token) command.token = token;
    if (this.#settings.name) command.name = this.#settings.name;
    if (this.#settings.version) command.version = this.#settings.version;
    this.#emit({ send: command });
  }

  #transportFailed({ generation, reason, retryAfter = null }) {
    if (generation !== this.generation || this.phase.is !== 'opening') return;
    // The next transport in the attempt, unless the node itself asked to come back later.
    const candidates = this.#candidates();
    const index = candidates.indexOf(this.phase.transport);
    if (retryAfter == null && index >= 0 && index + 1 < candidates.length) {
      this.#open(this.phase.attempt, candidates[index + 1]);
      return;
    }
    // A node admitting connections at its rate: come back when it says, give or take.
    const hint = retryAfter == null ? null : retryAfter * 1000 + Math.floor(this.#draw() * retryAfter * 1000);
    this.#attemptFailed(reason, hint);
  }

  #attemptFailed(why, hint = null) {
    if (this.phase.is !== 'opening' && this.phase.is !== 'authenticating') return;
    const attempt = this.phase.attempt;
    this.#dropLink(1001);
    this.#scheduleReconnect(attempt + 1, hint, why);
  }

  #connected(result) {
    // Keep to SSE once it worked where a WebSocket did not; back to WebSockets once one works.
    this.#prefersSSE = this.phase.transport === 'sse' && (this.#settings.transports ?? []).includes('websocket');
    this.phase = { is: 'connected', transport: this.phase.transport };
    this.#emit({ state: { is: 'connected', client: result.client, user: result.user } });
    this.#emit({ connect: 'ok' });
    this.#heard = false;
    this.#emit({ arm: 'heartbeat', ms: this.#settings.heartbeatInterval });
    this.#scheduleRefresh(result.expires);
    // Resubscribe first (by name, as the Swift client), so the application's queued publications reach them.
    for (const channel of [...this.#cursors.keys()].sort(compareUTF16)) {
      this.#sendSubscribe(channel, this.#cursors.get(channel).last, null);
    }
    for (const item of this.#queue.splice(0)) this.#sendPublish(item);
  }

  #transportClosed({ generation, code, reason = '' }) {
    if (generation !== this.generation) return;
    let attempt;
    if (this.phase.is === 'authenticating') attempt = this.phase.attempt + 1;
    else if (this.phase.is === 'connected') attempt = 1;
    else return;
    const pushed = this.#lastDisconnect;
    const finalCode = pushed?.code ?? code;
    const finalReason = pushed?.reason ?? reason;
    const hint = pushed?.delay ?? null;
    if (forbidsReconnecting(finalCode)) {
      this.#stop({ code: finalCode, message: finalReason }, 1001);
      return;
    }
    this.#dropLink(1001);
    this.#scheduleReconnect(attempt, hint, finalReason ? `closed with ${finalCode} ${finalReason}` : `closed with ${finalCode}`);
  }

  #scheduleReconnect(attempt, hint, why) {
    const { maxAttempts } = this.#settings.reconnect;
    if (maxAttempts != null && attempt > maxAttempts) {
      this.#stopped({ message: `gave up after ${maxAttempts} reconnect attempts (the last: ${why})` });
      return;
    }
    let delay = backoffDelay(attempt, this.#settings.reconnect, this.#draw());
    // PROTOCOL.md, disconnect codes: reconnect "after `delay` when given": the hint is a floor.
    if (hint != null && hint > delay) delay = hint;
    this.phase = { is: 'waiting', attempt, why };
    this.#emit({ state: { is: 'reconnecting', attempt, ms: delay } });
    this.#emit({ arm: 'backoff', ms: delay });
  }

  /** Ends the connection or attempt; unanswered publications go back to the queue's front. */
  #dropLink(code) {
    const phase = this.phase.is;
    if (phase === 'opening' || phase === 'authenticating' || phase === 'connected') this.#emit({ close: this.generation, code });
    else if (phase === 'waiting') this.#emit({ cancel: 'backoff' });
    if (phase === 'connected') {
      this.#emit({ cancel: 'heartbeat' });
      this.#emit({ cancel: 'refresh' });
    }
    this.generation += 1;
    this.#lastDisconnect = null;
    for (const channel of [...this.#resubscribeTimers].sort(compareUTF16)) this.#emit({ cancel: `resubscribe:${channel}` });
    this.#resubscribeTimers.clear();
    this.#held.clear();
    const unanswered = [];
    for (const id of [...this.#pending.keys()].sort((a, b) => a - b)) {
      const entry = this.#takePending(id);
      switch (entry.kind) {
        case 'request': this.#emit({ settle: entry.request, error: { kind: 'connectionLost', message: 'the connection was lost before the reply' } }); break;
        case 'unsubscribe': this.#emit({ settle: entry.request, ok: true }); break;
        case 'publish': unanswered.push(entry.item); break;
        case 'subscribe': if (entry.waiter != null) this.#emit({ settle: entry.waiter, ok: true }); break;
        default: break;
      }
    }
    this.#queue.unshift(...unanswered);
  }

  #stop(reason, code) {
    this.#dropLink(code);
    this.#stopped(reason);
  }

  #stopped(reason) {
    this.phase = { is: 'disconnected', reason };
    const words = reason.code != null ? `${reason.code} ${reason.message}` : reason.error != null ? `error ${reason.error}: ${reason.message}` : reason.message;
    const error = { kind: 'disconnected', message: `disconnected: ${words}` };
    for (const item of this.#queue.splice(0)) {
      this.#emit({ settle: item.request, error: item.sent
        ? { kind: 'connectionLost', message: `disconnected (${words}) before the node confirmed the publication: it may or may not have happened` }
        : error });
    }
    this.#emit({ connect: error });
    const state = { is: 'disconnected' };
    if (reason.code != null) state.code = reason.code;
    if (reason.error != null) state.error = reason.error;
    this.#emit({ state });
  }

  // MARK: timers

  #timerFired(timer) {
    if (timer === 'backoff') {
      if (this.phase.is === 'waiting') this.#startAttempt(this.phase.attempt);
    } else if (timer === 'heartbeat') {
      this.#heartbeatDue();
    } else if (timer === 'refresh') {
      if (this.phase.is === 'connected') this.#emit({ fetchToken: this.generation });
    } else if (timer.startsWith('reply:')) {
      const id = Number(timer.slice(6));
      const entry = this.#pending.get(id);
      if (!entry) return;
      this.#pending.delete(id);
      this.#timedOut(entry);
    } else if (timer.startsWith('resubscribe:')) {
      const channel = timer.slice(12);
      if (!this.#resubscribeTimers.delete(channel) || this.phase.is !== 'connected' || !this.#cursors.has(channel)) return;
      this.#sendSubscribe(channel, this.#cursors.get(channel).last, null);
    }
  }

  #timedOut(entry) {
    const timeout = { kind: 'requestTimeout', message: 'no reply within the request timeout' };
    switch (entry.kind) {
      case 'request':
      case 'unsubscribe': this.#emit({ settle: entry.request, error: timeout }); break;
      case 'publish': this.#emit({ settle: entry.item.request, error: timeout }); break;
      case 'ping':
        // No reply to a heartbeat in time: the connection is presumed dead, without waiting for TCP.
        if (this.phase.is !== 'connected') return;
        this.#dropLink(1001);
        this.#scheduleReconnect(1, null, 'no reply to a heartbeat');
        break;
      case 'connect': this.#attemptFailed('no connect reply in time'); break;
      default: break;
    }
  }

  /** PROTOCOL.md, heartbeats: quiet for a whole interval, `ping`; no reply within the timeout, reconnect. */
  #heartbeatDue() {
    if (this.phase.is !== 'connected') return;
    const pinging = [...this.#pending.values()].some((entry) => entry.kind === 'ping');
    if (!this.#heard && !pinging) {
      const id = this.#register({ kind: 'ping' }, this.#settings.heartbeatTimeout);
      this.#emit({ send: { type: 'ping', id } });
    }
    this.#heard = false;
    this.#emit({ arm: 'heartbeat', ms: this.#settings.heartbeatInterval });
  }

  #scheduleRefresh(expires) {
    this.#emit({ cancel: 'refresh' });
    if (expires == null) return;
    const remaining = expires * 1000;
    const margin = this.#settings.tokenRefreshMargin;
    this.#emit({ arm: 'refresh', ms: remaining > 2 * margin ? remaining - margin : remaining / 2 });
  }

  #refreshToken({ generation, token }) {
    if (!token || generation !== this.generation || this.phase.is !== 'connected') return;
    const id = this.#register({ kind: 'refresh' });
    this.#emit({ send: { type: 'refresh', id, token } });
  }

  // MARK: receiving

  #received(message) {
    if (this.phase.is !== 'authenticating' && this.phase.is !== 'connected') return;
    this.#heard = true;
    switch (message?.type) {
      case 'reply':
      case 'error':
        if (message.id != null) this.#answered(message);
        // PROTOCOL.md, error without id: 109 asks for `refresh` within `tokenRefreshGrace`.
        else if (message.type === 'error' && message.code === 109 && this.phase.is === 'connected') this.#emit({ fetchToken: this.generation });
        break;
      case 'publication':
        if (this.#held.has(message.channel)) this.#held.get(message.channel).push(message);
        else this.#deliver(message);
        break;
      case 'unsubscribed':
        // The node saw a gap in its live stream; PROTOCOL.md: "resubscribe with `since`".
        if (this.phase.is === 'connected' && !this.#held.has(message.channel) && this.#cursors.has(message.channel)) {
          this.#sendSubscribe(message.channel, this.#cursors.get(message.channel).last, null);
        }
        break;
      case 'disconnect':
        this.#lastDisconnect = message;
        break;
      default:
        break;
    }
  }

  #answered(message) {
    const entry = this.#takePending(message.id);
    if (!entry) return;
    const failed = message.type === 'error';
    const serverError = () => ({ kind: 'server', code: message.code, message: message.message });
    switch (entry.kind) {
      case 'connect':
        if (!failed && message.connect) {
          if (this.phase.is === 'authenticating') this.#connected(message.connect);
        } else if (failed && (message.code === 109 || isTemporary(message.code))) {
          // A token that expired on the way, or a temporary failure: a fresh attempt may work.
          this.#attemptFailed(`connect refused: ${message.code} ${message.message}`);
        } else if (failed) {
          this.#stop({ error: message.code, message: message.message }, 1000);
        } else {
          this.#attemptFailed('connect answered with another reply');
        }
        break;
      case 'subscribe':
        if (!failed && message.subscribe) {
          this.#subscribed(entry.channel, entry.since, message.subscribe);
          if (entry.waiter != null) this.#emit({ settle: entry.waiter, ok: true });
        } else if (failed && entry.waiter == null && isTemporary(message.code) && this.#cursors.has(entry.channel)) {
          // A resubscription refused for now (202 while the node's broker is down): ask again later, up to
          // twice the reconnect policy's base delay, instead of ending the subscription for good.
          this.#resubscribeTimers.add(entry.channel);
          this.#emit({ arm: `resubscribe:${entry.channel}`, ms: backoffDelay(2, this.#settings.reconnect, this.#draw()) });
        } else if (failed) {
          if (this.#cursors.delete(entry.channel)) this.#emit({ deliver: entry.channel, finished: serverError() });
          if (entry.waiter != null) this.#emit({ settle: entry.waiter, error: serverError() });
        } else if (entry.waiter != null) {
          this.#emit({ settle: entry.waiter, error: { kind: 'server', message: 'the server answered subscribe with another reply' } });
        }
        this.#held.delete(entry.channel);
        break;
      case 'refresh':
        if (!failed && message.refresh) this.#scheduleRefresh(message.refresh.expires);
        break;
      case 'ping':
        break;
      case 'request':
        this.#emit(failed ? { settle: entry.request, error: serverError() } : { settle: entry.request, ok: true, reply: message });
        break;
      case 'unsubscribe':
        // 106: the server had already ended it (a resubscribe in flight, say): the goal is reached.
        this.#emit(failed && message.code !== 106 ? { settle: entry.request, error: serverError() } : { settle: entry.request, ok: true });
        break;
      case 'publish': {
        const item = entry.item;
        if (failed && message.code === 203 && item.retries < 3) {
          // The node could not confirm it: the same key makes sending it again safe.
          item.retries += 1;
          if (this.phase.is === 'connected') this.#sendPublish(item);
          else this.#queue.unshift(item);
        } else {
          this.#emit(failed ? { settle: item.request, error: serverError() } : { settle: item.request, ok: true, reply: message });
        }
        break;
      }
      default:
        break;
    }
  }

  #subscribed(channel, since, result) {
    const cursor = this.#cursors.get(channel);
    if (!cursor) return;
    const current = { offset: result.offset, epoch: result.epoch };
    if (since && result.recovered === true) {
      let count = 0;
      for (const publication of result.publications ?? []) {
        if (this.#deliverWith(cursor, publication)) count += 1;
      }
      this.#emit({ deliver: channel, recovered: count });
      cursor.resume(current);
    } else if (since) {
      // PROTOCOL.md, recovery: "`recovered: false`: the gap cannot be filled … continue from the reply's position".
      this.#emit({ deliver: channel, gap: { last: cursor.last, resumed: current } });
      cursor.last = current;
    } else {
      cursor.resume(current);
    }
    for (const publication of this.#held.get(channel) ?? []) this.#deliverWith(cursor, publication);
    this.#held.delete(channel);
    this.#emit({ deliver: channel, subscribed: current });
  }

  #deliver(publication) {
    const cursor = this.#cursors.get(publication.channel);
    if (cursor) this.#deliverWith(cursor, publication);
  }

  /** True when delivered; false for a duplicate. */
  #deliverWith(cursor, publication) {
    const before = cursor.last;
    const verdict = cursor.accept(publication);
    if (verdict === 'duplicate') return false;
    if (verdict === 'gap') {
      this.#emit({ deliver: publication.channel, gap: { last: before, resumed: { offset: publication.offset - 1, epoch: publication.epoch } } });
    }
    this.#emit({ deliver: publication.channel, publication });
    return true;
  }
}

/** Sorts as Swift sorts strings here (by code units: channel names are ASCII). */
function compareUTF16(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
