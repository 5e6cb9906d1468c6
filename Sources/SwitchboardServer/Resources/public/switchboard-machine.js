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
//
// This file is the machine's face and the application's calls. Its state is one object, private to the
// ClientMachine, that the other modules change: switchboard-machine-commands.js (numbering commands and
// their reply timeouts), switchboard-machine-connection.js (attempts, backoff, timers) and
// switchboard-machine-receiving.js (replies, recovery, delivery).

import { StreamCursor } from './switchboard-rules.js';
import { emit, register, sendPublish, sendSubscribe } from './switchboard-machine-commands.js';
import { refreshToken, startAttempt, stop, timerFired, transportClosed, transportFailed, transportOpened } from './switchboard-machine-connection.js';
import { received } from './switchboard-machine-receiving.js';

const position = ({ offset, epoch }) => ({ offset, epoch });

/** The machine. `settings`: reconnect {base, cap, maxAttempts}, sendQueueLimit, heartbeatInterval, heartbeatTimeout,
 * requestTimeout, tokenRefreshMargin (ms), name, version, transports ('websocket', 'sse' in order of preference);
 * `random`: a number in [0, 1) each call. */
export class ClientMachine {
  #m;

  constructor(settings, random) {
    this.#m = {
      settings,
      random,
      out: [],
      phase: { is: 'idle' },
      /** The current attempt's number; facts about older ones are ignored. */
      generation: 0,
      nextId: 1,
      pending: new Map(), // command id → {kind, channel?, since?, waiter?, request?, item?}
      cursors: new Map(), // channel → StreamCursor
      queue: [], // publications waiting: {request, channel, data, key, sent, retries}
      lastDisconnect: null, // the `disconnect` push before a close: its code and delay decide what follows
      heard: false, // something arrived since the heartbeat timer was last armed
      resubscribeTimers: new Set(),
      held: new Map(), // channel → publications that overtook its subscribe reply
      prefersSSE: false, // SSE worked where a WebSocket did not: attempts start with it
    };
  }

  /** `{is: 'idle' | 'opening' | 'authenticating' | 'connected' | 'waiting' | 'disconnected', ...}`. */
  get phase() {
    return this.#m.phase;
  }

  get generation() {
    return this.#m.generation;
  }

  get queuedPublishCount() {
    return this.#m.queue.length;
  }

  /** The position the application has reached in `channel`, null before its first publication. */
  position(channel) {
    return this.#m.cursors.get(channel)?.last ?? null;
  }

  /** Takes in one fact; returns what to do about it, in order. */
  handle(input) {
    const m = this.#m;
    m.out = [];
    const [kind, value] = Object.entries(input)[0];
    switch (kind) {
      case 'connect': connect(m); break;
      case 'disconnect': if (m.phase.is !== 'disconnected') stop(m, { message: 'disconnected by the application' }, 1000); break;
      case 'publish': publish(m, value); break;
      case 'subscribe': subscribe(m, value); break;
      case 'unsubscribe': unsubscribe(m, value); break;
      case 'request': request(m, value); break;
      case 'opened': transportOpened(m, value); break;
      case 'failed': transportFailed(m, value); break;
      case 'received': if (value.generation === m.generation) received(m, value.message); break;
      case 'closed': transportClosed(m, value); break;
      case 'timer': timerFired(m, value); break;
      case 'refreshToken': refreshToken(m, value); break;
      default: throw new Error(`unknown input ${kind}`);
    }
    return m.out;
  }
}

// MARK: the application's calls

function connect(m) {
  switch (m.phase.is) {
    case 'connected': emit(m, { connect: 'ok' }); break;
    case 'idle':
    case 'disconnected':
      emit(m, { state: { is: 'connecting' } });
      startAttempt(m, 0);
      break;
    default: break; // the caller waits for the attempt under way
  }
}

function publish(m, { request, channel, data, key }) {
  const item = { request, channel, data, key, sent: false, retries: 0 };
  if (m.phase.is === 'connected') {
    sendPublish(m, item);
  } else if (m.phase.is === 'disconnected') {
    emit(m, { settle: request, error: { kind: 'disconnected', message: `disconnected: ${m.phase.reason.message}` } });
  } else if (m.queue.length >= m.settings.sendQueueLimit) {
    emit(m, { settle: request, error: { kind: 'sendQueueFull', message: `the send queue is full (${m.settings.sendQueueLimit} publications wait for a connection)` } });
  } else {
    m.queue.push(item);
  }
}

function subscribe(m, { request, channel, since = null }) {
  if (m.cursors.has(channel)) {
    emit(m, { settle: request, error: { kind: 'alreadySubscribed', message: `already subscribed to ${channel}` } });
    return;
  }
  m.cursors.set(channel, new StreamCursor(since ? position(since) : null));
  if (m.phase.is === 'connected') sendSubscribe(m, channel, since ? position(since) : null, request);
  else emit(m, { settle: request, ok: true });
}

function unsubscribe(m, { request, channel }) {
  if (!m.cursors.delete(channel)) {
    emit(m, { settle: request, ok: true });
    return;
  }
  m.held.delete(channel);
  emit(m, { deliver: channel, finished: null });
  if (m.resubscribeTimers.delete(channel)) emit(m, { cancel: `resubscribe:${channel}` });
  if (m.phase.is !== 'connected') {
    emit(m, { settle: request, ok: true });
    return;
  }
  const id = register(m, { kind: 'unsubscribe', request });
  emit(m, { send: { type: 'unsubscribe', id, channel } });
}

function request(m, { request, command }) {
  if (m.phase.is !== 'connected') {
    emit(m, { settle: request, error: { kind: 'notConnected', message: 'the client is not connected' } });
    return;
  }
  const id = register(m, { kind: 'request', request });
  emit(m, { send: { ...command, id } });
}
