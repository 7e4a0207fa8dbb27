/**
 * The day- and week-old scores kept beside each account's health: which point of history each comes from and until
 * when it holds, so most recomputes look nothing up in history. Parts of the recompute statement.
 */
import { type SQL, sql } from 'drizzle-orm';

/**
 * The day- and week-old scores: the score in effect a day or a week before now. History holds only changes, so it is
 * the newest point at or before that moment. It needs no lookup when the current score was computed by then, or
 * when the moment is still inside the span the stored value is known to hold for (account_health.score_day_ago_from
 * and _until); otherwise index probes find the point, and the next point with another score, which ends its span.
 */
export interface Ago {
  name: 'day' | 'week';
  moment: SQL;
  stored: { score: string; from: string; until: string };
}

/** On `compared`: whether the stored values answer, and what they are. */
export function agoFlags({ name, moment, stored }: Ago): SQL {
  const p = (column: string) => sql.raw(`p.${column}`);
  const as = (column: string) => sql.raw(`${name}_${column}`);
  // An account without a current score (a new one) has no history either, unless someone removed its current score.
  return sql`coalesce(p.computed_at <= ${moment}, false) as ${as('current')},
         (${p(stored.from)} is not null or ${p(stored.until)} is not null)
           and coalesce(${p(stored.from)} <= ${moment}, true) and coalesce(${moment} < ${p(stored.until)}, true)
         or p.account_id is null and not exists (select from health_scores h where h.account_id = f.account_id) as ${as('kept')},
         ${p(stored.score)} as ${as('stored_score')}, ${p(stored.from)} as ${as('stored_from')}, ${p(stored.until)} as ${as('stored_until')}`;
}

/** On `moved` (alias `c`): the score a day or a week ago and the point it comes from, looked up only when needed. */
export function agoPoint({ name, moment }: Ago): SQL {
  const c = (column: string) => sql.raw(`c.${name}_${column}`);
  const newest = (column: string) =>
    sql`(select h.${sql.raw(column)} from health_scores h where h.account_id = c.account_id and h.computed_at <= ${moment}
         order by h.computed_at desc limit 1)`;
  const as = (column: string) => sql.raw(`${name}_${column}`);
  return sql`case when ${c('current')} then c.previous_score when ${c('kept')} then ${c('stored_score')} else ${newest('score')} end as ${as('score')},
         case when ${c('current')} then c.previous_computed_at when ${c('kept')} then ${c('stored_from')} else ${newest('computed_at')} end as ${as('from')},
         case when ${c('kept')} and not ${c('current')} then ${c('stored_until')} end as ${as('until_known')},
         not ${c('current')} and not ${c('kept')} as ${as('looked_up')}`;
}

/**
 * For an account written (alias `q`): until when that score holds, the next point with another score. Before the
 * first point (no `from`) it is the first point, even one without a score (insufficient_data): a null score with
 * neither end known would be looked up again on every recompute.
 */
export function agoUntil({ name, moment }: Ago): SQL {
  const q = (column: string) => sql.raw(`q.${name}_${column}`);
  return sql`case when not ${q('looked_up')} then ${q('until_known')}
              else (select h.computed_at from health_scores h where h.account_id = q.account_id and h.computed_at > ${moment}
                      and (h.score is distinct from ${q('score')} or ${q('from')} is null) order by h.computed_at limit 1) end as ${sql.raw(`${name}_until`)}`;
}

/** The day- and week-old scores of a recompute as of `nowTs`, and the account_health columns each is kept in. */
export function earlierScores(nowTs: SQL): Ago[] {
  return [
    { name: 'day', moment: sql`(${nowTs} - interval '1 day')`, stored: { score: 'score_day_ago', from: 'score_day_ago_from', until: 'score_day_ago_until' } },
    { name: 'week', moment: sql`(${nowTs} - interval '7 days')`, stored: { score: 'score_week_ago', from: 'score_week_ago_from', until: 'score_week_ago_until' } },
  ];
}

/**
 * On `decided`: a day- or week-old score holds until the next point with another score, so a score changed now ends
 * its span here.
 */
export function spanEndedNow(name: 'day' | 'week', nowTs: SQL): SQL {
  const until = sql.raw(`${name}_until`);
  return sql`case when changed and score is distinct from ${sql.raw(`${name}_score`)} then least(${until}, ${nowTs}) else ${until} end`;
}
