import { flushSync, mount, unmount } from 'svelte';
import { afterEach, expect, it } from 'vitest';
import MarkedAnswer from './MarkedAnswer.svelte';

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = '';
});

function render(props: Record<string, unknown>) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  component = mount(MarkedAnswer, { target, props: props as never });
  flushSync();
  return target;
}

it('colours hallucinated objects and correct objects differently', () => {
  const target = render({
    answer: 'a red circle and a blue square.',
    marks: [
      { object: 'red circle', start: 2, end: 12, kind: 'correct' },
      { object: 'blue square', start: 19, end: 30, kind: 'hallucinated' },
    ],
  });
  const marks = [...target.querySelectorAll('mark')];
  expect(marks.map((m) => [m.textContent, m.className.split(' ').find((c) => c === 'correct' || c === 'hallucinated')])).toEqual([
    ['red circle', 'correct'],
    ['blue square', 'hallucinated'],
  ]);
  expect(target.querySelector('[data-testid="answer"]')?.textContent?.trim()).toBe('a red circle and a blue square.');
  // The two kinds carry different colours (component CSS is scoped; compare the class hooks).
  expect(marks[0]!.getAttribute('data-kind')).not.toBe(marks[1]!.getAttribute('data-kind'));
});

it('marks nothing as correct or hallucinated when the image has no annotations', () => {
  const target = render({ answer: 'a red circle.', marks: null, objects: [{ name: 'red circle', start: 2, end: 12 }] });
  const kinds = [...target.querySelectorAll('mark')].map((m) => m.getAttribute('data-kind'));
  expect(kinds).toEqual(['object']);
});
