// Numbers and dates as the reader's browser writes them: money and percentages through Intl, days in the
// viewer's locale. Lifeline keeps money in US cents and days as YYYY-MM-DD (UTC).
const money = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(undefined, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const month = new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
const moment = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const dash = '–';

export const formatMoney = (cents) => (cents == null ? dash : money.format(cents / 100));
export const formatPercent = (ratio) => (ratio == null ? dash : percent.format(ratio));
export const formatCount = (value) => (value == null ? dash : whole.format(value));
export const formatDecimal = (value) => (value == null ? dash : decimal.format(value));
/** A `YYYY-MM-DD` day, read as UTC so it never shifts a day in the reader's time zone. */
export const dayDate = (isoDay) => new Date(`${isoDay}T00:00:00Z`);
export const formatDay = (isoDay) => (isoDay ? day.format(dayDate(isoDay)) : dash);
export const formatMonth = (isoDay) => month.format(dayDate(isoDay));
export const formatMoment = (iso) => (iso ? moment.format(new Date(iso)) : dash);

const statusWords = { healthy: 'Healthy', at_risk: 'At risk', critical: 'Critical', insufficient_data: 'Insufficient data' };
export const formatStatus = (status) => (status ? (statusWords[status] ?? status) : 'Not computed');
export const formatSegment = (segment) => ({ smb: 'SMB', mid_market: 'Mid-market', enterprise: 'Enterprise' })[segment] ?? segment;

/** Today in UTC as YYYY-MM-DD, the day the API counts in. */
export function todayIso() {
  return new Date().toISOString().slice(0, 10);
}

/** The first day of the month `offset` months from the month of `isoDay`. */
export function monthStart(isoDay, offset = 0) {
  const date = dayDate(`${isoDay.slice(0, 7)}-01`);
  date.setUTCMonth(date.getUTCMonth() + offset);
  return date.toISOString().slice(0, 10);
}

export function addDays(isoDay, days) {
  return new Date(dayDate(isoDay).getTime() + days * 86_400_000).toISOString().slice(0, 10);
}
