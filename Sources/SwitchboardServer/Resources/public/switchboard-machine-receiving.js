// switchboard-machine-receiving.js: what the client machine (switchboard-machine.js) does with what the
// node sends: replies matched to their commands, recovery on subscribe (recovered publications, gaps,
// publications that overtook the reply), and delivery without duplicates. Functions of the machine's
// state `m`.

import { backoffDelay, isTemporary } from './switchboard-rules.js';
import { draw, emit, sendPublish, sendSubscribe, takePending } from './switchboard-machine-commands.js';
import { attemptFailed, connected, scheduleRefresh, stop } from './switchboard-machine-connection.js';

export function received(m, message) {
  if (m.phase.is !== 'authenticating' && m.phase.is !== 'connected') return;
  m.heard = true;
  switch (message?.type) {
    case 'reply':
    case 'error':
      if (message.id != null) answered(m, message);
      // PROTOCOL.md, error without id: 109 asks for `refresh` within `tokenRefreshGrace`.
      else if (message.type === 'error' && message.code === 109 && m.phase.is === 'connected') emit(m, { fetchToken: m.generation });
      break;
    case 'publication':
      if (m.held.has(message.channel)) m.held.get(message.channel).push(message);
      else deliver(m, message);
      break;
    case 'unsubscribed':
      // The node saw a gap in its live stream; PROTOCOL.md: "resubscribe with `since`".
      if (m.phase.is === 'connected' && !m.held.has(message.channel) && m.cursors.has(message.channel)) {
        sendSubscribe(m, message.channel, m.cursors.get(message.channel).last, null);
      }
      break;
    case 'disconnect':
      m.lastDisconnect = message;
      break;
    default:
      break;
  }
}

function answered(m, message) {
  const entry = takePending(m, message.id);
  if (!entry) return;
  const failed = message.type === 'error';
  const serverError = () => ({ kind: 'server', code: message.code, message: message.message });
  switch (entry.kind) {
    case 'connect':
      if (!failed && message.connect) {
        if (m.phase.is === 'authenticating') connected(m, message.connect);
      } else if (failed && (message.code === 109 || isTemporary(message.code))) {
        // A token that expired on the way, or a temporary failure: a fresh attempt may work.
        attemptFailed(m, `connect refused: ${message.code} ${message.message}`);
      } else if (failed) {
        stop(m, { error: message.code, message: message.message }, 1000);
      } else {
        attemptFailed(m, 'connect answered with another reply');
      }
      break;
    case 'subscribe':
      if (!failed && message.subscribe) {
        subscribed(m, entry.channel, entry.since, message.subscribe);
        if (entry.waiter != null) emit(m, { settle: entry.waiter, ok: true });
      } else if (failed && entry.waiter == null && isTemporary(message.code) && m.cursors.has(entry.channel)) {
        // A resubscription refused for now (202 while the node's broker is down): ask again later, up to
        // twice the reconnect policy's base delay, instead of ending the subscription for good.
        m.resubscribeTimers.add(entry.channel);
        emit(m, { arm: `resubscribe:${entry.channel}`, ms: backoffDelay(2, m.settings.reconnect, draw(m)) });
      } else if (failed) {
        if (m.cursors.delete(entry.channel)) emit(m, { deliver: entry.channel, finished: serverError() });
        if (entry.waiter != null) emit(m, { settle: entry.waiter, error: serverError() });
      } else if (entry.waiter != null) {
        emit(m, { settle: entry.waiter, error: { kind: 'server', message: 'the server answered subscribe with another reply' } });
      }
      m.held.delete(entry.channel);
      break;
    case 'refresh':
      if (!failed && message.refresh) scheduleRefresh(m, message.refresh.expires);
      break;
    case 'ping':
      break;
    case 'request':
      emit(m, failed ? { settle: entry.request, error: serverError() } : { settle: entry.request, ok: true, reply: message });
      break;
    case 'unsubscribe':
      // 106: the server had already ended it (a resubscribe in flight, say): the goal is reached.
      emit(m, failed && message.code !== 106 ? { settle: entry.request, error: serverError() } : { settle: entry.request, ok: true });
      break;
    case 'publish': {
      const item = entry.item;
      if (failed && message.code === 203 && item.retries < 3) {
        // The node could not confirm it: the same key makes sending it again safe.
        item.retries += 1;
        if (m.phase.is === 'connected') sendPublish(m, item);
        else m.queue.unshift(item);
      } else {
        emit(m, failed ? { settle: item.request, error: serverError() } : { settle: item.request, ok: true, reply: message });
      }
      break;
    }
    default:
      break;
  }
}

function subscribed(m, channel, since, result) {
  const cursor = m.cursors.get(channel);
  if (!cursor) return;
  const current = { offset: result.offset, epoch: result.epoch };
  if (since && result.recovered === true) {
    let count = 0;
    for (const publication of result.publications ?? []) {
      if (deliverWith(m, cursor, publication)) count += 1;
    }
    emit(m, { deliver: channel, recovered: count });
    cursor.resume(current);
  } else if (since) {
    // PROTOCOL.md, recovery: "`recovered: false`: the gap cannot be filled … continue from the reply's position".
    emit(m, { deliver: channel, gap: { last: cursor.last, resumed: current } });
    cursor.last = current;
  } else {
    cursor.resume(current);
  }
  for (const publication of m.held.get(channel) ?? []) deliverWith(m, cursor, publication);
  m.held.delete(channel);
  emit(m, { deliver: channel, subscribed: current });
}

function deliver(m, publication) {
  const cursor = m.cursors.get(publication.channel);
  if (cursor) deliverWith(m, cursor, publication);
}

/** True when delivered; false for a duplicate. */
function deliverWith(m, cursor, publication) {
  const before = cursor.last;
  const verdict = cursor.accept(publication);
  if (verdict === 'duplicate') return false;
  if (verdict === 'gap') {
    emit(m, { deliver: publication.channel, gap: { last: before, resumed: { offset: publication.offset - 1, epoch: publication.epoch } } });
  }
  emit(m, { deliver: publication.channel, publication });
  return true;
}
