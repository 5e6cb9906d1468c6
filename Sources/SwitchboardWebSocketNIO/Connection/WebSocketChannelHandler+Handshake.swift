import Logging
import NIOCore
import SwitchboardWebSocket

/// The opening handshake: a server validates the request, asks the upgrade hook and answers; a client
/// validates the response. Then the engine takes over.
extension WebSocketChannelHandler {
    /// Validates the request, asks the hook, writes the 101 and opens. Returns false when it rejected.
    func acceptUpgrade(_ request: HandshakeRequest) -> Bool {
        let acceptance: ServerHandshake.Acceptance
        switch ServerHandshake.accept(request, configuration: self.settings.serverHandshake!) {
        case .success(let accepted): acceptance = accepted
        case .failure(let rejection):
            self.reject(rejection)
            return false
        }
        let upgradeRequest = WebSocketUpgradeRequest(head: request, remoteAddress: self.remoteAddress)
        var response = acceptance.response
        if let hook = self.settings.upgradeHook {
            switch hook(upgradeRequest).verdict {
            case .reject(let rejection):
                self.reject(rejection)
                return false
            case .accept(let headers, let acceptedContext):
                for (name, value) in headers { response.headers.add(name: name, value: value) }
                self.acceptedContext = acceptedContext
            }
        }
        self.subprotocol = acceptance.subprotocol
        response.write(into: &self.output)
        // The request goes to the handler's factory and is not kept here: its headers would be memory
        // every idle connection holds.
        self.open(deflate: acceptance.deflate, request: upgradeRequest)
        return true
    }

    func reject(_ rejection: HandshakeRejection) {
        self.logger.debug("WebSocket handshake rejected", metadata: ["status": "\(rejection.status)", "reason": "\(rejection.reason)"])
        self.phase = .closed
        self.cancelTimers()
        guard let io = self.io else { return }
        var response = io.allocator.buffer(capacity: 256)
        rejection.write(into: &response)
        self.output.clear()
        io.writeAndFlush(response) { io.close() }
    }

    /// Keeps reading the refused response's body until it is complete, then fails the connect with it.
    func readRefusal(_ body: HandshakeRefusalBody, _ input: inout ByteBuffer, _ promise: EventLoopPromise<Void>) {
        var body = body
        if body.read(&input) {
            self.failHandshake(promise, body.error)
        } else {
            self.phase = .readingRefusal(body, promise)
        }
    }

    func failHandshake(_ promise: EventLoopPromise<Void>, _ error: WebSocketTransportError) {
        self.phase = .closed
        self.cancelTimers()
        promise.fail(error)
        self.io?.close()
    }

    func handshakeTimedOut(after timeout: TimeAmount) {
        self.handshakeTimer = nil
        switch self.phase {
        case .awaitingRequest:
            // A client that never completes its request (slowloris) is dropped without an answer.
            self.phase = .closed
            self.io?.close()
        case .awaitingResponse(_, _, let promise):
            self.phase = .closed
            promise.fail(WebSocketTransportError.handshakeTimedOut(timeout))
            self.io?.close()
        case .readingRefusal(let body, let promise):
            // The refusal is known; only its body is late: report what arrived of it.
            self.phase = .closed
            promise.fail(body.error)
            self.io?.close()
        case .open, .closed, .servingHTTP, .releasingHTTP:
            break
        }
    }

    func open(deflate: PerMessageDeflateParameters?, request: WebSocketUpgradeRequest?) {
        self.handshakeTimer?.cancel()
        self.handshakeTimer = nil
        self.engine = WebSocketEngine(role: self.settings.role, limits: self.configuration.limits, deflate: deflate,
                                      deflateConfiguration: self.configuration.deflate ?? PerMessageDeflateConfiguration(),
                                      maskingKeySource: self.settings.role == .client ? SystemMaskingKeySource() : nil)
        self.phase = .open
        self.flushCoalescer = FlushCoalescer.on(self.eventLoop)
        self.startHeartbeat()
        if let makeDelegate = self.settings.makeDelegate {
            self.delegate = makeDelegate(request, self.eventLoop)
        }
        self.delegate?.webSocketDidOpen(WebSocketEventLoopConnection(handler: self))
        self.flushSoon()
    }
}
