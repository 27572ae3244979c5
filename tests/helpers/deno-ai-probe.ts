// Run by tests/integration/ai-deno.test.ts under Deno, with the permissions a hosted edge function has
// (network and environment, no --allow-sys): one streamed answer through shared/ai, and one LangGraph
// run with a tool, against the fake provider the test points OPENAI_BASE_URL at.
import { HumanMessage } from '@langchain/core/messages'
import { tool } from '@langchain/core/tools'
import { MessagesAnnotation, START, StateGraph } from '@langchain/langgraph'
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt'
import { z } from 'zod'
import { streamChat } from '../../shared/ai/chat.ts'
import { createChatModel } from '../../shared/ai/providers.ts'

const deltas: string[] = []
for await (const chunk of streamChat({ messages: [new HumanMessage('Say hello')] })) {
  if (chunk.text) deltas.push(chunk.text)
}

const calendar = tool(async ({ day }: { day: string }) => `${day}: dentist at 10:00`, {
  name: 'calendar',
  description: "The user's calendar for a day",
  schema: z.object({ day: z.string() }),
})
const model = createChatModel('openai:probe', { maxRetries: 0 })
const withTools = model.bindTools?.([calendar]) ?? model
const graph = new StateGraph(MessagesAnnotation)
  .addNode('model', async (state) => ({ messages: [await withTools.invoke(state.messages)] }))
  .addNode('tools', new ToolNode([calendar]))
  .addEdge(START, 'model')
  .addConditionalEdges('model', toolsCondition)
  .addEdge('tools', 'model')
  .compile()
const state = await graph.invoke({ messages: [new HumanMessage('What is on Monday?')] })

console.log(JSON.stringify({ deltas, graph: state.messages.map((message) => [message.type, message.text]) }))
