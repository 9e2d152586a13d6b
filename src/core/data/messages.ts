/**
 * Message lists (TRL conversational, OpenAI style, LLaMA-Factory sharegpt) to plain text.
 * A message is {role, content} or, in sharegpt, {from, value}; content may be a string or a
 * list of parts ({type: 'text', text} / {type: 'image'}), where an image part marks the image.
 */

export interface MessageTags {
  roleTag: string;
  contentTag: string;
  userTag: string;
  assistantTag: string;
  systemTag: string;
}

/** TRL / OpenAI messages. */
export const OPENAI_TAGS: MessageTags = { roleTag: 'role', contentTag: 'content', userTag: 'user', assistantTag: 'assistant', systemTag: 'system' };
/** LLaMA-Factory's sharegpt defaults (data/README.md of LLaMA-Factory). */
export const SHAREGPT_TAGS: MessageTags = { roleTag: 'from', contentTag: 'value', userTag: 'human', assistantTag: 'gpt', systemTag: 'system' };

export type Flattened = { ok: true; text: string; imageParts: number; system: boolean } | { ok: false; error: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text and image-part count of one message's content. */
function contentText(content: unknown, where: string): { text: string; images: number } | string {
  if (typeof content === 'string') return { text: content, images: 0 };
  if (!Array.isArray(content)) return `${where} content is ${describe(content)}, expected a string or a list of parts`;
  const texts: string[] = [];
  let images = 0;
  for (let k = 0; k < content.length; k++) {
    const part = content[k];
    if (typeof part === 'string') {
      texts.push(part);
      continue;
    }
    if (!isObject(part)) return `${where} part ${k} is ${describe(part)}, expected {type, ...}`;
    if (part.type === 'image' || part.type === 'image_url') images++;
    else if (part.type === 'text') {
      if (typeof part.text !== 'string') return `${where} part ${k} has type text but its text is ${describe(part.text)}`;
      texts.push(part.text);
    } else return `${where} part ${k} has unknown type ${JSON.stringify(part.type)}`;
  }
  return { text: texts.join(' '), images };
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v} (${String(v)})`;
}

/**
 * The user side of a prompt message list: every user message's text, joined by newlines.
 * It must end with a user message (the answer is what comes next).
 */
export function flattenPrompt(messages: unknown, tags: MessageTags): Flattened {
  if (!Array.isArray(messages)) return { ok: false, error: `is ${describe(messages)}, expected a list of messages` };
  if (messages.length === 0) return { ok: false, error: 'is an empty message list' };
  const texts: string[] = [];
  let imageParts = 0;
  let system = false;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m)) return { ok: false, error: `message ${i} is ${describe(m)}, expected {${tags.roleTag}, ${tags.contentTag}}` };
    const role = m[tags.roleTag];
    if (typeof role !== 'string') return { ok: false, error: `message ${i} has no string "${tags.roleTag}"` };
    if (!(tags.contentTag in m)) return { ok: false, error: `message ${i} has no "${tags.contentTag}"` };
    const c = contentText(m[tags.contentTag], `message ${i}`);
    if (typeof c === 'string') return { ok: false, error: c };
    imageParts += c.images;
    if (role === tags.systemTag) system = true;
    else if (role === tags.userTag) texts.push(c.text);
    else if (role !== tags.assistantTag) return { ok: false, error: `message ${i} has role ${JSON.stringify(role)}, expected ${tags.userTag}, ${tags.assistantTag} or ${tags.systemTag}` };
    if (i === messages.length - 1 && role !== tags.userTag) {
      return { ok: false, error: `ends with a ${JSON.stringify(role)} message, expected the last one from ${JSON.stringify(tags.userTag)}` };
    }
  }
  return { ok: true, text: texts.join('\n'), imageParts, system };
}

/** An answer: a string, one assistant message, or a list of assistant messages. */
export function flattenAnswer(value: unknown, tags: MessageTags): Flattened {
  if (typeof value === 'string') return { ok: true, text: value, imageParts: 0, system: false };
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) return { ok: false, error: 'is an empty message list' };
  const texts: string[] = [];
  let imageParts = 0;
  for (let i = 0; i < list.length; i++) {
    const m = list[i];
    if (!isObject(m)) return { ok: false, error: `${Array.isArray(value) ? `message ${i} ` : ''}is ${describe(m)}, expected a string or {${tags.roleTag}, ${tags.contentTag}}` };
    const role = m[tags.roleTag];
    if (role !== tags.assistantTag) return { ok: false, error: `message ${i} has role ${JSON.stringify(role)}, expected ${JSON.stringify(tags.assistantTag)}` };
    const c = contentText(m[tags.contentTag], `message ${i}`);
    if (typeof c === 'string') return { ok: false, error: c };
    texts.push(c.text);
    imageParts += c.images;
  }
  return { ok: true, text: texts.join('\n'), imageParts, system: false };
}
