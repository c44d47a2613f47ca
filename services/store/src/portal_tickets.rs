//! The end user's side of tickets: the access rule of the portal (their own tickets, those
//! they are in copy of, and their organizations' tickets when the organization shares them),
//! the customer-group permission a department asks for (`ro` to see, `rw` to open and reply),
//! the lists of "my tickets" and "organization tickets", and the ticket-number-and-email
//! lookup behind the access form.

use chrono::{DateTime, Utc};
use domain::ticket::TicketState;
use sqlx::{FromRow, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::customer_groups::GroupPermission;
use crate::{Result, StoreError, TenantTx};

/// Appends ` and (...)`: the tickets end user `user` may see through the portal. Their own,
/// those they are in copy of, and those of an organization they belong to whose sharing
/// includes them; always only in departments whose customer group they hold at least `ro`
/// on (or that have none).
fn push_visible(sql: &mut QueryBuilder<'_, Postgres>, user: Uuid) {
    sql.push(" and (t.requester_id = ")
        .push_bind(user)
        .push(" or exists (select from ticket_collaborators c where c.ticket_id = t.id and c.end_user_id = ")
        .push_bind(user)
        .push(") or (t.organization_id is not null and exists (select from organization_members m
                  join organizations o on o.id = m.organization_id
                 where m.organization_id = t.organization_id and m.end_user_id = ")
        .push_bind(user)
        .push(
            " and (o.ticket_sharing = 'all_members'
                      or (o.ticket_sharing = 'primary_contacts' and m.primary_contact)))))",
        );
    push_group_holds(sql, user, GroupPermission::Ro);
}

