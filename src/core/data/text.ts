/**
 * Plain text out of prompts that already hold a chat template and an image marker (the mDPO
 * authors' JSON holds Bunny/LLaVA-style prompts). The trainer applies the model's own template,
 * so the stored prompt is the user's question only; what was removed is reported as a note.
 */

/** Image placeholders of the common VLM families. Each match counts as one image. */
const IMAGE_MARKER = /<image>|<\|image\|>|<image_placeholder>|<\|vision_start\|>(?:<\|image_pad\|>)*<\|vision_end\|>|<img>[^<]*<\/img>/g;

export function countImageMarkers(text: string): number {
  return (text.match(IMAGE_MARKER) ?? []).length;
}

/** Removes every image marker and the line break that usually follows it. */
export function stripImageMarkers(text: string): { text: string; count: number } {
  const count = countImageMarkers(text);
  if (count === 0) return { text, count };
  const stripped = text.replace(new RegExp(`(?:${IMAGE_MARKER.source})[ \\t]*\\n?`, 'g'), '');
  return { text: stripped.trim(), count };
}

const LLAVA_SYSTEM =
  /^\s*A chat between a curious (?:user|human) and an artificial intelligence assistant\.[^\n]*?(?:questions|answers)\.\s*/i;

interface Template {
  name: string;
  /** Returns the user text when the template matches the whole prompt, else null. */
  extract(text: string): string | null;
}

function userTurns(text: string, turn: RegExp): string[] {
  return [...text.matchAll(turn)].map((m) => m[1].trim());
}

const TEMPLATES: Template[] = [
  {
    name: 'chatml',
    extract(text) {
      if (!/<\|im_start\|>/.test(text)) return null;
      const users = userTurns(text, /<\|im_start\|>user\s*\n?([\s\S]*?)(?:<\|im_end\|>|$)/g);
      return users.length > 0 ? users.join('\n') : null;
    },
  },
  {
    name: 'llama-3',
    extract(text) {
      if (!/<\|start_header_id\|>/.test(text)) return null;
      const users = userTurns(text, /<\|start_header_id\|>user<\|end_header_id\|>\s*([\s\S]*?)(?:<\|eot_id\|>|$)/g);
      return users.length > 0 ? users.join('\n') : null;
    },
  },
  {
    name: 'llama-2',
    extract(text) {
      if (!/\[INST\]/.test(text)) return null;
      const users = userTurns(text, /\[INST\]([\s\S]*?)(?:\[\/INST\]|$)/g).map((u) => u.replace(/<<SYS>>[\s\S]*?<<\/SYS>>/, '').trim());
      return users.length > 0 ? users.join('\n') : null;
    },
  },
  {
    // LLaVA v1 / Bunny / Vicuna: "[system] USER: <image>\n{q} ASSISTANT:"
    name: 'vicuna',
    extract(text) {
      const body = text.replace(LLAVA_SYSTEM, '');
      const m = /^\s*USER:\s*([\s\S]*?)\s*ASSISTANT:\s*$/.exec(body);
      return m ? m[1] : null;
    },
  },
  {
    name: 'human-assistant',
    extract(text) {
      const m = /^\s*(?:###\s*)?Human:\s*([\s\S]*?)\s*(?:###\s*)?Assistant:\s*$/.exec(text.replace(LLAVA_SYSTEM, ''));
      return m ? m[1] : null;
    },
  },
];

/** Strips a chat template around a prompt; `template` names the one found, or null. */
export function stripChatTemplate(text: string): { text: string; template: string | null } {
  const withoutBos = text.replace(/^\s*(?:<s>|<\|begin_of_text\|>|<\|endoftext\|>)\s*/, '');
  for (const t of TEMPLATES) {
    const user = t.extract(withoutBos);
    if (user !== null) return { text: user.trim(), template: t.name };
  }
  if (LLAVA_SYSTEM.test(withoutBos)) return { text: withoutBos.replace(LLAVA_SYSTEM, '').trim(), template: 'vicuna-system' };
  return { text, template: withoutBos === text ? null : 'bos' };
}

/** End-of-turn tokens sometimes left at the end of answers. */
const ANSWER_END = /\s*(?:<\/s>|<\|im_end\|>|<\|eot_id\|>|<\|endoftext\|>|<\|end\|>)\s*$/;

export function stripAnswerEnd(text: string): { text: string; stripped: boolean } {
  if (!ANSWER_END.test(text)) return { text, stripped: false };
  return { text: text.replace(ANSWER_END, ''), stripped: true };
}

/** The normalised prompt and what was removed from it. */
export interface CleanPrompt {
  text: string;
  template: string | null;
  markers: number;
}

export function cleanPrompt(raw: string): CleanPrompt {
  const t = stripChatTemplate(raw);
  const m = stripImageMarkers(t.text);
  return { text: m.text.trim(), template: t.template, markers: m.count };
}
