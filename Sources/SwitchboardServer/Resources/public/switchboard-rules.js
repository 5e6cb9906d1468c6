// switchboard-rules.js: the protocol's rules that both the machine and applications use: code ranges,
// backoff bounds, and the stream cursor that keeps duplicates out. The Swift client has the same rules
// (DisconnectCode.forbidsReconnecting, ErrorCode.isTemporary, ReconnectPolicy, StreamCursor).

/** PROTOCOL.md, disconnect codes: 4500–4999 "do not reconnect without a change" (Swift: `forbidsReconnecting`). */
export function forbidsReconnecting(code) {
  return code >= 4500 && code <= 4999;
}

/** PROTOCOL.md, error codes: 200–299 are temporary, the same request may succeed later (Swift: `isTemporary`). */
export function isTemporary(code) {
  return code >= 200 && code <= 299;
}

/**
 * The wait before reconnect attempt `attempt` (1-based, as every backoff of Switchboard counts) when the
 * random draw is `unit`: full jitter over `min(cap, base · 2^(attempt−1))` ms, in whole milliseconds.
 */
export function backoffDelay(attempt, { base, cap }, unit) {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.floor(clampUnit(unit) * ceiling);
}

export function clampUnit(unit) {
  return Math.min(Math.max(Number(unit) || 0, 0), 1);
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
