-- A department's queue and "my tickets" in list order, like "all open" (migration 21). The
-- queue indexes of migration 12 put `state` before `updated_at`, so a department's open and
-- pending tickets were all read and sorted to show 50: 120 ms for the busiest department of a
-- million-ticket tenant in the tickets benchmark. These partial indexes hold the active
-- tickets only (a few percent of the table) in list order per department and per assignee
-- (null included: the "unassigned" queue), so those pages are a backward walk of 51 entries.
create index tickets_active_department_idx on tickets (tenant_id, department_id, updated_at, id)
  where state in ('open', 'pending');
create index tickets_active_assignee_idx on tickets (tenant_id, assignee_agent_id, updated_at, id)
  where state in ('open', 'pending');
