/** Scope ids are `global` or `kind:id`; an agent's chain runs global → user → session → task → agent (→ child). */
export type ScopeKind = 'global' | 'user' | 'session' | 'task' | 'agent';
export type ScopeId = string & { readonly __brand: 'ScopeId' };

export const GLOBAL = 'global' as ScopeId;

export function scopeId(kind: Exclude<ScopeKind, 'global'>, id: string): ScopeId {
  return `${kind}:${id}` as ScopeId;
}

export function scopeKind(scope: ScopeId): ScopeKind {
  if (scope === GLOBAL) return 'global';
  return scope.slice(0, scope.indexOf(':')) as ScopeKind;
}

export function isScopeId(s: string): s is ScopeId {
  return /^(global|(user|session|task|agent):[A-Za-z0-9._@/+=-]{1,128})$/.test(s);
}
