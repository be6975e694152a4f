import type { Ack } from '../protocol/agent.js';
import type { CommitRequest, ReleaseRequest, ReserveOutcome, ReserveRequest } from '../client/agent-client.js';
import type { GuardClient } from '../client/guard.js';
import type { CallSpec, ProviderEvent, UsageSource, WrapperOptions } from './options.js';

/** Filled in by the call before `guard()` commits, so the commit event can say where usage came from. */
export interface CallContext {
  usageSource: UsageSource;
}

/**
 * The client as `guard()` sees it, reporting each reserve, commit and release to `onEvent`. A
 * commit acknowledged as a duplicate (the response id was already billed) also releases its
 * reservation: the usage is counted once, so the new hold would otherwise sit until its lease expires.
 */
export function meteredClient(client: GuardClient, spec: CallSpec, opts: WrapperOptions, ctx: CallContext): GuardClient {
  const emit = (event: ProviderEvent): void => {
    try {
      opts.onEvent?.(event);
    } catch {
      // A failing logger must not break budget enforcement.
    }
  };
  const { provider, model } = spec;
  // Fail-open grants never reached the daemon: nothing there to release.
  const local = new Set<string>();
  return {
    async reserve(req: ReserveRequest): Promise<ReserveOutcome> {
      const outcome = await client.reserve(req);
      if (outcome.kind === 'deny') emit({ type: 'denied', provider, model, deny: outcome.deny });
      else {
        if (outcome.grant.local) local.add(outcome.grant.reservation);
        const input_tokens = req.input_tokens ?? 0;
        emit({ type: 'reserved', provider, model, input_tokens, requested_max_tokens: req.max_output_tokens ?? 0, grant: outcome.grant });
      }
      return outcome;
    },
    commit(req: CommitRequest): Promise<Ack> {
      return client.commit(req).then((ack) => {
        const { reservation, key = req.reservation, model: committed = model, ...counts } = req;
        emit({
          type: 'committed',
          provider,
          reservation,
          key,
          model: committed,
          usage: {
            input_tokens: counts.input_tokens,
            output_tokens: counts.output_tokens,
            ...(counts.cache_read_tokens === undefined ? {} : { cache_read_tokens: counts.cache_read_tokens }),
            ...(counts.cache_write_tokens === undefined ? {} : { cache_write_tokens: counts.cache_write_tokens }),
            ...(counts.cache_write_1h_tokens === undefined ? {} : { cache_write_1h_tokens: counts.cache_write_1h_tokens }),
          },
          usage_source: ctx.usageSource,
          ack,
        });
        if (ack.duplicate === true && !local.has(reservation)) client.release({ reservation }).catch(() => undefined);
        return ack;
      });
    },
    release(req: ReleaseRequest): Promise<Ack> {
      emit({ type: 'released', provider, reservation: req.reservation });
      return client.release(req);
    },
    get killSignal() {
      return client.killSignal;
    },
    emit: (event) => client.emit(event),
    get state() {
      return client.state;
    },
  };
}
