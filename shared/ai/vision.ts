import { HumanMessage, SystemMessage } from '@langchain/core/messages'
import { type AiConfig, loadAiConfig } from '../config.ts'
import type { VisionTranscriber } from '../knowledge/transcribe.ts'
import { invokeChat } from './chat.ts'
import { defaultModelName, parseModelName } from './models.ts'

// Transcription by a vision-capable model (OpenAI, Anthropic): the ai function registers this with
// shared/knowledge/transcribe.ts (`registerVisionTranscriber(visionTranscriber())`), which falls back
// to offline OCR when it answers undefined (no such provider configured).

const VISION_PROVIDERS = new Set(['openai', 'anthropic'])

const PROMPT =
  'Transcribe all the text in this image exactly as written, handwriting included, line by line. ' +
  'Keep list markers and checkboxes ("- ", "[ ]", "[x]"). Answer with the text only, nothing else.'

/** The model that transcribes: the default model if its provider can see images, else none. */
export function visionModelName(config: AiConfig = loadAiConfig()): string | undefined {
  const name = defaultModelName(config)
  const ref = name ? parseModelName(name) : undefined
  return ref && VISION_PROVIDERS.has(ref.provider) ? ref.name : undefined
}

const base64 = (bytes: Uint8Array) => {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

export function visionTranscriber(): VisionTranscriber {
  return async ({ bytes, mimeType }) => {
    const model = visionModelName()
    if (!model) return undefined
    const { message, model: answered } = await invokeChat({
      model,
      maxRetries: 1,
      messages: [
        new SystemMessage(PROMPT),
        new HumanMessage({
          content: [
            { type: 'text', text: 'Transcribe this image.' },
            { type: 'image_url', image_url: { url: `data:${mimeType};base64,${base64(bytes)}` } },
          ],
        }),
      ],
    })
    return { text: message.text.trim(), engine: answered }
  }
}
