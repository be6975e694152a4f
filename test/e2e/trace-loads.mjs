// `node --import ./test/e2e/trace-loads.mjs …`: appends the path of every module file the process
// loads — ES modules through a loader hook, CommonJS through Module._load — to the file named by
// SPENDGUARD_TRACE_LOADS, one a line. Plain JS: it runs before anything could compile TypeScript.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

const out = process.env.SPENDGUARD_TRACE_LOADS;
if (out) {
  register(
    `data:text/javascript,${encodeURIComponent(`
      import { appendFileSync } from 'node:fs';
      import { fileURLToPath } from 'node:url';
      export async function load(url, context, next) {
        if (url.startsWith('file:')) appendFileSync(${JSON.stringify(out)}, fileURLToPath(url) + '\\n');
        return next(url, context);
      }`)}`,
  );
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    if (!request.startsWith('node:') && !Module.isBuiltin(request)) {
      try {
        appendFileSync(out, `${Module._resolveFilename(request, parent, isMain)}\n`);
      } catch {
        // unresolvable: the real load below reports it
      }
    }
    return load.apply(this, arguments);
  };
}
