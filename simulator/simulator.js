// The simulator page: conversations, the Home tab and modals as Lifeline left them in the local workspace, kept
// current by long polling /local-slack/state. Whatever a person does here is sent to /local-slack/act, which
// turns it into the request Slack would send and passes it to Lifeline, signed, through /slack/events.

import { collectValues, renderBlocks } from './blocks.js';
import { escapeHtml, mrkdwnToHtml } from './mrkdwn.js';

const BASE = '/local-slack';
const TEAM_CHANNEL = 'CLOCALTEAM';
const $ = (id) => document.getElementById(id);

let state;
let me = localStorage.getItem('lifeline-sim-person') ?? '';
let open = localStorage.getItem('lifeline-sim-open') ?? TEAM_CHANNEL;
let shownModal = '';

function say(text) {
  $('status').hidden = !text;
  $('status').textContent = text ?? '';
}

async function act(request) {
  say('');
  try {
    const response = await fetch(`${BASE}/act`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request, user: me }) });
    if (!response.ok) say((await response.json().catch(() => ({}))).error ?? `The simulator answered HTTP ${response.status}.`);
  } catch (error) {
    say(`Lifeline is not answering (${error.message}).`);
  }
}

function names() {
  return new Map(state.people.map((person) => [person.id, person.name]));
}

function ctxFor(where, extra = {}) {
  return {
    names: names(),
    people: state.people,
    act: (blockId, actionId, choice) => act({ type: 'action', where: typeof where === 'function' ? where() : where, blockId, actionId, choice, ...(extra.values ? { values: extra.values() } : {}) }),
    ...extra,
  };
}

function conversationList() {
  const channels = state.conversations.filter((conversation) => conversation.kind === 'channel');
  if (!channels.some((conversation) => conversation.id === TEAM_CHANNEL)) channels.unshift({ id: TEAM_CHANNEL, name: 'customer-success', kind: 'channel', messages: [] });
  return channels;
}

function renderSidebar() {
  const select = $('person');
  if (select.options.length !== state.people.length) {
    select.replaceChildren(...state.people.map((person) => new Option(`${person.name} (${person.role})`, person.id)));
  }
  if (!state.people.some((person) => person.id === me)) me = state.people.find((person) => person.role === 'csm')?.id ?? state.people[0]?.id ?? '';
  select.value = me;
  const nav = $('conversations');
  const entry = (id, label) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = label;
    button.setAttribute('aria-current', String(open === id));
    button.addEventListener('click', () => goTo(id));
    return button;
  };
  const heading = (text) => Object.assign(document.createElement('h2'), { textContent: text });
  nav.replaceChildren(
    heading('Apps'),
    entry('home', 'Lifeline · Home'),
    entry(`D${me}`, 'Lifeline · Messages'),
    heading('Channels'),
    ...conversationList().map((conversation) => entry(conversation.id, `# ${conversation.name}`)),
  );
}

function goTo(id) {
  open = id;
  localStorage.setItem('lifeline-sim-open', id);
  // Slack tells the app each time someone opens its Home tab.
  if (id === 'home') act({ type: 'home' });
  render();
}

function messageNode(message, people) {
  const node = document.createElement('article');
  node.className = `message${message.ephemeralTo ? ' ephemeral' : ''}`;
  node.dataset.ts = message.ts;
  const time = new Date(Number(message.ts) * 1000).toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
  node.innerHTML = `<div class="meta"><b>Lifeline</b> <span class="badge">APP</span> ${escapeHtml(time)}${message.editedAt ? ' <span class="badge">(edited)</span>' : ''}${message.ephemeralTo ? ' <span class="badge">Only visible to you</span>' : ''}</div>`;
  const ctx = ctxFor({ channel: message.channel, ts: message.ts });
  if (message.blocks.length > 0) node.append(renderBlocks(message.blocks, ctx));
  else node.insertAdjacentHTML('beforeend', `<div class="block">${mrkdwnToHtml(message.text, people)}</div>`);
  return node;
}

