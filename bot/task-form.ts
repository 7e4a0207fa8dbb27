import { z } from 'zod';
import { type TaskOrigin, encodeTaskOrigin, taskOriginSchema } from './task-surfaces.ts';

/**
 * What a task form (done, snooze until, reassign) carries from the menu click that opens it to its submission:
 * the task, the version the person saw (a change made meanwhile is refused, not overwritten), and where the task
 * was shown, to redraw it. A response_url is the longest part (about 100 characters): far below Slack's 3000
 * for private_metadata.
 */
export const taskFormSchema = z.object({
  taskId: z.string(),
  version: z.number().int().positive(),
  origin: taskOriginSchema,
});
export type TaskForm = z.infer<typeof taskFormSchema>;

export function encodeTaskForm(form: { taskId: string; version: number; origin: TaskOrigin }): string {
  return JSON.stringify({ taskId: form.taskId, version: form.version, origin: encodeTaskOrigin(form.origin) });
}
