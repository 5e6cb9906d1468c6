// switchboard-machine-connection.js: the client machine's connections (switchboard-machine.js): attempts
// and the transports each tries, backoff with the server's delay hint, what a lost connection leaves
// behind, and the machine's timers (backoff, heartbeat, token refresh, reply timeouts, resubscription).
// Functions of the machine's state `m`.

import { backoffDelay, forbidsReconnecting } from './switchboard-rules.js';
import { compareUTF16, draw, emit, register, sendPublish, sendSubscribe, takePending } from './switchboard-machine-commands.js';

/** The transports an attempt tries, in order. */
function transportsToTry(m) {
  const preferred = (m.settings.transports ?? ['websocket']).filter((name) => !(m.prefersSSE && name === 'websocket'));
  return preferred.length > 0 ? preferred : ['websocket'];
}

export function startAttempt(m, attempt) {
  open(m, attempt, transportsToTry(m)[0]);
}

function open(m, attempt, transport) {
  m.generation += 1;
  m.phase = { is: 'opening', attempt, transport };
  emit(m, { open: m.generation, transport });
}

export function transportOpened(m, { generation, token = null }) {
  if (generation !== m.generation || m.phase.is !== 'opening') {
    emit(m, { close: generation, code: 1001 }); // an abandoned attempt's transport
    return;
  }
  m.phase = { is: 'authenticating', attempt: m.phase.attempt, transport: m.phase.transport };
  m.lastDisconnect = null;
  m.heard = false;
  const id = register(m, { kind: 'connect' });
  const command = { type: 'connect', id };
  if (token) command.token = token;
  if (m.settings.name) command.name = m.settings.name;
  if (m.settings.version) command.version = m.settings.version;
  emit(m, { send: command });
}

export function transportFailed(m, { generation, reason, retryAfter = null }) {
  if (generation !== m.generation || m.phase.is !== 'opening') return;
  // The next transport in the attempt, unless the node itself asked to come back later.
  const candidates = transportsToTry(m);
  const index = candidates.indexOf(m.phase.transport);
  if (retryAfter == null && index >= 0 && index + 1 < candidates.length) {
    open(m, m.phase.attempt, candidates[index + 1]);
    return;
  }
  // A node admitting connections at its rate: come back when it says, give or take.
  const hint = retryAfter == null ? null : retryAfter * 1000 + Math.floor(draw(m) * retryAfter * 1000);
  attemptFailed(m, reason, hint);
}

export function attemptFailed(m, why, hint = null) {
  if (m.phase.is !== 'opening' && m.phase.is !== 'authenticating') return;
  const attempt = m.phase.attempt;
  dropLink(m, 1001);
  scheduleReconnect(m, attempt + 1, hint, why);
}

export function connected(m, result) {
  // Keep to SSE once it worked where a WebSocket did not; back to WebSockets once one works.
  m.prefersSSE = m.phase.transport === 'sse' && (m.settings.transports ?? []).includes('websocket');
  m.phase = { is: 'connected', transport: m.phase.transport };
  emit(m, { state: { is: 'connected', client: result.client, user: result.user } });
  emit(m, { connect: 'ok' });
  m.heard = false;
  emit(m, { arm: 'heartbeat', ms: m.settings.heartbeatInterval });
  scheduleRefresh(m, result.expires);
  // Resubscribe first (by name, as the Swift client), so the application's queued publications reach them.
  for (const channel of [...m.cursors.keys()].sort(compareUTF16)) {
    sendSubscribe(m, channel, m.cursors.get(channel).last, null);
  }
  for (const item of m.queue.splice(0)) sendPublish(m, item);
}

export function transportClosed(m, { generation, code, reason = '' }) {
  if (generation !== m.generation) return;
  let attempt;
  if (m.phase.is === 'authenticating') attempt = m.phase.attempt + 1;
  else if (m.phase.is === 'connected') attempt = 1;
  else return;
  const pushed = m.lastDisconnect;
  const finalCode = pushed?.code ?? code;
  const finalReason = pushed?.reason ?? reason;
  const hint = pushed?.delay ?? null;
  if (forbidsReconnecting(finalCode)) {
    stop(m, { code: finalCode, message: finalReason }, 1001);
    return;
  }
  dropLink(m, 1001);
  scheduleReconnect(m, attempt, hint, finalReason ? `closed with ${finalCode} ${finalReason}` : `closed with ${finalCode}`);
}

function scheduleReconnect(m, attempt, hint, why) {
  const { maxAttempts } = m.settings.reconnect;
  if (maxAttempts != null && attempt > maxAttempts) {
    stopped(m, { message: `gave up after ${maxAttempts} reconnect attempts (the last: ${why})` });
    return;
  }
  let delay = backoffDelay(attempt, m.settings.reconnect, draw(m));
  // PROTOCOL.md, disconnect codes: reconnect "after `delay` when given": the hint is a floor.
  if (hint != null && hint > delay) delay = hint;
  m.phase = { is: 'waiting', attempt, why };
  emit(m, { state: { is: 'reconnecting', attempt, ms: delay } });
  emit(m, { arm: 'backoff', ms: delay });
}

