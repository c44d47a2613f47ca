-- The ticket page's three statements as store::tickets::by_id and store::ticket_thread build
-- them, with each table's tenant written out (run by a role that bypasses RLS).
select t.id, t.number, t.subject, t.state, t.status_id, st.name as status_name,
       t.priority, t.requester_id, r.name as requester_name, r.email as requester_email,
       t.organization_id, o.name as organization_name, t.department_id, d.name as department_name,
       t.help_topic_id, h.name as help_topic_name, t.assignee_agent_id, a.name as assignee_agent_name,
       t.assignee_team_id, tm.name as assignee_team_name, t.sla_plan_id, sp.name as sla_plan_name,
       t.source, t.custom, t.first_response_due_at, t.resolution_due_at, t.first_responded_at,
       t.sla_paused_since, t.last_message_at, t.closed_at, t.closed_by_agent_id,
       t.closed_by_end_user_id, t.created_by_agent_id, t.version, t.created_at, t.updated_at
  from tickets t
  join end_users r on r.id = t.requester_id and r.tenant_id = :tenant
  join departments d on d.id = t.department_id and d.tenant_id = :tenant
  left join organizations o on o.id = t.organization_id and o.tenant_id = :tenant
  left join help_topics h on h.id = t.help_topic_id and h.tenant_id = :tenant
  left join agents a on a.id = t.assignee_agent_id and a.tenant_id = :tenant
  left join teams tm on tm.id = t.assignee_team_id and tm.tenant_id = :tenant
  left join sla_plans sp on sp.id = t.sla_plan_id and sp.tenant_id = :tenant
  left join ticket_statuses st on st.id = t.status_id and st.tenant_id = :tenant
 where t.id = :id and t.tenant_id = :tenant;
select e.id, e.ticket_id, e.kind, e.author_agent_id, a.name as author_agent_name,
       e.author_end_user_id, u.name as author_end_user_name, e.body_html, e.body_text, e.event, e.created_at
  from ticket_entries e
  left join agents a on a.id = e.author_agent_id and a.tenant_id = :tenant
  left join end_users u on u.id = e.author_end_user_id and u.tenant_id = :tenant
 where e.ticket_id = :id and e.tenant_id = :tenant
 order by e.created_at, e.id;
select u.id, u.name, u.email, c.created_at
  from ticket_collaborators c join end_users u on u.id = c.end_user_id and u.tenant_id = :tenant
 where c.ticket_id = :id and c.tenant_id = :tenant
 order by c.created_at, u.id;
