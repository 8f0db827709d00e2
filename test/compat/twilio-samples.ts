// biome-ignore-all lint/style/useConst: the samples declare with `let`, as the apps they stand for do
/**
 * Compatibility samples: code written the way apps built on Twilio Conversations' JavaScript SDK
 * write it, in TypeScript, each body as such an app has it. Only two things differ from such an
 * app: the imports name colloquy, and the `client` (and the `conversation` the samples work on) are
 * handed in, because a colloquy client is created with `Client.create` rather than `new Client(token)`.
 *
 * This file is type-checked with the project (`tsc --noEmit`) and by twilio-samples.test.ts, which
 * also runs every sample against a real relay.
 */
import { type Client, type Conversation, type Message, type Paginator, Participant } from '../../src/index.ts'

/** Creates a conversation; every parameter is optional. */
export const createConversationSample = async (client: Client): Promise<void> => {
  /* Creating Conversation */

  // create new conversation, all the parameters are optional
  await client.createConversation({
    attributes: {},
    friendlyName: 'new conversation',
    uniqueName: 'new conversation',
  })
}

/** Joins, then leaves. */
export const joinAndLeaveSample = async (conversation: Conversation): Promise<void> => {
  //join the Conversation
  await conversation.join()

  //leave the Conversation
  await conversation.leave()
}

/** Adds a chat participant and a non-chat one, joins, and listens for joins. */
export const addParticipantsSample = async (conversation: Conversation): Promise<() => void> => {
  /* Adding Participants (chat and non-chat) */

  // add chat participant to the conversation by its identity
  await conversation.add('identity')

  // add a non-chat participant to the conversation
  const proxyAddress: string = '+11222333'
  const address: string = '+12345678'
  await conversation.addNonChatParticipant(proxyAddress, address)

  // adds yourself as a conversations sdk user to this conversation
  // use after creating the conversation from the SDK
  await conversation.join()

  return conversation.on('participantJoined', (participant: Participant) => {
    // fired when a participant has joined the conversation
    void (participant instanceof Participant)
  })
}

/** Lists the participants. */
export const listParticipantsSample = async (conversation: Conversation): Promise<Participant[]> => {
  /* Get participants of the conversation */

  let participants: Participant[] = await conversation.getParticipants()
  return participants
}

/** Pages the latest messages. */
export const listMessagesSample = async (conversation: Conversation): Promise<Message[]> => {
  /* get the latest messages of the conversation. optional arguments:
    pageSize | 30,
    anchor | "end",
    direction | "backwards"
   */

  // get the messages paginator with the latest 30 messages
  let messagesPaginator: Paginator<Message> = await conversation.getMessages(30, 0, 'backwards')

  // get messages
  const messages: Message[] = messagesPaginator.items
  return messages
}

/** Lists the conversations I take part in. */
export const listConversationsSample = async (client: Client): Promise<Conversation[]> => {
  // get the conversations paginator
  let conversationsPaginator: Paginator<Conversation> = await client.getSubscribedConversations()

  // get conversations
  const conversations: Conversation[] = conversationsPaginator.items
  return conversations
}