/** Ends the connection or attempt; unanswered publications go back to the queue's front. */
function dropLink(m, code) {
  const phase = m.phase.is;
  if (phase === 'opening' || phase === 'authenticating' || phase === 'connected') emit(m, { close: m.generation, code });
  else if (phase === 'waiting') emit(m, { cancel: 'backoff' });
  if (phase === 'connected') {
    emit(m, { cancel: 'heartbeat' });
    emit(m, { cancel: 'refresh' });
  }
  m.generation += 1;
  m.lastDisconnect = null;
  for (const channel of [...m.resubscribeTimers].sort(compareUTF16)) emit(m, { cancel: `resubscribe:${channel}` });
  m.resubscribeTimers.clear();
  m.held.clear();
  const unanswered = [];
  for (const id of [...m.pending.keys()].sort((a, b) => a - b)) {
    const entry = takePending(m, id);
    switch (entry.kind) {
      case 'request': emit(m, { settle: entry.request, error: { kind: 'connectionLost', message: 'the connection was lost before the reply' } }); break;
      case 'unsubscribe': emit(m, { settle: entry.request, ok: true }); break;
      case 'publish': unanswered.push(entry.item); break;
      case 'subscribe': if (entry.waiter != null) emit(m, { settle: entry.waiter, ok: true }); break;
      default: break;
    }
  }
  m.queue.unshift(...unanswered);
}

export function stop(m, reason, code) {
  dropLink(m, code);
  stopped(m, reason);
}

function stopped(m, reason) {
  m.phase = { is: 'disconnected', reason };
  const words = reason.code != null ? `${reason.code} ${reason.message}` : reason.error != null ? `error ${reason.error}: ${reason.message}` : reason.message;
  const error = { kind: 'disconnected', message: `disconnected: ${words}` };
  for (const item of m.queue.splice(0)) {
    emit(m, { settle: item.request, error: item.sent
      ? { kind: 'connectionLost', message: `disconnected (${words}) before the node confirmed the publication: it may or may not have happened` }
      : error });
  }
  emit(m, { connect: error });
  const state = { is: 'disconnected' };
  if (reason.code != null) state.code = reason.code;
  if (reason.error != null) state.error = reason.error;
  emit(m, { state });
}

export function timerFired(m, timer) {
  if (timer === 'backoff') {
    if (m.phase.is === 'waiting') startAttempt(m, m.phase.attempt);
  } else if (timer === 'heartbeat') {
    heartbeatDue(m);
  } else if (timer === 'refresh') {
    if (m.phase.is === 'connected') emit(m, { fetchToken: m.generation });
  } else if (timer.startsWith('reply:')) {
    const id = Number(timer.slice(6));
    const entry = m.pending.get(id);
    if (!entry) return;
    m.pending.delete(id);
    timedOut(m, entry);
  } else if (timer.startsWith('resubscribe:')) {
    const channel = timer.slice(12);
    if (!m.resubscribeTimers.delete(channel) || m.phase.is !== 'connected' || !m.cursors.has(channel)) return;
    sendSubscribe(m, channel, m.cursors.get(channel).last, null);
  }
}

function timedOut(m, entry) {
  const timeout = { kind: 'requestTimeout', message: 'no reply within the request timeout' };
  switch (entry.kind) {
    case 'request':
    case 'unsubscribe': emit(m, { settle: entry.request, error: timeout }); break;
    case 'publish': emit(m, { settle: entry.item.request, error: timeout }); break;
    case 'ping':
      // No reply to a heartbeat in time: the connection is presumed dead, without waiting for TCP.
      if (m.phase.is !== 'connected') return;
      dropLink(m, 1001);
      scheduleReconnect(m, 1, null, 'no reply to a heartbeat');
      break;
    case 'connect': attemptFailed(m, 'no connect reply in time'); break;
    default: break;
  }
}

/** PROTOCOL.md, heartbeats: quiet for a whole interval, `ping`; no reply within the timeout, reconnect. */
function heartbeatDue(m) {
  if (m.phase.is !== 'connected') return;
  const pinging = [...m.pending.values()].some((entry) => entry.kind === 'ping');
  if (!m.heard && !pinging) {
    const id = register(m, { kind: 'ping' }, m.settings.heartbeatTimeout);
    emit(m, { send: { type: 'ping', id } });
  }
  m.heard = false;
  emit(m, { arm: 'heartbeat', ms: m.settings.heartbeatInterval });
}

export function scheduleRefresh(m, expires) {
  emit(m, { cancel: 'refresh' });
  if (expires == null) return;
  const remaining = expires * 1000;
  const margin = m.settings.tokenRefreshMargin;
  emit(m, { arm: 'refresh', ms: remaining > 2 * margin ? remaining - margin : remaining / 2 });
}

export function refreshToken(m, { generation, token }) {
  if (!token || generation !== m.generation || m.phase.is !== 'connected') return;
  const id = register(m, { kind: 'refresh' });
  emit(m, { send: { type: 'refresh', id, token } });
}