function renderConversation() {
  const conversation = state.conversations.find((candidate) => candidate.id === open);
  $('title').textContent = open === `D${me}` ? 'Lifeline' : `# ${conversation?.name ?? 'customer-success'}`;
  const people = names();
  const visible = (conversation?.messages ?? []).filter((message) => !message.ephemeralTo || message.ephemeralTo === me);
  const replies = new Map();
  for (const message of visible) if (message.threadTs && message.threadTs !== message.ts) replies.set(message.threadTs, [...(replies.get(message.threadTs) ?? []), message]);
  const nodes = visible
    .filter((message) => !message.threadTs || message.threadTs === message.ts)
    .map((message) => {
      const node = messageNode(message, people);
      const thread = replies.get(message.ts);
      if (thread) {
        const box = document.createElement('div');
        box.className = 'thread';
        box.append(...thread.map((reply) => messageNode(reply, people)));
        node.append(box);
      }
      return node;
    });
  if (nodes.length === 0) nodes.push(Object.assign(document.createElement('p'), { className: 'empty', textContent: 'Nothing here yet. Type a command below, e.g. /lifeline account Acme.' }));
  const box = $('messages');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
  box.replaceChildren(...nodes);
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function renderHome() {
  $('title').textContent = 'Lifeline · Home';
  const view = state.homes[me];
  const box = $('messages');
  if (!view) {
    box.replaceChildren(Object.assign(document.createElement('p'), { className: 'empty', textContent: 'Opening your Home tab…' }));
    return;
  }
  const home = document.createElement('div');
  home.className = 'home';
  home.append(renderBlocks(view.blocks, ctxFor({ viewId: view.id }, { values: () => collectValues(home) })));
  box.replaceChildren(home);
}

function renderModal() {
  const stack = state.modals[me] ?? [];
  const view = stack[stack.length - 1];
  const key = view ? `${view.id}:${view.hash}:${JSON.stringify(view.errors ?? {})}` : '';
  if (key === shownModal) return;
  shownModal = key;
  const modal = $('modal');
  if (!view) {
    modal.hidden = true;
    modal.replaceChildren();
    return;
  }
  const dialog = document.createElement('div');
  dialog.className = 'dialog';
  dialog.setAttribute('role', 'dialog');
  dialog.setAttribute('aria-label', view.title?.text ?? 'Lifeline');
  const header = document.createElement('header');
  header.textContent = view.title?.text ?? '';
  const body = document.createElement('div');
  body.className = 'body';
  if (view.errors?.['']) body.append(Object.assign(document.createElement('p'), { className: 'error', textContent: view.errors[''] }));
  body.append(renderBlocks(view.blocks, ctxFor({ viewId: view.id }, { values: () => collectValues(body), errors: view.errors })));
  const footer = document.createElement('footer');
  const close = Object.assign(document.createElement('button'), { type: 'button', className: 'btn', textContent: view.close?.text ?? 'Close' });
  close.addEventListener('click', () => act({ type: 'close', viewId: view.id }));
  footer.append(close);
  if (view.submit) {
    const submit = Object.assign(document.createElement('button'), { type: 'button', className: 'btn primary', textContent: view.submit.text });
    submit.addEventListener('click', () => act({ type: 'submit', viewId: view.id, values: collectValues(body) }));
    footer.append(submit);
  }
  dialog.append(header, body, footer);
  modal.replaceChildren(dialog);
  modal.hidden = false;
}

function render() {
  if (!state) return;
  renderSidebar();
  if (open === 'home') renderHome();
  else renderConversation();
  renderModal();
  $('composer').hidden = open === 'home';
  if (!state.interactive) say('This page only shows messages: the simulator acts only while Lifeline listens on 127.0.0.1 and is opened there.');
}

async function follow() {
  let after = -1;
  for (;;) {
    try {
      const response = await fetch(`${BASE}/state?after=${after}`, { cache: 'no-store' });
      const first = state === undefined;
      state = await response.json();
      after = state.version;
      render();
      if (first && open === 'home') act({ type: 'home' });
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

$('person').addEventListener('change', (event) => {
  me = event.target.value;
  localStorage.setItem('lifeline-sim-person', me);
  shownModal = '';
  if (open.startsWith('D')) open = `D${me}`;
  goTo(open);
});
$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('command');
  const text = input.value.trim();
  if (text === '' || text === '/lifeline') return;
  act({ type: 'command', channel: open === 'home' ? `D${me}` : open, text });
  input.value = '/lifeline ';
});
follow();
