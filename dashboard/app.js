// Sign-in and the views. The token is pasted once, kept in session storage and checked by asking the API who it
// is (`viewer`); each view then reads its data in one GraphQL request. Views are chosen by the address's hash, so
// an account's page can be linked to (the token never is: it is not in any URL).
import { ApiError, forgetToken, graphql, storeToken, storedToken } from './api.js';
import { h } from './dom.js';
import { accountView } from './views/account.js';
import { bookView } from './views/book.js';
import { lifecycleView } from './views/lifecycle.js';
import { renewalsView } from './views/renewals.js';
import { retentionView } from './views/retention.js';
import { teamView } from './views/team.js';

const views = { retention: retentionView, book: bookView, lifecycle: lifecycleView, renewals: renewalsView, team: teamView };
const roleWords = { admin: 'Admin', manager: 'Manager', csm: 'CSM', ae: 'Account executive', viewer: 'Viewer', integration: 'Integration' };

const signIn = document.getElementById('sign-in');
const signInForm = document.getElementById('sign-in-form');
const signInError = document.getElementById('sign-in-error');
const tokenInput = document.getElementById('token');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const view = document.getElementById('view');

let viewer = null;
let rendering = 0;

function showSignIn(message = '') {
  viewer = null;
  signIn.hidden = false;
  nav.hidden = true;
  who.hidden = true;
  view.replaceChildren();
  signInError.textContent = message;
  document.documentElement.dataset.state = 'signed-out';
  tokenInput.focus();
}

function explainSignInFailure(error) {
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
    return `That token was not accepted: ${error.message} Check that you pasted the whole token, and that it has not been revoked.`;
  }
  return error instanceof Error ? error.message : String(error);
}

async function whoAmI() {
  const data = await graphql('query Viewer { viewer { label role user { id name } } }');
  return data.viewer;
}

function showViewer() {
  signIn.hidden = true;
  nav.hidden = false;
  who.hidden = false;
  document.getElementById('who-name').textContent = viewer.user?.name ?? viewer.label;
  const role = document.getElementById('who-role');
  role.textContent = roleWords[viewer.role] ?? viewer.role;
  role.dataset.role = viewer.role;
}

function defaultView() {
  return ['admin', 'manager'].includes(viewer.role) ? 'retention' : 'book';
}

/** Draws the view the hash names; a later navigation wins over a slower earlier one. */
async function route() {
  if (!viewer) return;
  const [, name = '', id] = location.hash.match(/^#\/([a-z]+)(?:\/(.+))?$/) ?? [];
  const chosen = name === 'account' && id ? 'account' : views[name] ? name : defaultView();
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.view === chosen) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const attempt = ++rendering;
  const started = performance.now();
  document.documentElement.dataset.state = 'loading';
  const root = h('div', { class: 'view', 'data-view': chosen });
  view.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  try {
    if (chosen === 'account') await accountView(root, { viewer, id: decodeURIComponent(id) });
    else await views[chosen](root, { viewer });
    if (attempt !== rendering) return;
    view.replaceChildren(root);
  } catch (error) {
    if (attempt !== rendering) return;
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
      forgetToken();
      showSignIn(explainSignInFailure(error));
      return;
    }
    view.replaceChildren(h('div', { class: 'panel error', role: 'alert' }, h('h2', {}, 'This view could not be loaded'), h('p', {}, error.message)));
  }
  document.documentElement.dataset.state = 'ready';
  document.documentElement.dataset.view = chosen;
  document.documentElement.dataset.renderMs = String(Math.round(performance.now() - started));
}

signInForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (!token) return;
  storeToken(token);
  signInError.textContent = '';
  try {
    viewer = await whoAmI();
  } catch (error) {
    forgetToken();
    showSignIn(explainSignInFailure(error));
    return;
  }
  tokenInput.value = '';
  showViewer();
  await route();
});

document.getElementById('sign-out').addEventListener('click', () => {
  forgetToken();
  history.replaceState(null, '', location.pathname);
  showSignIn();
});

window.addEventListener('hashchange', () => void route());

async function start() {
  if (!storedToken()) return showSignIn();
  try {
    viewer = await whoAmI();
  } catch (error) {
    forgetToken();
    return showSignIn(explainSignInFailure(error));
  }
  showViewer();
  await route();
}

void start();
