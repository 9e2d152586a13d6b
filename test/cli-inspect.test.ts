/**
 * mdpo evalsets / answers / inspect: import a probe set (and a broken one: exit 3 with the
 * record-level message), answer it with a real-family tiny checkpoint's run in a trainer
 * process, rerun with nothing changed (all reused), print scores, export judgments and the report.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/main/cli';
import { Store } from '../src/main/store';
import { tempDir } from './api-fixtures';
import { writeHfRuns, writeProbeSets } from './inspect-fixtures';

let tmp: ReturnType<typeof tempDir>;
let sets: { pope: string; objects: string };
let runIds: number[];

async function mdpo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...args, '--home', join(tmp.dir, 'home')], { out: (t) => (stdout += t), err: (t) => (stderr += t), isTTY: false });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  tmp = tempDir('mdpo-cli-inspect-');
  const store = Store.open(join(tmp.dir, 'home', 'studio.db'));
  ({ runIds } = await writeHfRuns(tmp.dir, store));
  store.close();
  sets = await writeProbeSets(tmp.dir);
}, 120_000);
afterAll(() => tmp.cleanup());

describe('mdpo evalsets / answers / inspect', () => {
  it('imports a probe set; a broken one exits 3 naming file, line, record and field', async () => {
    const ok = await mdpo(['evalsets', 'import', sets.pope, '--name', 'pope']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Imported evaluation set 1 "pope": 4 of 4 items valid (4 yes/no, 0 object-annotated, 0 plain), 0 excluded.');
    writeFileSync(join(tmp.dir, 'bad.jsonl'), `${JSON.stringify({ image: 'nope.png', text: 'Is there a dog?', label: 'perhaps' })}\n`);
    const bad = await mdpo(['evalsets', 'import', join(tmp.dir, 'bad.jsonl')]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toContain('error: bad.jsonl:1, record 0, field "label": must be "yes" or "no", but is "perhaps"');
    const list = await mdpo(['evalsets', 'list', '--json']);
    expect(JSON.parse(list.stdout).map((s: { name: string }) => s.name)).toEqual(['pope', 'bad.jsonl']);
  });

  it('answers with a run in a trainer process, then reuses every answer when nothing changed', async () => {
    const first = await mdpo(['answers', '1', '--models', `run:${runIds[0]}`, '--max-tokens', '4']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`job 1 run:${runIds[0]}: completed, 4/4 answered \\(0 reused\\)`));
    const again = await mdpo(['answers', '1', '--models', `run:${runIds[0]}`, '--max-tokens', '4', '--json']);
    expect(JSON.parse(again.stdout)[0]).toMatchObject({ status: 'completed', done: 4, reused: 4 });
    const usage = await mdpo(['answers', '1']);
    expect(usage.code).toBe(2);
  }, 180_000);

  it('prints scores and writes judgments and the report', async () => {
    const s = await mdpo(['inspect', 'scores', '1', '--a', `run:${runIds[0]}`, '--b', `base:${runIds[0]}`]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^A run:\d+: POPE acc \d+\.\d% .*\(4 q\)$/m);
    expect(s.stdout).toMatch(/^B base:\d+: no ground truth or no answers$/m);
    const j = await mdpo(['inspect', 'judgments', '1', '--a', `run:${runIds[0]}`, '--b', `base:${runIds[0]}`, '--out', join(tmp.dir, 'j.jsonl'), '--format', 'jsonl']);
    expect(j.stdout).toContain('wrote 0 judged items');
    const r = await mdpo(['inspect', 'report', '1', '--a', `run:${runIds[0]}`, '--b', `base:${runIds[0]}`, '--out', join(tmp.dir, 'r.html')]);
    expect(r.code).toBe(0);
    expect(existsSync(join(tmp.dir, 'r.html'))).toBe(true);
    expect(readFileSync(join(tmp.dir, 'r.html'), 'utf8')).toContain('<h2>Automatic scores</h2>');
  });
});
