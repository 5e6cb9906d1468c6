// switchboard-machine-commands.js: what every part of the client machine (switchboard-machine.js) shares:
// its outputs, its random draws, and the commands it numbers, with their reply timeouts. Functions of the
// machine's state `m`.

import { clampUnit } from './switchboard-rules.js';

export function emit(m, output) {
  m.out.push(output);
}

/** A number in [0, 1) from the machine's random source. */
export function draw(m) {
  return clampUnit(m.random());
}

export function sendPublish(m, item) {
  item.sent = true;
  const id = register(m, { kind: 'publish', item });
  emit(m, { send: { type: 'publish', id, channel: item.channel, data: item.data, idempotencyKey: item.key } });
}

export function sendSubscribe(m, channel, since, waiter) {
  m.held.set(channel, []);
  const id = register(m, { kind: 'subscribe', channel, since, waiter });
  const command = { type: 'subscribe', id, channel };
  if (since) command.since = since;
  emit(m, { send: command });
}

/** Numbers a command and arms its reply timeout (every command but `subscribe` has one). */
export function register(m, entry, timeout = m.settings.requestTimeout) {
  const id = m.nextId++;
  m.pending.set(id, entry);
  if (entry.kind !== 'subscribe') emit(m, { arm: `reply:${id}`, ms: timeout });
  return id;
}

/** The command `id` waits no more: its entry, with its reply timeout cancelled; null if none waits. */
export function takePending(m, id) {
  const entry = m.pending.get(id);
  if (!entry) return null;
  m.pending.delete(id);
  if (entry.kind !== 'subscribe') emit(m, { cancel: `reply:${id}` });
  return entry;
}

/** Sorts as Swift sorts strings here (by code units: channel names are ASCII). */
export function compareUTF16(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
