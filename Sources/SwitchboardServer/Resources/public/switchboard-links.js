// switchboard-links.js: the transports under switchboard.js, each carrying the protocol's messages: a
// WebSocket (JSON text, or protobuf binary messages with switchboard-protobuf.js), or Server-Sent Events with
// commands as POSTs where a WebSocket cannot be opened.

/**
 * A WebSocket carrying the protocol: one JSON text message per command or push, or, with a `codec`
 * (switchboard-protobuf.js) that the node accepts at the handshake, one binary message.
 */
export class WebSocketLink {
  name = 'websocket';
  #codec;

  static open(url, timeout, handlers, codec = null) {
    return new Promise((resolve, reject) => {
      let opened = false;
      const socket = codec ? new WebSocket(url, [codec.subprotocol]) : new WebSocket(url);
      socket.binaryType = 'arraybuffer';
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error(`not open after ${timeout} ms`));
      }, timeout);
      socket.onopen = () => {
        opened = true;
        clearTimeout(timer);
        // A node that does not take the offer speaks JSON, and so does the link then.
        resolve(new WebSocketLink(socket, codec && socket.protocol === codec.subprotocol ? codec : null));
      };
      socket.onmessage = (event) => {
        const binary = event.data instanceof ArrayBuffer;
        if (binary !== (socket.protocol === codec?.subprotocol)) return;
        let message;
        try {
          message = binary ? codec.decodeServerMessage(new Uint8Array(event.data)) : JSON.parse(event.data);
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

  constructor(socket, codec) {
    this.socket = socket;
    this.#codec = codec;
  }

  /** 'json' or 'protobuf': what the handshake chose. */
  get encoding() {
    return this.#codec ? 'protobuf' : 'json';
  }

  send(command) {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(this.#codec ? this.#codec.encodeCommand(command) : JSON.stringify(command));
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
export class SSELink {
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
