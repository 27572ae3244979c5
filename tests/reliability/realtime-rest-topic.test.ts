import { describe, expect, it } from 'vitest'
import { stack } from '../helpers/stack.ts'

// Realtime's REST broadcast takes the topic and event from the path. One that is not valid
// percent-encoded UTF-8 used to throw while decoding and come back as a 500.

const send = (topic: string, event = 'ping') =>
  fetch(`${stack.apiUrl}/realtime/v1/api/broadcast/${topic}/events/${event}`, {
    method: 'POST',
    headers: {
      apikey: stack.anonKey,
      authorization: `Bearer ${stack.anonKey}`,
      'content-type': 'application/json',
    },
    body: '{}',
  })

describe('the REST broadcast and a malformed percent-encoded path', () => {
  it('answers 400 for a topic or event that does not decode', async () => {
    for (const [topic, event] of [
      ['%E0%A4%A', 'ping'],
      ['%FF', 'ping'],
      ['room', '%C3%28'],
      ['room%', 'ping'],
    ]) {
      const response = await send(topic, event)
      expect(response.status, `${topic}/${event}`).toBe(400)
      expect(await response.json()).toEqual({
        message: 'The topic or event in the path is not valid percent-encoded UTF-8',
      })
    }
  })

  it('still accepts a percent-encoded topic that decodes', async () => {
    expect((await send(encodeURIComponent('room:ü 1'))).status).toBe(202)
  })
})
