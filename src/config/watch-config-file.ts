/**
 * @module
 * kube-proxy exits when its --config file changes so that the supervisor restarts it with the new
 * content (spec §2.3.5). This watches the file (following a ConfigMap's symlink to its target, whose
 * removal on update shows up as a rename) and reports the first write or rename once.
 */
import { watch } from 'node:fs';

/**
 * Calls `onChange` once, on the first write or rename of `path`; `onError` gets watcher errors
 * (log them; they are not fatal). Returns a function that stops watching.
 */
export function watchConfigFile(path: string, onChange: (event: 'change' | 'rename') => void, onError: (err: Error) => void): () => void {
  let fired = false;
  const watcher = watch(path, { persistent: false }, (event) => {
    if (fired) return;
    fired = true;
    watcher.close();
    onChange(event === 'rename' ? 'rename' : 'change');
  });
  watcher.on('error', onError);
  return () => watcher.close();
}
