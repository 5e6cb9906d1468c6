// switchboard-protobuf.js: the `switchboard.v1.protobuf` subprotocol for switchboard.js, an optional module
// with no dependencies: a hand-written codec for this one schema (proto/switchboard/v1/switchboard.proto).
// It turns the protocol's commands into binary messages and binary messages into the same plain objects the
// JSON protocol gives, so the client machine cannot tell the encodings apart. switchboard.js imports it only
// when `encoding: 'protobuf'` is asked for.
//
// Numbers are JavaScript numbers, as in the JSON protocol: exact up to 2^53.

export const subprotocol = 'switchboard.v1.protobuf';

const utf8 = new TextEncoder();
const text = new TextDecoder();

// MARK: writing

class Writer {
  bytes = [];

  varint(value) {
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  tag(field, wireType) {
    this.varint(field * 8 + wireType);
  }

  uint(field, value) {
    if (value == null) return;
    this.tag(field, 0);
    this.varint(value);
  }

  int(field, value) {
    if (value == null) return;
    if (value < 0) throw new Error(`switchboard: negative ${value} cannot be sent`);
    this.uint(field, value);
  }

  bytesField(field, bytes) {
    if (bytes == null) return;
    this.tag(field, 2);
    this.varint(bytes.length);
    for (const byte of bytes) this.bytes.push(byte);
  }

  string(field, value) {
    if (value == null) return;
    this.bytesField(field, utf8.encode(value));
  }

  message(field, build) {
    const inner = new Writer();
    build(inner);
    this.bytesField(field, inner.bytes);
  }
}

const position = (w, field, since) => {
  if (since) w.message(field, (p) => { p.uint(1, since.offset); p.string(2, since.epoch); });
};

const bodies = {
  connect: [2, (w, c) => { w.string(1, c.token); w.string(2, c.name); w.string(3, c.version); }],
  subscribe: [3, (w, c) => { w.string(1, c.channel); position(w, 2, c.since); }],
  unsubscribe: [4, (w, c) => w.string(1, c.channel)],
  publish: [5, (w, c) => { w.string(1, c.channel); w.bytesField(2, utf8.encode(JSON.stringify(c.data ?? null))); w.string(3, c.idempotencyKey); }],
  presence: [6, (w, c) => w.string(1, c.channel)],
  history: [7, (w, c) => { w.string(1, c.channel); position(w, 2, c.since); w.int(3, c.limit); }],
  refresh: [8, (w, c) => w.string(1, c.token)],
  ping: [9, () => {}],
};

/** A command object (`{type, id, ...}`, as in the JSON protocol) as one binary message. */
export function encodeCommand(command) {
  const body = bodies[command.type];
  if (!body) throw new Error(`switchboard: no command type ${command.type}`);
  const w = new Writer();
  w.uint(1, command.id);
  w.message(body[0], (inner) => body[1](inner, command));
  return new Uint8Array(w.bytes);
}

// MARK: reading

class Reader {
  constructor(bytes, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.at = start;
    this.end = end;
  }

  varint() {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.end) throw new Error('switchboard: a truncated protobuf message');
      const byte = this.bytes[this.at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  }

  /** Calls `field(number, reader)` for each field; `reader` is at the field's value. Unknown ones are skipped. */
  fields(field) {
    while (this.at < this.end) {
      const key = this.varint();
      const number = Math.floor(key / 8);
      const wireType = key % 8;
      const before = this.at;
      const length = wireType === 2 ? this.varint() : 0;
      const valueStart = this.at;
      const handled = field(number, wireType, this, length);
      if (handled) continue;
      // Not read by the caller: skip it by its wire type.
      this.at = before;
      switch (wireType) {
        case 0: this.varint(); break;
        case 1: this.at += 8; break;
        case 2: this.at = valueStart + length; break;
        case 5: this.at += 4; break;
        default: throw new Error(`switchboard: wire type ${wireType} is not protobuf`);
      }
      if (this.at > this.end) throw new Error('switchboard: a truncated protobuf message');
    }
  }

