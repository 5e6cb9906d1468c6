import SwitchboardProtocol

/// One subscription's state in a session.
///
/// Recovery without gaps or duplicates: the session registers with the hub *before* it reads history, and
/// buffers live publications while the read is in flight. Every publication is then in the history read, in
/// the buffer, or both; after the reply (which carries what history recovered) the buffer is replayed through
/// ``SessionMachine/publicationArrived(_:)``, which passes only what follows the reply's position, and the
/// subscription is live.
enum Subscription {
    /// Waiting for the hub (`registered` false), then for history. Live publications wait here, in order.
    case joining(buffered: [HubPush], registered: Bool)
    /// Delivering; `position` is the last publication the client has.
    case live(position: StreamPosition)
}

/// Subscriptions: joining → live, delivery without duplicates or gaps, leaving.
extension SessionMachine {
    /// What the driver does with a publication from the hub.
    enum Delivery: Equatable {
        /// Nothing: buffered while joining, already delivered, or for a channel the session left.
        case none
        case send
        /// A publication is missing before this one (the broker lost some): the subscription ends with an
        /// `unsubscribed` push, and the client resubscribes from its position to recover.
        case resubscribe
        /// A joining subscription buffered as many as it may: the client is too slow.
        case disconnect(ServerMessage.Disconnect)
    }

    /// What the driver does once the hub answered a join.
    enum HubJoin: Equatable {
        /// Still joining: add the session to the channel's feed and read history.
        case readHistory
        /// The subscription failed: answer the error.
        case failed
        /// The session closed (or left) meanwhile: release the hub's feed if it was retained.
        case gone
    }

    /// `subscribe` passed its permission check: the channel starts joining, or the refusal to answer.
    mutating func joinRequested(_ channel: String) -> ServerMessage.ProtocolError? {
        guard self.subscriptions[channel] == nil else {
            return .init(code: .alreadySubscribed, message: "already subscribed to \(channel)")
        }
        guard self.subscriptions.count < self.limits.maxChannelsPerClient else {
            return .init(code: .limitExceeded, message: "at most \(self.limits.maxChannelsPerClient) channels per client")
        }
        self.subscriptions[channel] = .joining(buffered: [], registered: false)
        return nil
    }

    /// The hub retained the channel's feed on this session's loop (or failed to).
    mutating func hubRetained(_ channel: String, succeeded: Bool) -> HubJoin {
        guard !self.isClosed, case .joining? = self.subscriptions[channel] else { return .gone }
        guard succeeded else {
            self.subscriptions[channel] = nil
            return .failed
        }
        self.subscriptions[channel] = .joining(buffered: [], registered: true)
        return .readHistory
    }

    /// The joining subscription's history read ended at `position` (the stream's current one): it is live
    /// from there. Returns what was buffered meanwhile, for the driver to pass through
    /// ``publicationArrived(_:)`` after the reply; nil when the subscription is gone (the session closed).
    mutating func historyRead(_ channel: String, position: StreamPosition) -> [HubPush]? {
        guard case .joining(let buffered, _)? = self.subscriptions[channel] else { return nil }
        // Live before the reply goes out, so an SSE reply's event id already carries this channel.
        self.subscriptions[channel] = .live(position: position)
        return buffered
    }

    /// The joining subscription's history read failed. False when it is gone already; otherwise the driver
    /// leaves the hub's feed without announcing (the client never joined) and answers the error.
    mutating func historyFailed(_ channel: String) -> Bool {
        guard case .joining? = self.subscriptions[channel] else { return false }
        self.subscriptions[channel] = nil
        return true
    }

    /// A publication from the hub. Runs once per recipient of every publication: one lookup of the channel
    /// for the read and the write, no allocation but a buffer's growth.
    mutating func publicationArrived(_ push: HubPush) -> Delivery {
        guard case .publication(let publication) = push.kind else { return .none }
        let joiningBufferLimit = self.limits.joiningBufferLimit
        let delivery = self.subscriptions.update(push.channel) { subscription -> Delivery in
            switch subscription {
            case .joining(var buffered, let registered):
                guard buffered.count < joiningBufferLimit else {
                    return .disconnect(.init(code: .slowConsumer, reason: "too many publications while subscribing"))
                }
                // Out of the subscription while it grows, so the append does not copy the whole buffer.
                subscription = .joining(buffered: [], registered: registered)
                buffered.append(push)
                subscription = .joining(buffered: buffered, registered: registered)
                return .none
            case .live(let position):
                if publication.epoch == position.epoch {
                    // Already delivered (in the subscribe reply, or the buffer overlapped history).
                    guard publication.offset > position.offset else { return .none }
                    // The broker lost publications (an outage): only history can fill the gap.
                    guard publication.offset == position.offset + 1 else { return .resubscribe }
                }
                subscription = .live(position: publication.position)
                return .send
            }
        }
        return delivery ?? .none
    }

    /// A presence change (join or leave event) reaches only live subscriptions.
    func presenceChangeArrived(in channel: String) -> Bool {
        guard case .live? = self.subscriptions[channel] else { return false }
        return true
    }

    /// The hub says the channel's feed lost publications. Only a live subscription is sent back to history:
    /// one still joining merges history with what it buffered, and if its read came before the feed was back,
    /// the hole shows at the next publication's offset instead.
    func feedInterrupted(in channel: String) -> Bool {
        guard case .live? = self.subscriptions[channel] else { return false }
        return true
    }

    /// The subscription ends (`unsubscribe`, a gap, a token that no longer allows it). False when there was
    /// none; otherwise the driver leaves the hub's feed.
    mutating func subscriptionEnded(_ channel: String) -> Bool {
        self.subscriptions.removeValue(forKey: channel) != nil
    }

    /// The last position delivered in each live subscription: what a client resumes from.
    var positions: [String: StreamPosition] {
        var positions: [String: StreamPosition] = [:]
        for (channel, subscription) in self.subscriptions {
            if case .live(let position) = subscription { positions[channel] = position }
        }
        return positions
    }
}
