// Slack's mrkdwn as HTML: bold, italic, strike, code, quotes, links <url|text>, mentions <@U…> as the person's
// name, channels, <!date^…> in the reader's own time zone, and the emoji Lifeline uses. Everything a message
// carries is escaped first; only the tags made here reach the page.

const emoji = {
  arrow_backward: '◀️', arrow_forward: '▶️', arrow_right: '➡️', calendar: '📅', chart_with_upwards_trend: '📈',
  handshake: '🤝', hourglass_flowing_sand: '⏳', inbox_tray: '📥', large_green_circle: '🟢', large_yellow_circle: '🟡',
  no_entry_sign: '🚫', raised_hand: '✋', red_circle: '🔴', rotating_light: '🚨', stopwatch: '⏱️', tada: '🎉',
  warning: '⚠️', white_check_mark: '✅', white_circle: '⚪', zzz: '💤', wave: '👋', eyes: '👀', memo: '📝',
};

export function escapeHtml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Slack escapes &, < and > in message text; undone before the text is escaped for HTML. */
function unescapeSlack(text) {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function withEmoji(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (whole, name) => emoji[name] ?? whole);
}

/** Plain text as Slack shows it: escaped, with emoji unless the object says `emoji: false`. */
export function plainToHtml(object) {
  if (!object) return '';
  const html = escapeHtml(object.text ?? '').replace(/\n/g, '<br>');
  return object.emoji === false ? html : withEmoji(html);
}

const day = 86_400_000;

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** A `<!date^…>` token in this browser's time zone, the way Slack writes each of its words. */
export function formatSlackDate(seconds, format) {
  const date = new Date(seconds * 1000);
  const offset = Math.round((startOfDay(date) - startOfDay(new Date())) / day);
  const relative = offset === 0 ? 'today' : offset === -1 ? 'yesterday' : offset === 1 ? 'tomorrow' : undefined;
  const en = (options) => new Intl.DateTimeFormat('en-US', options).format(date);
  const words = {
    date_num: `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`,
    date: en({ month: 'long', day: 'numeric', year: 'numeric' }),
    date_short: en({ month: 'short', day: 'numeric', year: 'numeric' }),
    date_long: en({ weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' }),
    time: en({ hour: 'numeric', minute: '2-digit' }),
    time_secs: en({ hour: 'numeric', minute: '2-digit', second: '2-digit' }),
  };
  words.date_pretty = relative ?? words.date;
  words.date_short_pretty = relative ?? words.date_short;
  words.date_long_pretty = relative ?? words.date_long;
  return format.replace(/\{(\w+)\}/g, (whole, word) => words[word] ?? whole);
}

/** One `<…>` control sequence. `people` maps Slack ids to names. */
function control(inner, people) {
  const [target, label] = splitOnce(inner, '|');
  if (target.startsWith('@')) {
    const id = target.slice(1);
    return `<span class="mention">@${escapeHtml(people.get(id) ?? (label ? unescapeSlack(label) : id))}</span>`;
  }
  if (target.startsWith('#')) return `<span class="mention">#${escapeHtml(label ? unescapeSlack(label) : target.slice(1))}</span>`;
  if (target.startsWith('!date^')) {
    const [, seconds, format = '{date}'] = target.split('^');
    const at = Number(seconds);
    if (!Number.isFinite(at)) return escapeHtml(unescapeSlack(label ?? ''));
    return `<time datetime="${escapeHtml(new Date(at * 1000).toISOString())}">${escapeHtml(formatSlackDate(at, format))}</time>`;
  }
  if (target.startsWith('!')) return `<span class="mention">@${escapeHtml(target.slice(1).split('^')[0])}</span>`;
  const url = unescapeSlack(target);
  const shown = escapeHtml(unescapeSlack(label ?? target));
  if (!/^(https?:|mailto:)/i.test(url)) return shown;
  return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${shown}</a>`;
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** mrkdwn text as HTML. */
export function mrkdwnToHtml(source, people = new Map()) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let text = String(source ?? '').replace(/\u0000/g, '');
  text = text.replace(/```([\s\S]*?)```/g, (_, code) => hold(`<pre>${escapeHtml(unescapeSlack(code))}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${escapeHtml(unescapeSlack(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (_, inner) => hold(control(inner, people)));
  text = escapeHtml(unescapeSlack(text));
  text = text.replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?!\w)/g, '$1<b>$2</b>');
  text = text.replace(/(^|[^\w_])_(?!\s)([^_\n]+?)_(?!\w)/g, '$1<i>$2</i>');
  text = text.replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?!\w)/g, '$1<s>$2</s>');
  text = text.replace(/^&gt; ?(.*)$/gm, '<blockquote>$1</blockquote>');
  text = withEmoji(text).replace(/\n/g, '<br>');
  return text.replace(/\u0000(\d+)\u0000/g, (_, index) => held[Number(index)]);
}

/** A text object of either kind. */
export function textToHtml(object, people) {
  if (!object) return '';
  return object.type === 'mrkdwn' ? mrkdwnToHtml(object.text, people) : plainToHtml(object);
}
