import { describe, expect, it } from 'vitest';
import { flattenAnswer, flattenPrompt, OPENAI_TAGS, SHAREGPT_TAGS } from './messages';
import { cleanPrompt, countImageMarkers, stripAnswerEnd, stripChatTemplate } from './text';

describe('cleanPrompt: chat templates and image markers', () => {
  const cases: Array<[string, string, string | null, number]> = [
    ['<image>\nWhat is this?', 'What is this?', null, 1],
    ['What is this?', 'What is this?', null, 0],
    [
      "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: <image>\nDescribe it. ASSISTANT:",
      'Describe it.',
      'vicuna',
      1,
    ],
    ['<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n<image>\nHow many?<|im_end|>\n<|im_start|>assistant\n', 'How many?', 'chatml', 1],
    ['<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<|image|>Colour?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n', 'Colour?', 'llama-3', 1],
    ['<s>[INST] <image>\nWhere? [/INST]', 'Where?', 'llama-2', 1],
    ['<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Name it.', 'Name it.', null, 1],
    ['### Human: <image>\nWhy? ### Assistant:', 'Why?', 'human-assistant', 1],
  ];
  for (const [raw, text, template, markers] of cases) {
    it(JSON.stringify(raw.slice(0, 40)), () => {
      expect(cleanPrompt(raw)).toEqual({ text, template, markers });
    });
  }

  it('leaves ordinary text that merely mentions USER: alone', () => {
    expect(stripChatTemplate('The USER: field is required')).toEqual({ text: 'The USER: field is required', template: null });
    expect(countImageMarkers('an <img> tag and <image> here')).toBe(1);
  });

  it('drops end-of-turn tokens from answers', () => {
    expect(stripAnswerEnd('Yes.</s>')).toEqual({ text: 'Yes.', stripped: true });
    expect(stripAnswerEnd('Yes.<|im_end|>\n')).toEqual({ text: 'Yes.', stripped: true });
    expect(stripAnswerEnd('Yes.')).toEqual({ text: 'Yes.', stripped: false });
  });
});

describe('message lists', () => {
  it('joins user turns, counts image parts, skips the system message', () => {
    const r = flattenPrompt(
      [{ role: 'system', content: 'sys' }, { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Q?' }] }],
      OPENAI_TAGS,
    );
    expect(r).toEqual({ ok: true, text: 'Q?', imageParts: 1, system: true });
    expect(flattenAnswer({ from: 'gpt', value: 'A' }, SHAREGPT_TAGS)).toEqual({ ok: true, text: 'A', imageParts: 0, system: false });
  });

  it('says what is wrong with a bad list', () => {
    expect(flattenPrompt([], OPENAI_TAGS)).toEqual({ ok: false, error: 'is an empty message list' });
    expect(flattenPrompt([{ role: 'robot', content: 'x' }], OPENAI_TAGS)).toMatchObject({ ok: false, error: expect.stringContaining('role "robot"') });
    expect(flattenPrompt('text', OPENAI_TAGS)).toMatchObject({ ok: false, error: 'is a string, expected a list of messages' });
    expect(flattenAnswer([{ role: 'user', content: 'x' }], OPENAI_TAGS)).toMatchObject({ ok: false, error: expect.stringContaining('expected "assistant"') });
  });
});