/// Appends ` and (...)`: the department of `t` has no customer group, or `user` holds at least
/// `needed` on it (directly, through an organization, or by the group's default).
fn push_group_holds(sql: &mut QueryBuilder<'_, Postgres>, user: Uuid, needed: GroupPermission) {
    let allowed: Vec<&str> = GroupPermission::ALL
        .into_iter()
        .filter(|held| held.includes(needed))
        .map(GroupPermission::as_str)
        .collect();
    sql.push(
        " and exists (select from departments d where d.id = t.department_id and (d.customer_group_id is null
            or exists (select from customer_group_user_grants ug
                        where ug.group_id = d.customer_group_id and ug.end_user_id = ",
    )
    .push_bind(user)
    .push(" and ug.permission = any(")
    .push_bind(allowed.clone())
    .push(
        "))
            or exists (select from organization_members m2
                         join customer_group_organization_grants og on og.organization_id = m2.organization_id
                        where og.group_id = d.customer_group_id and m2.end_user_id = ",
    )
    .push_bind(user)
    .push(" and og.permission = any(")
    .push_bind(allowed.clone())
    .push(
        "))
            or exists (select from customer_groups g
                        where g.id = d.customer_group_id and g.default_permission = any(",
    )
    .push_bind(allowed)
    .push("))))");
}

/// The id of ticket `number` if end user `user` may see it in the portal.
pub async fn visible_by_number(tx: &mut TenantTx, user: Uuid, number: i64) -> Result<Option<Uuid>> {
    let mut sql = QueryBuilder::new("select t.id from tickets t where t.number = ");
    sql.push_bind(number);
    push_visible(&mut sql, user);
    Ok(sql.build_query_scalar().fetch_optional(tx.conn()).await?)
}

/// Whether `user` may write (reply, close, reopen) on a ticket: they see it and hold `rw` on
/// its department's customer group (or it has none).
pub async fn writable(tx: &mut TenantTx, user: Uuid, ticket_id: Uuid) -> Result<bool> {
    let mut sql = QueryBuilder::new("select exists (select from tickets t where t.id = ");
    sql.push_bind(ticket_id);
    push_visible(&mut sql, user);
    push_group_holds(&mut sql, user, GroupPermission::Rw);
    sql.push(")");
    Ok(sql.build_query_scalar().fetch_one(tx.conn()).await?)
}

/// The permission a visitor holds on a department's customer group: `Rw` when it has none;
/// for a visitor without an account (`user` is `None`) only the group's default counts.
pub async fn department_permission(
    tx: &mut TenantTx,
    user: Option<Uuid>,
    department_id: Uuid,
) -> Result<Option<GroupPermission>> {
    let group: Option<Option<Uuid>> =
        sqlx::query_scalar("select customer_group_id from departments where id = $1")
            .bind(department_id)
            .fetch_optional(tx.conn())
            .await?;
    let Some(group) = group else {
        return Ok(None);
    };
    let Some(group) = group else {
        return Ok(Some(GroupPermission::Rw));
    };
    let permissions: Vec<String> = sqlx::query_scalar(
        "select ug.permission from customer_group_user_grants ug
          where ug.group_id = $1 and ug.end_user_id = $2
         union all
         select og.permission from organization_members m
           join customer_group_organization_grants og on og.organization_id = m.organization_id
          where og.group_id = $1 and m.end_user_id = $2
         union all
         select g.default_permission from customer_groups g
          where g.id = $1 and g.default_permission is not null",
    )
    .bind(group)
    .bind(user)
    .fetch_all(tx.conn())
    .await?;
    let mut best = None;
    for raw in permissions {
        let held = GroupPermission::parse(&raw)
            .ok_or_else(|| StoreError::corrupt("customer group permission", &raw))?;
        best = best.max(Some(held));
    }
    Ok(best)
}

/// Which of an end user's tickets a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Those they requested or are in copy of.
    Mine,
    /// Their organizations' tickets that they see through the organization's sharing.
    Organization,
}

/// One row of the portal's ticket lists.
#[derive(Clone, Debug, FromRow)]
pub struct PortalTicket {
    pub id: Uuid,
    pub number: i64,
    pub subject: String,
    pub state: String,
    pub status_name: Option<String>,
    pub requester_name: String,
    pub organization_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The end user's tickets in `reach`, filtered by `states` (all when empty), recently
/// changed first, at most `limit`.
pub async fn list(
    tx: &mut TenantTx,
    user: Uuid,
    reach: Reach,
    states: &[TicketState],
    limit: i64,
) -> Result<Vec<PortalTicket>> {
    let mut sql = QueryBuilder::new(
        "select t.id, t.number, t.subject, t.state, st.name as status_name, r.name as requester_name,
                o.name as organization_name, t.created_at, t.updated_at
           from tickets t
           join end_users r on r.id = t.requester_id
           left join organizations o on o.id = t.organization_id
           left join ticket_statuses st on st.id = t.status_id
          where true",
    );
    push_visible(&mut sql, user);
    match reach {
        Reach::Mine => {
            sql.push(" and (t.requester_id = ")
                .push_bind(user)
                .push(" or exists (select from ticket_collaborators c where c.ticket_id = t.id and c.end_user_id = ")
                .push_bind(user)
                .push("))");
        }
        Reach::Organization => {
            sql.push(" and t.requester_id <> ")
                .push_bind(user)
                .push(" and not exists (select from ticket_collaborators c where c.ticket_id = t.id and c.end_user_id = ")
                .push_bind(user)
                .push(")");
        }
    }
    if !states.is_empty() {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        sql.push(" and t.state = any(").push_bind(states).push(")");
    }
    sql.push(" order by t.updated_at desc, t.id desc limit ")
        .push_bind(limit);
    Ok(sql.build_query_as().fetch_all(tx.conn()).await?)
}

/// Whether any organization of `user` shares its tickets with them (the portal then offers
/// the organization's tickets).
pub async fn shares_organization_tickets(tx: &mut TenantTx, user: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select from organization_members m join organizations o on o.id = m.organization_id
                         where m.end_user_id = $1
                           and (o.ticket_sharing = 'all_members'
                                or (o.ticket_sharing = 'primary_contacts' and m.primary_contact)))",
    )
    .bind(user)
    .fetch_one(tx.conn())
    .await?)
}

/// The ticket with `number` and the person with `email` when that person is its requester or
/// in copy, may get mail (valid, not erased), and a guest link of the ticket would still work.
/// `None` otherwise, whatever the reason.
pub async fn by_number_and_email(
    tx: &mut TenantTx,
    number: i64,
    email: &str,
) -> Result<Option<(Uuid, Uuid)>> {
    Ok(sqlx::query_as(
        "select t.id, u.id from tickets t
           join end_users u on lower(u.email) = lower($2)
          where t.number = $1
            and (t.requester_id = u.id
                 or exists (select from ticket_collaborators c where c.ticket_id = t.id and c.end_user_id = u.id))
            and u.validity = 'valid' and u.erased_at is null
            and (t.closed_at is null
                 or t.closed_at + make_interval(days => (select guest_link_days_after_close
                                                           from tenant_settings)) > now())",
    )
    .bind(number)
    .bind(email)
    .fetch_optional(tx.conn())
    .await?)
}