  slice(length) {
    if (this.at + length > this.end) throw new Error('switchboard: a truncated protobuf message');
    const start = this.at;
    this.at += length;
    return this.bytes.subarray(start, start + length);
  }
}

/** Reads a message's fields by number with `spec` ({number: [name, kind]}); returns the fields present. */
function read(bytes, spec) {
  const out = {};
  new Reader(bytes).fields((number, wireType, r, length) => {
    const entry = spec[number];
    if (!entry) return false;
    const [name, kind] = entry;
    let value;
    if (kind === 'uint' || kind === 'bool') {
      if (wireType !== 0) return false;
      value = r.varint();
      if (kind === 'bool') value = value !== 0;
    } else {
      if (wireType !== 2) return false;
      const slice = r.slice(length);
      if (kind === 'string') value = text.decode(slice);
      else if (kind === 'json') value = slice.length === 0 ? undefined : JSON.parse(text.decode(slice));
      else value = kind(slice);
    }
    if (name.endsWith('[]')) (out[name.slice(0, -2)] ??= []).push(value);
    else out[name] = value;
    return true;
  });
  return out;
}

const clientInfo = (bytes) => {
  const o = read(bytes, { 1: ['user', 'string'], 2: ['client', 'string'], 3: ['info', 'json'] });
  const info = { user: o.user ?? '', client: o.client ?? '' };
  if (o.info !== undefined) info.info = o.info;
  return info;
};

const publication = (bytes) => {
  const o = read(bytes, { 1: ['channel', 'string'], 2: ['offset', 'uint'], 3: ['epoch', 'string'], 4: ['data', 'json'], 5: ['info', clientInfo] });
  const p = { type: 'publication', channel: o.channel ?? '', offset: o.offset ?? 0, epoch: o.epoch ?? '', data: o.data ?? null };
  if (o.info) p.info = o.info;
  return p;
};

const stripType = (p) => {
  const { type, ...rest } = p;
  return rest;
};

const empty = () => ({});

const results = {
  2: ['connect', (b) => {
    const o = read(b, { 1: ['client', 'string'], 2: ['user', 'string'], 3: ['expires', 'uint'], 4: ['ping', 'uint'] });
    return { client: o.client ?? '', user: o.user ?? '', ...(o.expires != null && { expires: o.expires }), ...(o.ping != null && { ping: o.ping }) };
  }],
  3: ['subscribe', (b) => {
    const o = read(b, { 1: ['epoch', 'string'], 2: ['offset', 'uint'], 3: ['recovered', 'bool'], 4: ['publications[]', publication] });
    const result = { epoch: o.epoch ?? '', offset: o.offset ?? 0 };
    if (o.recovered != null) {
      result.recovered = o.recovered;
      result.publications = (o.publications ?? []).map(stripType);
    }
    return result;
  }],
  4: ['unsubscribe', empty],
  5: ['publish', (b) => {
    const o = read(b, { 1: ['offset', 'uint'], 2: ['epoch', 'string'] });
    return { offset: o.offset ?? 0, epoch: o.epoch ?? '' };
  }],
  6: ['presence', (b) => {
    const o = read(b, { 1: ['clients[]', clientInfo], 2: ['clientCount', 'uint'], 3: ['userCount', 'uint'] });
    return { clients: o.clients ?? [], clientCount: o.clientCount ?? 0, userCount: o.userCount ?? 0 };
  }],
  7: ['history', (b) => {
    const o = read(b, { 1: ['epoch', 'string'], 2: ['offset', 'uint'], 3: ['publications[]', publication] });
    return { epoch: o.epoch ?? '', offset: o.offset ?? 0, publications: (o.publications ?? []).map(stripType) };
  }],
  8: ['refresh', (b) => {
    const o = read(b, { 1: ['expires', 'uint'] });
    return o.expires != null ? { expires: o.expires } : {};
  }],
  9: ['ping', empty],
};

const reply = (bytes) => {
  const message = { type: 'reply', id: 0 };
  new Reader(bytes).fields((number, wireType, r, length) => {
    if (number === 1 && wireType === 0) {
      message.id = r.varint();
      return true;
    }
    const result = results[number];
    if (!result || wireType !== 2) return false;
    message[result[0]] = result[1](r.slice(length));
    return true;
  });
  return message;
};

const pushes = {
  1: reply,
  2: (b) => {
    const o = read(b, { 1: ['id', 'uint'], 2: ['code', 'uint'], 3: ['message', 'string'] });
    return { type: 'error', ...(o.id != null && { id: o.id }), code: o.code ?? 0, message: o.message ?? '' };
  },
  3: publication,
  4: (b) => ({ type: 'join', ...read(b, { 1: ['channel', 'string'], 2: ['info', clientInfo] }) }),
  5: (b) => ({ type: 'leave', ...read(b, { 1: ['channel', 'string'], 2: ['info', clientInfo] }) }),
  6: (b) => ({ type: 'unsubscribed', channel: '', reason: '', ...read(b, { 1: ['channel', 'string'], 2: ['reason', 'string'] }) }),
  7: (b) => {
    const o = read(b, { 1: ['code', 'uint'], 2: ['reason', 'string'], 3: ['reconnect', 'bool'], 4: ['delay', 'uint'] });
    return { type: 'disconnect', code: o.code ?? 0, reason: o.reason ?? '', reconnect: o.reconnect ?? false, ...(o.delay != null && { delay: o.delay }) };
  },
};

/** One binary message from the node as the object its JSON text would be; throws when it is not one. */
export function decodeServerMessage(bytes) {
  let message = null;
  new Reader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).fields((number, wireType, r, length) => {
    const push = pushes[number];
    if (!push || wireType !== 2) return false;
    message = push(r.slice(length));
    return true;
  });
  if (message == null) throw new Error('switchboard: a server message with no content, or one this client does not know');
  return message;
}
